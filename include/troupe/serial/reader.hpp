// reader.hpp: reads encoded values from a borrowed span of bytes, distrusting every one.
// Each read checks the bytes left first; each declared length is checked against the input
// left and the decode_limits before anything is allocated from it (check_count, check_bytes);
// what one value allocates is summed against max_total; nesting is bounded (enter/leave). The
// first failure is sticky: later reads return false, and error() says what, where (the byte
// offset) and, from registry::decode, in which type. Never throws for bad input. One thread.
#pragma once

#include <cstddef>
#include <cstdint>
#include <string>
#include <string_view>

#include "troupe/core/result.hpp"
#include "troupe/serial/decode_limits.hpp"
#include "troupe/serial/errc.hpp"

namespace troupe::serial {

class ref_context;

/// The input side of a codec. All `get_*` return false on failure, with error() set.
///
///     troupe::serial::reader r{bytes};
///     order o;
///     if (!troupe::serial::decode(r, o)) log(r.error().message());
class reader {
 public:
  /// Reads `bytes` (which must outlive the reader). `context` resolves refs; without one, a
  /// non-empty ref in the input fails with errc::no_ref_context.
  explicit reader(std::string_view bytes, const decode_limits& limits = {}, ref_context* context = nullptr) noexcept
      : data_(reinterpret_cast<const std::uint8_t*>(bytes.data())),
        size_(bytes.size()),
        limits_(limits),
        context_(context) {}

  bool get_byte(std::uint8_t& out) {
    if (pos_ >= size_) return truncated(1);
    out = data_[pos_++];
    return true;
  }
  /// LEB128, in its shortest form only (so that every value has exactly one encoding).
  bool get_varint(std::uint64_t& out) {
    if (pos_ < size_ && data_[pos_] < 0x80) {  // one byte: most counts, lengths and small integers
      out = data_[pos_++];
      return true;
    }
    std::uint64_t v = 0;
    for (unsigned shift = 0; shift < 70; shift += 7) {
      if (pos_ >= size_) return truncated(1);
      const std::uint8_t b = data_[pos_++];
      if (shift == 63 && b > 1) return fail_here(errc::bad_varint, "a varint overflows 64 bits");
      v |= static_cast<std::uint64_t>(b & 0x7f) << shift;
      if (!(b & 0x80)) {
        if (b == 0 && shift != 0) return fail_here(errc::bad_varint, "a varint is not in its shortest form");
        out = v;
        return true;
      }
    }
    return fail_here(errc::bad_varint, "a varint is longer than 10 bytes");
  }
  bool get_fixed32(std::uint32_t& out) {
    if (size_ - pos_ < 4) return truncated(4);
    std::uint32_t v = 0;
    for (int i = 0; i < 4; ++i) v |= static_cast<std::uint32_t>(data_[pos_ + i]) << (8 * i);
    pos_ += 4;
    out = v;
    return true;
  }
  bool get_fixed64(std::uint64_t& out) {
    if (size_ - pos_ < 8) return truncated(8);
    std::uint64_t v = 0;
    for (int i = 0; i < 8; ++i) v |= static_cast<std::uint64_t>(data_[pos_ + i]) << (8 * i);
    pos_ += 8;
    out = v;
    return true;
  }
  /// A view of the next `n` bytes of the input, which the caller checked with check_bytes.
  bool get_bytes(std::size_t n, std::string_view& out) {
    if (size_ - pos_ < n) return truncated(n);
    out = std::string_view(reinterpret_cast<const char*>(data_ + pos_), n);
    pos_ += n;
    return true;
  }

  /// Before allocating `n` bytes that the input declared (a string): fails with bad_length if
  /// fewer are left, limit_exceeded if over max_length or the value's max_total budget, which
  /// it charges.
  bool check_bytes(std::uint64_t n, const char* what) {
    if (n > size_ - pos_) return fail_length(errc::bad_length, what, n, size_ - pos_);
    if (n > limits_.max_length) return fail_length(errc::limit_exceeded, what, n, limits_.max_length);
    return charge(n, 1, what);
  }
  /// Before allocating `count` elements that the input declared, each at least `min_size`
  /// bytes of input (0: unknown) and `alloc_size` bytes of memory: as check_bytes.
  bool check_count(std::uint64_t count, std::size_t min_size, std::size_t alloc_size, const char* what) {
    if (min_size != 0 && count > (size_ - pos_) / min_size)
      return fail_length(errc::bad_length, what, count, (size_ - pos_) / min_size);
    if (count > limits_.max_length) return fail_length(errc::limit_exceeded, what, count, limits_.max_length);
    return charge(count, alloc_size, what);
  }

  /// Enters one level of nesting; false (errc::too_deep) past max_depth. Pair with leave().
  bool enter() {
    if (++depth_ > limits_.max_depth) return fail_depth();
    return true;
  }
  void leave() noexcept { --depth_; }

  /// Records a failure at the current offset (the first one wins) and returns false.
  bool fail(errc code, std::string_view text) { return fail_here(code, text); }
  /// Records `e` as is (the first one wins) and returns false.
  bool fail(troupe::error e) {
    if (!failed_) {
      error_ = std::move(e);
      failed_ = true;
    }
    return false;
  }

  bool ok() const noexcept { return !failed_; }
  /// The first failure; meaningful only when !ok().
  const troupe::error& error() const noexcept { return error_; }
  std::size_t position() const noexcept { return pos_; }
  std::size_t remaining() const noexcept { return size_ - pos_; }
  bool at_end() const noexcept { return pos_ == size_; }
  const decode_limits& limits() const noexcept { return limits_; }
  ref_context* context() const noexcept { return context_; }

 private:
  bool charge(std::uint64_t count, std::size_t each, const char* what) {
    const std::size_t left = limits_.max_total - allocated_;
    if (each != 0 && count > left / each) return fail_length(errc::limit_exceeded, what, count, left / each);
    allocated_ += static_cast<std::size_t>(count) * each;
    return true;
  }
  bool truncated(std::size_t wanted);
  bool fail_here(errc code, std::string_view text);
  bool fail_length(errc code, const char* what, std::uint64_t declared, std::uint64_t bound);
  bool fail_depth();

  const std::uint8_t* data_;
  std::size_t size_;
  std::size_t pos_ = 0;
  std::size_t depth_ = 0;
  std::size_t allocated_ = 0;  // charged against limits_.max_total
  decode_limits limits_;
  ref_context* context_;
  troupe::error error_;
  bool failed_ = false;
};

namespace detail {
/// RAII for reader::enter/leave around one nested value.
class nesting {
 public:
  explicit nesting(reader& r) : r_(r), ok_(r.enter()) {}
  ~nesting() { r_.leave(); }
  nesting(const nesting&) = delete;
  nesting& operator=(const nesting&) = delete;
  bool ok() const noexcept { return ok_; }

 private:
  reader& r_;
  bool ok_;
};
}  // namespace detail

}  // namespace troupe::serial
