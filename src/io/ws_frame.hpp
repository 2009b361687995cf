// ws_frame.hpp: RFC 6455 framing, server side, without sockets. Internal to io.
// What a plain ws connection (websocket_own.cpp) reads and writes: the frame header of a client
// frame (read into a few bytes of its own, so an idle WebSocket holds no read buffer), the rules
// a message's frames must follow (fragments in order, the size limit, UTF-8 in text), the close
// frame's payload, and the unmasked header of a server frame. Every refusal names the close code
// RFC 6455 gives it: 1002 for a protocol error, 1007 for invalid UTF-8, 1009 for a message too big.
#pragma once

#include <array>
#include <cstddef>
#include <cstdint>
#include <string>
#include <string_view>

namespace troupe::io::detail {

enum class ws_opcode : std::uint8_t { continuation = 0, text = 1, binary = 2, close = 8, ping = 9, pong = 10 };

constexpr bool is_control(ws_opcode op) noexcept { return static_cast<std::uint8_t>(op) >= 8; }

/// Why a peer's input is refused: the close code to send and a text for the actor; code 0 is
/// no refusal.
///
///     if (auto r = rules.accept(h)) return refuse(r.code, r.text);
struct ws_refusal {
  std::uint16_t code = 0;
  std::string text{};
  explicit operator bool() const noexcept { return code != 0; }
};

/// One frame header, as parsed from a client.
struct ws_frame_header {
  bool fin = true;
  ws_opcode opcode = ws_opcode::text;
  std::uint64_t length = 0;
  std::array<std::uint8_t, 4> mask{};
};

/// The largest frame header: 2 bytes, 8 of extended length, 4 of mask.
inline constexpr std::size_t ws_max_header = 14;

/// The size of a whole header, from its first two bytes (which tell the length's width and
/// whether a mask follows).
std::size_t ws_header_size(std::uint8_t b0, std::uint8_t b1) noexcept;

/// Parses a client frame's header of ws_header_size() bytes into `out`. Refuses (1002) reserved
/// bits, unknown opcodes, an unmasked frame, a fragmented or long control frame, and a length
/// not in its shortest form.
ws_refusal parse_ws_header(const std::uint8_t* p, std::size_t n, ws_frame_header& out);

/// Unmasks `n` payload bytes which start `offset` bytes into the frame's payload.
void ws_unmask(char* p, std::size_t n, const std::array<std::uint8_t, 4>& mask, std::uint64_t offset = 0) noexcept;

/// Writes a server frame's header (never masked) into `out`; returns its size (2, 4 or 10).
std::size_t encode_ws_header(std::array<std::uint8_t, 10>& out, bool fin, ws_opcode op, std::uint64_t length) noexcept;

/// A close frame's payload: code and reason, from its (unmasked) bytes.
struct ws_close_payload {
  std::uint16_t code = 1005;  // RFC 6455 7.1.5: no status code present
  std::string reason{};
};
/// Refuses a one-byte payload or a code no endpoint may send (1002), a reason not UTF-8 (1007).
ws_refusal parse_ws_close(std::string_view payload, ws_close_payload& out);
/// The payload of a close frame this side sends; the reason is cut to fit in 123 bytes.
std::string make_ws_close(std::uint16_t code, std::string_view reason);

/// Checks UTF-8 as it arrives in pieces (a character may straddle two fragments).
///
///     utf8_validator v;
///     bool ok = v.feed("caf\xc3") && v.feed("\xa9") && v.complete();
class utf8_validator {
 public:
  /// False once the bytes so far cannot be the start of valid UTF-8 (overlongs, surrogates and
  /// code points past U+10FFFF included).
  bool feed(std::string_view s) noexcept;
  /// True when no character is left half-way.
  bool complete() const noexcept { return need_ == 0 && !bad_; }
  void reset() noexcept { *this = utf8_validator{}; }

 private:
  std::uint8_t need_ = 0, lo_ = 0x80, hi_ = 0xBF;
  bool bad_ = false;
};

/// The order and the limits a message's data frames must keep: a fragmented message is a text or
/// binary frame, then continuations, the last with FIN; control frames may come in between;
/// the whole message is at most `max_message` bytes (checked from the headers, before any
/// payload is read); a text message is UTF-8 (checked per fragment as it arrives).
///
///     ws_message_rules rules{64 * 1024};
///     if (auto r = rules.accept(h)) return refuse(r);     // after each data frame's header
///     if (auto r = rules.payload(h, bytes)) return refuse(r);  // after its (unmasked) payload
///     if (h.fin) deliver(rules.text()), rules.reset();
class ws_message_rules {
 public:
  explicit ws_message_rules(std::size_t max_message) noexcept : max_(max_message) {}
  /// Checks a data frame's header against the message in progress and the size limit.
  ws_refusal accept(const ws_frame_header& h);
  /// Checks a data frame's payload (text: UTF-8, and complete at FIN).
  ws_refusal payload(const ws_frame_header& h, std::string_view bytes);
  bool text() const noexcept { return text_; }
  bool in_message() const noexcept { return in_message_; }
  /// After a whole message: the next data frame starts a new one.
  void reset() noexcept;

 private:
  std::size_t max_;
  std::size_t size_ = 0;
  utf8_validator utf8_;
  bool in_message_ = false, text_ = false;
};

}  // namespace troupe::io::detail
