// deterministic_scheduler.hpp: a scheduler with no threads, driven by the test.
// Runnable actors wait in a list until the test thread calls run_one() or run_until_idle(); each
// step picks one of them with a seeded generator and runs one turn of it. The same seed and the
// same test give the same order, so a failing interleaving can be replayed exactly. Only the
// thread that drives it runs actors; schedule() may be called from any thread.
#pragma once

#include <cstdint>
#include <mutex>
#include <random>
#include <thread>
#include <vector>

#include "troupe/core/scheduler.hpp"

namespace troupe::testkit {

/// Runs actors one turn at a time, in an order chosen by a seeded generator.
/// Usually reached through test_system, which plugs it into a troupe::system.
///
///     auto sched = std::make_shared<troupe::testkit::deterministic_scheduler>(42);
///     troupe::system_config cfg;
///     cfg.scheduler = sched;
///     troupe::system sys{cfg};
///     auto c = sys.spawn(counter(0));
///     c.tell(add{5});
///     sched->run_until_idle();           // the counter has handled add{5}
class deterministic_scheduler final : public scheduler {
 public:
  /// `messages_per_turn` bounds each turn: 1 (the default) interleaves actors message by
  /// message, which explores the most orders.
  explicit deterministic_scheduler(std::uint64_t seed, unsigned messages_per_turn = 1);

  /// Runs one turn of one runnable actor, picked by the generator. False if none was runnable.
  bool run_one();
  /// Runs turns until no actor is runnable; returns how many ran.
  std::size_t run_until_idle();
  /// Runs one turn of the actor with serial `serial` if it is runnable; false otherwise.
  bool run_actor(std::uint64_t serial);
  /// How many actors are runnable now.
  std::size_t runnable() const;
  std::uint64_t seed() const noexcept { return seed_; }

  void schedule(schedulable& actor, schedule_hint hint) noexcept override;
  void start() override {}
  void stop() noexcept override {}
  bool owns_current_thread() const noexcept override;
  void run_while_waiting() override { run_until_idle(); }

 private:
  void run_turn_of(schedulable* actor);

  const std::uint64_t seed_;
  const unsigned budget_;
  std::mt19937_64 rng_;  // driving thread only
  mutable std::mutex mu_;
  std::vector<schedulable*> ready_;  // guarded by mu_; each holds the runtime's reference
  std::thread::id turn_thread_;       // guarded by mu_: the thread inside a turn, if any
};

}  // namespace troupe::testkit
