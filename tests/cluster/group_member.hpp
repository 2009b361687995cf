// group_member.hpp: the actor the cluster's group tests put in groups and register as a
// service: it answers its name ("a/alice": its node, then its own), so a test can ask every
// member in a listing, local or remote, who it is.
#pragma once

#include <string>
#include <variant>

#include "troupe/core/behavior.hpp"
#include "troupe/core/ref.hpp"

namespace troupe::cluster::testing {

struct who_are_you {
  troupe::ref<std::string> reply_to;
};
struct quit_member {};
using member_msg = std::variant<who_are_you, quit_member>;

inline troupe::behavior<member_msg> group_member(std::string name) {
  return troupe::receive<member_msg>(
      [name](const who_are_you& w) {
        w.reply_to.tell(name);
        return troupe::same;
      },
      [](const quit_member&) { return troupe::stopped; });
}

}  // namespace troupe::cluster::testing
