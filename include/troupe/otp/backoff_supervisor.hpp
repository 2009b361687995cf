// backoff_supervisor.hpp: a supervisor of one child that waits longer after each failure
// before starting it again (Akka's BackoffSupervisor): for a child whose failures come from
// outside (a database down, a peer unreachable), where restarting at once only adds load.
// Spawn it like any actor; it runs on its own turn and reads time only through its context,
// so the test kit's virtual time governs its delays. Its delays come from its own seeded
// random source, never a global one.
#pragma once

#include <chrono>
#include <cstdint>
#include <functional>
#include <variant>

#include "troupe/core/behavior.hpp"
#include "troupe/core/ref.hpp"
#include "troupe/core/signals.hpp"
#include "troupe/otp/child_spec.hpp"
#include "troupe/otp/supervisor.hpp"

namespace troupe::otp {

/// How long a backoff supervisor waits before restarting its child.
///
///     otp::backoff_options opts{.min_backoff = 100ms, .max_backoff = 30s, .random_factor = 0.2,
///                               .reset_after = 10s};
struct backoff_options {
  /// The wait after the first failure; it doubles after each further one, up to max_backoff.
  std::chrono::nanoseconds min_backoff = std::chrono::milliseconds{100};
  std::chrono::nanoseconds max_backoff = std::chrono::seconds{10};
  /// Each wait is stretched by a random factor in [1, 1 + random_factor], so that many
  /// children failing together do not all come back at the same moment.
  double random_factor = 0.2;
  /// A child that stays up this long is healthy again: the next failure waits min_backoff.
  std::chrono::nanoseconds reset_after = std::chrono::seconds{5};
  /// Seeds the random factor; 0 seeds it from the supervisor's actor id.
  std::uint64_t seed = 0;
};

/// The wait before restart number `attempt` (0 for the first): min(max, min * 2^attempt)
/// stretched by `1 + random01 * random_factor`, with random01 in [0, 1).
std::chrono::nanoseconds backoff_delay(const backoff_options& opts, unsigned attempt, double random01);

/// What a backoff supervisor reports about its child.
struct backoff_status {
  child_ref child;     ///< empty while waiting to restart it
  unsigned failures;   ///< since the child was last healthy for reset_after
};
/// Asks a backoff supervisor for its status.
struct get_backoff_status {
  ref<backoff_status> reply_to;
};
namespace detail {
struct backoff_restart {};
struct backoff_reset {};
}  // namespace detail
/// The protocol of a backoff supervisor. stop_tree stops the child (within its shutdown
/// time), then the supervisor.
using backoff_msg = std::variant<get_backoff_status, stop_tree, detail::child_exited, detail::shutdown_timeout,
                                 detail::backoff_restart, detail::backoff_reset>;

/// Spawns the child from the backoff supervisor's context and returns its handle.
using backoff_start = std::function<child_ref(actor_context<backoff_msg>& ctx)>;

/// What the backoff supervisor does with its child: the restart type decides whether it comes
/// back at all (permanent: always, transient: after a failure, temporary: never; when it does
/// not, the backoff supervisor stops normally), and the shutdown time bounds its stop.
struct backoff_child_options {
  restart_type restart = restart_type::permanent;
  std::chrono::nanoseconds shutdown = std::chrono::seconds{5};
  spawn_options spawn{};  ///< how the child is spawned: give it a name to reach it across restarts
};

/// A backoff supervisor of the child `start` spawns. A start that throws counts as a failure.
behavior<backoff_msg> backoff_supervisor(backoff_start start, backoff_options opts, backoff_child_options child);

/// A backoff supervisor of the child whose behaviour `make()` returns.
///
///     auto b = sys.spawn(otp::backoff_supervisor([] { return db_connection(); },
///                                                {.min_backoff = 100ms, .max_backoff = 30s},
///                                                {.spawn = {.name = "db"}}));
template <class F>
  requires requires(F& f) { f(); }
behavior<backoff_msg> backoff_supervisor(F make, backoff_options opts = {}, backoff_child_options child = {}) {
  auto spawn = child.spawn;
  return backoff_supervisor(
      backoff_start([make = std::move(make), spawn = std::move(spawn)](actor_context<backoff_msg>& ctx) mutable -> child_ref {
        return ctx.spawn(make(), spawn);
      }),
      opts, std::move(child));
}

}  // namespace troupe::otp
