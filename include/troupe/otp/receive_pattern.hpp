// receive_pattern.hpp: the clauses of a selective receive: handlers by message type, guards, a
// timeout. A pattern set tries its handlers in the order written, as Erlang tries the clauses of
// a receive: the first handler that accepts the message's type and whose guard holds takes it.
// `after(d)` is the timeout clause. Pattern sets are used by coroutine actors
// (coroutine_actor.hpp) on their own turn only; they hold no shared state.
#pragma once

#include <chrono>
#include <cstddef>
#include <exception>
#include <functional>
#include <optional>
#include <tuple>
#include <type_traits>
#include <utility>
#include <variant>

#include "troupe/core/protocol.hpp"

namespace troupe::otp {

/// The timeout clause of a receive: if no message matches within `timeout`, the receive yields
/// errc::timeout. `after(0ms)` only looks at the messages already there (Erlang's `after 0`).
///
///     auto r = co_await self.receive([](const pong&) {}, troupe::otp::after(100ms));
///     if (!r) { /* r.error() == troupe::errc::timeout */ }
struct after_clause {
  std::chrono::nanoseconds timeout;
};
inline after_clause after(std::chrono::nanoseconds timeout) noexcept { return {timeout}; }

/// A handler with a guard: it takes a message only if `guard(message)` is true (an Erlang
/// `when`). The guard takes the message by const reference and must not change anything.
///
///     co_await self.receive(
///         troupe::otp::when([&](const reply& r) { return r.id == wanted; },
///                           [&](reply&& r) { got = std::move(r.body); }));
template <class Guard, class Handler>
struct guarded {
  Guard guard;
  Handler handler;
};
template <class Guard, class Handler>
guarded<std::decay_t<Guard>, std::decay_t<Handler>> when(Guard&& guard, Handler&& handler) {
  return {std::forward<Guard>(guard), std::forward<Handler>(handler)};
}

namespace detail {

template <class T>
inline constexpr bool is_after = std::is_same_v<std::remove_cvref_t<T>, after_clause>;
template <class T>
inline constexpr bool is_guarded = false;
template <class G, class H>
inline constexpr bool is_guarded<guarded<G, H>> = true;

template <class Pattern, class M>
constexpr bool pattern_accepts() {
  if constexpr (is_after<Pattern>) return false;
  else if constexpr (is_guarded<Pattern>)
    return std::is_invocable_v<decltype(Pattern::handler)&, M&&> &&
           std::is_invocable_r_v<bool, decltype(Pattern::guard)&, const M&>;
  else return std::is_invocable_v<Pattern&, M&&>;
}

template <class Pattern, class M>
decltype(auto) invoke_pattern(Pattern& p, M&& m) {
  if constexpr (is_guarded<Pattern>) return std::invoke(p.handler, std::forward<M>(m));
  else return std::invoke(p, std::forward<M>(m));
}
template <class Pattern, class M>
bool guard_holds(Pattern& p, const M& m) {
  if constexpr (is_guarded<Pattern>) return static_cast<bool>(std::invoke(p.guard, m));
  else return true;
}

template <class... Ts>
struct type_list {};
template <class P>
struct alternatives_of {
  using type = type_list<P>;
};
template <class... Ms>
struct alternatives_of<std::variant<Ms...>> {
  using type = type_list<Ms...>;
};

struct no_match {};
template <class Pattern, class M>
struct lazy_result {
  using type = decltype(invoke_pattern(std::declval<Pattern&>(), std::declval<M&&>()));
};
// The result of `Pattern` for the first message type it accepts, or no_match.
template <class Pattern, class List>
struct first_result {
  using type = no_match;
};
template <class Pattern, class M, class... Ms>
struct first_result<Pattern, type_list<M, Ms...>>
    : std::conditional_t<pattern_accepts<Pattern, M>(), lazy_result<Pattern, M>,
                         first_result<Pattern, type_list<Ms...>>> {};

template <class List, class... Patterns>
struct receive_result {
  using type = void;  // no handler at all: a receive of nothing but a timeout
};
template <class List, class Pattern, class... Patterns>
struct receive_result<List, Pattern, Patterns...> {
  using type = std::conditional_t<is_after<Pattern>, typename receive_result<List, Patterns...>::type,
                                  typename first_result<Pattern, List>::type>;
};

template <class Pattern, class List>
struct accepts_any;
template <class Pattern, class... Ms>
struct accepts_any<Pattern, type_list<Ms...>>
    : std::bool_constant<is_after<Pattern> || (pattern_accepts<Pattern, Ms>() || ...)> {};

/// The patterns of one receive, their timeout and, once a message matched, the handler's
/// result (or the exception it threw, to be rethrown inside the coroutine).
template <class P, class... Patterns>
class pattern_set {
 public:
  /// What the handlers return (all must return the same type); void if they return nothing.
  using value_type = typename receive_result<typename alternatives_of<P>::type, Patterns...>::type;
  static constexpr bool has_timeout = (is_after<Patterns> || ...);

