// state_machine.hpp: OTP's gen_statem as a C++ class: states are types, handlers are overloads.
// The states are the alternatives of a std::variant S; `on(State&, const Event&)` handles an
// event in one state, `enter(State&)` runs on entering it. Handlers request actions (transition,
// postpone, next_event, state/event/generic timeouts, stop) that apply once the handler returns,
// in OTP's order. It runs as an ordinary actor: one event at a time, on its own turn only.
// Timeouts are keyed timers of the actor, so they follow the system's clock (and the test kit's).
#pragma once

#include <chrono>
#include <deque>
#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <type_traits>
#include <utility>
#include <variant>
#include <vector>

#include "troupe/core/actor.hpp"
#include "troupe/core/actor_context.hpp"
#include "troupe/core/behavior.hpp"
#include "troupe/core/exit_reason.hpp"
#include "troupe/core/result.hpp"

namespace troupe::otp {

namespace detail {
template <class T>
struct machine_runner;
struct machine_access;
template <class T>
inline constexpr bool always_false = false;  // for a static_assert in a discarded branch
}  // namespace detail

/// Base of a state machine with protocol P (a std::variant of events) and states S (a
/// std::variant of state types, each holding that state's data).
///
///     struct locked {};  struct open {};
///     struct push {};    struct relock {};
///     class door : public troupe::otp::state_machine<std::variant<push, relock>,
///                                                     std::variant<locked, open>> {
///      public:
///       door() : state_machine(locked{}) {}
///       void on(locked&, push) { transition(open{}); }
///       void enter(open&) { state_timeout(std::chrono::seconds{5}, relock{}); }
///       void on(open&, relock) { transition(locked{}); }
///       template <class S, class E> void on(S&, const E&) {}      // ignore the rest
///     };
///     auto d = sys.spawn(troupe::otp::state_machine_of<door>());
///
/// Callbacks, as in OTP (state_functions mode, with state_enter):
/// - the constructor: OTP's init/1; it names the first state. It may take `actor_context<P>&`
///   first. `enter` runs for the first state too, as in OTP.
/// - `on(State&, Event)` for every pair (a template overload may cover the rest; a pair left
///   unhandled is a compile error). It may modify the state it is given in place, and request
///   any action below. It must not block.
/// - `enter(State&)`, optional per state type: runs after every state change into that state.
///   It may set timeouts; transition, postpone and next_event there are usage errors (OTP's
///   rule), which crash the machine.
/// - `terminate(reason)`: as server::terminate: runs once as the machine stops, whatever the reason.
/// See also: server.hpp, call.hpp (events that are calls carry a reply_to).
template <class P, class S>
class state_machine {
  static_assert(variant_protocol<P>, "troupe::otp::state_machine: the events P must be a std::variant");
  static_assert(variant_protocol<S>, "troupe::otp::state_machine: the states S must be a std::variant");

 public:
  using protocol = P;
  using state_type = S;
  virtual ~state_machine() = default;

  /// OTP's terminate/3. The default does nothing; it must not throw.
  virtual void terminate(const exit_reason& /*reason*/) {}

  /// The current state (during a handler: the state the event arrived in).
  const S& state() const noexcept { return state_; }

 protected:
  explicit state_machine(S initial) : state_(std::move(initial)) {}

  /// This machine's context: self, spawn, watch, timers of its own, ask.
  actor_context<P>& context() const noexcept { return *ctx_; }

