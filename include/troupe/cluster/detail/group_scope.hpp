// group_scope.hpp: the actors behind the cluster's process groups and receptionist; not for
// user code. One scope actor per (scope, protocol) on each node, Erlang pg's way: it owns this
// node's memberships of that protocol, announces each join and leave to the same scope actor on
// every other member, and applies theirs to the node's group_view. No store, no leader: on
// linking to a peer (a member came up, or the peer announced itself) each side sends its whole
// local state (a discover, answered by a sync), and a peer whose scope actor goes down (its node
// died, was cut off, or its scope stopped) or that leaves the membership loses its members here.
// Its child, the wire actor, is what other nodes reach (published by name): it speaks only the
// announcements, so a peer can never make this node join or leave anything.
#pragma once

#include <chrono>
#include <cstdint>
#include <map>
#include <memory>
#include <optional>
#include <set>
#include <string>
#include <typeindex>
#include <typeinfo>
#include <utility>
#include <variant>
#include <vector>

#include "troupe/cluster/detail/cluster_core.hpp"
#include "troupe/cluster/detail/group_view.hpp"
#include "troupe/core/actor_context.hpp"
#include "troupe/core/behavior.hpp"
#include "troupe/remote/node.hpp"
#include "troupe/serial/codec.hpp"

namespace troupe::cluster::detail {

// --- what scope actors tell each other (the wire protocol) -----------------------------------
template <class P>
struct pg_entry {
  std::string group;
  std::uint64_t id = 0;  // the owning node's id for this membership
  ref<P> member;
};
/// "These are all my members; send me yours."
template <class P>
struct pg_discover {
  std::string node;
  std::vector<pg_entry<P>> members;
};
/// "These are all my members" (the answer to a discover).
template <class P>
struct pg_sync {
  std::string node;
  std::vector<pg_entry<P>> members;
};
template <class P>
struct pg_join {
  std::string node;
  pg_entry<P> entry;
};
struct pg_leave {
  std::string node;
  std::string group;
  std::uint64_t id = 0;
};
template <class P>
using pg_wire = std::variant<pg_discover<P>, pg_sync<P>, pg_join<P>, pg_leave>;

// --- what only this node tells its scope actor ----------------------------------------------
template <class P>
struct pg_local_join {
  std::string group;
  std::uint64_t id = 0;
  ref<P> member;
};
struct pg_local_leave {
  std::string group;
  std::uint64_t id = 0;
};
struct pg_local_stopped {
  actor_id who;
};
template <class P>
struct pg_found {  // a lookup of a peer's wire actor ended
  std::string node;
  std::optional<ref<pg_wire<P>>> peer;
  bool not_found = false;  // the peer has no scope actor of this protocol (yet)
  std::string error;
};
struct pg_member_up {
  std::string node;
};
struct pg_member_gone {  // removed from the membership (left, voted out)
  std::string node;
};
struct pg_peer_down {  // the watch on a peer's wire actor fired
  std::string node;
};
struct pg_retry {
  std::string node;
};

template <class P>
using pg_msg = std::variant<pg_discover<P>, pg_sync<P>, pg_join<P>, pg_leave, pg_local_join<P>, pg_local_leave,
                            pg_local_stopped, pg_found<P>, pg_member_up, pg_member_gone, pg_peer_down, pg_retry>;

/// A failed lookup of a peer that is still up is tried again after this long.
inline constexpr std::chrono::milliseconds pg_retry_after{500};

template <class P>
class group_scope {
 public:
  using msg = pg_msg<P>;
  using wire = pg_wire<P>;

  group_scope(std::shared_ptr<cluster_core> core, std::shared_ptr<group_view> view, std::string name,
              actor_context<msg>& ctx)
      : core_(std::move(core)), view_(std::move(view)), name_(std::move(name)), ctx_(&ctx) {}

  void start() {
    auto me = ctx_->self();
    // A child: it stops with this actor, so that peers watching it learn that the scope is gone.
    wire_ = ctx_->spawn(troupe::receive<wire>([me](const auto& m) {
      me.tell(m);
      return troupe::same;
    }));
    core_->with_node([&](remote::node& n) {
      n.template allow<P>();
      if (auto r = n.publish(name_, wire_); !r)
        core_->log(log_level::error, "groups: cannot publish '" + name_ + "': " + r.error().message());
    });
  }

  void on(pg_member_up& u) {
    if (u.node == self()) return;
    gone_.erase(u.node);
    if (!peers_.count(u.node)) look_up(u.node);
  }

  void on(pg_member_gone& g) {
    if (g.node == self()) {
      // Voted out or left: this node no longer hears the others, so it forgets their members.
      for (auto& n : known_) view_->drop_node(n, typeid(P));
      known_.clear();
      peers_.clear();
      serving_ = false;
      return;
    }
    gone_.insert(g.node);
    forget(g.node);
  }

  void on(pg_peer_down& d) {
    forget(d.node);
    retry_later(d.node);
  }

  void on(pg_retry& r) {
    if (serving_ && !peers_.count(r.node) && !gone_.count(r.node) && core_->is_up(r.node)) look_up(r.node);
  }

  void on(pg_found<P>& f) {
    looking_up_.erase(f.node);
    if (!serving_ || gone_.count(f.node) || peers_.count(f.node)) return;
    if (!f.peer) {
      // Not found: the peer makes its scope later and will find this one. Otherwise (a timeout,
      // its node down) drop what it announced, and try again while it is still a member.
      if (known_.count(f.node)) {
        view_->drop_node(f.node, typeid(P));
        known_.erase(f.node);
      }
      if (!f.not_found) {
        core_->log(log_level::debug, "groups: no link to '" + f.node + "' yet: " + f.error);
        retry_later(f.node);
      }
      return;
    }
    auto node = f.node;
    peers_.emplace(node, *f.peer);
    ctx_->watch(*f.peer, [node](terminated&&) { return pg_peer_down{node}; });
    f.peer->tell(pg_discover<P>{self(), snapshot()});
  }

