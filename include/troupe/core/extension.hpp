// extension.hpp: the public seams a layer above core builds its behaviours on (issue 12).
// The otp layer's behaviours need what plain tell and ask do not give: an ask whose answer goes
// to a function, a message an actor owes itself past its own mailbox bound, work run on an
// actor's own turn (now or when a timer fires), a ref backed by a function, a stop requested
// from outside the actor's turn, the system's clock, dead-letter reports and pooled memory. All
// are here, on the public API, so a user can write a behaviour like otp's without reaching into
// troupe::detail. Each says which thread may call it.
#pragma once

#include <chrono>
#include <cstddef>
#include <exception>
#include <functional>
#include <string>
#include <type_traits>
#include <typeinfo>
#include <utility>

#include "troupe/core/actor_context.hpp"
#include "troupe/core/actor_id.hpp"
#include "troupe/core/any_ref.hpp"
#include "troupe/core/detail/endpoint.hpp"
#include "troupe/core/detail/envelope.hpp"
#include "troupe/core/detail/message_pool.hpp"
#include "troupe/core/exit_reason.hpp"
#include "troupe/core/protocol.hpp"
#include "troupe/core/ref.hpp"
#include "troupe/core/result.hpp"
#include "troupe/core/system.hpp"
#include "troupe/core/timer_service.hpp"