  /// OTP's {next_state, Next, ...}: once the handler returns, the state becomes `next`. When it
  /// differs from the current one (another alternative, or, for a state type with ==, an
  /// unequal value of the same one),
  /// that is a state change: the state timeout is cancelled, `enter(next)` runs, and postponed
  /// events are retried. The last call in a handler wins.
  void transition(S next) {
    forbid_in_enter("transition");
    next_state_.emplace(std::move(next));
  }
  /// OTP's postpone: keeps the current event and retries it after the next state change,
  /// in the order postponed, before any message still in the mailbox.
  void postpone() {
    forbid_in_enter("postpone");
    postpone_ = true;
  }
  /// OTP's {next_event, ...}: `ev` is handled next, before postponed events and the mailbox.
  /// Several are handled in the order they were inserted.
  template <class M>
    requires accepts<P, M>
  void next_event(M&& ev) {
    forbid_in_enter("next_event");
    inserted_.emplace_back(std::forward<M>(ev));
  }
  /// OTP's state_timeout: delivers `ev` after `delay` unless the state changes first. Set in the
  /// handler of a transition, it belongs to the new state. A new one replaces the old.
  template <class M>
    requires accepts<P, M>
  void state_timeout(std::chrono::nanoseconds delay, M ev) {
    ctx_->start_timer(std::string(state_key), std::move(ev), delay);
    state_timeout_armed_ = true;
    state_timeout_set_ = true;
  }
  /// Cancels the state timeout, if one is running.
  void cancel_state_timeout() {
    if (state_timeout_armed_) ctx_->cancel_timer(state_key);
    state_timeout_armed_ = false;
    state_timeout_set_ = false;
  }
  /// OTP's event timeout: delivers `ev` after `delay` unless any event arrives first (including
  /// an inserted or a retried one, which cancels it at once).
  template <class M>
    requires accepts<P, M>
  void event_timeout(std::chrono::nanoseconds delay, M ev) {
    pending_event_timeout_ = [this, delay, ev = std::move(ev)]() mutable {
      ctx_->start_timer(std::string(event_key), std::move(ev), delay);
      event_timeout_armed_ = true;
    };
  }
  /// OTP's generic timeout {{timeout, Name}, ...}: delivers `ev` after `delay`, whatever
  /// happens meanwhile, unless cancelled or replaced by another under the same name.
  template <class M>
    requires accepts<P, M>
  void start_timeout(std::string_view name, std::chrono::nanoseconds delay, M ev) {
    ctx_->start_timer(generic_key(name), std::move(ev), delay);
  }
  /// Cancels the generic timeout `name`; false if none was running.
  bool cancel_timeout(std::string_view name) { return ctx_->cancel_timer(generic_key(name)); }
  /// OTP's {stop, normal}: stops once the handler returns; queued events are not handled.
  void stop() { stop_ = true; }

 private:
  template <class>
  friend struct detail::machine_runner;
  friend struct detail::machine_access;

  static constexpr std::string_view state_key = "troupe.otp.state_timeout";
  static constexpr std::string_view event_key = "troupe.otp.event_timeout";
  static std::string generic_key(std::string_view name) { return "troupe.otp.timeout:" + std::string(name); }
  void forbid_in_enter(const char* what) const {
    if (in_enter_)
      throw usage_error(std::string("troupe::otp::state_machine: ") + what + " inside enter() (OTP forbids it)");
  }

  S state_;
  actor_context<P>* ctx_ = nullptr;
  // Actions requested by the running handler; applied when it returns (own turn only).
  std::optional<S> next_state_;
  std::vector<P> inserted_;
  std::function<void()> pending_event_timeout_;
  bool postpone_ = false;
  bool stop_ = false;
  bool in_enter_ = false;
  bool state_timeout_set_ = false;  // by the running handler: it belongs to the next state
  // Whether a state or event timeout may be running, to spare a timer lookup on each event and
  // state change. Cancelling one that has just delivered the current event is harmless: core
  // has already retired it, and the cancel finds nothing.
  bool state_timeout_armed_ = false;
  bool event_timeout_armed_ = false;
  // Events to handle before the mailbox: inserted ones, then retried postponed ones.
  std::deque<P> queue_;
  std::vector<P> postponed_;
};

namespace detail {
template <class S>
bool same_state(const S& a, const S& b) {
  if (a.index() != b.index()) return false;
  // std::variant's == does not compile unless every alternative has one, so compare per
  // alternative: by value where the state type has ==, by alternative alone where it has not.
  return std::visit(
      [&b](const auto& x) {
        using X = std::remove_cvref_t<decltype(x)>;
        if constexpr (requires { x == x; }) return static_cast<bool>(x == std::get<X>(b));
        else return true;
      },
      a);
}

// Runs a machine T: handles each mailbox message, then everything it inserted or released,
// and calls T::terminate when the actor's state is destroyed.
template <class T>
struct machine_runner {
  using P = typename T::protocol;
  using S = typename T::state_type;
  using base = state_machine<P, S>;
  std::unique_ptr<T> obj;

  explicit machine_runner(std::unique_ptr<T> o) noexcept : obj(std::move(o)) {}
  machine_runner(machine_runner&&) noexcept = default;
  machine_runner& operator=(machine_runner&&) = delete;
  ~machine_runner() {
    if (obj == nullptr) return;  // moved from
    try {
      obj->terminate(m().ctx_->stop_reason());
    } catch (...) {
      // Documented: terminate must not throw; there is no one left to tell.
    }
  }

