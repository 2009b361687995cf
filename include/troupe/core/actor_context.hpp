// actor_context.hpp: what an actor can do from inside its handlers, and the cell that runs it.
// The context is handed to `setup` and lives exactly as long as the actor, so handlers may
// capture it by reference. Use it only from the actor's own handlers (its turn): it is not
// thread-safe, and it need not be, because an actor handles one message at a time.
#pragma once

#include <chrono>
#include <exception>
#include <initializer_list>
#include <span>
#include <string>
#include <string_view>
#include <type_traits>
#include <typeinfo>
#include <utility>

#include "troupe/core/actor_observer.hpp"
#include "troupe/core/any_ref.hpp"
#include "troupe/core/behavior.hpp"
#include "troupe/core/detail/cell.hpp"
#include "troupe/core/detail/system_core.hpp"
#include "troupe/core/mailbox.hpp"
#include "troupe/core/ref.hpp"
#include "troupe/core/signals.hpp"

namespace troupe {

namespace detail {
struct context_access;
}  // namespace detail

/// Options for spawning an actor.
///
///     sys.spawn(counter(0), {.name = "counter"});        // registered: sys.lookup<...>("counter")
///     sys.spawn(file_reader(), {.blocking = true});      // runs on the blocking pool
///     sys.spawn(worker(), {.mailbox = {.capacity = 100}}); // a bounded mailbox (mailbox.hpp)
struct spawn_options {
  /// Registers the actor under this name for its lifetime (unique within the system: spawning
  /// under a taken name throws usage_error). Also used in logs and dead letters.
  std::string name{};  // `{}`: so that `{.blocking = true}` passes -Wmissing-field-initializers
  /// Runs the actor on the system's separate pool for blocking work (Erlang's dirty schedulers,
  /// Akka's blocking dispatcher), so it never holds up the workers that run everyone else.
  bool blocking = false;
  /// Bounds the mailbox, or counts it so that mailbox_length() answers (see mailbox.hpp).
  /// @throws usage_error (at spawn) for a capacity of 0.
  mailbox_options mailbox{};
};

/// How a keyed timer repeats.
enum class timer_mode {
  single,       ///< fires once, after the delay
  fixed_delay,  ///< fires every `delay`, measured from the previous firing
  fixed_rate,   ///< fires on a fixed schedule: start + k * delay, catching up after a stall
};

/// An actor's view of itself and the runtime: self, spawn, stop, watch, link, timers, ask.
///
///     auto parent = troupe::setup<parent_msg>([](troupe::actor_context<parent_msg>& ctx) {
///       auto child = ctx.spawn(worker());                 // stops when the parent stops
///       ctx.watch(child, [](const troupe::terminated& t) { return child_down{t.reason}; });
///       ctx.start_timer("tick", tick{}, 1s, troupe::timer_mode::fixed_rate);
///       return running(ctx, child);
///     });
template <class P>
class actor_context final : private detail::cell {
 public:
  using protocol = P;

  /// A ref to this actor.
  ref<P> self() { return detail::ref_access::make<P>(detail::counted<detail::endpoint>::share(this)); }
  /// This actor's address.
  using cell::id;
  /// The name given at spawn, or empty.
  using cell::name;
  /// The system's clock: real time, or the test kit's virtual time. Deadlines an actor keeps
  /// (restart windows, backoff, idle timeouts) are read from here so that tests can advance them.
  timer_service::clock::time_point now() const { return sys().timers().now(); }
  /// Logs a record from this actor (its path, e.g. "/shop/orders/#41", is the source) to the
  /// system's logger. Below the logger's level it costs one atomic load: nothing is formatted or
  /// allocated, as long as the fields themselves are cheap to make (numbers, existing strings).
  ///
  ///     ctx.log(troupe::log_level::warning, "retrying the payment gateway", {{"attempt", n}});
  void log(log_level level, std::string_view message, std::initializer_list<log_field> fields = {}) {
    auto& lg = sys().logger();
    if (!lg.enabled(level)) return;
    lg.write(level, detail::system_core::path_of(*this), message, std::span<const log_field>(fields.begin(), fields.size()));
  }
  /// True if a record of `level` would be written: test it before making costly fields.
  ///
  ///     if (ctx.log_enabled(troupe::log_level::debug)) ctx.log(troupe::log_level::debug, "state", {{"dump", dump()}});
  bool log_enabled(log_level level) const noexcept { return sys().logger().enabled(level); }
  /// This actor's path from its top-level ancestor: "/shop/orders/#41" (names where given,
  /// else '#' and the serial), as logs show it.
  std::string path() const { return detail::system_core::path_of(*this); }
  /// User messages waiting in this actor's mailbox (the one being handled is no longer among
  /// them), or nullopt if the mailbox is not counted (spawn_options::mailbox).
  using cell::mailbox_length;

