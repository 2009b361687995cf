// pipe_to_self.hpp: work finishing on another thread becomes a message to the actor.
// An actor must never block on a future or touch its state from a callback's thread. Instead
// it pipes the outcome to itself (Akka's pipeToSelf): a `std::future` is watched by the system's
// timer service (no thread per future: it is polled with a backoff from 50 µs up to 5 ms, so
// the message arrives within about that long after the future is ready), and a callback form
// gives other libraries a thread-safe callable to complete. Call both from the actor's own turn;
// the message arrives like any other, in the actor's mailbox, on the actor's turn.
#pragma once

#include <chrono>
#include <exception>
#include <future>
#include <memory>
#include <string>
#include <type_traits>
#include <utility>

#include "troupe/core/actor_context.hpp"
#include "troupe/core/any_ref.hpp"
#include "troupe/core/extension.hpp"
#include "troupe/core/protocol.hpp"
#include "troupe/core/ref.hpp"
#include "troupe/core/timer_service.hpp"

namespace troupe::otp {

namespace detail {

// Crashes `me` from another thread: a mapping function belongs to its actor, so if it throws,
// that actor stops with the exception as its reason (as a failed ask mapping does).
template <class P>
void crash_from_outside(const ref<P>& me, std::string text) noexcept {
  // If this fails (out of memory while reporting), the outcome is lost and the actor lives on.
  request_stop(me, exit_reason{exit_reason::kind::exception, std::move(text)});
}

template <class P, class M>
void tell_mapped(const ref<P>& me, M&& make) noexcept {
  try {
    me.tell(make());
  } catch (const std::exception& ex) {
    crash_from_outside(me, std::string("a pipe_to_self mapping threw: ") + ex.what());
  } catch (...) {
    crash_from_outside(me, "a pipe_to_self mapping threw");
  }
}

// One watched future. Owned by the pending timer action (shared: the action is copied into a
// std::function); touched only by the timer thread once scheduled, so it needs no lock.
template <class T, class P, class F>
struct future_watch : std::enable_shared_from_this<future_watch<T, P, F>> {
  static constexpr std::chrono::nanoseconds first_delay = std::chrono::microseconds{50};
  static constexpr std::chrono::nanoseconds max_delay = std::chrono::milliseconds{5};

  future_watch(std::future<T> f, ref<P> m, F fn, timer_service& t)
      : future(std::move(f)), me(std::move(m)), map(std::move(fn)), timers(&t) {}

  void arm() {
    timers->schedule_at(timers->now() + delay, [self = this->shared_from_this()](bool fired) { self->poll(fired); });
  }
  void poll(bool fired) noexcept {
    // The system is shutting down, or the actor has stopped: nobody is left to tell.
    if (!fired || any_ref(me).has_stopped()) return;
    if (future.wait_for(std::chrono::seconds{0}) == std::future_status::ready) {
      tell_mapped(me, [&] { return map(std::move(future)); });
      return;
    }
    delay = delay * 2 < max_delay ? delay * 2 : max_delay;
    try {
      arm();
    } catch (...) {
      crash_from_outside(me, "pipe_to_self could not schedule its next poll");
    }
  }

  std::future<T> future;
  ref<P> me;
  F map;
  timer_service* timers;
  std::chrono::nanoseconds delay = first_delay;
};

}  // namespace detail

/// When `f` becomes ready, sends this actor `map(std::move(f))`, a message of its protocol;
/// `map` calls `get()`, which returns the value or rethrows the producer's exception. If `map`
/// throws, this actor crashes. Nothing is sent if the actor stops first.
///
///     auto f = std::async(std::launch::async, [] { return slow_lookup(); });
///     troupe::otp::pipe_to_self(ctx, std::move(f), [](std::future<int> done) {
///       try { return looked_up{done.get(), {}}; } catch (const std::exception& e) { return looked_up{0, e.what()}; }
///     });
///
/// A future from `std::async` blocks in its destructor until its task ends: if the actor stops
/// first, the timer thread drops the future and waits for the task. Prefer futures of promises.
template <class T, class P, class F>
  requires accepts<P, std::invoke_result_t<F&, std::future<T>&&>>
void pipe_to_self(actor_context<P>& ctx, std::future<T> f, F map) {
  auto me = ctx.self();
  auto& timers = timers_of(ctx);
  std::make_shared<detail::future_watch<T, P, std::decay_t<F>>>(std::move(f), std::move(me), std::move(map), timers)
      ->arm();
}

/// A thread-safe callable that sends this actor `map(value)` each time it is called: hand it
/// to a library that completes on its own threads. It may outlive the actor (its messages then
/// go to dead letters). If `map` throws, this actor crashes, not the caller.
///
///     auto done = troupe::otp::callback_to_self<std::string>(ctx, [](std::string body) { return fetched{body}; });
///     http_client.get(url, done);           // calls done(body) on the client's thread
template <class T, class P, class F>
  requires accepts<P, std::invoke_result_t<F&, T&&>>
auto callback_to_self(actor_context<P>& ctx, F map) {
  return [me = ctx.self(), map = std::move(map)](T value) {
    detail::tell_mapped(me, [&] { return map(std::move(value)); });
  };
}

}  // namespace troupe::otp