  static_assert((static_cast<int>(is_after<Patterns>) + ... + 0) <= 1, "troupe: a receive takes at most one after()");
  static_assert(!has_timeout || is_after<std::tuple_element_t<sizeof...(Patterns) - 1, std::tuple<Patterns...>>>,
                "troupe: after() is the last clause of a receive, as in Erlang");
  static_assert((accepts_any<Patterns, typename alternatives_of<P>::type>::value && ...),
                "troupe: a pattern of this receive accepts no message type of the protocol (check its "
                "parameter type, and that its guard takes the same type by const reference)");
  static_assert(!std::is_same_v<value_type, no_match> && !std::is_reference_v<value_type>,
                "troupe: a receive's handlers return a value (or void), not a reference");

  template <class... Ps>
  explicit pattern_set(Ps&&... ps) : patterns_(std::forward<Ps>(ps)...) {}

  /// Tests `m` against the patterns in order. On a match the handler takes `m` (moved from),
  /// its result is kept, and true is returned; `m` is untouched otherwise.
  bool offer(P& m) {
    if constexpr (variant_protocol<P>)
      return std::visit([&](auto& alt) { return try_match<0>(alt); }, m);
    else
      return try_match<0>(m);
  }

  /// The timeout of the after() clause, if there is one.
  std::optional<std::chrono::nanoseconds> timeout() const noexcept {
    if constexpr (has_timeout) return std::get<sizeof...(Patterns) - 1>(patterns_).timeout;
    else return std::nullopt;
  }

  /// The matched handler's result; rethrows what it threw.
  value_type take_value() {
    if (error_) std::rethrow_exception(error_);
    if constexpr (!std::is_void_v<value_type>) return std::move(*value_);
  }

 private:
  template <std::size_t I, class M>
  bool try_match(M& m) {
    if constexpr (I == sizeof...(Patterns)) {
      return false;
    } else {
      using pattern = std::tuple_element_t<I, std::tuple<Patterns...>>;
      if constexpr (pattern_accepts<pattern, M>()) {
        auto& p = std::get<I>(patterns_);
        if (guard_holds(p, std::as_const(m))) {
          run(p, std::move(m));
          return true;
        }
      }
      return try_match<I + 1>(m);
    }
  }

  template <class Pattern, class M>
  void run(Pattern& p, M&& m) {
    using R = decltype(invoke_pattern(p, std::forward<M>(m)));
    static_assert(std::is_same_v<R, value_type>,
                  "troupe: every handler of a receive must return the same type (the value of "
                  "co_await self.receive(...))");
    // Kept for the coroutine: a handler's exception surfaces at its co_await, where the
    // actor's own code may catch it; uncaught, it crashes the actor.
    try {
      if constexpr (std::is_void_v<R>) invoke_pattern(p, std::forward<M>(m));
      else value_.emplace(invoke_pattern(p, std::forward<M>(m)));
    } catch (...) {
      error_ = std::current_exception();
    }
  }

  struct no_value {};
  std::tuple<Patterns...> patterns_;
  std::conditional_t<std::is_void_v<value_type>, no_value, std::optional<value_type>> value_{};
  std::exception_ptr error_;
};

}  // namespace detail

}  // namespace troupe::otp