  /// Why this actor stopped. Meant for code that runs while its state is destroyed (OTP's
  /// terminate callback, in the otp layer): by then it is final. Before the actor stops it
  /// reads as normal, or as the crash being handled.
  exit_reason stop_reason() const { return final_reason(); }

  /// Spawns a child: it stops when this actor stops, before this actor's own state is destroyed.
  /// @throws usage_error if the system is stopping or `opts.name` is taken.
  template <class Q>
  ref<Q> spawn(behavior<Q> b, spawn_options opts = {}) {
    return actor_context<Q>::launch(sys(), this, std::move(b), std::move(opts));
  }

  /// Stops this actor normally once the current message is handled (like returning `stopped`).
  void stop() { stop_self(exit_reason{}); }
  /// Asks another actor (typically a child) to stop normally, ahead of its queued messages.
  template <class Q>
  void stop(const ref<Q>& other) {
    if (auto* c = detail::ref_access::cell_of(other)) c->request_stop(exit_reason{});
  }

  /// Kills another actor: the kill goes ahead of every message still queued for it, and once
  /// the actor sees it (at the latest when its current turn ends) it handles no further user
  /// message, whether or not it traps exits; its children are killed too. Its watchers and
  /// links see reason `killed`, a failure. It cannot interrupt a handler that is running: a
  /// handler stuck forever is what the long-turn watchdog reports.
  template <class Q>
  void kill(const ref<Q>& other, std::string text = "killed") {
    if (auto* c = detail::ref_access::cell_of(other)) c->request_kill(std::move(text));
  }

  /// Watches `other`: when it stops, this actor receives `troupe::terminated` (which must be a
  /// message of P). Watching an actor that has already stopped delivers it at once.
  template <class Q>
    requires accepts<P, terminated>
  void watch(const ref<Q>& other) {
    watch(other, [](terminated&& t) { return std::move(t); });
  }
  /// Watches `other`: when it stops, this actor receives `map(terminated)`, a message of P.
  template <class Q, class F>
    requires accepts<P, std::invoke_result_t<F&, terminated&&>>
  void watch(const ref<Q>& other, F map) {
    if (auto* c = detail::ref_access::cell_of(other))
      cell::watch(*c, [this, map = std::move(map)](terminated&& t) mutable { deliver(map(std::move(t))); });
    else  // a remote actor: its node's proxy tells us, on our turn (see endpoint::watch_remote)
      detail::ref_access::endpoint_of(other)->watch_remote(
          *this, [this, map = std::move(map)](terminated&& t) mutable { deliver(map(std::move(t))); });
  }
  template <class Q>
  void unwatch(const ref<Q>& other) {
    if (auto* c = detail::ref_access::cell_of(other)) cell::unwatch(*c);
  }

  /// Links this actor and `other`: when either fails, the other stops too, unless it traps exits.
  /// `other` may be on another node: its node going away is then a failure (noconnection).
  template <class Q>
  void link(const ref<Q>& other) {
    if (auto* c = detail::ref_access::cell_of(other)) cell::link(*c);
    else if (auto* e = detail::ref_access::endpoint_of(other).get()) e->link_remote(*this);
  }
  template <class Q>
  void unlink(const ref<Q>& other) {
    if (auto* c = detail::ref_access::cell_of(other)) cell::unlink(*c);
    else if (auto* e = detail::ref_access::endpoint_of(other).get()) e->unlink_remote(*this);
  }
  /// Turns exits of linked actors into `troupe::exit_signal` messages (which must be in P)
  /// instead of stopping this actor.
  void trap_exits()
    requires accepts<P, exit_signal>
  {
    trap_exits([](exit_signal&& e) { return std::move(e); });
  }
  /// Turns exits of linked actors into `map(exit_signal)`, a message of P.
  template <class F>
    requires accepts<P, std::invoke_result_t<F&, exit_signal&&>>
  void trap_exits(F map) {
    cell::trap_exits([this, map = std::move(map)](exit_signal&& e) mutable { deliver(map(std::move(e))); });
  }

