// ref.hpp: a typed handle to an actor, the only way to send it messages.
// A `ref<P>` accepts exactly the messages of protocol P: sending anything else does not compile.
// It is one pointer; copying it is an atomic increment; any thread may use it. Messages from one
// sender to one receiver arrive in the order sent; a message to a stopped actor goes to dead
// letters. A ref keeps the actor's small control block alive, never the actor itself; it may
// outlive its system (docs/core.md, "A ref may outlive its system").
#pragma once

#include <chrono>
#include <cstddef>
#include <functional>
#include <future>
#include <memory>
#include <type_traits>
#include <utility>

#include "troupe/core/detail/endpoint.hpp"
#include "troupe/core/detail/envelope.hpp"
#include "troupe/core/detail/reply_slot.hpp"
#include "troupe/core/protocol.hpp"
#include "troupe/core/result.hpp"
#include "troupe/core/timeout.hpp"

namespace troupe {

template <class P>
class ref;

template <class P>
class ref;

namespace detail {
struct ref_access;
system_core& home_of(endpoint& e);

// The reply type R of a request maker, read from its parameter `ref<R>`: a lambda (not a generic
// one), a function object with one operator(), or a function pointer. No `type` otherwise, so an
// ask that cannot deduce it drops out of overload resolution and `ask<R>` is needed.
template <class A>
struct ref_protocol {};
template <class R>
struct ref_protocol<ref<R>> {
  using type = R;
};
template <class Sig>
struct maker_signature {};
template <class C, class Ret, class A>
struct maker_signature<Ret (C::*)(A)> : ref_protocol<std::remove_cvref_t<A>> {};
template <class C, class Ret, class A>
struct maker_signature<Ret (C::*)(A) const> : ref_protocol<std::remove_cvref_t<A>> {};
template <class C, class Ret, class A>
struct maker_signature<Ret (C::*)(A) noexcept> : ref_protocol<std::remove_cvref_t<A>> {};
template <class C, class Ret, class A>
struct maker_signature<Ret (C::*)(A) const noexcept> : ref_protocol<std::remove_cvref_t<A>> {};
template <class Ret, class A>
struct maker_signature<Ret (*)(A)> : ref_protocol<std::remove_cvref_t<A>> {};
template <class Ret, class A>
struct maker_signature<Ret (*)(A) noexcept> : ref_protocol<std::remove_cvref_t<A>> {};
template <class F, class = void>
struct maker_reply : maker_signature<std::decay_t<F>> {};
template <class F>
struct maker_reply<F, std::void_t<decltype(&std::remove_cvref_t<F>::operator())>>
    : maker_signature<decltype(&std::remove_cvref_t<F>::operator())> {};
}  // namespace detail

/// The reply type of an ask whose request maker is `F`: R for a maker taking `ref<R>`.
template <class F>
using reply_type_of_maker = typename detail::maker_reply<F>::type;

/// A typed, counted handle to an actor (or to an ask's reply slot).
///
///     troupe::ref<counter_msg> c = sys.spawn(counter(0));
///     c.tell(add{5});                                          // fire and forget
///     troupe::result<int> total =
///         c.ask([](troupe::ref<int> r) { return get{r}; }, 1s).get();   // R = int, from ref<int>
template <class P>
class ref {
 public:
  using protocol = P;

  /// An empty ref, pointing at nothing. Sending through it throws usage_error.
  ref() = default;

  /// Sends `m`. Never blocks. If the actor has stopped, `m` goes to dead letters.
  template <class M>
    requires accepts<P, M>
  void tell(M&& m) const {
    if (!ep_) throw usage_error("tell through an empty troupe::ref");
    ep_->enqueue(detail::make_user_envelope<P>(std::forward<M>(m)));
  }

  /// Sends `m` unless the actor's bounded mailbox is full: then fails with errc::mailbox_full
  /// (and `m` is discarded, or a dead letter under overflow_policy::dead_letters; under
  /// drop_oldest it is queued and an older message goes). Fails with errc::receiver_dead if the
  /// actor had stopped (`m` is a dead letter). Never blocks; any thread.
  ///
  ///     if (auto sent = worker.try_tell(job{7}); !sent) retry_later(sent.error());
  template <class M>
    requires accepts<P, M>
  result<void> try_tell(M&& m) const {
    if (!ep_) throw usage_error("try_tell through an empty troupe::ref");
    switch (ep_->try_enqueue(detail::make_user_envelope<P>(std::forward<M>(m)))) {
      case detail::endpoint::offer_result::queued:
        return {};
      case detail::endpoint::offer_result::full:
        return error{errc::mailbox_full, detail::describe_endpoint(*ep_) + " has a full mailbox"};
      case detail::endpoint::offer_result::closed:
        break;
    }
    return error{errc::receiver_dead, detail::describe_endpoint(*ep_) + " had stopped"};
  }

