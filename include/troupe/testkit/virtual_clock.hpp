// virtual_clock.hpp: a timer service whose time moves only when the test says so.
// Actor timers, ask timeouts and every actor's now() follow it. Nothing fires before its due
// time, and nothing fires on its own: the test (usually test_system::advance) moves the time and
// fires what is due, one action at a time in deadline order. Any thread may schedule and cancel.
#pragma once

#include <cstdint>
#include <functional>
#include <map>
#include <mutex>
#include <optional>
#include <unordered_map>
#include <utility>

#include "troupe/core/timer_service.hpp"

namespace troupe::testkit {

/// Virtual time for a system. Usually reached through test_system, which plugs it in.
///
///     auto clock = std::make_shared<troupe::testkit::virtual_clock>();
///     clock->schedule_at(clock->now() + 5min, [](bool fired) { /* ... */ });
///     clock->set_time(clock->now() + 5min);
///     clock->fire_next_due();                    // runs the action with `true`
class virtual_clock final : public timer_service {
 public:
  /// Time starts at a fixed point, so runs with the same seed see the same times.
  virtual_clock();

  clock::time_point now() const override;
  std::uint64_t schedule_at(clock::time_point due, std::function<void(bool)> action) override;
  bool cancel(std::uint64_t id) noexcept override;
  void shutdown() override;

  /// The earliest pending deadline, if any.
  std::optional<clock::time_point> next_due() const;
  /// Moves the time to `t`; time never goes back, so an earlier `t` is ignored. Fires nothing.
  void set_time(clock::time_point t);
  /// Runs the earliest pending action whose deadline is not after now(); false if none is due.
  /// Actions with equal deadlines run in the order they were scheduled.
  bool fire_next_due();
  /// How many actions are pending.
  std::size_t pending() const;

 private:
  using key = std::pair<clock::time_point, std::uint64_t>;  // deadline, then id: a total order
  mutable std::mutex mu_;
  clock::time_point now_;                                 // guarded by mu_
  std::map<key, std::function<void(bool)>> queue_;        // guarded by mu_
  std::unordered_map<std::uint64_t, clock::time_point> due_of_;  // guarded by mu_
  std::uint64_t next_id_ = 1;                             // guarded by mu_
  bool shut_down_ = false;                                // guarded by mu_
};

}  // namespace troupe::testkit
