// any_ref.hpp: a handle to an actor whatever its protocol, for code that keeps actors of many
// protocols in one place (a supervisor's children, a registry of group members, a topic's
// subscribers). It cannot send: it can be watched, linked, stopped and killed, and turned back
// into the `ref<P>` it was made from, checked against the protocol it remembers. Like a ref it is
// one counted pointer (plus the protocol's type_info), any thread may copy and read it, and it
// keeps the actor's small control block alive, never the actor.
#pragma once

#include <cstddef>
#include <functional>
#include <string>
#include <typeinfo>

#include "troupe/core/actor_id.hpp"
#include "troupe/core/ref.hpp"
#include "troupe/core/result.hpp"

namespace troupe {

/// A ref with its protocol erased (OTP's pid, Akka's untyped ActorRef). Made implicitly from any
/// `ref<P>`; `as<P>()` gives the typed ref back only for the protocol it was made from.
///
///     std::vector<troupe::any_ref> members{counter, logger};     // two protocols, one list
///     ctx.watch(members[0], [](troupe::terminated&& t) { return member_gone{t.who}; });
///     if (auto c = members[0].as<counter_msg>()) c->tell(add{1});
class any_ref {
 public:
  /// An empty handle, pointing at nothing.
  any_ref() = default;
  template <class P>
  any_ref(const ref<P>& r) noexcept  // NOLINT: implicit on purpose, like a derived-to-base copy
      : ep_(detail::ref_access::endpoint_of(r)), protocol_(&typeid(P)) {}

  /// The typed ref, or errc::wrong_protocol if the handle was made from a ref of another
  /// protocol, or errc::receiver_dead for an empty handle.
  template <class P>
  result<ref<P>> as() const {
    if (!ep_) return error{errc::receiver_dead, "an empty troupe::any_ref"};
    if (*protocol_ != typeid(P)) return error{errc::wrong_protocol, "the actor speaks another protocol"};
    return detail::ref_access::make<P>(ep_);
  }
  /// True when the handle was made from a `ref<P>`.
  template <class P>
  bool speaks() const noexcept {
    return ep_ && *protocol_ == typeid(P);
  }
  /// The protocol of the ref it was made from; `typeid(void)` for an empty handle.
  const std::type_info& protocol() const noexcept { return *protocol_; }

  /// The address of the actor; `{}` for an empty handle.
  actor_id id() const noexcept { return ep_ ? ep_->id() : actor_id{}; }
  /// True once the actor has terminated. False for an empty handle and for what is not a local
  /// actor (a reply slot, a function ref, a remote actor: watch those to learn of their end).
  /// A false answer may be stale at once; a true one is final.
  bool has_stopped() const noexcept { return ep_ && detail::endpoint_terminated(*ep_); }
  /// True for an actor of this process (not an empty handle, a reply slot, a function ref or a
  /// remote actor's proxy).
  bool is_local_actor() const noexcept { return ep_ && ep_->as_cell() != nullptr; }

  /// "actor 'name'" or "actor #7" (a remote actor: with its node), for errors and logs.
  std::string describe() const { return ep_ ? detail::describe_endpoint(*ep_) : std::string("an empty ref"); }

  explicit operator bool() const noexcept { return static_cast<bool>(ep_); }
  /// The same target, as `ref<P>`'s == says (the protocol is not compared: one actor, one
  /// protocol): a handle equals the refs it was made from and those equal to them.
  /// `std::hash<troupe::any_ref>` agrees with it and with `std::hash<troupe::ref<P>>`.
  friend bool operator==(const any_ref& a, const any_ref& b) noexcept {
    return detail::same_target(a.ep_.get(), b.ep_.get());
  }

 private:
  friend struct detail::ref_access;
  friend class observed_actor;
  any_ref(detail::counted<detail::endpoint> ep, const std::type_info& protocol) noexcept
      : ep_(std::move(ep)), protocol_(&protocol) {}
  detail::counted<detail::endpoint> ep_;
  const std::type_info* protocol_ = &typeid(void);
};

}  // namespace troupe

/// Hashes a handle as `==` compares it, and as `std::hash<troupe::ref<P>>` hashes the ref it was
/// made from: handles to actors of several protocols in one unordered set.
///
///     std::unordered_set<troupe::any_ref> members{counter, logger};
template <>
struct std::hash<troupe::any_ref> {
  std::size_t operator()(const troupe::any_ref& r) const noexcept {
    return troupe::detail::target_hash(troupe::detail::ref_access::endpoint_of(r).get());
  }
};
