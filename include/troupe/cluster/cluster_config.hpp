// cluster_config.hpp: the settings of one node's membership in a cluster: its cluster's name,
// heartbeat and suspicion timing, the votes that declare a member dead, the idle time after which
// a grain is deactivated, and where grains are placed. Plain values, read once at join.
#pragma once

#include <chrono>
#include <cstddef>
#include <memory>
#include <string>

#include "troupe/cluster/placement.hpp"

namespace troupe::cluster {

/// How a cluster node behaves. The defaults suit a LAN.
///
///     troupe::cluster::cluster_config cfg{.name = "shop", .idle_timeout = std::chrono::minutes(5)};
struct cluster_config {
  /// The cluster's name: nodes of one cluster share it; one store may hold several clusters.
  std::string name = "troupe";
  /// How often the node writes its heartbeat row and reads the membership table.
  std::chrono::nanoseconds heartbeat_interval = std::chrono::milliseconds(250);
  /// A member whose heartbeat row is older than this is suspected (besides the remote layer's
  /// failure detector, which suspects a member whose connection goes down).
  std::chrono::nanoseconds member_timeout = std::chrono::seconds(10);
  /// An up member this node has had no connection to for this long is suspected (one it never
  /// reached: the remote failure detector watches only connections that came up).
  std::chrono::nanoseconds unreachable_after = std::chrono::seconds(3);
  /// Votes older than this no longer count.
  std::chrono::nanoseconds vote_expiry = std::chrono::seconds(30);
  /// Votes that declare a member dead: at most this many, at least one, and never more than
  /// the other up members.
  std::size_t votes_needed = 2;
  /// A grain that received no message for this long is deactivated.
  std::chrono::nanoseconds idle_timeout = std::chrono::minutes(10);
  /// Where grains active nowhere are activated; null: hash_placement.
  std::shared_ptr<cluster::placement> placement{};
};

}  // namespace troupe::cluster
