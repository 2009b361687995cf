// actor_observer.hpp: an optional hook that sees what actors do to the runtime, for tools.
// The test kit's behaviour test kit records an actor's effects through it: children spawned,
// timers started and cancelled, behaviours replaced, stops. It is null in production
// (system_config::observer), and the runtime consults it only on those paths, never on tell.
// Calls come on the acting actor's turn (spawns of top-level actors: on the spawning thread), so
// an observer of a multi-threaded system must be thread-safe.
#pragma once

#include <chrono>
#include <string_view>
#include <typeinfo>

#include "troupe/core/exit_reason.hpp"

namespace troupe {

namespace detail {
class cell;
}

enum class timer_mode;  // actor_context.hpp

/// Told about the effects of every actor of a system. Each function does nothing by default.
///
///     struct spawn_counter final : troupe::actor_observer {
///       std::atomic<int> spawns{0};
///       void spawned(troupe::detail::cell*, troupe::detail::cell&, const std::type_info&) override { ++spawns; }
///     };
///     troupe::system_config cfg;
///     cfg.observer = std::make_shared<spawn_counter>();
class actor_observer {
 public:
  virtual ~actor_observer() = default;
  /// `child` was spawned by `parent` (null for a top-level actor), speaking `protocol`. It has
  /// not run yet.
  virtual void spawned(detail::cell* parent, detail::cell& child, const std::type_info& protocol) {
    (void)parent, (void)child, (void)protocol;
  }
  /// `c` started a keyed timer (after cancelling one under the same key, if any).
  virtual void timer_started(detail::cell& c, std::string_view key, std::chrono::nanoseconds delay,
                             timer_mode mode) {
    (void)c, (void)key, (void)delay, (void)mode;
  }
  /// `c` cancelled the running timer under `key` (explicitly, or by starting another under it).
  virtual void timer_cancelled(detail::cell& c, std::string_view key) { (void)c, (void)key; }
  /// A handler of `c` returned a new behaviour (not `same`, not `stopped`).
  virtual void became(detail::cell& c) { (void)c; }
  /// `c` has terminated with `reason` (its children have terminated before it).
  virtual void stopped(detail::cell& c, const exit_reason& reason) { (void)c, (void)reason; }
};

}  // namespace troupe
