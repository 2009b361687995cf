// ws_frame.cpp: RFC 6455 framing, server side (see ws_frame.hpp).
#include "ws_frame.hpp"

#include <algorithm>

namespace troupe::io::detail {

std::size_t ws_header_size(std::uint8_t b0, std::uint8_t b1) noexcept {
  (void)b0;
  const unsigned len7 = b1 & 0x7Fu;
  return 2 + (len7 == 126 ? 2 : len7 == 127 ? 8 : 0) + ((b1 & 0x80u) ? 4 : 0);
}

ws_refusal parse_ws_header(const std::uint8_t* p, std::size_t n, ws_frame_header& out) {
  if (n < 2 || n != ws_header_size(p[0], p[1])) return {1002, "protocol error: a truncated frame header"};
  if (p[0] & 0x70u) return {1002, "protocol error: reserved bits set (no extension was agreed)"};
  const auto op = static_cast<std::uint8_t>(p[0] & 0x0Fu);
  if (op > 2 && op != 8 && op != 9 && op != 10) return {1002, "protocol error: unknown opcode " + std::to_string(op)};
  // RFC 6455 5.1: a server closes on an unmasked client frame.
  if (!(p[1] & 0x80u)) return {1002, "protocol error: a client frame without a mask"};
  out.fin = (p[0] & 0x80u) != 0;
  out.opcode = static_cast<ws_opcode>(op);
  const unsigned len7 = p[1] & 0x7Fu;
  std::size_t at = 2;
  if (len7 < 126) {
    out.length = len7;
  } else if (len7 == 126) {
    out.length = (std::uint64_t{p[2]} << 8) | p[3];
    at = 4;
    if (out.length < 126) return {1002, "protocol error: a frame length not in its shortest form"};
  } else {
    out.length = 0;
    for (std::size_t i = 0; i < 8; ++i) out.length = (out.length << 8) | p[2 + i];
    at = 10;
    if (out.length >> 63) return {1002, "protocol error: a frame length with its top bit set"};
    if (out.length <= 0xFFFF) return {1002, "protocol error: a frame length not in its shortest form"};
  }
  std::copy_n(p + at, 4, out.mask.begin());
  if (is_control(out.opcode)) {
    if (!out.fin) return {1002, "protocol error: a fragmented control frame"};
    if (out.length > 125) return {1002, "protocol error: a control frame over 125 bytes"};
  }
  return {};
}

void ws_unmask(char* p, std::size_t n, const std::array<std::uint8_t, 4>& mask, std::uint64_t offset) noexcept {
  for (std::size_t i = 0; i < n; ++i) p[i] = static_cast<char>(static_cast<std::uint8_t>(p[i]) ^ mask[(offset + i) & 3]);
}

std::size_t encode_ws_header(std::array<std::uint8_t, 10>& out, bool fin, ws_opcode op, std::uint64_t length) noexcept {
  out[0] = static_cast<std::uint8_t>((fin ? 0x80u : 0u) | static_cast<std::uint8_t>(op));
  if (length < 126) {
    out[1] = static_cast<std::uint8_t>(length);
    return 2;
  }
  if (length <= 0xFFFF) {
    out[1] = 126;
    out[2] = static_cast<std::uint8_t>(length >> 8);
    out[3] = static_cast<std::uint8_t>(length);
    return 4;
  }
  out[1] = 127;
  for (std::size_t i = 0; i < 8; ++i) out[2 + i] = static_cast<std::uint8_t>(length >> (8 * (7 - i)));
  return 10;
}

namespace {
// Codes an endpoint may put in a close frame (RFC 6455 7.4.1 and the IANA registry); 1004-1006
// and 1015 are reserved for reporting, never sent.
bool sendable_close_code(std::uint16_t c) noexcept {
  return (c >= 1000 && c <= 1003) || (c >= 1007 && c <= 1014) || (c >= 3000 && c <= 4999);
}
}  // namespace

ws_refusal parse_ws_close(std::string_view payload, ws_close_payload& out) {
  out = {};
  if (payload.empty()) return {};
  if (payload.size() == 1) return {1002, "protocol error: a close frame with a one-byte payload"};
  out.code = static_cast<std::uint16_t>((static_cast<std::uint8_t>(payload[0]) << 8) | static_cast<std::uint8_t>(payload[1]));
  if (!sendable_close_code(out.code)) return {1002, "protocol error: close code " + std::to_string(out.code) + " may not be sent"};
  utf8_validator v;
  if (!v.feed(payload.substr(2)) || !v.complete()) return {1007, "invalid UTF-8 in a close reason"};
  out.reason.assign(payload.substr(2));
  return {};
}

std::string make_ws_close(std::uint16_t code, std::string_view reason) {
  std::string s;
  s.reserve(2 + std::min<std::size_t>(reason.size(), 123));
  s.push_back(static_cast<char>(code >> 8));
  s.push_back(static_cast<char>(code & 0xFF));
  // Cut at 123 bytes without splitting a character: a peer refuses a reason that is not UTF-8.
  std::size_t n = std::min<std::size_t>(reason.size(), 123);
  while (n < reason.size() && n > 0 && (static_cast<std::uint8_t>(reason[n]) & 0xC0u) == 0x80u) --n;
  s.append(reason.substr(0, n));
  return s;
}

bool utf8_validator::feed(std::string_view s) noexcept {
  if (bad_) return false;
  for (const char ch : s) {
    const auto c = static_cast<std::uint8_t>(ch);
    if (need_ == 0) {
      if (c < 0x80) continue;
      if (c < 0xC2) return !(bad_ = true);  // a stray continuation or an overlong 2-byte start
      if (c < 0xE0) {
        need_ = 1;
      } else if (c < 0xF0) {
        need_ = 2;
        lo_ = c == 0xE0 ? 0xA0 : 0x80;  // no overlong 3-byte forms
        hi_ = c == 0xED ? 0x9F : 0xBF;  // no UTF-16 surrogates
      } else if (c < 0xF5) {
        need_ = 3;
        lo_ = c == 0xF0 ? 0x90 : 0x80;  // no overlong 4-byte forms
        hi_ = c == 0xF4 ? 0x8F : 0xBF;  // nothing past U+10FFFF
      } else {
        return !(bad_ = true);
      }
      continue;
    }
    if (c < lo_ || c > hi_) return !(bad_ = true);
    --need_;
    lo_ = 0x80;
    hi_ = 0xBF;
  }
  return true;
}

ws_refusal ws_message_rules::accept(const ws_frame_header& h) {
  if (is_control(h.opcode)) return {};
  if (h.opcode == ws_opcode::continuation) {
    if (!in_message_) return {1002, "protocol error: a continuation frame outside a message"};
  } else if (in_message_) {
    return {1002, "protocol error: a new message inside a fragmented one"};
  }
  if (h.length > max_ - size_) return {1009, "a message over " + std::to_string(max_) + " bytes"};
  if (!in_message_) {
    in_message_ = true;
    text_ = h.opcode == ws_opcode::text;
  }
  size_ += static_cast<std::size_t>(h.length);
  return {};
}

ws_refusal ws_message_rules::payload(const ws_frame_header& h, std::string_view bytes) {
  if (!text_) return {};
  if (!utf8_.feed(bytes) || (h.fin && !utf8_.complete())) return {1007, "invalid UTF-8 in a text message"};
  return {};
}

void ws_message_rules::reset() noexcept {
  size_ = 0;
  utf8_.reset();
  in_message_ = false;
  text_ = false;
}

}  // namespace troupe::io::detail
