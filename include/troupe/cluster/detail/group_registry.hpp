// group_registry.hpp: what the cluster's process_groups and receptionist share; not for user
// code. One view of the scope's groups on this node, and one scope actor per protocol, made on
// first use (group_scope.hpp). Any thread may call any member.
#pragma once

#include <any>
#include <atomic>
#include <cstdint>
#include <cstdio>
#include <map>
#include <memory>
#include <mutex>
#include <string>
#include <typeindex>
#include <typeinfo>
#include <utility>
#include <variant>
#include <vector>

#include "troupe/cluster/detail/cluster_core.hpp"
#include "troupe/cluster/detail/group_scope.hpp"
#include "troupe/cluster/detail/group_view.hpp"
#include "troupe/core/extension.hpp"
#include "troupe/core/system.hpp"
#include "troupe/serial/codec.hpp"

namespace troupe::cluster::detail {

class group_registry {
 public:
  /// `kind` ("pg", "receptionist") and `scope` name the scope actors this registry publishes.
  group_registry(std::shared_ptr<cluster_core> core, std::string kind, std::string scope)
      : core_(std::move(core)),
        view_(std::make_shared<group_view>(core_->self())),
        prefix_("troupe.cluster." + std::move(kind) + "." + std::move(scope) + "."),
        alive_(std::make_shared<std::atomic<bool>>(true)) {}
  /// Stops the scope actors: the other nodes drop this node's members of the scope.
  ~group_registry() {
    alive_->store(false, std::memory_order_release);  // release: listeners that see false tell no more
    std::lock_guard lk(mu_);
    for (auto id : listeners_) core_->unlisten(id);
    for (auto& [t, a] : actors_) troupe::request_stop(a);
  }
  group_registry(const group_registry&) = delete;
  group_registry& operator=(const group_registry&) = delete;

  group_view& view() noexcept { return *view_; }
  const group_view& view() const noexcept { return *view_; }
  cluster_core& core() noexcept { return *core_; }

  /// Adds `member` (an actor of this process) to the group `name` of P, and has the scope
  /// actor announce it. Fails with troupe::errc::receiver_dead if it has stopped or is remote.
  template <class P>
  result<void> join(const std::string& name, const ref<P>& member) {
    auto scope = scope_of<P>();
    any_ref a(member);
    if (!a.is_local_actor())
      return error{troupe::errc::receiver_dead, "only an actor of this node can join (" + a.describe() + ")"};
    if (a.has_stopped()) return error{troupe::errc::receiver_dead, a.describe() + " has already stopped"};
    // Under one lock with the view's change, so that the scope actor hears the joins and leaves
    // of one member in the order the view made them, whichever threads call.
    std::lock_guard lk(local_mu_);
    if (auto id = view_->join_local({name, typeid(P)}, a)) scope.tell(pg_local_join<P>{name, *id, member});
    return {};
  }
  /// Removes `member` from the group `name` of P; false if it was not there.
  template <class P>
  bool leave(const std::string& name, const ref<P>& member) {
    auto scope = scope_of<P>();
    std::lock_guard lk(local_mu_);
    auto id = view_->leave_local({name, typeid(P)}, any_ref(member));
    if (id) scope.tell(pg_local_leave{name, *id});
    return id.has_value();
  }

  /// The scope actor of protocol P, made (and published, and told of the members) on first use.
  template <class P>
  ref<pg_msg<P>> scope_of() {
    std::lock_guard lk(mu_);
    if (auto it = actors_.find(typeid(P)); it != actors_.end()) return *it->second.template as<pg_msg<P>>();
    char fp[17];
    std::snprintf(fp, sizeof fp, "%016llx",
                  static_cast<unsigned long long>(serial::protocol_ops_of<P>().fingerprint));
    auto actor = core_->sys().spawn(group_scope_behavior<P>(core_, view_, prefix_ + fp));
    actors_.emplace(typeid(P), actor);
    listeners_.push_back(core_->listen([actor, alive = alive_](const cluster_event& e) {
      if (!alive->load(std::memory_order_acquire)) return;  // acquire: pairs with the destructor's release
      if (auto* u = std::get_if<member_up>(&e)) actor.tell(pg_member_up{u->node});
      else if (auto* r = std::get_if<member_removed>(&e)) actor.tell(pg_member_gone{r->node});
      // node_unreachable: the watch on the peer's scope actor says more precisely what is lost.
    }));
    return actor;
  }

 private:
  std::shared_ptr<cluster_core> core_;
  std::shared_ptr<group_view> view_;
  std::string prefix_;
  std::shared_ptr<std::atomic<bool>> alive_;
  std::mutex local_mu_;  // orders local joins and leaves with their announcements
  std::mutex mu_;
  std::map<std::type_index, any_ref> actors_;  // guarded by mu_
  std::vector<std::uint64_t> listeners_;       // guarded by mu_: removed with the registry
};

}  // namespace troupe::cluster::detail
