// codec.hpp: how a byte stream is cut into frames, and how frames are put back on the wire.
// Three framings: raw chunks (whatever one read returns), length-prefixed (a 4-byte big-endian
// length, like Erlang's {packet, 4}) and line-delimited ('\n', a trailing '\r' dropped). Every
// framing has a maximum frame size, checked as soon as it can be: a length header over the limit,
// or max_frame bytes without a newline, is an error before the body is buffered. The decoder is
// a plain value owned by one thread (a connection's io thread); it handles frames split across
// reads and several frames in one read, and holds no memory while it has no partial frame.
#pragma once

#include <cstddef>
#include <optional>
#include <string>
#include <string_view>

#include "troupe/core/result.hpp"
#include "troupe/io/error.hpp"

namespace troupe::io {

/// How frames are delimited on the wire.
enum class framing {
  raw,              ///< no framing: each read delivers what arrived, up to max_frame bytes
  length_prefixed,  ///< a 4-byte big-endian length, then that many bytes
  line,             ///< bytes up to '\n'; the '\n' (and a '\r' before it) are not part of the frame
};

/// A framing and its size limit.
///
///     troupe::io::codec lines{troupe::io::framing::line, 1024};   // lines of at most 1 KiB
struct codec {
  framing kind = framing::raw;
  /// The largest frame accepted, in bytes (without the length header or the newline).
  std::size_t max_frame = 64 * 1024;
};

/// Cuts bytes into frames. Owned by one thread.
///
///     troupe::io::frame_decoder d{{troupe::io::framing::line, 80}};
///     d.feed("hel");
///     d.feed("lo\nwor");
///     auto f = d.next();   // a result holding "hello"; the next call holds nullopt (no full line yet)
class frame_decoder {
 public:
  explicit frame_decoder(codec c) : codec_(c) {}

  /// Appends bytes read from the stream.
  void feed(std::string_view bytes);
  /// The next complete frame; nullopt if more bytes are needed; errc::frame_too_large once a
  /// frame is known to exceed max_frame (the stream cannot be resynchronised after that).
  result<std::optional<std::string>> next();
  /// Bytes held that are not yet part of a delivered frame.
  std::size_t buffered() const noexcept { return buf_.size() - pos_; }
  const codec& settings() const noexcept { return codec_; }

 private:
  codec codec_;
  std::string buf_;      // bytes fed; [pos_, size) not yet delivered
  std::size_t pos_ = 0;  // start of the undelivered bytes
  void compact();
};

/// Puts one frame on the wire per `c`: adds the length header or the newline.
/// errc::frame_too_large if `frame` exceeds max_frame (for raw, any size is accepted).
result<std::string> encode_frame(const codec& c, std::string frame);

}  // namespace troupe::io
