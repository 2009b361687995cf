// circuit_breaker.cpp: the breaker's state machine, under one mutex.
// Outcomes arrive from any thread (a replier's worker, the timer thread that times an ask out,
// a caller's); the lock is held for a few comparisons only, and the transition callback runs
// after it is released, so a callback may use the breaker.
#include "troupe/otp/circuit_breaker.hpp"

#include <mutex>
#include <optional>
#include <string>

namespace troupe::otp {

struct circuit_breaker::shared {
  timer_service* clock = nullptr;  // immutable once constructed
  circuit_breaker_options opts;    // immutable once constructed

  mutable std::mutex mu;
  circuit_state state = circuit_state::closed;  // guarded by mu
  unsigned failures = 0;                        // guarded by mu: consecutive, while closed
  // guarded by mu: bumped at every change of state, so outcomes of calls from before it are ignored
  std::uint64_t generation = 0;
  timer_service::clock::time_point opened_at{};  // guarded by mu

  struct transition {
    circuit_state from, to;
  };
  // Caller holds mu.
  transition move_to(circuit_state to) {
    transition t{state, to};
    state = to;
    ++generation;
    if (to == circuit_state::open) opened_at = clock->now();
    if (to == circuit_state::closed) failures = 0;
    return t;
  }
  void announce(const std::optional<transition>& t) const {
    if (t && opts.on_transition) opts.on_transition(t->from, t->to);
  }
};

namespace {
circuit_breaker_options checked(circuit_breaker_options opts) {
  if (opts.max_failures == 0) throw usage_error("troupe: a circuit breaker needs max_failures of at least 1");
  return opts;
}
}  // namespace

circuit_breaker::circuit_breaker(troupe::system& sys, circuit_breaker_options opts)
    : circuit_breaker(timers_of(sys), std::move(opts)) {}

circuit_breaker::circuit_breaker(timer_service& clock, circuit_breaker_options opts)
    : st_(std::make_shared<shared>()) {
  // Set before the breaker is shared with anyone, and never again.
  st_->clock = &clock;
  st_->opts = checked(std::move(opts));
}

result<circuit_breaker::ticket> circuit_breaker::try_acquire() const {
  std::optional<shared::transition> moved;
  result<ticket> out{ticket{0}};
  {
    std::lock_guard lock(st_->mu);
    switch (st_->state) {
      case circuit_state::closed:
        out = ticket{st_->generation};
        break;
      case circuit_state::open: {
        auto left = st_->opened_at + st_->opts.reset_timeout - st_->clock->now();
        if (left <= decltype(left)::zero()) {
          moved = st_->move_to(circuit_state::half_open);
          out = ticket{st_->generation};  // the trial call
        } else {
          auto ms = std::chrono::duration_cast<std::chrono::milliseconds>(left).count();
          out = error{troupe::errc::circuit_open, "after " + std::to_string(st_->opts.max_failures) +
                                              " failures; a trial call in " + std::to_string(ms) + " ms"};
        }
        break;
      }
      case circuit_state::half_open:
        out = error{troupe::errc::circuit_open, "a trial call is in flight"};
        break;
    }
  }
  st_->announce(moved);
  return out;
}

void circuit_breaker::record(ticket t, bool success) const {
  std::optional<shared::transition> moved;
  {
    std::lock_guard lock(st_->mu);
    if (t.generation != st_->generation) return;  // let through before the last change
    switch (st_->state) {
      case circuit_state::closed:
        if (success) st_->failures = 0;
        else if (++st_->failures >= st_->opts.max_failures) moved = st_->move_to(circuit_state::open);
        break;
      case circuit_state::half_open:
        moved = st_->move_to(success ? circuit_state::closed : circuit_state::open);
        break;
      case circuit_state::open:
        break;  // no ticket of the current generation exists while open
    }
  }
  st_->announce(moved);
}

circuit_state circuit_breaker::state() const {
  std::lock_guard lock(st_->mu);
  return st_->state;
}

unsigned circuit_breaker::failures() const {
  std::lock_guard lock(st_->mu);
  return st_->failures;
}

std::chrono::nanoseconds circuit_breaker::call_timeout() const noexcept { return st_->opts.call_timeout; }

}  // namespace troupe::otp