namespace troupe {

/// Asks `target` and hands the outcome to `on_reply`, exactly once: the reply, or
/// errc::timeout after `timeout`, errc::receiver_dead, errc::mailbox_full (a bounded mailbox
/// refused the request) or errc::request_dropped. `make(reply_to)` builds the request.
/// `on_reply` runs on whichever thread completes the ask (the replier's worker, the timer
/// thread, or the caller's when the target is already known dead): keep it short and
/// thread-safe, and send a message if an actor must act on it. This is what ref::ask (a future)
/// and actor_context::ask (a message to the asker) are built on. @throws usage_error if `target`
/// is empty.
///
///     troupe::async_ask<int>(counter, [](troupe::ref<int> r) { return get{r}; }, 1s,
///                            [p](troupe::result<int>&& n) { p->set_value(std::move(n)); });
template <class R, class P, class Make>
  requires accepts<P, std::invoke_result_t<Make&, ref<R>>>
void async_ask(const ref<P>& target, Make&& make, std::chrono::nanoseconds timeout,
               std::function<void(result<R>&&)> on_reply) {
  detail::ref_access::send_request<R>(target, make, timeout, std::move(on_reply));
}

/// Queues `m` for the actor itself, past its mailbox bound: a bounded mailbox counts it but
/// never refuses or drops it, as it never refuses the mapped answer to the actor's own ask.
/// For an answer the actor owes itself (e.g. a refused call reported as a message), which
/// must arrive exactly once even when the mailbox is full. Not a way around back-pressure:
/// only the actor's own turn may call it, and only for its own messages.
///
///     if (!allowed) return troupe::tell_self_past_bound(ctx, refused{why});
template <class P, class M>
  requires accepts<P, M>
void tell_self_past_bound(actor_context<P>& ctx, M&& m) {
  auto* e = detail::make_user_envelope<P>(std::forward<M>(m));
  e->flags |= detail::past_bound;
  detail::ref_access::endpoint_of(ctx.self())->enqueue(e);
}

/// Tells `target` `m` to be handled only before `deadline`, a time on the clock of `target`'s
/// system (timers_of): when the actor takes it from its mailbox later than that, it is not
/// handled but goes to dead letters with dead_letter_reason::deadline_passed, destroyed unread
/// (an ask waiting on it has timed out by then, or completes with request_dropped). For a
/// request whose answer nobody waits for any more, as Orleans drops a call whose caller gave up
/// (the cluster's grain calls carry their caller's ask deadline so). The deadline is checked
/// once, when the actor takes the message: a handler that has begun runs to its end. A function
/// ref that takes a deadline (make_function_ref) is handed it; a ref to another node, or a
/// deadline more than 12 days ahead, gets a plain tell. Any thread.
///
///     troupe::tell_before(worker, job{42}, troupe::timers_of(sys).now() + 2s);
template <class P, class M>
  requires accepts<P, M>
void tell_before(const ref<P>& target, M&& m, timer_service::clock::time_point deadline) {
  auto& ep = detail::ref_access::endpoint_of(target);
  if (!ep) throw usage_error("troupe: tell_before through an empty troupe::ref");
  auto* e = detail::make_user_envelope<P>(std::forward<M>(m));
  if (auto* home = ep->as_cell() != nullptr ? &ep->as_cell()->sys() : ep->proxy_home(); home != nullptr) {
    if (detail::taggable(deadline, home->timers().now())) {
      e->kind = detail::envelope_kind::deadline_user;
      e->tag = detail::deadline_tag(deadline);
    }
  }
  ep->enqueue(e);
}

/// The deadline of the message this actor's turn is handling, when it has one (it came by
/// tell_before, as a grain call with its caller's ask deadline does), else time_point::max(),
/// on the clock of the actor's system. For a behaviour that keeps a message to handle on a
/// later turn (a stash): past that deadline, drop it rather than handle it, and report it
/// (report_dead_letter with dead_letter_reason::deadline_passed), as the runtime does for a
/// message still in the mailbox. Call it on the actor's turn, inside the handler.
///
///     stash.push_back({std::move(cmd), troupe::deadline_of_message(ctx)});
template <class P>
timer_service::clock::time_point deadline_of_message(actor_context<P>& ctx) noexcept {
  (void)ctx;  // the turn's thread knows it; the context says the call is on a turn
  return detail::turn_deadline();
}

/// What a function ref stands for, when refs made apart for one target must compare equal: the
/// cluster layer's grain refs, two of which for one key are `==` and hash alike although each
/// call of grain() makes a new one. `space` is the object that hands out the names (a cluster):
/// names of two spaces never meet; it is compared by address, never dereferenced. `name` is the
/// target within it, spelled so that no two targets share it (the cluster writes the length of
/// a grain's type, the type, then the key). Refs made for one target must speak one protocol.
///
///     troupe::target_name seven{&registry, "counter/7"};
struct target_name {
  const void* space = nullptr;
  std::string name;
};

namespace detail {

// A function run on an actor's turn (run_on_turn, start_turn_timer): queued like a message.
template <class F>
struct function_call final : call_envelope {
  explicit function_call(F f) : fn(std::move(f)) {}
  void run() override { fn(); }
  void destroy() noexcept override { pool_delete(this); }
  F fn;
};

// The deadline an envelope handed to a function ref carries: an ask's (asked_until), or
// tell_before's (deadline_user); time_point::max() for none. Read on the sender's thread at
// once, so the clock it is re-anchored at is the one it was written against.
inline deadline_clock::time_point carried_deadline(const envelope& e, system_core* home) noexcept {
  const bool tagged = e.kind == envelope_kind::deadline_user || (e.kind == envelope_kind::user && (e.flags & asked_until) != 0);
  if (!tagged || home == nullptr) return deadline_clock::time_point::max();
  return tag_deadline(e.tag, home->timers().now());
}

// Hands the message in `e`, a user_envelope<P>, to `fn` (with the deadline it carries, if `fn`
// takes one) and frees the envelope.
template <class P, class F>
void call_with_message(F& fn, envelope* e, system_core* home = nullptr) noexcept {
  auto* ue = static_cast<user_envelope<P>*>(e);
  try {
    if constexpr (std::is_invocable_v<F&, P&&, deadline_clock::time_point>)
      fn(std::move(ue->msg), carried_deadline(*e, home));
    else
      fn(std::move(ue->msg));
  } catch (...) {
    // Documented: the function reports its own failures (request_stop), nobody else can.
  }
  pool_delete(ue);
}

// The endpoint of make_function_ref: each message is handed to `fn` on the sender's thread.
template <class P, class F>
class function_endpoint : public endpoint {
 public:
  function_endpoint(F fn, actor_id id, system_core* home = nullptr) : fn_(std::move(fn)), id_(id), clock_home_(home) {}
  void enqueue(envelope* e) noexcept override { call_with_message<P>(fn_, e, clock_home_); }
  actor_id id() const noexcept override { return id_; }

 private:
  void unreferenced() noexcept override { delete this; }  // the destructor is virtual (endpoint)
  F fn_;
  actor_id id_;
  system_core* clock_home_;  // whose clock a carried deadline is read on; null: none is read
};

// The endpoint of make_function_ref(home, ...): an ask through it finds its system through
// proxy_home(), as an ask through a remote actor's proxy does, and its errors name it. The
// remote layer keeps such an endpoint exported for as long as an actor (a home-less function
// ref it takes for a reply slot, answered once).
template <class P, class F>
class askable_function_endpoint final : public function_endpoint<P, F> {
 public:
  askable_function_endpoint(F fn, actor_id id, system_core& home, std::string description)
      : function_endpoint<P, F>(std::move(fn), id, &home), home_(&home), description_(std::move(description)) {}
  system_core* proxy_home() noexcept override { return home_; }
  std::string proxy_description() const override { return description_; }

