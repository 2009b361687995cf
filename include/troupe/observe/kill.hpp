// kill.hpp: kills a live actor of a system by its id, for chaos drills (Erlang's
// exit(Pid, kill) from observer). The web view's kill route (and so `troupectl kill`) calls it,
// after checking the view's token. The kill goes ahead of the actor's queued messages; the actor
// traps nothing and handles no message after it; its children are killed first; its supervisor,
// links and watchers see reason `killed` with `reason`'s text, and the supervisor decides what
// follows. Needs system_config::introspection (its table of live actors is where the id is
// found). Any thread.
#pragma once

#include <string>

#include "troupe/core/actor_id.hpp"
#include "troupe/core/result.hpp"
#include "troupe/observe/error.hpp"

namespace troupe {
class system;
}

namespace troupe::observe {

/// Kills the live local actor `id`. Fails with errc::introspection_off, or errc::no_such_actor
/// (no live actor has that id, or it is on another node). It returns once the kill is sent, not
/// when the actor has stopped: watch it to know that.
///
///     if (auto r = troupe::observe::kill(sys, id, "chaos drill"); !r) std::cerr << r.error().message() << '\n';
result<void> kill(system& sys, actor_id id, std::string reason = "killed");

}  // namespace troupe::observe
