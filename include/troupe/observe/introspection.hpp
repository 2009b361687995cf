// introspection.hpp: what a running system holds, as plain values: its actors, supervision
// trees, workers and dead letters (Erlang's observer, Orleans' dashboard, as an API).
// Any thread may call these functions; each returns a snapshot taken while actors keep running,
// so an actor's figures are each exact at some moment but not all at the same one. The actor
// figures need `system_config::introspection` (off by default, so a system that never looks
// pays nothing on tell or spawn); without it they fail with observe::errc::introspection_off.
// Workers and dead letters are always available.
#pragma once

#include <chrono>
#include <cstddef>
#include <cstdint>
#include <optional>
#include <string>
#include <vector>

#include "troupe/core/actor_id.hpp"
#include "troupe/core/result.hpp"
#include "troupe/core/scheduler.hpp"
#include "troupe/core/signals.hpp"
#include "troupe/observe/error.hpp"

namespace troupe {
class system;
}

namespace troupe::observe {

/// What an actor is doing: running a turn or runnable (`running`), idle with an empty mailbox
/// (`waiting`), or on its way out (`stopping`).
///
///     if (a.state == troupe::observe::actor_state::waiting) ++idle;
enum class actor_state { running, waiting, stopping };

/// "running", "waiting" or "stopping".
///
///     std::string s(troupe::observe::to_string(a.state));
const char* to_string(actor_state s) noexcept;

/// An actor on another node, in a link or watch across nodes.
///
///     for (auto& r : info->remote_links) std::cout << "#" << r.id.serial << " on " << r.node << '\n';
struct remote_actor {
  std::string node;  ///< the node's name
  actor_id id;       ///< the actor as this node addresses it
  friend bool operator==(const remote_actor&, const remote_actor&) = default;
};

/// One live actor, as seen at the moment of the snapshot.
///
///     for (auto& a : *troupe::observe::list_actors(sys))  // * on a temporary moves the vector out
///       std::cout << a.id.serial << ' ' << a.name << ' ' << a.mailbox_length << '\n';
struct actor_info {
  actor_id id;
  std::string name;                ///< empty for an unnamed actor
  std::string protocol;            ///< the demangled type of the messages it takes
  std::optional<actor_id> parent;  ///< none for a top-level actor
  std::vector<actor_id> children;  ///< in list_actors and find_actor; empty in top_actors
  actor_state state = actor_state::waiting;
  /// Messages waiting. Exact for a counted or bounded mailbox (user messages); otherwise a
  /// tally (every envelope: timer messages and notices too) that counts what a running turn
  /// took until the turn ends (docs/observe.md, "What is guaranteed").
  std::size_t mailbox_length = 0;
  std::uint64_t messages_handled = 0;  ///< since spawn; a running turn's count joins at its end
  double messages_per_second = 0;      ///< see top_actors(sort_key::message_rate)
  std::uint64_t restarts = 0;          ///< children this actor restarted (a supervisor's count)
  std::size_t memory_bytes = 0;        ///< approximate: control block, extras, queued messages
  bool blocking = false;               ///< runs on the blocking pool
  /// Its links, the actors it watches and the actors that watch it (Erlang's `links`,
  /// `monitors` and `monitored_by`), ordered by id; local actors here, those on other nodes in
  /// the `remote_` lists below. In list_actors and find_actor; empty in top_actors.
  std::vector<actor_id> links;
  std::vector<actor_id> monitors;
  std::vector<actor_id> monitored_by;
  /// The same across nodes (a remote::node's links and watches, kept by its node thread), by
  /// node name and then id (the other actor as this node addresses it: its ref's id).
  std::vector<remote_actor> remote_links;
  std::vector<remote_actor> remote_monitors;
  std::vector<remote_actor> remote_monitored_by;
};

/// What top_actors orders by, largest first.
///
///     auto busiest = troupe::observe::top_actors(sys, troupe::observe::sort_key::mailbox_length);
enum class sort_key { mailbox_length, message_rate, memory, messages_handled };

/// An actor and its descendants: a supervision tree when the root is a supervisor.
///
///     void print(const troupe::observe::tree_node& n, int depth = 0) {
///       std::cout << std::string(depth * 2, ' ') << n.actor.name << '\n';
///       for (auto& c : n.children) print(c, depth + 1);
///     }
struct tree_node {
  actor_info actor;
  std::vector<tree_node> children;  ///< ordered by id
};

/// One thread of a scheduler: turns run, actors stolen, time spent parked.
///
///     for (auto& w : troupe::observe::workers(sys)) std::cout << w.pool << w.index << ' ' << w.turns << '\n';
struct worker_info {
  std::string pool;  ///< "workers" or "blocking"
  unsigned index = 0;
  std::uint64_t turns = 0;
  std::uint64_t steals = 0;
  std::chrono::nanoseconds parked{0};
};

/// How many messages reached no actor, for one reason.
///
///     for (auto& d : troupe::observe::dead_letters(sys)) std::cout << d.reason << ' ' << d.count << '\n';
struct dead_letter_count {
  std::string reason;  ///< to_string(troupe::dead_letter_reason)
  std::uint64_t count = 0;
};

/// Every live actor, ordered by id, with its children. Fails with errc::introspection_off.
/// Costs about a microsecond per actor; prefer top_actors for a million.
result<std::vector<actor_info>> list_actors(system& sys);

/// One actor by id (with its children); errc::no_such_actor if it is not alive.
result<actor_info> find_actor(system& sys, actor_id id);

/// The `n` largest actors by `key`, largest first, without children (100 ms or less with a
/// million actors). For sort_key::message_rate the rate is over the time since the previous
/// message_rate query of this system (since the system began, for the first); other keys leave
/// messages_per_second at 0.
result<std::vector<actor_info>> top_actors(system& sys, sort_key key, std::size_t n = 50);

/// The trees of live actors, one per top-level actor, ordered by id.
result<std::vector<tree_node>> supervision_trees(system& sys);

/// The tree under one actor; errc::no_such_actor if it is not alive.
result<tree_node> subtree(system& sys, actor_id root);

/// The threads of the system's schedulers (none for a scheduler that keeps no statistics, such as
/// the test kit's). Always available.
std::vector<worker_info> workers(system& sys);

/// Dead letters since the system began, one entry per reason (zero counts included), then the
/// total under "total". Always available.
std::vector<dead_letter_count> dead_letters(system& sys);

/// How many actors are alive; errc::introspection_off without introspection.
result<std::size_t> actor_count(system& sys);

}  // namespace troupe::observe
