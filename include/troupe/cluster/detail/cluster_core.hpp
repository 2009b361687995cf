// cluster_core.hpp: the non-template heart of a cluster object, for the grain services in
// grain_service.hpp and for cluster.cpp; not for user code. It owns the cluster's thread, the
// only thread that calls the membership store: jobs posted from any thread run there in order.
#pragma once

#include <any>
#include <atomic>
#include <chrono>
#include <condition_variable>
#include <cstdint>
#include <deque>
#include <functional>
#include <future>
#include <map>
#include <memory>
#include <mutex>
#include <optional>
#include <set>
#include <shared_mutex>
#include <string>
#include <thread>
#include <typeindex>
#include <utility>
#include <variant>
#include <vector>

#include "troupe/cluster/membership_store.hpp"
#include "troupe/cluster/placement.hpp"
#include "troupe/cluster/cluster_config.hpp"
#include "troupe/cluster/member_events.hpp"
#include "troupe/core/system_config.hpp"

namespace troupe {
class system;
}
namespace troupe::remote {
class node;
}

namespace troupe::cluster {

namespace detail {

/// What the cluster's thread tells grain services.
struct node_unreachable {
  std::string node;
};
/// This node is leaving (its row says `leaving`): sharded services hand off every shard.
struct self_leaving {};
using cluster_event = std::variant<member_up, member_removed, node_unreachable, self_leaving>;

class cluster_core : public std::enable_shared_from_this<cluster_core> {
 public:
  using job = std::function<void(membership_store&)>;

  cluster_core(troupe::system& sys, remote::node& node, std::unique_ptr<membership_store> store, cluster_config cfg);
  ~cluster_core();

  /// Joins (writes this node's row as up) and starts the cluster's thread.
  result<void> start();
  /// Leaves (row `left`, registrations removed) unless voted out, then joins the thread.
  void stop();
  /// Leaves after handing off: the row becomes `leaving` (no new activations here, allocation
  /// moves every shard away), then waits until this node holds no shard registration (each
  /// shard's entities stopped and its row removed) or `timeout` passed, then stop().
  void leave(std::chrono::nanoseconds timeout);
  /// Called as the cluster is destroyed (not by stop(): after leave() the node is still the
  /// user's, and a leaving member's services still send calls back to their callers through
  /// it). Waits for any with_node() running and lets none start after.
  void release_node();

  const std::string& self() const noexcept { return self_; }
  const cluster_config& config() const noexcept { return cfg_; }
  troupe::system& sys() noexcept { return sys_; }
  /// The node, for the cluster's thread and for user calls while the cluster exists. The
  /// cluster's actors use with_node() instead: they may outlive the cluster and its node.
  remote::node& node() noexcept { return node_; }
  /// Runs `f(node)` unless release_node() has been called; false if it has. The node is
  /// destroyed after the cluster (cluster.hpp), but an actor the cluster spawned may still be
  /// taking a turn then.
  template <class F>
  bool with_node(F&& f) {
    std::shared_lock lk(node_mu_);
    if (node_released_) return false;
    std::forward<F>(f)(node_);
    return true;
  }
  placement& place() noexcept { return *cfg_.placement; }

  /// Runs `j` on the cluster's thread (after the jobs before it); dropped once stopped.
  /// `batched`: `j` writes only through register_later, so the registrations of consecutive
  /// batched jobs share one transaction (committed before the next other job runs).
  void post(job j, bool batched = false);
  /// Cluster thread, inside a batched job: registers this node as the holder of `g` with the
  /// registrations around it, and calls `done` with the holder (or the error) once committed.
  void register_later(grain_id g, std::function<void(result<std::string>)> done);
  /// Up members as last read, sorted by name.
  std::vector<member> up_members() const;
  std::vector<std::string> up_nodes() const;
  std::optional<std::string> address_of(const std::string& node) const;
  bool is_up(const std::string& node) const;
  /// False once this node was voted out, left or stopped.
  bool serving() const noexcept {
    return serving_.load(std::memory_order_acquire);  // acquire: pairs with the release in removed()
  }
  /// Grain services count their activations here (+1 activated, -n stopped); the cluster's
  /// thread publishes the total (least_loaded_placement).
  void count_activations(std::int64_t delta) noexcept {
    activations_.fetch_add(delta, std::memory_order_relaxed);  // relaxed: a statistic, orders nothing
  }
  /// `f` hears every event from now on, on the cluster's thread (node_unreachable: on the
  /// remote node's thread). Members already up are announced at once. Returns an id for
  /// unlisten().
  std::uint64_t listen(std::function<void(const cluster_event&)> f);
  /// `f` hears no event that starts after this returns (one already being told may still run:
  /// a listener that must stop at once checks a flag of its own, as group_registry does).
  void unlisten(std::uint64_t id);
  /// How many listeners there are (tests: nothing a scope made outlives it).
  std::size_t listener_count() const;
  void log(log_level level, const std::string& text) const;

  // Grain types registered on this node: type name -> (protocol, the service's ref). Nothing
  // per key: a grain ref holds its key itself (cluster::grain).
  struct grain_type {
    std::type_index protocol;
    std::any service;  // ref<grain_service_msg<P>>
  };
  std::mutex types_mu;
  std::map<std::string, grain_type> types;  // guarded by types_mu

 private:
  void run();
  void flush_registrations(membership_store& s);
  void tick(membership_store& s);
  void vote(membership_store& s, const member& m);
  void removed(const std::string& reason);
  void emit(const cluster_event& e);
  static std::int64_t now_ms();

  troupe::system& sys_;
  remote::node& node_;
  std::shared_mutex node_mu_;   // with_node() shares it; release_node() takes it whole
  bool node_released_ = false;  // guarded by node_mu_
  std::unique_ptr<membership_store> store_;  // used on the cluster's thread only (and in start)
  cluster_config cfg_;                       // immutable after construction
  std::string self_;

  mutable std::mutex mu_;
  std::condition_variable cv_;
  struct queued_job {
    job run;
    bool batched;
  };
  std::deque<queued_job> jobs_;        // guarded by mu_
  struct registration {
    grain_id grain;
    std::function<void(result<std::string>)> done;
  };
  std::vector<registration> registrations_;  // cluster thread only: waiting for one transaction
  std::vector<member> members_;        // guarded by mu_: every row, as last read
  std::map<std::string, std::int64_t> unreachable_;  // guarded by mu_: node -> when the remote
                                                     // detector said down (not up since), ms
  using listener_list = std::vector<std::pair<std::uint64_t, std::function<void(const cluster_event&)>>>;
  listener_list listeners_;              // guarded by mu_
  std::uint64_t listener_ids_ = 0;       // guarded by mu_
  bool stopping_ = false;              // guarded by mu_
  std::set<std::string> announced_;    // guarded by mu_: members announced as up
  std::atomic<bool> serving_{false};
  std::atomic<std::int64_t> activations_{0};
  std::optional<std::promise<void>> handed_off_;  // cluster thread only: set while leaving, kept
                                                  // until this node holds no shard
  std::map<std::string, std::int64_t> leave_seen_;  // cluster thread only: while leaving, each other
                                                    // up member's heartbeat when the row said leaving
  bool handoff_started_ = false;                    // cluster thread only
  std::int64_t published_activations_ = -1;  // cluster thread only: the count last published
  bool removed_ = false;  // cluster thread only
  std::map<std::string, std::int64_t> unconnected_since_;  // cluster thread only: up members with
                                                           // no connection, since when (ms)
  std::thread thread_;
};

}  // namespace detail
}  // namespace troupe::cluster
