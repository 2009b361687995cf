// in_process_nodes.hpp: cluster nodes in the test's own process, for tests that look inside one
// node (its log lines, its grain services) rather than at node processes: each node is a system,
// a remote node on loopback and a cluster joined to a SQLite file the nodes share. Also a
// placement that names one node, and a grain that answers each add with its n.
#pragma once

#include <gtest/gtest.h>

#include <any>
#include <chrono>
#include <cstddef>
#include <memory>
#include <mutex>
#include <string>
#include <string_view>
#include <thread>
#include <type_traits>
#include <vector>

#include "cluster/device_grain.hpp"
#include "troupe/cluster/cluster.hpp"
#include "troupe/cluster/membership_store.hpp"
#include "troupe/cluster/placement.hpp"
#include "troupe/core/system.hpp"
#include "troupe/remote/node.hpp"

namespace troupe::cluster::testing {

/// Every log line of one or more nodes, each as "<node>| <text>".
struct log_lines {
  std::mutex mu;
  std::vector<std::string> lines;  // guarded by mu
  void add(std::string_view text) {
    std::lock_guard lk(mu);
    lines.emplace_back(text);
  }
  /// Lines that contain `needle`.
  std::size_t count(std::string_view needle) {
    std::lock_guard lk(mu);
    std::size_t n = 0;
    for (auto& l : lines) n += l.find(needle) != std::string::npos ? 1 : 0;
    return n;
  }
  /// The sum of the numbers that follow `before` in the lines that contain it.
  std::size_t sum_after(std::string_view before) {
    std::lock_guard lk(mu);
    std::size_t n = 0;
    for (auto& l : lines)
      if (auto at = l.find(before); at != std::string::npos) n += std::stoul(l.substr(at + before.size()));
    return n;
  }
  std::string all() {
    std::lock_guard lk(mu);
    std::string s;
    for (auto& l : lines) s += l + "\n";
    return s;
  }
};

/// Places every grain on `node` (when it is up).
struct always_on final : placement {
  explicit always_on(std::string n) : node(std::move(n)) {}
  std::string choose(const std::string&, const std::string&, const std::vector<std::string>& up,
                     const std::string&) override {
    for (auto& u : up)
      if (u == node) return u;
    return up.front();
  }
  std::string node;
};

/// One node: joins cluster `cfg.name` (the cookie too) in the SQLite file `path`, keeping the
/// log lines of `level` and above in `log`. Destroyed in the order the cluster layer asks for.
struct in_process_node {
  in_process_node(const std::string& name, const std::string& path, cluster_config cfg,
                  std::shared_ptr<log_lines> logs = std::make_shared<log_lines>(), log_level level = log_level::info)
      : log(std::move(logs)) {
    troupe::system_config sc;
    sc.log.level = level;
    sc.logger = [l = log, name](log_level, std::string_view text) { l->add(name + "| " + std::string(text)); };
    sys = std::make_unique<troupe::system>(sc);
    node = std::make_unique<remote::node>(*sys, remote::node_config{.name = name, .cookie = cfg.name});
    c = cluster::join(*sys, *node, membership_store::open_sqlite(path).value(), std::move(cfg)).value();
  }
  ~in_process_node() {
    c.reset();
    node.reset();
    sys.reset();
  }
  /// This node's service of grain type `type` (a sharded type's is "shard.<type>"), to tell it
  /// what its own timers would tell it later (an idle tick).
  template <class P>
  ref<detail::grain_service_msg<P>> service(const std::string& type) {
    auto& core = detail::cluster_access::core(*c);
    std::lock_guard lk(core.types_mu);
    return std::any_cast<ref<detail::grain_service_msg<P>>>(core.types.at(type).service);
  }
  std::shared_ptr<log_lines> log;
  std::unique_ptr<troupe::system> sys;
  std::unique_ptr<remote::node> node;
  std::unique_ptr<cluster> c;
};

/// Waits until `done()` or the deadline; false at the deadline.
template <class F>
bool wait_until(F done, std::chrono::nanoseconds limit = std::chrono::seconds(10)) {
  for (auto deadline = std::chrono::steady_clock::now() + limit; !done();) {
    if (std::chrono::steady_clock::now() > deadline) return false;
    std::this_thread::sleep_for(std::chrono::milliseconds(1));  // polling a condition with a deadline
  }
  return true;
}

/// Waits until every node lists `n` members; false at the deadline.
inline bool all_see(std::initializer_list<const in_process_node*> nodes, std::size_t n) {
  return wait_until([&] {
    for (auto* x : nodes)
      if (x->c->members().size() < n) return false;
    return true;
  });
}

/// A grain (or entity) that answers each add with its n and ignores the rest: not durable.
inline behavior<device_msg> echo(const std::string&) {
  return troupe::receive<device_msg>([](const auto& m) {
    if constexpr (std::is_same_v<std::decay_t<decltype(m)>, add>) m.reply_to.tell(m.n);
    return troupe::same;
  });
}

}  // namespace troupe::cluster::testing
