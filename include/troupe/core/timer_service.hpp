// timer_service.hpp: the runtime's clock and its one place for pending deadlines.
// Actor timers, ask timeouts and the watchdog all live here: one thread and one heap per system,
// never a thread per timer, so 100,000 pending timers cost memory only. The test kit plugs in a
// virtual clock that the test advances. Any thread may schedule and cancel.
#pragma once

#include <chrono>
#include <cstdint>
#include <functional>

namespace troupe {

/// Schedules actions at deadlines. Implemented by the runtime (a thread and a heap) and by the
/// test kit (virtual time).
///
///     auto id = timers.schedule_at(timers.now() + 1s, [](bool fired) { if (fired) tick(); });
///     timers.cancel(id);
class timer_service {
 public:
  using clock = std::chrono::steady_clock;
  virtual ~timer_service() = default;
  /// The time the service's deadlines are measured against.
  virtual clock::time_point now() const = 0;
  /// Calls `action(true)` at `due` (on the service's thread), or `action(false)` if the service
  /// shuts down first. Returns an id for cancel(); ids are never 0.
  virtual std::uint64_t schedule_at(clock::time_point due, std::function<void(bool fired)> action) = 0;
  /// Cancels a pending action; false if it already ran, is running, or was cancelled.
  virtual bool cancel(std::uint64_t id) noexcept = 0;
  /// Runs every pending action with `false`, then refuses new ones (their action runs at once
  /// with `false`). Called once by the system after its actors have stopped.
  virtual void shutdown() = 0;
};

}  // namespace troupe
