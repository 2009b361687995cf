// cluster.hpp: one node's membership in a cluster, and its virtual actors (Orleans' grains).
// Membership lives in a real store (membership_store: SQLite on one machine, PostgreSQL), each
// node keeps a heartbeat row, and members that others suspect (the remote layer's failure
// detector, or a stale heartbeat) are voted out by conditional writes; a node voted out stops
// serving. A grain is addressed by (type, key): cluster.grain<P>(type, key) is a ref that works
// at once from any node; the first message activates it on one node (single activation through
// the grain directory), and it is deactivated when idle. Any thread may call any member.
#pragma once

#include <chrono>
#include <functional>
#include <memory>
#include <string>
#include <string_view>
#include <typeindex>
#include <variant>
#include <vector>

#include "troupe/cluster/cluster_config.hpp"
#include "troupe/cluster/detail/cluster_core.hpp"
#include "troupe/cluster/detail/grain_service.hpp"
#include "troupe/cluster/member_events.hpp"
#include "troupe/cluster/membership_store.hpp"
#include "troupe/core/extension.hpp"
#include "troupe/core/protocol.hpp"
#include "troupe/core/ref.hpp"
#include "troupe/core/result.hpp"
#include "troupe/core/system.hpp"
#include "troupe/remote/node.hpp"

namespace troupe::cluster {

class cluster;
namespace detail {
/// The cluster's core, for the layer's own headers and its tests; not for user code.
struct cluster_access {
  static cluster_core& core(cluster& c) noexcept;
};
}  // namespace detail

/// A node's membership in a cluster and its grains. Create it with join(); destroying it leaves
/// the cluster (its row becomes `left`, its grains are deactivated and re-activate elsewhere).
///
///     auto store = troupe::cluster::membership_store::open_sqlite("/tmp/shop.cluster").value();
///     auto c = troupe::cluster::cluster::join(sys, node, std::move(store), {.name = "shop"}).value();
///     c->register_grain<device_msg>("device", [](const std::string& key) { return device(key); });
///     c->grain<device_msg>("device", "sensor-42").tell(reading{21.5});
class cluster {
 public:
  /// Joins the cluster `cfg.name` kept in `store` as the member named after `node`, and starts
  /// heartbeats. Fails with errc::store_unavailable or errc::store_error.
  static result<std::unique_ptr<cluster>> join(troupe::system& sys, remote::node& node,
                                                std::unique_ptr<membership_store> store, cluster_config cfg = {});
  /// Leaves the cluster (unless voted out already) and stops the cluster's thread.
  ~cluster();
  cluster(const cluster&) = delete;
  cluster& operator=(const cluster&) = delete;

  /// Makes grains of `type` activatable on this node: `make(key)` is the behaviour of one
  /// activation. Register every type on every node, with the same P, before calling grain().
  /// For state that outlives an activation, make a persistence::durable_state_behavior whose
  /// persistence_id names the grain (see docs/cluster.md).
  ///
  ///     c->register_grain<device_msg>("device", [j](const std::string& key) { return device(j, key); });
  template <class P>
  void register_grain(std::string type, std::function<behavior<P>(const std::string& key)> make) {
    add_grain_type<P>(std::move(type), std::move(make), {});
  }

  /// Runs one instance of an actor in the cluster (Akka's cluster singleton): call it on every
  /// node with the same name and P. It starts on one node (hash placement), is never deactivated
  /// for idleness, starts again if it stops, and when its node is voted out or leaves it starts
  /// on another node: within the failure detection and vote, plus its start time. Reach it with
  /// singleton_ref<P>(name). Single instance as grains are single activations (docs/cluster.md).
  ///
  ///     c->singleton<scheduler_msg>("scheduler", [] { return scheduler(); });
  ///     c->singleton_ref<scheduler_msg>("scheduler").tell(tick{});
  template <class P>
  void singleton(const std::string& name, std::function<behavior<P>()> make) {
    auto svc = add_grain_type<P>("singleton." + name, [make](const std::string&) { return make(); },
                                 detail::grain_options<P>{.keep_active = true});
    core_->listen([svc, name](const detail::cluster_event& e) {
      if (!std::holds_alternative<detail::node_unreachable>(e)) svc.tell(detail::grain_ensure{name});
    });
    svc.tell(detail::grain_ensure{name});
  }
  /// A ref to the singleton `name`, wherever it runs. @throws usage_error as grain() does.
  template <class P>
  ref<P> singleton_ref(const std::string& name) {
    return grain<P>("singleton." + name, name);
  }

