// type_name.hpp: the name of a message type, and the 64-bit type id derived from it.
// A message's type id, which goes on the wire and into journals, is the FNV-1a hash of its
// name. The default name is the qualified name the compiler prints ("shop::order"), the same
// under g++ and clang for a struct or enum in a named namespace. Specialize `type_name<T>` to
// fix a name for good (before renaming or moving a type, or for a template or a type in an
// anonymous namespace, whose printed names differ between compilers). Compile-time only.
#pragma once

#include <cstdint>
#include <string_view>
#include <type_traits>

#include "troupe/serial/detail/hash.hpp"

namespace troupe::serial {

namespace detail {
template <class T>
constexpr auto pretty_name() noexcept {
  return std::string_view{__PRETTY_FUNCTION__};
}
// g++: "constexpr auto troupe::serial::detail::pretty_name() [with T = shop::order]"
// clang: "auto troupe::serial::detail::pretty_name() [T = shop::order]"
template <class T>
constexpr std::string_view compiler_type_name() noexcept {
  constexpr std::string_view full = pretty_name<T>();
  constexpr std::size_t start = full.find("T = ") + 4;
  constexpr std::size_t end = full.rfind(']');
  static_assert(full.find("T = ") != std::string_view::npos && end != std::string_view::npos && end > start,
                "troupe::serial: this compiler's __PRETTY_FUNCTION__ is not understood");
  return full.substr(start, end - start);
}
}  // namespace detail

/// The name of a message type; specialize it to give one a stable name of your own.
///
///     template <> struct troupe::serial::type_name<shop::order> {
///       static constexpr std::string_view value = "shop.order";  // survives a rename
///     };
template <class T>
struct type_name {
  static constexpr std::string_view value = detail::compiler_type_name<T>();
  static constexpr bool from_compiler = true;  // absent from user specializations
};

/// `type_name<T>::value`.
template <class T>
constexpr std::string_view type_name_of() noexcept {
  return type_name<T>::value;
}

/// True when `type_name<T>` was specialized by the program.
template <class T>
constexpr bool has_given_name() noexcept {
  return !requires { type_name<T>::from_compiler; };
}

}  // namespace troupe::serial