 private:
  system_core* home_;  // a system's core outlives every ref to it (system_core::retire)
  std::string description_;
};

// The part of a named function ref's endpoint that does not depend on P or F: what refs to it
// compare (its target_name) and what an ask through it needs (its home, its description).
class named_function_endpoint_base : public endpoint {
 public:
  named_function_endpoint_base(actor_id id, system_core& home, std::string description, target_name target)
      : id_(id), home_(&home), description_(std::move(description)), target_(std::move(target)) {}
  actor_id id() const noexcept override { return id_; }
  system_core* proxy_home() noexcept override { return home_; }
  std::string proxy_description() const override { return description_; }
  bool same_target(const endpoint& other) const noexcept override {
    auto* o = dynamic_cast<const named_function_endpoint_base*>(&other);
    return o != nullptr && o->target_.space == target_.space && o->target_.name == target_.name;
  }
  std::size_t target_hash() const noexcept override {
    return std::hash<std::string>{}(target_.name) ^ (std::hash<const void*>{}(target_.space) * 0x9E3779B97F4A7C15ull);
  }

 private:
  actor_id id_;
  system_core* home_;  // a system's core outlives every ref to it (system_core::retire)
  std::string description_;
  target_name target_;
};

template <class P, class F>
class named_function_endpoint final : public named_function_endpoint_base {
 public:
  named_function_endpoint(F fn, actor_id id, system_core& home, std::string description, target_name target)
      : named_function_endpoint_base(id, home, std::move(description), std::move(target)), fn_(std::move(fn)) {}
  void enqueue(envelope* e) noexcept override { call_with_message<P>(fn_, e, proxy_home()); }

