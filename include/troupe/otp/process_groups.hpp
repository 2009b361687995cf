// process_groups.hpp: named groups of actors, like Erlang's `pg`: join, leave, members, and a
// subscription to membership changes. A group is typed by its members' protocol, so the refs
// it returns can be told at once. A member that stops leaves all its groups by itself.
// A `process_groups` object is a scope (pg's scope): groups of one scope are invisible to
// another. Any thread may call any member; joins and leaves take effect at once, and each
// subscriber hears of a group's changes in the order they happened. A scope must not outlive
// its system.
#pragma once

#include <cstddef>
#include <string>
#include <typeindex>
#include <utility>
#include <vector>

#include "troupe/core/protocol.hpp"
#include "troupe/core/ref.hpp"
#include "troupe/core/result.hpp"
#include "troupe/core/system.hpp"
#include "troupe/otp/detail/membership.hpp"

namespace troupe::otp {

/// The name of a group whose members speak P. Groups of different protocols never mix, even
/// under the same name.
///
///     const troupe::otp::group<chat_msg> lobby{"lobby"};
template <class P>
struct group {
  std::string name;
};

/// A change to a group, sent to its subscribers.
///
///     [](const troupe::otp::group_event<chat_msg>& e) { if (e.joined) greet(e.member); }
template <class P>
struct group_event {
  std::string group;
  ref<P> member;
  bool joined;  ///< true: `member` joined; false: it left, or stopped
};

/// A scope of process groups.
///
///     troupe::otp::process_groups pg(sys);
///     pg.join(lobby, alice).value();
///     pg.broadcast(lobby, said{"hi"});                  // to every member
///     for (auto& m : pg.members(lobby)) m.tell(said{"hi"});
class process_groups {
 public:
  explicit process_groups(troupe::system& sys) : table_(sys) {}

  /// Adds `member` to `g` (joining twice is joining once). Fails with errc::receiver_dead if it
  /// has stopped, or is not an actor.
  template <class P>
  result<void> join(const group<P>& g, const ref<P>& member) {
    return table_.join(key_of(g), handle_of(member));
  }
  /// Removes `member` from `g`; false if it was not a member.
  template <class P>
  bool leave(const group<P>& g, const ref<P>& member) {
    return table_.leave(key_of(g), handle_of(member));
  }
  /// The members of `g`, in the order they joined.
  template <class P>
  std::vector<ref<P>> members(const group<P>& g) const {
    return detail::typed_refs<P>(table_.members(key_of(g)));
  }
  /// The names of the groups of protocol P that have members.
  template <class P>
  std::vector<std::string> which_groups() const {
    return table_.names(typeid(P));
  }
  /// Tells `m` to every member of `g`; returns how many were told.
  template <class P, class M>
    requires accepts<P, M>
  std::size_t broadcast(const group<P>& g, const M& m) const {
    auto all = members(g);
    for (auto& r : all) r.tell(m);
    return all.size();
  }
  /// Sends `subscriber` a group_event<P> for each join and leave of `g` from now on, and returns
  /// the members at this moment. A subscriber that stops is dropped.
  template <class P, class Q>
    requires accepts<Q, group_event<P>>
  std::vector<ref<P>> subscribe(const group<P>& g, const ref<Q>& subscriber) {
    auto now = table_.subscribe(key_of(g), handle_of(subscriber),
                                [subscriber, name = g.name](const std::vector<any_ref>&,
                                                            const any_ref& who, bool joined) {
                                  subscriber.tell(group_event<P>{name, detail::typed<P>(who), joined});
                                });
    return detail::typed_refs<P>(std::move(now));
  }
  template <class P, class Q>
  void unsubscribe(const group<P>& g, const ref<Q>& subscriber) {
    table_.unsubscribe(key_of(g), handle_of(subscriber));
  }

 private:
  template <class P>
  static detail::membership_table::key key_of(const group<P>& g) {
    return {g.name, std::type_index(typeid(P))};
  }
  template <class P>
  static any_ref handle_of(const ref<P>& r) {
    if (!r) throw usage_error("troupe: an empty ref cannot join or subscribe to a group");
    return r;
  }

  detail::membership_table table_;
};

}  // namespace troupe::otp
