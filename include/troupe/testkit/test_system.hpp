// test_system.hpp: an actor system that runs on the test's thread, in a seeded order, in
// virtual time. Nothing runs until the test calls run_one(), run_until_idle() or advance(); the
// order of runnable actors comes from the seed, and timers, timeouts and asks' deadlines follow
// a virtual clock that only advance() moves. Runtime log lines and dead letters are captured.
// Use it from one thread (the test's); actors' code is the same as under a troupe::system.
#pragma once

#include <chrono>
#include <cstdint>
#include <functional>
#include <memory>
#include <string>
#include <string_view>
#include <vector>

#include "troupe/core/actor_observer.hpp"
#include "troupe/core/system.hpp"
#include "troupe/testkit/deterministic_scheduler.hpp"
#include "troupe/testkit/seeds.hpp"
#include "troupe/testkit/virtual_clock.hpp"

namespace troupe::testkit {

/// A line the runtime logged (a crash, for instance).
///
///     for (const auto& line : ts.logs())
///       if (line.level == troupe::log_level::error) std::cout << line.text << '\n';
struct log_line {
  log_level level;
  std::string text;
};

/// How a test_system is built.
///
///     troupe::testkit::test_system ts{{.seed = 7, .messages_per_turn = 64}};  // coarser turns
struct test_system_options {
  /// Picks the order in which runnable actors run.
  std::uint64_t seed = seed_from_environment();
  /// Messages per turn: 1 interleaves actors message by message.
  unsigned messages_per_turn = 1;
  /// Sees every actor's effects (behavior_test_kit uses it); null for none.
  std::shared_ptr<actor_observer> observer{};
};

/// A deterministic actor system: one thread, a seeded order, virtual time.
///
///     troupe::testkit::test_system ts{42};                 // seed 42
///     auto c = ts.spawn(counter(0));
///     c.tell(add{5});
///     auto total = c.ask<int>([](troupe::ref<int> r) { return get{r}; }, 1s);
///     ts.run_until_idle();                                 // the ask is answered
///     assert(*total.get() == 5);
///     ts.advance(5min);                                    // timers due in 5 min have fired
class test_system {
 public:
  /// A system whose order comes from `seed` (by default TROUPE_TEST_SEED, or 1).
  explicit test_system(std::uint64_t seed = seed_from_environment());
  explicit test_system(test_system_options opts);
  /// Stops every actor, running them on this thread until they have stopped.
  ~test_system();
  test_system(const test_system&) = delete;
  test_system& operator=(const test_system&) = delete;

  /// The system the actors live in: pass it where a troupe::system& is wanted.
  troupe::system& system() noexcept { return *system_; }
  template <class P>
  ref<P> spawn(behavior<P> b, spawn_options opts = {}) {
    return system_->spawn(std::move(b), std::move(opts));
  }

  /// Runs one turn of one runnable actor (picked by the seed). False if none was runnable.
  bool run_one();
  /// Runs actors until none is runnable, firing timers that are due now (not later) as it
  /// goes. Returns how many turns ran.
  std::size_t run_until_idle();
  /// Moves virtual time forward by `d`: fires every timer due within it, in deadline order, and
  /// runs the actors until idle after each, so that timers set meanwhile inside the window fire
  /// too. Nothing fires early.
  void advance(std::chrono::nanoseconds d);
  /// Like advance(within), but stops as soon as `done()` holds after the actors went idle;
  /// returns whether it held. Time then stands where it held.
  bool advance_until(const std::function<bool()>& done, std::chrono::nanoseconds within);

  /// The virtual time.
  timer_service::clock::time_point now() const { return clock_->now(); }
  /// How far virtual time has moved since the system was built.
  std::chrono::nanoseconds elapsed() const { return clock_->now() - start_; }
  std::uint64_t seed() const noexcept { return scheduler_->seed(); }

  /// Every line the runtime has logged so far.
  std::vector<log_line> logs() const;
  /// True if some logged line contains `fragment`.
  bool logged(std::string_view fragment) const;

  /// Every message that reached no actor so far (the receiver had stopped).
  std::vector<dead_letter> dead_letters() const;
  std::uint64_t dead_letter_count() const noexcept { return system_->dead_letter_count(); }

  deterministic_scheduler& scheduler() noexcept { return *scheduler_; }
  virtual_clock& clock() noexcept { return *clock_; }

 private:
  struct capture;
  std::shared_ptr<deterministic_scheduler> scheduler_;
  std::shared_ptr<virtual_clock> clock_;
  timer_service::clock::time_point start_;
  std::shared_ptr<capture> capture_;
  std::unique_ptr<troupe::system> system_;  // last: destroyed first, while the rest still stands
};

}  // namespace troupe::testkit