  /// The same operations on a handle whose protocol is erased (any_ref.hpp): a supervisor's
  /// children or a group's members, whatever they speak. An empty handle throws usage_error;
  /// one that is not a local actor is ignored, except by watch, which a remote actor's proxy
  /// answers as for a typed ref.
  ///
  ///     for (const troupe::any_ref& m : members) ctx.watch(m, [](troupe::terminated&& t) { return gone{t.who}; });
  void watch(const any_ref& other)
    requires accepts<P, terminated>
  {
    watch(other, [](terminated&& t) { return std::move(t); });
  }
  template <class F>
    requires accepts<P, std::invoke_result_t<F&, terminated&&>>
  void watch(const any_ref& other, F map) {
    if (auto* c = detail::ref_access::cell_of(other))
      cell::watch(*c, [this, map = std::move(map)](terminated&& t) mutable { deliver(map(std::move(t))); });
    else
      detail::ref_access::endpoint_of(other)->watch_remote(
          *this, [this, map = std::move(map)](terminated&& t) mutable { deliver(map(std::move(t))); });
  }
  void unwatch(const any_ref& other) {
    if (auto* c = detail::ref_access::cell_of(other)) cell::unwatch(*c);
  }
  void stop(const any_ref& other) {
    if (auto* c = detail::ref_access::cell_of(other)) c->request_stop(exit_reason{});
  }
  void kill(const any_ref& other, std::string text = "killed") {
    if (auto* c = detail::ref_access::cell_of(other)) c->request_kill(std::move(text));
  }
  void link(const any_ref& other) {
    if (auto* c = detail::ref_access::cell_of(other)) cell::link(*c);
  }
  void unlink(const any_ref& other) {
    if (auto* c = detail::ref_access::cell_of(other)) cell::unlink(*c);
  }

  /// Starts a keyed timer that sends `msg` to this actor; a timer already running under `key`
  /// is cancelled first, and a message it had already sent is discarded. All of an actor's
  /// timers are cancelled when it stops. Periodic timers copy `msg` at each firing.
  template <class M>
    requires accepts<P, M>
  void start_timer(std::string key, M msg, std::chrono::nanoseconds delay,
                   troupe::timer_mode mode = troupe::timer_mode::single) {
    cell::start_timer(std::move(key), static_cast<cell::timer_mode>(mode), delay,
                      [msg = std::move(msg)]() -> detail::envelope* {
                        return detail::make_user_envelope<P>(msg);
                      });
  }
  /// Cancels the timer under `key`; a message it had already sent is discarded. False if none.
  bool cancel_timer(std::string_view key) { return cell::cancel_timer(key); }
  bool timer_active(std::string_view key) const { return cell::timer_active(key); }

  /// Asks `target` without blocking: sends `make(reply_to)` and later delivers to this actor
  /// `map(result<R>)`, a message of P: the reply, or errc::timeout, errc::receiver_dead,
  /// errc::request_dropped. Exactly one mapped message arrives for each ask. R comes from the
  /// maker's parameter `ref<R>` (or name it: `ask<int>(...)`).
  ///
  ///     ctx.ask(counter, [](troupe::ref<int> r) { return get{r}; }, 1s,
  ///             [](troupe::result<int> n) { return got{n}; });
  template <int&... ExplicitArgumentBarrier, class Q, class Make, class Map, class R = reply_type_of_maker<Make>>
    requires accepts<Q, std::invoke_result_t<Make&, ref<R>>> &&
             accepts<P, std::invoke_result_t<Map&, result<R>&&>>
  void ask(const ref<Q>& target, Make make, std::chrono::nanoseconds timeout, Map map) {
    ask<R>(target, std::move(make), timeout, std::move(map));
  }
  template <class R, class Q, class Make, class Map>
    requires accepts<Q, std::invoke_result_t<Make&, ref<R>>> &&
             accepts<P, std::invoke_result_t<Map&, result<R>&&>>
  void ask(const ref<Q>& target, Make make, std::chrono::nanoseconds timeout, Map map) {
    // An empty target throws usage_error here, which crashes this actor (a bug in the caller).
    detail::ref_access::send_request<R>(
        target, make, timeout, [me = self(), map = std::move(map)](result<R>&& r) mutable {
          // Runs on the replier's or the timer's thread. `map` belongs to this actor: if it
          // throws, this actor crashes (not the thread that happened to complete the ask).
          try {
            // Past the bound: the answer to our own ask is never refused, so the ask completes.
            auto* e = detail::make_user_envelope<P>(map(std::move(r)));
            e->flags |= detail::past_bound;
            detail::ref_access::endpoint_of(me)->enqueue(e);
          } catch (const std::exception& ex) {
            crash_remotely(me, std::string("an ask's mapping function threw: ") + ex.what());
          } catch (...) {
            crash_remotely(me, "an ask's mapping function threw");
          }
        });
  }

