// device_grain.hpp: the grain the cluster tests and their node processes share: a counter per
// device whose total is durable state (saved before each reply), so a test can tell a grain
// re-activated after a node's death from one that lost its state.
#pragma once

#include <cstdint>
#include <functional>
#include <memory>
#include <string>
#include <variant>

#include "troupe/core/behavior.hpp"
#include "troupe/core/ref.hpp"
#include "troupe/persistence/durable_state_behavior.hpp"
#include "troupe/persistence/serial_codec.hpp"

namespace troupe::cluster::testing {

struct add {
  std::int64_t n;
  troupe::ref<std::int64_t> reply_to;
};
struct get {
  troupe::ref<std::int64_t> reply_to;
  bool unanswered = false;  // true: handled as a hold (a retried call's first try, node_loss_test)
};
struct hold {  // never answered: an ask that only a failure (or its timeout) can end
  troupe::ref<std::int64_t> reply_to;
};
using device_msg = std::variant<add, get, hold>;

struct device_state {
  std::int64_t total = 0;
};

/// A device grain: `total` survives deactivation and the loss of its node (durable state).
/// `served`, if set, is called as the grain handles each message (the partition test's record of
/// when each activation served).
inline troupe::behavior<device_msg> device(std::shared_ptr<persistence::journal> journal, const std::string& key,
                                           std::function<void()> served = {}) {
  using fx = persistence::effect<device_state, device_state>;
  return persistence::durable_state_behavior(persistence::durable_state_spec<device_msg, device_state>{
      .persistence_id = "device/" + key,
      .journal = std::move(journal),
      .states = std::make_shared<persistence::serial_codec<device_state>>(),
      .empty_state = {},
      .on_command = [served = std::move(served)](const device_state& s, const device_msg& m) -> fx {
        if (served) served();
        if (auto* a = std::get_if<add>(&m))
          return fx::persist(device_state{s.total + a->n}).then_reply(a->reply_to, [](const device_state& s) {
            return s.total;
          });
        if (std::holds_alternative<hold>(m) || (std::holds_alternative<get>(m) && std::get<get>(m).unanswered))
          return fx::none();
        return fx::none().then_reply(std::get<get>(m).reply_to, [](const device_state& s) { return s.total; });
      }});
}

}  // namespace troupe::cluster::testing
