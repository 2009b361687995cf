// actor_id.hpp: the address of an actor, (node, serial), unique within its system.
// Node 0 is the local node; the remote layer will hand out other node numbers, so a ref can
// one day point across a network with the same type. Ids are never reused within a system.
#pragma once

#include <compare>
#include <cstdint>
#include <functional>

namespace troupe {

/// The address of an actor: the node it lives on and its serial number there.
///
///     if (t.who == child.id()) restart_child();
struct actor_id {
  std::uint32_t node = 0;
  std::uint64_t serial = 0;

  friend auto operator<=>(const actor_id&, const actor_id&) = default;
};

}  // namespace troupe

template <>
struct std::hash<troupe::actor_id> {
  std::size_t operator()(const troupe::actor_id& a) const noexcept {
    return std::hash<std::uint64_t>{}(a.serial * 0x9E3779B97F4A7C15ull ^ a.node);
  }
};
