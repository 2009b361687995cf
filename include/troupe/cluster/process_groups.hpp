// process_groups.hpp: process groups that span the cluster, as Erlang's `pg` does. Each node
// owns its local members and announces every join and leave to the other members' nodes; a node
// that joins (or that first uses a protocol's groups) exchanges its whole local state with each
// peer. No store and no leader: the view is eventually consistent. A member that stops, or whose
// node leaves, is voted out or loses its connection, disappears from every other node's view
// (docs/cluster.md says what is guaranteed). Any thread may call any member.
#pragma once

#include <cstddef>
#include <memory>
#include <string>
#include <typeindex>
#include <typeinfo>
#include <vector>

#include "troupe/cluster/cluster.hpp"
#include "troupe/cluster/detail/group_registry.hpp"
#include "troupe/core/protocol.hpp"
#include "troupe/core/ref.hpp"
#include "troupe/core/result.hpp"
#include "troupe/otp/process_groups.hpp"

namespace troupe::cluster {

/// A scope of process groups across the cluster (Erlang's pg scope): groups of one scope never
/// see another's. Groups are the otp layer's `group<P>` (P must be serializable, as every
/// protocol that crosses nodes), and subscribers get its `group_event<P>`. Make one per scope on
/// each node that takes part, after the cluster and before it goes; destroying it takes this
/// node's members out of every other node's view. It must not outlive its cluster.
///
///     troupe::cluster::process_groups pg(*cluster);
///     pg.join(lobby, alice).value();                 // a local actor
///     for (auto& m : pg.members(lobby)) m.tell(said{"hi"});   // local and remote members
class process_groups {
 public:
  explicit process_groups(cluster& c, std::string scope = "default")
      : reg_(std::make_shared<detail::group_registry>(c.core_, "pg", std::move(scope))) {}

  /// Adds `member`, an actor of this process, to `g` (joining twice is joining once); the other
  /// nodes hear of it. Fails with troupe::errc::receiver_dead if it has stopped or is not a
  /// local actor (a node announces only its own members, as in pg).
  template <class P>
  result<void> join(const otp::group<P>& g, const ref<P>& member) {
    return reg_->join(g.name, member);
  }
  /// Removes `member` (of this node) from `g`; false if it was not a member.
  template <class P>
  bool leave(const otp::group<P>& g, const ref<P>& member) {
    return reg_->leave(g.name, member);
  }
  /// The members of `g` on every node, as this node knows them now: its own at once, the
  /// others' once their nodes have told it. The first call about protocol P on this node starts
  /// listening to the others' groups of P.
  template <class P>
  std::vector<ref<P>> members(const otp::group<P>& g) const {
    (void)reg_->scope_of<P>();
    return otp::detail::typed_refs<P>(reg_->view().members(key_of(g)));
  }
  /// The members of `g` on this node.
  template <class P>
  std::vector<ref<P>> local_members(const otp::group<P>& g) const {
    (void)reg_->scope_of<P>();
    return otp::detail::typed_refs<P>(reg_->view().local_members(key_of(g)));
  }
  /// The names of the groups of protocol P that have members anywhere, as this node knows them.
  template <class P>
  std::vector<std::string> which_groups() const {
    (void)reg_->scope_of<P>();
    return reg_->view().names(typeid(P));
  }
  /// Tells `m` to every member of `g`; returns how many were told.
  template <class P, class M>
    requires accepts<P, M>
  std::size_t broadcast(const otp::group<P>& g, const M& m) const {
    auto all = members(g);
    for (auto& r : all) r.tell(m);
    return all.size();
  }
  /// Sends `subscriber` (a local actor) a group_event<P> for each join and leave of `g` that
  /// this node learns of from now on, local or remote, and returns the members now. A
  /// subscriber that stops is dropped.
  template <class P, class Q>
    requires accepts<Q, otp::group_event<P>>
  std::vector<ref<P>> subscribe(const otp::group<P>& g, const ref<Q>& subscriber) {
    (void)reg_->scope_of<P>();
    if (!subscriber) throw usage_error("troupe: an empty ref cannot subscribe to a group");
    auto now = reg_->view().subscribe(key_of(g), subscriber,
                                      [subscriber, name = g.name](const std::vector<any_ref>&, const any_ref& who, bool joined) {
                                        subscriber.tell(otp::group_event<P>{name, otp::detail::typed<P>(who), joined});
                                      });
    return otp::detail::typed_refs<P>(now);
  }
  template <class P, class Q>
  void unsubscribe(const otp::group<P>& g, const ref<Q>& subscriber) {
    reg_->view().unsubscribe(key_of(g), subscriber);
  }

 private:
  template <class P>
  static detail::group_view::key key_of(const otp::group<P>& g) {
    return {g.name, std::type_index(typeid(P))};
  }

  std::shared_ptr<detail::group_registry> reg_;
};

}  // namespace troupe::cluster
