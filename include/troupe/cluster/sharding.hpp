// sharding.hpp: entities by key, grouped into a fixed number of shards spread over the members
// (Akka Cluster Sharding). A shard lives on the node that rendezvous hashing over the up members
// names; every node computes the same answer from the same table, and the grain directory's
// conditional writes keep one activation per shard even while views differ. When a member joins
// or leaves, shards whose node changed are handed off: the entities stop on the old node before
// the shard registers on the new one, and calls that arrive meanwhile wait in a bounded buffer.
// Any thread may call a shard_region; entity refs work at once, from any node.
#pragma once

#include <chrono>
#include <cstddef>
#include <cstdint>
#include <functional>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <string_view>
#include <variant>
#include <vector>

#include "troupe/cluster/cluster.hpp"
#include "troupe/cluster/placement.hpp"
#include "troupe/cluster/detail/shard.hpp"
#include "troupe/core/behavior.hpp"
#include "troupe/core/extension.hpp"
#include "troupe/core/ref.hpp"

namespace troupe::cluster {

/// One sharded entity type: its name, how an entity is made, and how it is handed off.
///
///     troupe::cluster::sharded_entity<counter_msg> spec{
///         .type = "counter", .make = [](const std::string& id) { return counter(id); },
///         .stop_message = counter_msg{passivate{}}, .shards = 32};
template <class P>
struct sharded_entity {
  /// The type's name: the same on every node, with the same P.
  std::string type{};
  /// The behaviour of the entity `id`, called on the node that holds its shard at its first message.
  std::function<behavior<P>(const std::string& id)> make{};
  /// Told to each entity at hand-off, behind the messages already queued for it; the entity is
  /// expected to stop on it (save first if it must). None: entities are stopped ahead of their
  /// queues, and what is queued goes to dead letters (Akka's default without a stop message).
  std::optional<P> stop_message{};
  /// The number of shards: fixed for the cluster's life; the same on every node. About ten
  /// times the largest number of members is a fair choice.
  std::size_t shards = 64;
  /// Calls per shard held while it is handed off; beyond it they go to dead letters.
  std::size_t handoff_buffer = 1000;
  /// Entities still running this long after the stop message are stopped ahead of their queues.
  std::chrono::nanoseconds handoff_timeout = std::chrono::seconds(10);
  /// Remember-entities (Akka's `rememberEntities`): each entity started is recorded in the
  /// cluster's store, and when its shard starts on another node (a hand-off, a node lost) the
  /// entity starts there at once, without waiting for a message. An entity that stops itself
  /// (passivation) is forgotten; one that crashes stays remembered. Costs a store write per
  /// entity started and stopped.
  bool remember_entities = false;
};

/// The shard of entity `id` among `shards` (FNV-1a of the id, the same on every node and build).
///
///     auto s = troupe::cluster::shard_of("sensor-42", 64);   // 0..63
inline std::size_t shard_of(std::string_view id, std::size_t shards) noexcept {
  std::uint64_t h = 14695981039346656037ull;
  for (unsigned char ch : id) {
    h ^= ch;
    h *= 1099511628211ull;
  }
  return static_cast<std::size_t>(h % (shards ? shards : 1));
}

namespace detail {

/// Remember-entities: a shard's way to the store, each call a job on the cluster's thread. Weak:
/// a shard that outlives its cluster reaches nothing.
inline shard_memory remembering(const std::shared_ptr<cluster_core>& core, const std::string& type) {
  std::weak_ptr<cluster_core> weak = core;
  shard_memory m;
  m.load = [weak, type](const std::string& shard, std::function<void(std::vector<std::string>)> done) {
    if (auto c = weak.lock())
      c->post([c = c.get(), type, shard, done](membership_store& s) {
        auto ids = s.remembered_entities(c->config().name, type, shard);
        if (!ids)
          return c->log(log_level::warning, "shard " + type + "/" + shard +
                                                ": the remembered entities could not be read (they start on their "
                                                "next message): " + ids.error().message());
        done(std::move(*ids));
      });
  };
  m.remember = [weak, type](const std::string& shard, const std::string& entity) {
    if (auto c = weak.lock())
      c->post([c = c.get(), type, shard, entity](membership_store& s) {
        if (auto r = s.remember_entity(c->config().name, type, shard, entity); !r)
          c->log(log_level::warning, "shard " + type + "/" + shard + ": entity '" + entity +
                                         "' could not be remembered: " + r.error().message());
        else
          c->log(log_level::debug, "shard " + type + "/" + shard + ": entity '" + entity + "' remembered");
      });
  };
  m.forget = [weak, type](const std::string& shard, const std::string& entity) {
    if (auto c = weak.lock())
      c->post([c = c.get(), type, shard, entity](membership_store& s) {
        if (auto r = s.forget_entity(c->config().name, type, shard, entity); !r)
          c->log(log_level::warning, "shard " + type + "/" + shard + ": entity '" + entity +
                                         "' could not be forgotten: " + r.error().message());
        else
          c->log(log_level::debug, "shard " + type + "/" + shard + ": entity '" + entity + "' stopped itself: forgotten");
      });
  };
  return m;
}

/// Remember-entities: on every member change (and for the members up when it starts), this node
/// starts the shards that remember entities and that allocation now places here, without waiting
/// for a message; each starts its remembered entities as it starts. A shard still held by a node
/// that hands it off is started by that node once it has stopped (grain_options::restart_after_handoff).
template <class M>
void start_remembered_shards(const std::shared_ptr<cluster_core>& core, const std::string& type,
                             const ref<grain_service_msg<M>>& svc) {
  std::weak_ptr<cluster_core> weak = core;
  core->listen([weak, type, svc](const cluster_event& e) {
    if (!std::holds_alternative<member_up>(e) && !std::holds_alternative<member_removed>(e)) return;
    auto core = weak.lock();
    if (!core) return;
    core->post([c = core.get(), type, svc](membership_store& s) {
      auto shards = s.remembered_shards(c->config().name, type);
      if (!shards)
        return c->log(log_level::warning, "sharded type " + type + ": the remembered shards could not be read: " +
                                              shards.error().message());
      auto up = c->up_nodes();
      if (up.empty()) return;
      for (auto& k : *shards)
        if (hash_placement{}.choose("shard." + type, k, up, c->self()) == c->self()) svc.tell(grain_ensure{k});
    });
  });
}

}  // namespace detail

/// A node's share of one sharded entity type: start it on every node after joining, then reach
/// any entity through entity(id). Copies share one region.
///
///     auto counters = troupe::cluster::shard_region<counter_msg>::start(*c, {
///         .type = "counter", .make = [](const std::string& id) { return counter(id); },
///         .stop_message = counter_msg{passivate{}}});
///     counters.entity("user-7").tell(add{1});
template <class P>
class shard_region {
 public:
  using shard_message = detail::shard_msg<P>;

