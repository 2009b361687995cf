// circuit_breaker.hpp: stops calling a service that keeps failing, and tries it again later.
// Closed, calls pass and consecutive failures (errors and timeouts) are counted; at
// `max_failures` the circuit opens and every call fails at once with errc::circuit_open instead
// of piling up on a sick service. After `reset_timeout` one trial call passes (half-open): its
// success closes the circuit, its failure opens it again. A breaker is a shared handle: copies
// share one state, and any thread or actor may use it. Time is the system's clock (ctx.now()).
#pragma once

#include <chrono>
#include <cstdint>
#include <functional>
#include <future>
#include <memory>
#include <type_traits>
#include <utility>

#include "troupe/core/actor_context.hpp"
#include "troupe/core/extension.hpp"
#include "troupe/core/ref.hpp"
#include "troupe/core/result.hpp"
#include "troupe/core/system.hpp"
#include "troupe/core/timer_service.hpp"

namespace troupe::otp {

/// Where a circuit breaker stands.
enum class circuit_state {
  closed,     ///< calls pass; consecutive failures are counted
  open,       ///< calls fail at once with errc::circuit_open until the reset timeout has passed
  half_open,  ///< one trial call is in flight; others fail at once
};

/// How a circuit breaker trips and recovers.
///
///     otp::circuit_breaker_options opts{.max_failures = 3, .call_timeout = 200ms, .reset_timeout = 5s};
struct circuit_breaker_options {
  /// Consecutive failures (errors, timeouts) that open the circuit. At least 1.
  unsigned max_failures = 5;
  /// The timeout of each ask made through the breaker; running out counts as a failure.
  std::chrono::nanoseconds call_timeout = std::chrono::seconds(1);
  /// How long the circuit stays open before a trial call may pass.
  std::chrono::nanoseconds reset_timeout = std::chrono::seconds(10);
  /// Called after each change of state, on the thread that caused it (a caller's, a replier's
  /// or the timer thread), outside the breaker's lock: keep it quick; it must not block.
  std::function<void(circuit_state from, circuit_state to)> on_transition{};
};

/// A circuit breaker around asks (or any call, with try_acquire and record).
///
///     otp::circuit_breaker breaker{sys, {.max_failures = 3, .call_timeout = 100ms, .reset_timeout = 1s}};
///     auto price = breaker.ask<long>(quotes, [](troupe::ref<long> r) { return quote{"ACME", r}; }).get();
///     if (!price && price.error() == troupe::errc::circuit_open) use_cached_price();
class circuit_breaker {
 public:
  /// Permission for one call; hand it back to record() with the call's outcome.
  struct ticket {
    std::uint64_t generation;
  };

  /// A breaker on `sys`'s clock. @throws usage_error if max_failures is 0.
  circuit_breaker(troupe::system& sys, circuit_breaker_options opts = {});
  /// A breaker on `clock` (the system's timer service, or the test kit's virtual one).
  circuit_breaker(timer_service& clock, circuit_breaker_options opts = {});

  /// From a plain thread: asks `target` with the call timeout, unless the circuit is open
  /// (then the future is ready at once with errc::circuit_open). The outcome is recorded.
  template <class R, class P, class Make>
    requires accepts<P, std::invoke_result_t<Make&, ref<R>>>
  std::future<result<R>> ask(const ref<P>& target, Make make) const {
    auto promise = std::make_shared<std::promise<result<R>>>();
    auto future = promise->get_future();
    auto t = try_acquire();
    if (!t) {
      promise->set_value(t.error());
      return future;
    }
    try {
      troupe::async_ask<R>(target, make, call_timeout(), [self = *this, t = *t, promise](result<R>&& r) {
        self.record(t, r.has_value());
        promise->set_value(std::move(r));
      });
    } catch (...) {
      record(*t, false);  // an empty target: never leave a half-open trial in flight
      throw;
    }
    return future;
  }

  /// From inside an actor: like ctx.ask, with the call timeout, delivering `map(result<R>)`
  /// to the actor exactly once: the reply, an ask's error, or errc::circuit_open at once when
  /// the circuit is open. `map` runs outside the actor, as for ctx.ask.
  template <class R, class P, class Q, class Make, class Map>
    requires accepts<Q, std::invoke_result_t<Make&, ref<R>>> &&
             accepts<P, std::invoke_result_t<Map&, result<R>&&>>
  void ask(actor_context<P>& ctx, const ref<Q>& target, Make make, Map map) const {
    auto t = try_acquire();
    if (!t) {
      // Past the bound, as the answer to an ask is: a full mailbox must not lose it.
      troupe::tell_self_past_bound(ctx, map(result<R>(t.error())));
      return;
    }
    try {
      ctx.template ask<R>(target, std::move(make), call_timeout(),
                          [self = *this, t = *t, map = std::move(map)](result<R>&& r) mutable {
                            self.record(t, r.has_value());
                            return map(std::move(r));
                          });
    } catch (...) {
      record(*t, false);
      throw;
    }
  }

  /// A ticket for one call, or errc::circuit_open. Moves an open circuit whose reset timeout
  /// has passed to half-open, and the ticket is then its one trial call.
  result<ticket> try_acquire() const;
  /// Records the outcome of the call `t` was given for. Outcomes of calls let through before
  /// the last change of state are ignored.
  void record(ticket t, bool success) const;

  /// The state now. An open circuit reports `open` until a call after the reset timeout
  /// makes it half-open.
  circuit_state state() const;
  /// Consecutive failures counted while closed.
  unsigned failures() const;
  std::chrono::nanoseconds call_timeout() const noexcept;

 private:
  struct shared;
  std::shared_ptr<shared> st_;
};

}  // namespace troupe::otp
