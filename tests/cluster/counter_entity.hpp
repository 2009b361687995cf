// counter_entity.hpp: the sharded entity the sharding tests and their node processes share: a
// counter per id whose total is durable state (saved before each reply), so a test can tell an
// entity that moved with its state from one that lost it or ran twice. It stops on `passivate`
// (the hand-off's stop message) unless its id starts with "stuck", which ignores it (to hold a
// hand-off open until its timeout).
#pragma once

#include <functional>
#include <memory>
#include <string>
#include <variant>

#include "cluster/device_grain.hpp"

namespace troupe::cluster::testing {

struct passivate {};
using counter_msg = std::variant<add, get, passivate>;

/// Entity `id`; `on_stop` runs when it accepts the stop message (before it stops).
/// Its state is saved as "counter/<scope><id>".
inline troupe::behavior<counter_msg> counter_entity(std::shared_ptr<persistence::journal> journal, const std::string& scope,
                                                    const std::string& id, std::function<void()> on_stop) {
  using fx = persistence::effect<device_state, device_state>;
  bool stubborn = id.rfind("stuck", 0) == 0;
  return persistence::durable_state_behavior(persistence::durable_state_spec<counter_msg, device_state>{
      .persistence_id = "counter/" + scope + id,
      .journal = std::move(journal),
      .states = std::make_shared<persistence::serial_codec<device_state>>(),
      .empty_state = {},
      .on_command = [stubborn, on_stop](const device_state& s, const counter_msg& m) -> fx {
        if (auto* a = std::get_if<add>(&m))
          return fx::persist(device_state{s.total + a->n}).then_reply(a->reply_to, [](const device_state& s) {
            return s.total;
          });
        if (std::holds_alternative<passivate>(m)) {
          if (stubborn) return fx::none();
          on_stop();
          return fx::stop();
        }
        return fx::none().then_reply(std::get<get>(m).reply_to, [](const device_state& s) { return s.total; });
      }});
}

}  // namespace troupe::cluster::testing
