// protocol.hpp: what a typed ref accepts.
// A protocol is a `std::variant` of plain message structs, or a single message type. A
// `ref<P>` accepts exactly the alternatives of P, so sending anything else does not compile.
// A single-type protocol also accepts values that convert to it without narrowing.
#pragma once

#include <type_traits>
#include <utility>
#include <variant>

namespace troupe {

namespace detail {
template <class P>
struct variant_traits : std::false_type {};
template <class... Ms>
struct variant_traits<std::variant<Ms...>> : std::true_type {
  template <class M>
  static constexpr bool holds = (std::is_same_v<M, Ms> || ...);
};
template <class P, class M>
constexpr bool accepts_message() {
  using D = std::remove_cvref_t<M>;
  if constexpr (variant_traits<P>::value)
    return variant_traits<P>::template holds<D>;
  else
    return std::is_same_v<D, P> || requires { P{std::declval<M>()}; };
}
}  // namespace detail

/// True for a protocol written as a `std::variant` of messages.
template <class P>
concept variant_protocol = detail::variant_traits<P>::value;

/// True when a `ref<P>` accepts a message of type M.
///
///     static_assert(troupe::accepts<std::variant<add, get>, add>);
///     static_assert(!troupe::accepts<std::variant<add, get>, int>);
template <class P, class M>
concept accepts = detail::accepts_message<P, M>();

}  // namespace troupe
