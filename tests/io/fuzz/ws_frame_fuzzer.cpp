// ws_frame_fuzzer.cpp: libFuzzer target for what a plain ws connection reads from a client: the
// input is a stream of frames, taken apart as websocket_own.cpp does (two header bytes, the rest
// of the header, the payload unmasked; control frames answered or parsed as a close, data
// frames through the message rules with a 4 KiB limit) until the first refusal, which must carry
// 1002, 1007 or 1009. Checked on the way: a message never grows past the limit, UTF-8 fed byte by
// byte gets the verdict it gets whole, and a server header of every length seen parses back.
#include <array>
#include <cstddef>
#include <cstdint>
#include <cstdlib>
#include <string>
#include <string_view>

#include "ws_frame.hpp"

namespace {
namespace d = troupe::io::detail;
constexpr std::size_t max_message = 4096;

void check(bool ok) {
  if (!ok) std::abort();
}

bool refused_well(const d::ws_refusal& r) { return r.code == 1002 || r.code == 1007 || r.code == 1009; }

// The same verdict byte by byte as whole.
void check_utf8_split(std::string_view s) {
  d::utf8_validator whole, split;
  const bool a = whole.feed(s) && whole.complete();
  bool b = true;
  for (char c : s) b = split.feed(std::string_view(&c, 1)) && b;
  b = b && split.complete();
  check(a == b);
}

// A server header for `len`, with a mask bit and key added, parses back to `len`.
void check_roundtrip(std::uint64_t len) {
  std::array<std::uint8_t, 10> out{};
  const auto n = d::encode_ws_header(out, true, d::ws_opcode::binary, len);
  std::uint8_t h[14] = {};
  for (std::size_t i = 0; i < n; ++i) h[i] = out[i];
  h[1] |= 0x80;
  d::ws_frame_header f;
  check(d::ws_header_size(h[0], h[1]) == n + 4);
  check(!d::parse_ws_header(h, n + 4, f) && f.length == len);
}
}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  std::size_t at = 0;
  d::ws_message_rules rules{max_message};
  std::string msg;
  while (size - at >= 2) {
    const auto hsize = d::ws_header_size(data[at], data[at + 1]);
    check(hsize >= 2 && hsize <= d::ws_max_header);
    if (size - at < hsize) return 0;
    d::ws_frame_header h;
    if (auto r = d::parse_ws_header(data + at, hsize, h)) return check(refused_well(r)), 0;
    at += hsize;
    check_roundtrip(h.length);
    if (d::is_control(h.opcode)) {
      check(h.length <= 125 && h.fin);
      if (size - at < h.length) return 0;
      std::string p(reinterpret_cast<const char*>(data + at), static_cast<std::size_t>(h.length));
      at += static_cast<std::size_t>(h.length);
      d::ws_unmask(p.data(), p.size(), h.mask);
      if (h.opcode == d::ws_opcode::close) {
        d::ws_close_payload c;
        if (auto r = d::parse_ws_close(p, c)) return check(refused_well(r)), 0;
        auto echo = d::make_ws_close(c.code, c.reason);
        check(echo.size() <= 125);
        return 0;
      }
      continue;
    }
    if (auto r = rules.accept(h)) return check(refused_well(r)), 0;
    check(msg.size() + h.length <= max_message);
    if (size - at < h.length) return 0;
    const auto old = msg.size();
    msg.append(reinterpret_cast<const char*>(data + at), static_cast<std::size_t>(h.length));
    at += static_cast<std::size_t>(h.length);
    d::ws_unmask(msg.data() + old, msg.size() - old, h.mask);
    if (auto r = rules.payload(h, std::string_view(msg).substr(old))) return check(refused_well(r)), 0;
    if (h.fin) {
      if (rules.text()) check_utf8_split(msg);
      msg.clear();
      rules.reset();
    }
  }
  return 0;
}