  /// A ref to the grain (type, key), wherever it is active, or will be: usable at once, from
  /// any thread, and as long as it is held. Messages from one sender keep their order while the
  /// grain stays on one node, whichever of the refs to (type, key) each goes through. The ref is
  /// no actor: it hands each message to the type's service on the sender's thread, and is freed
  /// with its last copy, so a node that calls millions of keys keeps nothing per key it no
  /// longer holds a ref to. Refs to one (type, key) from this node are `==` and hash alike,
  /// however often made (not their id()s); watching one does nothing (docs/cluster.md, "Grain
  /// refs").
  /// @throws usage_error if `type` was not registered on this node with protocol P.
  ///
  ///     auto d = c->grain<device_msg>("device", "sensor-42");
  ///     auto t = d.ask<double>([](troupe::ref<double> r) { return temperature{r}; }, 1s).get();
  template <class P>
  ref<P> grain(std::string_view type, std::string key) {
    using smsg = detail::grain_service_msg<P>;
    ref<smsg> svc;
    {
      std::lock_guard lk(core_->types_mu);
      auto it = core_->types.find(std::string(type));
      if (it == core_->types.end() || it->second.protocol != std::type_index(typeid(P)))
        throw usage_error("troupe::cluster: grain type '" + std::string(type) + "' is not registered with this protocol");
      svc = std::any_cast<ref<smsg>>(it->second.service);
    }
    // Each message goes from the sender's thread straight into the one service's mailbox, so
    // one sender's messages stay in order across every ref to the key, however many were made
    // and dropped: ordering and routing are the service's.
    auto what = "grain " + std::string(type) + "/" + key;
    // Equal to every ref to (type, key) made by this node, whatever it was made for.
    target_name target{core_.get(), detail::grain_target_name('g', type, key)};
    return make_function_ref<P>(
        core_->sys(), std::move(what), std::move(target),
        // An ask's deadline goes with its call (absolute: the call is on its origin node), so
        // that the call is not run once its caller has given up (docs/cluster.md, "Deadlines").
        [svc = std::move(svc), key = std::move(key), self = core_->self()](P&& m, timer_service::clock::time_point due) {
          const std::int64_t deadline = due == timer_service::clock::time_point::max() ? 0 : due.time_since_epoch().count();
          svc.tell(detail::grain_call<P>{key, std::move(m), self, 0, deadline});
        },
        new_actor_id(core_->sys()));
  }

  /// Sends member_up / member_removed to `subscriber` from now on; members already up are
  /// announced at once. Events are seen from this node's reading of the table.
  ///
  ///     c->subscribe(watcher);   // watcher: ref<std::variant<member_up, member_removed, ...>>
  template <class P>
    requires accepts<P, member_up> && accepts<P, member_removed>
  void subscribe(const ref<P>& subscriber) {
    core_->listen([subscriber](const detail::cluster_event& e) {
      if (auto* u = std::get_if<member_up>(&e)) subscriber.tell(*u);
      else if (auto* r = std::get_if<member_removed>(&e)) subscriber.tell(*r);
    });
  }

  /// The up members as this node last read them, sorted by name.
  std::vector<member> members() const { return core_->up_members(); }
  /// This node's name in the cluster (its remote node's name).
  const std::string& self() const noexcept { return core_->self(); }
  /// False once this node was voted out or left: it activates no grain and serves no call.
  bool serving() const noexcept { return core_->serving(); }
  /// Leaves the cluster gracefully: first hands every shard off (its entities stop here before
  /// they start on another member, calls meanwhile buffered), waiting up to `timeout`, then
  /// leaves (row `left`, registrations removed). Blocks the caller meanwhile. The destructor
  /// leaves at once, without hand-off. Idempotent.
  ///
  ///     c->leave();  // then destroy the cluster, then the node
  void leave(std::chrono::nanoseconds timeout = std::chrono::seconds(30)) { core_->leave(timeout); }

 private:
  template <class Q>
  friend class shard_region;
  friend struct detail::cluster_access;
  friend class process_groups;
  friend class receptionist;

  template <class P>
  ref<detail::grain_service_msg<P>> add_grain_type(std::string type, std::function<behavior<P>(const std::string&)> make,
                                                   detail::grain_options<P> opts) {
    bool sharded = opts.sharded;
    auto svc = core_->sys().spawn(detail::grain_service_behavior<P>(core_, type, std::move(make), std::move(opts)));
    (void)core_->node().publish(detail::grain_service_name(type), svc);
    core_->listen([svc, sharded, self = core_->self()](const detail::cluster_event& e) {
      if (auto* r = std::get_if<member_removed>(&e)) {
        if (r->node == self) {
          svc.tell(detail::grain_stop_serving{r->reason});
        } else {
          svc.tell(detail::grain_peer_lost{r->node});
          if (sharded) svc.tell(detail::grain_rebalance{});
        }
      } else if (auto* u = std::get_if<detail::node_unreachable>(&e)) {
        svc.tell(detail::grain_peer_lost{u->node});
      } else if (sharded && (std::holds_alternative<member_up>(e) || std::holds_alternative<detail::self_leaving>(e))) {
        svc.tell(detail::grain_rebalance{});
      }
    });
    std::lock_guard lk(core_->types_mu);
    core_->types.insert_or_assign(type, detail::cluster_core::grain_type{typeid(P), svc});
    return svc;
  }

  explicit cluster(std::shared_ptr<detail::cluster_core> core) : core_(std::move(core)) {}
  std::shared_ptr<detail::cluster_core> core_;
};

inline detail::cluster_core& detail::cluster_access::core(cluster& c) noexcept { return *c.core_; }

}  // namespace troupe::cluster
