// kill_actor.hpp: kills a live actor of a system by its id, for the web view's chaos drills.
// The kill goes ahead of the actor's queued messages (actor_context::kill); its supervisor sees
// reason `killed` and decides what follows. Needs system_config::introspection (its table of
// live actors is where the id is found). Any thread.
#pragma once

#include <string>

#include "troupe/core/actor_id.hpp"
#include "troupe/core/result.hpp"
#include "troupe/core/system.hpp"

namespace troupe::observe::web {

/// Fails with observe::errc::introspection_off, or observe::errc::no_such_actor.
result<void> kill_actor(system& sys, actor_id id, std::string reason = "killed from the web view");

}  // namespace troupe::observe::web