  void on(pg_discover<P>& d) {
    if (!serving_ || gone_.count(d.node) || d.node == self()) return;
    apply(d.node, d.members);
    if (auto it = peers_.find(d.node); it != peers_.end()) it->second.tell(pg_sync<P>{self(), snapshot()});
    else look_up(d.node);  // our discover, once linked, is the answer
  }

  void on(pg_sync<P>& s) {
    if (!serving_ || gone_.count(s.node) || !peers_.count(s.node)) return;
    apply(s.node, s.members);
  }

  void on(pg_join<P>& j) {
    if (!known_.count(j.node)) return;
    view_->add({j.entry.group, typeid(P)}, j.node, j.entry.id, any_ref(j.entry.member));
  }

  void on(pg_leave& l) {
    if (!known_.count(l.node)) return;
    view_->remove({l.group, typeid(P)}, l.node, l.id);
  }

  void on(pg_local_join<P>& j) {
    auto who = j.member.id();
    if (watched_.insert(who).second)
      ctx_->watch(j.member, [](terminated&& t) { return pg_local_stopped{t.who}; });
    local_.emplace(j.id, pg_entry<P>{j.group, j.id, j.member});
    for (auto& [n, p] : peers_) p.tell(pg_join<P>{self(), pg_entry<P>{j.group, j.id, j.member}});
  }

  void on(pg_local_leave& l) {
    if (local_.erase(l.id)) announce_leave(l.group, l.id);
  }

  void on(pg_local_stopped& s) {
    watched_.erase(s.who);
    for (auto it = local_.begin(); it != local_.end();) {
      if (it->second.member.id() == s.who) {
        view_->remove({it->second.group, typeid(P)}, self(), it->first);
        announce_leave(it->second.group, it->first);
        it = local_.erase(it);
      } else {
        ++it;
      }
    }
  }

 private:
  const std::string& self() const { return core_->self(); }

  std::vector<pg_entry<P>> snapshot() const {
    std::vector<pg_entry<P>> out;
    out.reserve(local_.size());
    for (auto& [id, e] : local_) out.push_back(e);
    return out;
  }

  void announce_leave(const std::string& group, std::uint64_t id) {
    for (auto& [n, p] : peers_) p.tell(pg_leave{self(), group, id});
  }

  void apply(const std::string& node, const std::vector<pg_entry<P>>& members) {
    std::vector<group_view::remote_entry> entries;
    entries.reserve(members.size());
    for (auto& e : members) entries.push_back({e.group, e.id, any_ref(e.member)});
    view_->replace_node(node, typeid(P), entries);
    known_.insert(node);
  }

  void forget(const std::string& node) {
    peers_.erase(node);
    if (known_.erase(node)) view_->drop_node(node, typeid(P));
  }

  void retry_later(const std::string& node) {
    if (serving_ && !gone_.count(node) && core_->is_up(node))
      ctx_->start_timer("retry " + node, pg_retry{node}, pg_retry_after, troupe::timer_mode::single);
  }

  void look_up(const std::string& node) {
    if (!serving_ || !looking_up_.insert(node).second) return;
    auto address = core_->address_of(node);
    if (!address) {
      // Not read from the membership table yet: its member_up will come.
      looking_up_.erase(node);
      return;
    }
    bool asked = core_->with_node([&](remote::node& n) {
      n.lookup<wire>(name_, *address, std::chrono::seconds(2), [node, me = ctx_->self()](result<ref<wire>> r) {
        if (r) return me.tell(pg_found<P>{node, std::move(*r), false, ""});
        me.tell(pg_found<P>{node, std::nullopt, r.error() == troupe::errc::name_not_found, r.error().message()});
      });
    });
    if (!asked) looking_up_.erase(node);  // the cluster stopped: nothing more to learn
  }

  std::shared_ptr<cluster_core> core_;
  std::shared_ptr<group_view> view_;
  std::string name_;            // the wire actor's published name
  actor_context<msg>* ctx_;     // used on this actor's turn only
  ref<wire> wire_;
  std::map<std::uint64_t, pg_entry<P>> local_;      // this node's memberships, by id (join order)
  std::set<actor_id> watched_;                      // local members watched
  std::map<std::string, ref<wire>> peers_;          // linked peers: their wire actors, watched
  std::set<std::string> known_;                     // nodes whose members are in the view
  std::set<std::string> looking_up_;                // lookups in flight
  std::set<std::string> gone_;                      // removed from the membership
  bool serving_ = true;
};

/// The behaviour of a scope actor publishing its wire actor as `name`.
template <class P>
behavior<pg_msg<P>> group_scope_behavior(std::shared_ptr<cluster_core> core, std::shared_ptr<group_view> view,
                                         std::string name) {
  using msg = pg_msg<P>;
  return troupe::setup<msg>([core, view, name](actor_context<msg>& ctx) {
    auto scope = std::make_shared<group_scope<P>>(core, view, name, ctx);
    scope->start();
    return troupe::receive<msg>([scope](const auto& m) {
      auto copy = m;
      scope->on(copy);
      return troupe::same;
    });
  });
}

}  // namespace troupe::cluster::detail
