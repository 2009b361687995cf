// target_actor.hpp: the actor that watch and link tests observe: it stops on `quit`, throws
// "boom" on `crash` (so it fails with an exception reason), and answers `get` with 1.
#pragma once

#include <stdexcept>
#include <variant>

#include "troupe/troupe.hpp"

namespace troupe_test::target_actor {

struct quit {};
struct crash {};
struct get {
  troupe::ref<int> reply_to;
};
using target_msg = std::variant<quit, crash, get>;

inline troupe::behavior<target_msg> target() {
  return troupe::receive<target_msg>([](quit) { return troupe::stopped; },
                                     [](crash) -> troupe::behavior<target_msg> { throw std::runtime_error("boom"); },
                                     [](const get& g) { g.reply_to.tell(1); });
}

}  // namespace troupe_test::target_actor