  // --- runtime interface (not for user code) -------------------------------------------------
  /// Counts a restart of one of this actor's children, for introspection and metrics (the otp
  /// supervisors call it as they restart a child).
  void count_restart() noexcept { cell::count_restart(); }

  // By reference, down to the cell: each move of a behaviour or a name on the way costs a copy
  // of its bytes, and a spawn is a few hundred instructions in all (bench fjcreate).
  static ref<P> launch(detail::system_core& sys, detail::cell* parent, behavior<P>&& b, spawn_options&& opts) {
    if (opts.mailbox.capacity == 0) throw usage_error("troupe: a bounded mailbox needs a capacity of at least 1");
    auto* c = new actor_context(sys, parent, opts.blocking, std::move(opts.name), std::move(b), opts.mailbox);
    // Share before launching: once started, the actor may run, stop and drop its own reference.
    // Unpublished until launch registers it, so the count takes a plain store.
    c->add_ref_unpublished();
    auto r = detail::ref_access::make<P>(detail::counted<detail::endpoint>::adopt(c));
    try {
      sys.launch(*c, parent, typeid(P));
    } catch (...) {
      c->release();  // the runtime's reference: the actor never ran
      throw;
    }
    return r;
  }

 private:
  template <class>
  friend class actor_context;
  friend struct detail::context_access;

  // A keyed timer whose firing runs a call on this actor's turn instead of sending a message of
  // P: what troupe::start_turn_timer (extension.hpp) builds on; private because the call is a
  // detail type. Same keys, cancellation and discarding as start_timer; `make` builds the call on
  // the timer's thread when it fires.
  template <class Make>
    requires std::is_invocable_r_v<detail::call_envelope*, Make&>
  void start_call_timer(std::string key, std::chrono::nanoseconds delay, Make make) {
    cell::start_timer(std::move(key), cell::timer_mode::single, delay,
                      [make = std::move(make)]() mutable -> detail::envelope* { return make(); });
  }

  actor_context(detail::system_core& sys, detail::cell* parent, bool blocking, std::string&& name,
                behavior<P>&& b, const mailbox_options& mailbox)
      : cell(sys, parent, blocking, std::move(name), mailbox), behavior_(std::move(b)) {}

  static void crash_remotely(const ref<P>& me, std::string text) noexcept {
    try {
      if (auto* c = detail::ref_access::endpoint_of(me)->as_cell())
        c->request_stop(exit_reason{exit_reason::kind::exception, std::move(text)});
    } catch (...) {
      // Out of memory while reporting: the ask's answer is lost, the actor lives on.
    }
  }

  template <class M>
  void deliver(M&& m) {
    P msg(std::forward<M>(m));
    handle(std::move(msg));
  }

  void handle(P&& msg) {
    behavior<P> next(same);
    switch (behavior_.handle(std::move(msg), next)) {
      case detail::transition::same:
        break;
      case detail::transition::become:
        behavior_ = std::move(next);
        if (auto* o = sys().observer()) o->became(detail::make_observed(*this));  // null in production
        run_setups();
        break;
      case detail::transition::stop:
        stop_normally();
        break;
    }
  }

  void run_setups() {
    while (behavior_.needs_setup()) behavior_ = behavior_.run_setup(*this);
    if (behavior_.is_stopped()) stop_normally();
    // `same` has no handlers to keep: a bug in the caller, which crashes this actor (the
    // exception reaches its watchers) instead of the process on the next message.
    if (behavior_.is_same())
      throw usage_error("troupe: an actor started with, or a setup returned, troupe::same; "
                        "return a behaviour (receive, setup) or troupe::stopped");
  }

  void on_start() override { run_setups(); }

