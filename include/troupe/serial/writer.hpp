// writer.hpp: appends the encoding of values to a caller's buffer.
// A writer borrows a std::string and only appends to it, so a buffer reused across messages
// makes encoding allocation-free once it has grown. Failures (a ref with no context, a custom
// codec's refusal) are sticky: the first one is kept, later writes still append but the result
// is reported as failed by whoever drives the writer (registry::encode rolls the buffer back).
// One thread at a time.
#pragma once

#include <cstddef>
#include <cstdint>
#include <string>
#include <string_view>

#include "troupe/core/result.hpp"
#include "troupe/serial/errc.hpp"

namespace troupe::serial {

class ref_context;

/// The output side of a codec: fixed-width and varint integers and raw bytes, little-endian.
///
///     std::string buf;
///     troupe::serial::writer w{buf};
///     troupe::serial::encode(w, order{42, "socks"});
///     if (!w.ok()) log(w.error().message());
class writer {
 public:
  /// Appends to `out` (keeping what it holds). `context` exports refs; without one, encoding a
  /// non-empty ref fails with errc::no_ref_context.
  explicit writer(std::string& out, ref_context* context = nullptr) noexcept : out_(&out), context_(context) {}

  void put_byte(std::uint8_t b) { out_->push_back(static_cast<char>(b)); }
  /// LEB128: 7 bits a byte, low bits first, the high bit set on all bytes but the last.
  void put_varint(std::uint64_t v) {
    if (v < 0x80) {  // most counts, lengths and small integers
      out_->push_back(static_cast<char>(v));
      return;
    }
    char buf[10];
    std::size_t n = 0;
    while (v >= 0x80) {
      buf[n++] = static_cast<char>(static_cast<std::uint8_t>(v) | 0x80);
      v >>= 7;
    }
    buf[n++] = static_cast<char>(v);
    out_->append(buf, n);
  }
  void put_fixed32(std::uint32_t v) {
    char buf[4];
    for (int i = 0; i < 4; ++i) buf[i] = static_cast<char>(v >> (8 * i));
    out_->append(buf, 4);
  }
  void put_fixed64(std::uint64_t v) {
    char buf[8];
    for (int i = 0; i < 8; ++i) buf[i] = static_cast<char>(v >> (8 * i));
    out_->append(buf, 8);
  }
  void put_bytes(const void* data, std::size_t n) { out_->append(static_cast<const char*>(data), n); }
  void put_bytes(std::string_view bytes) { out_->append(bytes); }

  /// Records a failure (the first one wins) and returns false, for `return w.fail(...)`.
  bool fail(troupe::error e) {
    if (!failed_) {
      error_ = std::move(e);
      failed_ = true;
    }
    return false;
  }
  bool fail(errc code, std::string text) { return fail(troupe::error{make_error_code(code), std::move(text)}); }

  bool ok() const noexcept { return !failed_; }
  /// The first failure; meaningful only when !ok().
  const troupe::error& error() const noexcept { return error_; }
  /// Forgets a failure, for a driver that rolled the buffer back and goes on.
  void clear_error() noexcept { failed_ = false; error_ = {}; }

  ref_context* context() const noexcept { return context_; }
  std::string& buffer() const noexcept { return *out_; }
  std::size_t size() const noexcept { return out_->size(); }

 private:
  std::string* out_;
  ref_context* context_;
  troupe::error error_;
  bool failed_ = false;
};

}  // namespace troupe::serial
