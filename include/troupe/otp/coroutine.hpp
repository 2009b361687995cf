// coroutine.hpp: the type a coroutine actor's function returns, which owns the coroutine frame.
// Only the actor that runs the coroutine touches it, on its own turns. It may co_await only the
// awaitables of coroutine_context (receive, ask); anything else does not compile. Its frame
// comes from the message pool and is destroyed exactly once: when the body finishes, or when
// the actor stops while the body waits (its locals' destructors then run).
#pragma once

#include <coroutine>
#include <cstddef>
#include <exception>
#include <type_traits>
#include <utility>

#include "troupe/core/extension.hpp"

namespace troupe::otp {

template <class P>
class coroutine_context;

namespace detail {
// Awaitables a coroutine actor may co_await carry this base (see promise_type::await_transform).
struct coroutine_awaitable {};

// g++ 12 destroys twice a temporary that has a destructor and is made inside a co_await
// expression of a coroutine that then suspends (a lambda capturing a ref or a shared_ptr, a
// ref<Q>{...}): a double release, caught here at compile time. Named values are safe, as are
// temporaries with nothing to destroy (lambdas capturing by reference or nothing). Clang 14 is
// not affected (checked); the check stays for every g++ until a fixed version is verified.
template <class T>
inline constexpr bool safe_in_co_await =
#if defined(__GNUC__) && !defined(__clang__)
    std::is_lvalue_reference_v<T> || std::is_trivially_destructible_v<std::remove_reference_t<T>>;
#else
    true;
#endif
}  // namespace detail

/// What a coroutine actor's function returns. The frame is owned by the actor: it is destroyed
/// when the function returns (the actor then stops normally), throws (the actor crashes with the
/// exception as its reason) or when the actor is stopped while the coroutine waits.
///
///     troupe::otp::coroutine<ping_msg> ponger(troupe::otp::coroutine_context<ping_msg>& self) {
///       for (;;) co_await self.receive([](const ping& p) { p.reply_to.tell(pong{}); });
///     }
template <class P>
class [[nodiscard]] coroutine {
 public:
  // Frames come from the message pool, like envelopes and control blocks: one per actor.
  struct promise_type : troupe::pool_allocated {
    coroutine get_return_object() noexcept { return coroutine(handle::from_promise(*this)); }
    // Suspended at first: the actor starts the body on its first turn, inside its setup.
    std::suspend_always initial_suspend() noexcept { return {}; }
    // Suspended at the end, so that the actor sees it finished and reads `error` first.
    std::suspend_always final_suspend() noexcept { return {}; }
    void return_void() noexcept {}
    void unhandled_exception() noexcept { error = std::current_exception(); }

    /// Only troupe's awaitables: anything else would suspend the actor with no way to resume it.
    template <class A>
    A&& await_transform(A&& a) noexcept {
      static_assert(std::is_base_of_v<detail::coroutine_awaitable, std::remove_cvref_t<A>>,
                    "troupe: a coroutine actor co_awaits only self.receive(...) and self.ask(...)");
      return std::forward<A>(a);
    }

    std::exception_ptr error;
  };
  using handle = std::coroutine_handle<promise_type>;

  coroutine(coroutine&& o) noexcept : h_(std::exchange(o.h_, {})) {}
  coroutine& operator=(coroutine&& o) noexcept {
    if (this != &o) {
      reset();
      h_ = std::exchange(o.h_, {});
    }
    return *this;
  }
  ~coroutine() { reset(); }

 private:
  friend class coroutine_context<P>;
  explicit coroutine(handle h) noexcept : h_(h) {}
  coroutine() = default;
  void reset() noexcept {
    if (h_) std::exchange(h_, {}).destroy();  // runs the destructors of the frame's locals
  }
  handle h_;
};

}  // namespace troupe::otp