 private:
  void unreferenced() noexcept override { delete this; }  // the destructor is virtual (endpoint)
  F fn_;
};

}  // namespace detail

/// Runs `fn()` on `actor`'s own turn, queued behind the messages already in its mailbox, as if
/// it were a message (it is never refused by a bounded mailbox, and is dropped without running
/// if the actor has stopped). Any thread may call it; `fn` runs on the actor's worker and may
/// touch the actor's state; if it throws, the actor crashes. For resuming work the actor
/// suspended (otp's coroutine actor resumes its body this way when an ask is answered).
/// @throws usage_error if `actor` is empty or not a local actor.
///
///     troupe::async_ask<int>(counter, make_get, 1s, [me = ctx.self(), st](troupe::result<int>&& n) {
///       troupe::run_on_turn(me, [st, n = std::move(n)]() mutable { st->total = n.value_or(0); });
///     });
template <class P, class F>
  requires std::is_invocable_v<std::decay_t<F>&>
void run_on_turn(const ref<P>& actor, F&& fn) {
  if (detail::ref_access::cell_of(actor) == nullptr)
    throw usage_error("troupe: run_on_turn needs a local actor, not a reply slot or a function ref");
  detail::ref_access::endpoint_of(actor)->enqueue(
      detail::pool_new<detail::function_call<std::decay_t<F>>>(std::forward<F>(fn)));
}

/// A keyed timer whose firing runs `fn()` on this actor's turn instead of sending a message:
/// the same keys as start_timer (a timer under `key` is replaced, cancel_timer(key) cancels it
/// and discards a firing already queued), and all are cancelled when the actor stops. Fires
/// once. Call it on the actor's turn; `fn` is copied on the timer's thread when it fires.
///
///     troupe::start_turn_timer(ctx, "idle", 5s, [st] { st->idle = true; });
template <class P, class F>
  requires std::is_invocable_v<std::decay_t<F>&> && std::is_copy_constructible_v<std::decay_t<F>>
void start_turn_timer(actor_context<P>& ctx, std::string key, std::chrono::nanoseconds delay, F&& fn) {
  detail::context_access::start_call_timer(ctx, std::move(key), delay, [fn = std::forward<F>(fn)]() -> detail::call_envelope* {
    return detail::pool_new<detail::function_call<std::decay_t<F>>>(fn);
  });
}

/// A `ref<P>` whose messages are handed to `fn(P&&)` at once, on the sender's thread, instead of
/// a mailbox: an adapter that converts and forwards (otp::message_adapter), a sink that drops
/// (otp::ignore_ref). `fn` must be thread-safe and short, and must not throw: an exception
/// is swallowed with the message, so report failures yourself (request_stop on the owner).
/// The ref says `id` is its address (the owner's, for an adapter); it cannot be asked (the ask
/// throws usage_error), watched or stopped, and is freed with its last copy.
///
///     troupe::ref<price> prices = troupe::make_function_ref<price>(
///         [owner = ctx.self()](price&& p) { owner.tell(got_price{p.cents}); }, ctx.id());
template <class P, class F>
  requires std::is_invocable_v<std::decay_t<F>&, P&&>
ref<P> make_function_ref(F&& fn, actor_id id = {}) {
  using endpoint_type = detail::function_endpoint<P, std::decay_t<F>>;
  return detail::ref_access::make<P>(
      detail::counted<detail::endpoint>::adopt(new endpoint_type(std::forward<F>(fn), id)));
}

/// A function ref that can be asked: as make_function_ref, but an ask through it works as an ask
/// of one of `home`'s actors does (its deadline runs on `home`'s timers), and its errors name it
/// `description` ("no reply from grain device/7 within 1s"). For a ref that forwards each
/// request, reply_to and all, to an actor that answers it: the cluster layer's grain refs are
/// made so, with no actor (and no memory) per key. It is still not an actor: an ask through it
/// never fails with receiver_dead (it completes with the reply, a timeout, or request_dropped
/// when the request is dropped unanswered), watching it does nothing, and it is freed with its
/// last copy. The remote layer exports it as it does an actor. Any thread. `fn` may take a
/// second argument, a `timer_service::clock::time_point`: the deadline the message carries on
/// `home`'s clock (an ask's, or tell_before's), time_point::max() for none; the cluster's grain
/// refs pass it on with the call, so a call whose caller gave up is not run.
///
///     troupe::ref<get> front = troupe::make_function_ref<get>(sys, "the counter's front",
///         [counter](get&& g) { counter.tell(std::move(g)); });
///     auto n = front.ask([](troupe::ref<int> r) { return get{r}; }, 1s).get();   // counter's reply
template <class P, class F>
  requires std::is_invocable_v<std::decay_t<F>&, P&&> ||
           std::is_invocable_v<std::decay_t<F>&, P&&, timer_service::clock::time_point>
ref<P> make_function_ref(system& home, std::string description, F&& fn, actor_id id = {}) {
  using endpoint_type = detail::askable_function_endpoint<P, std::decay_t<F>>;
  return detail::ref_access::make<P>(detail::counted<detail::endpoint>::adopt(
      new endpoint_type(std::forward<F>(fn), id, detail::system_access::core(home), std::move(description))));
}

/// A function ref that can be asked (as the overload above) and that is equal to every other
/// made for the same `target` (whatever its function, description or id), with the same
/// `std::hash`: refs to one virtual target, made apart, as keys of a map. Refs made without a
/// target_name are never equal to it. The ref's id() is `id`, so equal refs may have different
/// ids: compare refs, not ids (docs/core.md, "When refs are equal"). Any thread.
///
///     auto a = troupe::make_function_ref<get>(sys, "counter 7", {&registry, "counter/7"}, route_to_7);
///     auto b = troupe::make_function_ref<get>(sys, "counter 7", {&registry, "counter/7"}, route_to_7);
///     assert(a == b && std::hash<troupe::ref<get>>{}(a) == std::hash<troupe::ref<get>>{}(b));
template <class P, class F>
  requires std::is_invocable_v<std::decay_t<F>&, P&&> ||
           std::is_invocable_v<std::decay_t<F>&, P&&, timer_service::clock::time_point>
ref<P> make_function_ref(system& home, std::string description, target_name target, F&& fn, actor_id id = {}) {
  using endpoint_type = detail::named_function_endpoint<P, std::decay_t<F>>;
  return detail::ref_access::make<P>(detail::counted<detail::endpoint>::adopt(new endpoint_type(
      std::forward<F>(fn), id, detail::system_access::core(home), std::move(description), std::move(target))));
}

/// Asks `actor` to stop with `why`, ahead of its queued messages, from any thread: a normal
/// reason stops it as ctx.stop() does; an exception reason crashes it, as if a handler had
/// thrown (its supervisor, links and watchers see the failure). For code that runs on an
/// actor's behalf outside its turn (a mapping function on another thread, a function ref, an
/// object that owns a helper actor). Ignored for an empty handle and what is not a local actor.
///
///     troupe::request_stop(owner, {troupe::exit_reason::kind::exception, "the adapter threw"});
inline void request_stop(const any_ref& actor, exit_reason why = {}) noexcept {
  try {
    if (actor.is_local_actor()) detail::ref_access::cell_of(actor)->request_stop(std::move(why));
  } catch (...) {
    // Out of memory while asking: the actor lives on.
  }
}

/// The clock and timers of the actor's system (real time, or the test kit's virtual time): for
/// work an actor arms outside the keyed timers, such as polling a future. Call it on the actor's
/// turn; the service may be used from any thread while the system lives.
///
///     auto& timers = troupe::timers_of(ctx);
///     timers.schedule_at(timers.now() + 1ms, [](bool fired) { /* on the timer thread */ });
template <class P>
timer_service& timers_of(actor_context<P>& ctx) {
  return detail::ref_access::cell_of(ctx.self())->sys().timers();
}

/// The clock and timers of the system `target` belongs to: a local actor's, or for a ref to an
/// actor elsewhere (another node, a grain) the system whose node made the ref. For work armed
/// around an ask rather than on a turn, such as asking again after a backoff. Any thread, while
/// that system lives. @throws usage_error for an empty ref or one that is a reply slot.
///
///     auto& timers = troupe::timers_of(grain);
///     timers.schedule_at(timers.now() + 200ms, [](bool fired) { /* ask again */ });
template <class P>
timer_service& timers_of(const ref<P>& target) {
  if (!target) throw usage_error("troupe::timers_of an empty ref");
  return detail::home_of(*detail::ref_access::endpoint_of(target)).timers();
}

/// The clock and timers of `sys`, for an object that lives beside its actors rather than in one
/// (otp's circuit breaker). Any thread, while the system lives.
///
///     troupe::otp::circuit_breaker breaker(troupe::timers_of(sys), opts);
inline timer_service& timers_of(system& sys) { return detail::system_access::core(sys).timers(); }

/// A fresh local address that no actor of `sys` has or will get: for a ref that stands in for an
/// actor without being one, such as a function ref a test probe records through (the probe's
/// messages then name a sender nobody else is). Any thread.
///
///     auto probe = troupe::make_function_ref<int>([q](int&& n) { q->push(n); }, troupe::new_actor_id(sys));
inline actor_id new_actor_id(system& sys) noexcept { return {0, detail::system_access::core(sys).next_serial()}; }

/// Reports a message of type M that this actor took but could deliver nowhere (by default a
/// router with no routees: `dead_letter_reason::no_route`) as a dead letter: counted by reason,
/// and told to dead-letter subscribers with this actor as the recipient. Call it on the actor's
/// turn.
///
///     if (routees.empty()) return troupe::report_dead_letter<job>(ctx);
template <class M, class P>
void report_dead_letter(actor_context<P>& ctx, dead_letter_reason why = dead_letter_reason::no_route) {
  auto* self = detail::ref_access::cell_of(ctx.self());
  self->sys().dead_letter(*self, typeid(M), why);
}

/// Reports a message that reached no actor and never became a C++ message (bytes from another
/// node that did not decode: `dead_letter_reason::undecodable`), with the record filled in by
/// the caller: counted by reason and told to dead-letter subscribers. Any thread.
///
///     troupe::report_dead_letter(sys, {.recipient = id, .message_type = "bytes from node 'b'",
///                                      .reason = troupe::dead_letter_reason::undecodable,
///                                      .detail = "wrong protocol fingerprint"});
inline void report_dead_letter(system& sys, dead_letter d) {
  detail::system_access::core(sys).report_dead_letter(std::move(d));
}

/// A base that makes `new` and `delete` of the derived type use the runtime's message pool:
/// per-thread free lists, no malloc header, memory returned to the system after a spike. For
/// blocks made and freed at a high rate, one per message or per actor (otp's coroutine frames
/// derive their promise from it). Delete through the derived type (no virtual destructor is
/// involved in the size the pool is told).
///
///     struct promise_type : troupe::pool_allocated { ... };     // coroutine frames from the pool
struct pool_allocated {
  static void* operator new(std::size_t size) { return detail::pool_allocate(size); }
  static void operator delete(void* p, std::size_t size) noexcept { detail::pool_deallocate(p, size); }
};

}  // namespace troupe