  bool run_turn(unsigned budget) noexcept override {
    unsigned left = budget;  // taken = budget - left: an instrumented system's tally of takes
    try {
      start_once();
      handle_signals();  // signals that arrived since the last turn go ahead of queued messages
      while (left != 0) {
        auto* e = next_user();
        if (e == nullptr) break;
        --left;
        // Freed by a guard, so that a handler that throws frees its message while the exception
        // unwinds: a reply handle dropped then is a crash (receiver_dead), not a drop (see
        // reply_slot::unreferenced).
        struct guard {
          detail::user_envelope<P>* ue;
          ~guard() { detail::pool_delete(ue); }
        };
        if (e->kind > detail::envelope_kind::timer) [[unlikely]] {  // one test for the common case
          if (e->kind == detail::envelope_kind::notice) {
            consume_signal(e);
          } else if (e->kind == detail::envelope_kind::call) {
            run_call(static_cast<detail::call_envelope*>(e));
          } else if (e->kind == detail::envelope_kind::deadline_user) {
            handle_before_deadline(static_cast<detail::user_envelope<P>*>(e));
          } else {  // timed_user: sampled for metrics
            guard g{static_cast<detail::user_envelope<P>*>(e)};
            const auto taken_at = begin_timed(*e);
            handle(std::move(g.ue->msg));
            end_timed(taken_at);
          }
          continue;
        }
        guard g{static_cast<detail::user_envelope<P>*>(e)};
        if (g.ue->kind != detail::envelope_kind::timer || accept_timer(g.ue->tag)) handle(std::move(g.ue->msg));
      }
    } catch (...) {
      crashed(std::current_exception());
    }
    return finish_turn(budget - left);
  }

  // A message its sender wanted handled only before a deadline (tell_before): past it, whoever
  // waited for the answer has given up, so it goes to dead letters unhandled, changing nothing.
  // Otherwise it is handled with its deadline readable (deadline_of_message), for a behaviour
  // that keeps it for later.
  void handle_before_deadline(detail::user_envelope<P>* ue) {
    const auto now = sys().timers().now();
    if (detail::tag_deadline_passed(ue->tag, now)) return drop_user(ue, dead_letter_reason::deadline_passed);
    struct guard {  // freed, and the deadline forgotten, even when the handler throws
      detail::user_envelope<P>* ue;
      ~guard() {
        detail::turn_deadline() = detail::deadline_clock::time_point::max();
        detail::pool_delete(ue);
      }
    } g{ue};
    detail::turn_deadline() = detail::tag_deadline(ue->tag, now);
    handle(std::move(ue->msg));
  }

  void run_call(detail::call_envelope* c) {
    struct guard {  // freed even when the call throws (the actor then crashes)
      detail::call_envelope* c;
      ~guard() { c->destroy(); }
    } g{c};
    if (c->tag == 0 || accept_timer(c->tag)) c->run();
  }

  void drop_user(detail::envelope* e, dead_letter_reason why) noexcept override {
    if (e->kind == detail::envelope_kind::call) {
      static_cast<detail::call_envelope*>(e)->destroy();
      return;
    }
    auto* ue = static_cast<detail::user_envelope<P>*>(e);
    if (detail::is_user(e->kind)) {
      if constexpr (variant_protocol<P>)
        sys().dead_letter(*this, std::visit([](auto& m) -> const std::type_info& { return typeid(m); }, ue->msg), why);
      else
        sys().dead_letter(*this, typeid(P), why);
    }
    detail::pool_delete(ue);
  }

  void discard_user(detail::envelope* e) noexcept override {
    detail::pool_delete(static_cast<detail::user_envelope<P>*>(e));
  }

  void destroy_behavior() noexcept override { behavior_ = behavior<P>(same); }
  const std::type_info& protocol_type() const noexcept override { return typeid(P); }
  std::size_t block_size() const noexcept override { return sizeof(actor_context); }
  std::size_t message_size() const noexcept override { return sizeof(detail::user_envelope<P>); }

  behavior<P> behavior_;  // own turn only
};

namespace detail {
// What the runtime's helpers outside actor_context (extension.hpp) reach of its private seams.
struct context_access {
  template <class P, class Make>
  static void start_call_timer(actor_context<P>& ctx, std::string key, std::chrono::nanoseconds delay, Make make) {
    ctx.start_call_timer(std::move(key), delay, std::move(make));
  }
};
}  // namespace detail

}  // namespace troupe
