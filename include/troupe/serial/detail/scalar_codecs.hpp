// scalar_codecs.hpp: the codecs of bool, integers, floats, enums, std::byte and chrono durations.
// Integers of 1 byte are one raw byte; wider ones are LEB128 varints, zigzag for signed types,
// and must fit their type when read. Floats are IEEE-754 bits, little-endian. An enum is its
// underlying integer, and must name an enumerator (or lie in its enum_range) when read.
#pragma once

#include <bit>
#include <chrono>
#include <cstddef>
#include <cstdint>
#include <limits>
#include <string>
#include <type_traits>

#include "troupe/serial/detail/codec_base.hpp"
#include "troupe/serial/detail/enum_values.hpp"

namespace troupe::serial {

template <>
struct codec<bool> {
  static constexpr std::uint64_t fingerprint = detail::tag("bool");
  static constexpr std::size_t min_size = 1;
  static void encode(writer& w, bool v) { w.put_byte(v ? 1 : 0); }
  static bool decode(reader& r, bool& out) {
    std::uint8_t b{};
    if (!r.get_byte(b)) return false;
    if (b > 1) return r.fail(errc::invalid_value, "a bool is " + std::to_string(b) + ", not 0 or 1");
    out = b == 1;
    return true;
  }
};

template <>
struct codec<std::byte> {
  static constexpr std::uint64_t fingerprint = detail::tag("byte");
  static constexpr std::size_t min_size = 1;
  static void encode(writer& w, std::byte v) { w.put_byte(static_cast<std::uint8_t>(v)); }
  static bool decode(reader& r, std::byte& out) {
    std::uint8_t b{};
    if (!r.get_byte(b)) return false;
    out = static_cast<std::byte>(b);
    return true;
  }
};

namespace detail {
// The cold path of integer decoding, out of line so that the hot path stays small.
[[gnu::cold, gnu::noinline]] bool fail_integer_range(reader& r, const std::string& value, std::size_t bytes, bool is_signed);

template <class T>
concept wire_integer = std::is_integral_v<T> && !std::is_same_v<T, bool>;

template <class T>
constexpr std::uint64_t integer_fingerprint() noexcept {
  // char's signedness differs between platforms; its bytes do not.
  if constexpr (std::is_same_v<T, char>) return tag("char");
  return mix(mix(tag("int"), std::is_signed_v<T> ? 1 : 0), sizeof(T));
}
}  // namespace detail

template <detail::wire_integer T>
struct codec<T> {
  static constexpr std::uint64_t fingerprint = detail::integer_fingerprint<T>();
  static constexpr std::size_t min_size = 1;
  static void encode(writer& w, T v) {
    if constexpr (sizeof(T) == 1) {
      w.put_byte(static_cast<std::uint8_t>(v));
    } else if constexpr (std::is_signed_v<T>) {
      const auto x = static_cast<std::int64_t>(v);
      // zigzag: small magnitudes of either sign take few bytes
      w.put_varint((static_cast<std::uint64_t>(x) << 1) ^ static_cast<std::uint64_t>(x >> 63));
    } else {
      w.put_varint(static_cast<std::uint64_t>(v));
    }
  }
  static bool decode(reader& r, T& out) {
    if constexpr (sizeof(T) == 1) {
      std::uint8_t b{};
      if (!r.get_byte(b)) return false;
      out = static_cast<T>(b);  // modular since C++20: the same bits back
      return true;
    } else {
      std::uint64_t u{};
      if (!r.get_varint(u)) return false;
      if constexpr (std::is_signed_v<T>) {
        const auto x = static_cast<std::int64_t>((u >> 1) ^ (~(u & 1) + 1));
        if (x < std::numeric_limits<T>::min() || x > std::numeric_limits<T>::max())
          return detail::fail_integer_range(r, std::to_string(x), sizeof(T), true);
        out = static_cast<T>(x);
      } else {
        if (u > std::numeric_limits<T>::max()) return detail::fail_integer_range(r, std::to_string(u), sizeof(T), false);
        out = static_cast<T>(u);
      }
      return true;
    }
  }
};

template <class T>
  requires std::is_same_v<T, float> || std::is_same_v<T, double>
struct codec<T> {
  static_assert(std::numeric_limits<T>::is_iec559, "troupe::serial: floats must be IEEE-754");
  static constexpr std::uint64_t fingerprint = detail::mix(detail::tag("float"), sizeof(T));
  static constexpr std::size_t min_size = sizeof(T);
  static void encode(writer& w, T v) {
    if constexpr (sizeof(T) == 4)
      w.put_fixed32(std::bit_cast<std::uint32_t>(v));
    else
      w.put_fixed64(std::bit_cast<std::uint64_t>(v));
  }
  static bool decode(reader& r, T& out) {
    if constexpr (sizeof(T) == 4) {
      std::uint32_t bits{};
      if (!r.get_fixed32(bits)) return false;
      out = std::bit_cast<T>(bits);
    } else {
      std::uint64_t bits{};
      if (!r.get_fixed64(bits)) return false;
      out = std::bit_cast<T>(bits);
    }
    return true;
  }
};

template <class E>
  requires std::is_enum_v<E> && (!std::is_same_v<E, std::byte>)
struct codec<E> {
  using underlying = std::underlying_type_t<E>;
  // An enum without a fixed underlying type may hold only the values of its enumerators' bit
  // range; anything else is undefined behaviour, so the decoder must know that range.
  static_assert(requires { E{underlying{}}; },
                "troupe::serial: give the enum a fixed underlying type (enum class, or `enum e : int`)");
  static constexpr std::uint64_t fingerprint =
      detail::mix(detail::mix(detail::tag("enum"), codec<underlying>::fingerprint), detail::enum_values_hash<E>());
  static constexpr std::size_t min_size = 1;
  static void encode(writer& w, E v) { codec<underlying>::encode(w, static_cast<underlying>(v)); }
  static bool decode(reader& r, E& out) {
    underlying u{};
    if (!codec<underlying>::decode(r, u)) return false;
    if (!detail::enum_accepts<E>(u))
      return r.fail(errc::invalid_value, std::to_string(+u) + " is not a value of enum " +
                                             std::string(type_name_of<E>()));
    out = static_cast<E>(u);
    return true;
  }
};

template <class Rep, class Period>
struct codec<std::chrono::duration<Rep, Period>> {
  static constexpr std::uint64_t fingerprint = detail::mix(
      detail::mix(detail::mix(detail::tag("duration"), codec<Rep>::fingerprint), static_cast<std::uint64_t>(Period::num)),
      static_cast<std::uint64_t>(Period::den));
  static constexpr std::size_t min_size = min_size_of<Rep>();
  static void encode(writer& w, std::chrono::duration<Rep, Period> d) { codec<Rep>::encode(w, d.count()); }
  static bool decode(reader& r, std::chrono::duration<Rep, Period>& out) {
    Rep count{};
    if (!codec<Rep>::decode(r, count)) return false;
    out = std::chrono::duration<Rep, Period>(count);
    return true;
  }
};

}  // namespace troupe::serial