  base& m() noexcept { return *obj; }

  // The first state's enter, as OTP's state_enter does for the initial state.
  void begin() {
    run_enter();
    if (auto event_timeout = std::exchange(m().pending_event_timeout_, nullptr)) event_timeout();
  }

  template <class M>
  behavior<P> operator()(M&& msg) {
    P ev(std::in_place_type<std::remove_cvref_t<M>>, std::forward<M>(msg));
    base& b = m();
    dispatch(std::move(ev));
    while (!b.stop_ && !b.queue_.empty()) {
      P next = std::move(b.queue_.front());
      b.queue_.pop_front();
      dispatch(std::move(next));
    }
    if (b.stop_) return troupe::stopped;
    return troupe::same;
  }

  void dispatch(P ev) {
    base& b = m();
    // Any event cancels the event timeout (a message it had already sent is discarded).
    if (b.event_timeout_armed_) {
      b.ctx_->cancel_timer(base::event_key);
      b.event_timeout_armed_ = false;
    }
    b.postpone_ = false;
    b.next_state_.reset();
    b.pending_event_timeout_ = nullptr;
    b.state_timeout_set_ = false;
    std::visit(
        [this](auto& st, auto& e) {
          if constexpr (requires { obj->on(st, e); }) {
            obj->on(st, e);
          } else {
            static_assert(detail::always_false<decltype(e)>,
                          "troupe::otp::state_machine: no on(State&, const Event&) handles this "
                          "(state, event) pair; add one, or a template catch-all");
          }
        },
        b.state_, ev);
    if (b.postpone_) b.postponed_.push_back(std::move(ev));
    bool changed = false;
    if (b.next_state_) {
      changed = !same_state(*b.next_state_, b.state_);
      b.state_ = std::move(*b.next_state_);
      b.next_state_.reset();
    }
    if (changed) {
      // A state timeout set by this very handler belongs to the new state; an older one ends.
      if (!b.state_timeout_set_) b.cancel_state_timeout();
      run_enter();
    }
    // Inserted events go first, then (after a state change) the postponed ones, in order.
    if (changed) {
      for (auto it = b.postponed_.rbegin(); it != b.postponed_.rend(); ++it) b.queue_.push_front(std::move(*it));
      b.postponed_.clear();
    }
    for (auto it = b.inserted_.rbegin(); it != b.inserted_.rend(); ++it) b.queue_.push_front(std::move(*it));
    b.inserted_.clear();
    // OTP: an event timeout is not started when events are already queued for handling.
    auto event_timeout = std::exchange(b.pending_event_timeout_, nullptr);
    if (event_timeout && b.queue_.empty()) event_timeout();
  }

  void run_enter() {
    base& b = m();
    b.in_enter_ = true;
    struct reset {
      bool& flag;
      ~reset() { flag = false; }
    } guard{b.in_enter_};
    std::visit(
        [this](auto& st) {
          if constexpr (requires { obj->enter(st); }) obj->enter(st);
        },
        b.state_);
  }
};

struct machine_access {
  template <class P, class S>
  static void attach(state_machine<P, S>& m, actor_context<P>& ctx) noexcept {
    m.ctx_ = &ctx;
  }
};
}  // namespace detail

/// The behaviour of state machine T (derived from `state_machine<P, S>`), built from `args`
/// when it starts; `enter` runs for its first state. If T can be constructed from
/// `(actor_context<P>&, args...)`, it gets the context too.
///
///     auto d = sys.spawn(troupe::otp::state_machine_of<door>(), {.name = "front door"});
template <class T, class... Args>
behavior<typename T::protocol> state_machine_of(Args&&... args) {
  using P = typename T::protocol;
  using S = typename T::state_type;
  static_assert(std::is_base_of_v<state_machine<P, S>, T>,
                "troupe::otp::state_machine_of<T>: T must derive from state_machine<P, S>");
  return setup<P>([... args = std::forward<Args>(args)](actor_context<P>& ctx) mutable -> behavior<P> {
    auto obj = troupe::make_with_context<T>(ctx, std::move(args)...);
    detail::machine_access::attach<P, S>(*obj, ctx);
    detail::machine_runner<T> runner(std::move(obj));
    try {
      runner.begin();
    } catch (...) {
      runner.obj.reset();  // a failed start is OTP's failed init: no terminate
      throw;
    }
    return receive<P>(std::move(runner));
  });
}

}  // namespace troupe::otp