  /// Starts serving `spec.type` on this node (call it on every node, with the same spec, right
  /// after joining). @throws usage_error if the type is empty, has no factory, has no shards,
  /// or is already registered on this node.
  static shard_region start(cluster& c, sharded_entity<P> spec) {
    if (spec.type.empty() || !spec.make || spec.shards == 0)
      throw usage_error("troupe::cluster: a sharded entity needs a type, a factory and at least one shard");
    auto type = "shard." + spec.type;
    {
      std::lock_guard lk(c.core_->types_mu);
      if (c.core_->types.count(type))
        throw usage_error("troupe::cluster: sharded entity type '" + spec.type + "' is already started on this node");
    }
    auto settings = std::make_shared<const detail::shard_settings<P>>(detail::shard_settings<P>{
        spec.type, spec.make, spec.stop_message, spec.handoff_timeout,
        spec.remember_entities ? detail::remembering(c.core_, spec.type) : detail::shard_memory{}});
    detail::grain_options<shard_message> opts;
    opts.sharded = true;
    opts.handoff_buffer = spec.handoff_buffer;
    opts.handoff_message = shard_message{detail::shard_handoff{}};
    opts.restart_after_handoff = spec.remember_entities;
    auto svc = c.add_grain_type<shard_message>(
        type, [settings](const std::string& shard) { return detail::shard_behavior<P>(settings, shard); },
        std::move(opts));
    if (spec.remember_entities) detail::start_remembered_shards(c.core_, spec.type, svc);
    return shard_region(std::make_shared<const state>(c.core_, svc, spec.type, spec.shards));
  }

  /// A ref to entity `id`, wherever its shard is, or will be: usable at once, from any thread,
  /// and as long as it is held. Messages from one sender keep their order while the shard stays
  /// on one node, whichever of the refs to `id` each goes through. Like a grain ref
  /// (cluster::grain), it is no actor and is freed with its last copy: nothing stays per id;
  /// refs to one id from this node are `==` and hash alike.
  ///
  ///     auto n = counters.entity("user-7").ask<long>([](troupe::ref<long> r) { return get{r}; }, 1s).get();
  ref<P> entity(std::string id) const {
    auto key = std::to_string(troupe::cluster::shard_of(id, st_->shards));
    auto what = "entity " + st_->type + "/" + id;
    target_name target{st_->core.get(), detail::grain_target_name('e', st_->type, id)};
    // Each message is wrapped with its entity id and shard on the sender's thread, straight into
    // the one service's mailbox (the order of one sender's messages): routing is the service's.
    return make_function_ref<P>(
        st_->core->sys(), std::move(what), std::move(target),
        [svc = st_->service, key = std::move(key), id = std::move(id), self = st_->core->self()](
            P&& m, timer_service::clock::time_point due) {  // an ask's deadline goes with the call, as a grain's
          const std::int64_t deadline = due == timer_service::clock::time_point::max() ? 0 : due.time_since_epoch().count();
          svc.tell(detail::grain_call<shard_message>{key, shard_message{detail::shard_envelope<P>{id, std::move(m)}}, self,
                                                     0, deadline});
        },
        new_actor_id(st_->core->sys()));
  }

  /// The shard entity `id` belongs to (0 .. shards() - 1).
  std::size_t shard_of(std::string_view id) const noexcept { return troupe::cluster::shard_of(id, st_->shards); }
  /// The number of shards of this type.
  std::size_t shards() const noexcept { return st_->shards; }

 private:
  // Immutable after start(): any thread reads it.
  struct state {
    state(std::shared_ptr<detail::cluster_core> c, ref<detail::grain_service_msg<shard_message>> s, std::string t,
          std::size_t n)
        : core(std::move(c)), service(std::move(s)), type(std::move(t)), shards(n) {}
    std::shared_ptr<detail::cluster_core> core;
    ref<detail::grain_service_msg<shard_message>> service;
    std::string type;
    std::size_t shards;
  };
  explicit shard_region(std::shared_ptr<const state> s) : st_(std::move(s)) {}
  std::shared_ptr<const state> st_;
};

}  // namespace troupe::cluster
