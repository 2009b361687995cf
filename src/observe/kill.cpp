// kill.cpp: finds the actor in the introspection table and kills it through its control block.
#include "troupe/observe/kill.hpp"

#include "troupe/core/detail/cell.hpp"
#include "troupe/core/detail/instruments.hpp"
#include "troupe/core/system.hpp"

namespace troupe::observe {

result<void> kill(system& sys, actor_id id, std::string reason) {
  auto* table = troupe::detail::system_access::core(sys).instruments();
  if (table == nullptr)
    return error{errc::introspection_off, "killing by id needs system_config::introspection (its table of live actors)"};
  if (id.node != 0) return error{errc::no_such_actor, "actor " + std::to_string(id.serial) + " is on another node"};
  // Take a counted reference under the table's lock (a cell seen there is alive and had not
  // finalized), and send the kill after the lock is released: for_each wants its function quick.
  troupe::detail::counted<troupe::detail::cell> target;
  table->for_each([&](const troupe::detail::instruments::entry& e) {
    if (!target && e.serial == id.serial) target = troupe::detail::counted<troupe::detail::cell>::share(e.c);
  });
  if (!target) return error{errc::no_such_actor, "no live actor " + std::to_string(id.serial)};
  target->request_kill(std::move(reason));
  return {};
}

}  // namespace troupe::observe