  /// Sends the request `make(reply_to)` and returns a future that completes exactly once with
  /// the reply, or with errc::timeout after `timeout`, errc::receiver_dead if the actor stopped
  /// first, errc::request_dropped if it dropped the request unanswered, errc::mailbox_full if
  /// its bounded mailbox refused the request, or errc::system_stopped.
  /// `troupe::infinity` means no deadline. The reply type R comes from the maker's parameter
  /// `ref<R>`; name it (`ask<int>(...)`) for a generic maker. Use it from plain threads: calling
  /// get() inside a handler blocks a worker; inside an actor use actor_context::ask instead.
  template <class R, class F>
    requires accepts<P, std::invoke_result_t<F&, ref<R>>>
  std::future<result<R>> ask(F&& make, std::chrono::nanoseconds timeout) const {
    auto promise = std::make_shared<std::promise<result<R>>>();
    auto future = promise->get_future();
    send_request<R>(make, timeout, [promise](result<R>&& r) { promise->set_value(std::move(r)); });
    return future;
  }
  template <int&... ExplicitArgumentBarrier, class F, class R = reply_type_of_maker<F>>
    requires accepts<P, std::invoke_result_t<F&, ref<R>>>
  std::future<result<R>> ask(F&& make, std::chrono::nanoseconds timeout) const {
    return ask<R>(std::forward<F>(make), timeout);
  }

  /// The address of the actor; `{}` for an empty ref.
  actor_id id() const noexcept { return ep_ ? ep_->id() : actor_id{}; }
  explicit operator bool() const noexcept { return static_cast<bool>(ep_); }
  /// True for refs to the same target: copies of one ref; refs to one local actor; refs to one
  /// remote actor that came from its node; refs to one grain, however often made
  /// (docs/core.md, "When refs are equal"). Empty refs are equal to each other only.
  /// `std::hash<troupe::ref<P>>` agrees with it.
  friend bool operator==(const ref& a, const ref& b) noexcept { return detail::same_target(a.ep_.get(), b.ep_.get()); }

 private:
  friend struct detail::ref_access;

  // Both asks (from a thread, from an actor): a reply slot that calls `complete` exactly once,
  // then the request, unless the actor is already known to be dead.
  template <class R, class F>
  void send_request(F& make, std::chrono::nanoseconds timeout, std::function<void(result<R>&&)> complete) const {
    if (!ep_) throw usage_error("troupe: ask through an empty troupe::ref");
    auto& home = detail::home_of(*ep_);
    const bool timed = timeout != infinity;
    const auto now = timed ? home.timers().now() : timer_service::clock::time_point{};
    const auto due = timed ? now + timeout : timer_service::clock::time_point::max();
    auto* slot = new detail::reply_slot<R>(home, ep_, timeout, due, std::move(complete));
    ref<R> reply_to = ref<R>::adopt(slot);
    if (detail::endpoint_terminated(*ep_)) {
      slot->fail(error{errc::receiver_dead, detail::describe_endpoint(*ep_) + " had already stopped"});
      return;
    }
    // Kept until the request is queued: if a full mailbox refuses it, the slot must outlive
    // the refused envelope so that the ask completes with mailbox_full, not request_dropped.
    ref<R> keep = reply_to;
    auto* e = detail::make_user_envelope<P>(make(std::move(reply_to)));
    if (timed && detail::taggable(due, now)) {  // for a function ref that passes it on (a grain's)
      e->flags |= detail::asked_until;
      e->tag = detail::deadline_tag(due);
    }
    if (ep_->try_enqueue(e) == detail::endpoint::offer_result::full)
      slot->fail(error{errc::mailbox_full, detail::describe_endpoint(*ep_) + " has a full mailbox"});
  }
  template <class>
  friend class ref;
  static ref adopt(detail::endpoint* e) noexcept {
    ref r;
    r.ep_ = detail::counted<detail::endpoint>::adopt(e);
    return r;
  }
  detail::counted<detail::endpoint> ep_;
};

namespace detail {
/// The runtime's way in and out of refs; not for user code.
struct ref_access {
  template <class P>
  static ref<P> make(counted<endpoint> e) noexcept {
    ref<P> r;
    r.ep_ = std::move(e);
    return r;
  }
  // `Handle` is a ref<P> or an any_ref (any_ref.hpp): both befriend this struct.
  template <class Handle>
  static const counted<endpoint>& endpoint_of(const Handle& r) noexcept {
    return r.ep_;
  }
  template <class R, class P, class F>
  static void send_request(const ref<P>& target, F& make, std::chrono::nanoseconds timeout,
                           std::function<void(result<R>&&)> complete) {
    target.template send_request<R>(make, timeout, std::move(complete));
  }
  /// The actor cell behind `r`, or nullptr for a reply slot. @throws usage_error if `r` is empty.
  template <class Handle>
  static cell* cell_of(const Handle& r) {
    if (!r.ep_) throw usage_error("troupe: operation on an empty ref");
    return r.ep_->as_cell();
  }
};
}  // namespace detail

}  // namespace troupe

/// Hashes a ref as `==` compares it: refs that are equal (a grain's, made twice) hash alike, so
/// refs are keys of unordered maps and sets. An empty ref hashes to 0.
///
///     std::unordered_set<troupe::ref<device_msg>> seen{c->grain<device_msg>("device", "7")};
///     assert(seen.contains(c->grain<device_msg>("device", "7")));
template <class P>
struct std::hash<troupe::ref<P>> {
  std::size_t operator()(const troupe::ref<P>& r) const noexcept {
    return troupe::detail::target_hash(troupe::detail::ref_access::endpoint_of(r).get());
  }
};
