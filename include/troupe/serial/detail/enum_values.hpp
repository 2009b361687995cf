// enum_values.hpp: which values of an enum are named, found at compile time, so that a decoder
// rejects a value no enumerator has instead of handing the program an enum it cannot switch on.
// Troupe looks at the values -128..255 (clipped to the underlying type) by the name the compiler
// gives each as a template argument; an enum with enumerators elsewhere, or used as a set of
// flags, specializes troupe::serial::enum_range.
#pragma once

#include <algorithm>
#include <array>
#include <cstddef>
#include <cstdint>
#include <limits>
#include <string_view>
#include <type_traits>
#include <utility>

#include "troupe/serial/detail/hash.hpp"

namespace troupe::serial {

/// Specialize for an enum whose valid values are a range rather than its named enumerators
/// (flags, or enumerators outside -128..255); the decoder then accepts min..max.
///
///     template <> struct troupe::serial::enum_range<permissions> {
///       static constexpr std::uint8_t min = 0, max = 0b111;   // any combination of 3 flags
///     };
template <class E>
struct enum_range {
  static constexpr bool from_names = true;  // absent from user specializations
};

namespace detail {

template <auto V>
constexpr bool is_named_value() noexcept {
  // g++: "... [with auto V = shop::color::red]"; clang: "... [V = shop::color::red]";
  // a value no enumerator has prints as a cast, "(shop::color)7", or as a bare number. A ')'
  // can also open a named one, "(anonymous namespace)::color::red", but is then not followed
  // by a number.
  constexpr std::string_view full = __PRETTY_FUNCTION__;
  constexpr std::size_t at = full.find("V = ");
  static_assert(at != std::string_view::npos, "troupe::serial: this compiler's __PRETTY_FUNCTION__ is not understood");
  constexpr std::string_view value = full.substr(at + 4, full.rfind(']') - (at + 4));
  constexpr auto numeric = [](char c) { return (c >= '0' && c <= '9') || c == '-'; };
  if (value.empty() || numeric(value.front())) return false;
  constexpr std::size_t close = value.rfind(')');
  return close == std::string_view::npos || close + 1 >= value.size() || !numeric(value[close + 1]);
}

template <class E>
struct enum_window {
  using u = std::underlying_type_t<E>;
  static constexpr long long lo = std::is_signed_v<u> ? std::max<long long>(-128, std::numeric_limits<u>::min()) : 0;
  static constexpr long long hi = std::min<long long>(255, static_cast<long long>(std::numeric_limits<u>::max()));
  static constexpr std::size_t size = static_cast<std::size_t>(hi - lo + 1);
};

template <class E, std::size_t... I>
constexpr std::array<bool, sizeof...(I)> probe_names(std::index_sequence<I...>) noexcept {
  using w = enum_window<E>;
  return {is_named_value<static_cast<E>(static_cast<std::underlying_type_t<E>>(w::lo + static_cast<long long>(I)))>()...};
}

template <class E>
inline constexpr auto named_values = probe_names<E>(std::make_index_sequence<enum_window<E>::size>{});

template <class E>
constexpr bool has_enum_range() noexcept {
  return !requires { enum_range<E>::from_names; };
}

/// True when a decoded underlying value `u` is a value of E.
template <class E>
constexpr bool enum_accepts(std::underlying_type_t<E> u) noexcept {
  if constexpr (has_enum_range<E>()) {
    return u >= enum_range<E>::min && u <= enum_range<E>::max;
  } else {
    using w = enum_window<E>;
    const auto x = static_cast<long long>(u);
    if constexpr (std::is_unsigned_v<std::underlying_type_t<E>> && sizeof(u) >= sizeof(long long)) {
      if (u > static_cast<std::underlying_type_t<E>>(w::hi)) return false;
    }
    return x >= w::lo && x <= w::hi && named_values<E>[static_cast<std::size_t>(x - w::lo)];
  }
}

/// The hash of the values E accepts, for its fingerprint.
template <class E>
constexpr std::uint64_t enum_values_hash() noexcept {
  if constexpr (has_enum_range<E>()) {
    return mix(mix(tag("range"), static_cast<std::uint64_t>(enum_range<E>::min)),
               static_cast<std::uint64_t>(enum_range<E>::max));
  } else {
    using w = enum_window<E>;
    std::uint64_t h = tag("named");
    for (std::size_t i = 0; i < w::size; ++i)
      if (named_values<E>[i]) h = mix(h, static_cast<std::uint64_t>(w::lo + static_cast<long long>(i)));
    return h;
  }
}

}  // namespace detail
}  // namespace troupe::serial
