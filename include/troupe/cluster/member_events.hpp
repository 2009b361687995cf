// member_events.hpp: what a cluster tells its subscribers about membership (Akka's MemberUp and
// MemberRemoved). Each member's up comes before its removal; a subscriber hears the members
// already up when it subscribes. Events are derived from the membership table as each node reads
// it, so two nodes may hear one change up to a heartbeat interval apart.
#pragma once

#include <string>

namespace troupe::cluster {

/// A member came up (the node itself included, once it has joined).
///
///     [](const troupe::cluster::member_up& u) { std::cout << u.node << " is up at " << u.address; }
struct member_up {
  std::string node;
  std::string address;
};
/// A member left, or was voted out; `node` may be this node (it then stops serving grains).
///
///     [](const troupe::cluster::member_removed& r) { std::cout << r.node << ": " << r.reason; }
struct member_removed {
  std::string node;
  std::string reason;
};

}  // namespace troupe::cluster
