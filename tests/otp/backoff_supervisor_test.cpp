// backoff_supervisor_test.cpp: otp::backoff_supervisor restarts its child after a growing,
// jittered delay, and forgets the failures once the child has been healthy for a while. The
// delays are checked to the nanosecond in virtual time; two tests keep real threads covered.
#include "troupe/otp/backoff_supervisor.hpp"

#include <gtest/gtest.h>

#include <chrono>
#include <cstdint>
#include <memory>
#include <string>

#include "core/test_support.hpp"
#include "otp/worker_actor.hpp"
#include "troupe/testkit/test_system.hpp"
#include "troupe/troupe.hpp"

namespace {

using namespace troupe_test;
using namespace troupe_test::worker_actor;
using namespace std::chrono_literals;
namespace otp = troupe::otp;
using strings = std::vector<std::string>;

otp::backoff_status status_of(const troupe::ref<otp::backoff_msg>& b) {
  return await(b.ask<otp::backoff_status>([](troupe::ref<otp::backoff_status> r) { return otp::get_backoff_status{r}; },
                                          deadline))
      .value();
}

TEST(BackoffSupervisor, TheDelayDoublesFromTheMinimumUpToTheMaximum) {
  otp::backoff_options opts{.min_backoff = 100ms, .max_backoff = 1s, .random_factor = 0.0};
  EXPECT_EQ(otp::backoff_delay(opts, 0, 0.9), 100ms);
  EXPECT_EQ(otp::backoff_delay(opts, 1, 0.9), 200ms);
  EXPECT_EQ(otp::backoff_delay(opts, 3, 0.9), 800ms);
  EXPECT_EQ(otp::backoff_delay(opts, 4, 0.9), 1s);
  EXPECT_EQ(otp::backoff_delay(opts, 1000, 0.9), 1s);
}

TEST(BackoffSupervisor, TheRandomFactorStretchesTheDelay) {
  otp::backoff_options opts{.min_backoff = 100ms, .max_backoff = 1s, .random_factor = 0.5};
  EXPECT_EQ(otp::backoff_delay(opts, 0, 0.0), 100ms);
  EXPECT_EQ(otp::backoff_delay(opts, 0, 0.5), 125ms);
  EXPECT_EQ(otp::backoff_delay(opts, 4, 0.5), 1250ms);
}

TEST(BackoffSupervisor, RestartsACrashedChildNoSoonerThanTheMinimumBackoff) {
  troupe::system sys{quiet_config()};
  auto log = std::make_shared<event_log>();
  auto b = sys.spawn(otp::backoff_supervisor([log] { return worker("w", log); },
                                             {.min_backoff = 20ms, .max_backoff = 1s, .random_factor = 0.0,
                                              .reset_after = 10s},
                                             {.spawn = {.name = "w"}}));
  ASSERT_EQ(next_events(*log, 1), (strings{"start:w"}));
  const auto crashed_at = std::chrono::steady_clock::now();
  named(sys, "w").tell(crash{});
  ASSERT_EQ(next_events(*log, 2), (strings{"stop:w", "start:w"}));
  EXPECT_GE(std::chrono::steady_clock::now() - crashed_at, 20ms);
  EXPECT_EQ(status_of(b).failures, 1u);
  ASSERT_TRUE(wait_until([&] { return static_cast<bool>(status_of(b).child); }));
}

TEST(BackoffSupervisor, AChildHealthyForResetAfterStartsAgainFromTheMinimumBackoff) {
  troupe::system sys{quiet_config()};
  auto log = std::make_shared<event_log>();
  auto b = sys.spawn(otp::backoff_supervisor([log] { return worker("w", log); },
                                             {.min_backoff = 1ms, .max_backoff = 1s, .random_factor = 0.0,
                                              .reset_after = 20ms},
                                             {.spawn = {.name = "w"}}));
  ASSERT_EQ(next_events(*log, 1).size(), 1u);
  for (unsigned i = 1; i <= 2; ++i) {
    named(sys, "w").tell(crash{});
    ASSERT_EQ(next_events(*log, 2), (strings{"stop:w", "start:w"}));
  }
  EXPECT_GE(status_of(b).failures, 1u);  // 2, unless the second incarnation already got healthy
  ASSERT_TRUE(wait_until([&] { return status_of(b).failures == 0; }));
}

// --- virtual time: the exact delays ---------------------------------------------------------------

struct virtual_backoff {
  troupe::testkit::test_system ts;
  std::shared_ptr<event_log> log = std::make_shared<event_log>();
  troupe::ref<otp::backoff_msg> b;
  explicit virtual_backoff(otp::backoff_options opts)
      : b(ts.spawn(otp::backoff_supervisor([log = log] { return worker("w", log); }, opts, {.spawn = {.name = "w"}}))) {
    ts.run_until_idle();
  }
  void crash_child() {
    named(ts.system(), "w").tell(crash{});
    ts.run_until_idle();
  }
  // The child restarts `delay` after the crash, not a nanosecond sooner.
  void expect_restart_after(std::chrono::nanoseconds delay) {
    ASSERT_EQ(log->drain(), (strings{"stop:w"}));
    ts.advance(delay - 1ns);
    ASSERT_EQ(log->drain(), strings{}) << "restarted before " << delay.count() << " ns";
    ts.advance(1ns);
    ASSERT_EQ(log->drain(), (strings{"start:w"})) << "not restarted at " << delay.count() << " ns";
  }
  otp::backoff_status status() {
    auto f = b.ask<otp::backoff_status>([](troupe::ref<otp::backoff_status> r) { return otp::get_backoff_status{r}; }, 1s);
    ts.run_until_idle();
    return f.get().value();
  }
};

TEST(BackoffSupervisor, RestartsAfterDelaysThatDoubleFromTheMinimumToTheMaximumInVirtualTime) {
  virtual_backoff v({.min_backoff = 100ms, .max_backoff = 300ms, .random_factor = 0.0, .reset_after = 10s});
  ASSERT_EQ(v.log->drain(), (strings{"start:w"}));
  for (auto delay : {100ms, 200ms, 300ms, 300ms}) {  // each crash comes at once after the restart
    v.crash_child();
    v.expect_restart_after(delay);
  }
  EXPECT_EQ(v.status().failures, 4u);
}

TEST(BackoffSupervisor, AChildHealthyForResetAfterStartsAgainFromTheMinimumInVirtualTime) {
  virtual_backoff v({.min_backoff = 100ms, .max_backoff = 1s, .random_factor = 0.0, .reset_after = 10s});
  v.log->drain();
  v.crash_child();
  v.expect_restart_after(100ms);
  v.crash_child();
  v.expect_restart_after(200ms);
  v.ts.advance(10s - 1ns);  // healthy, a nanosecond short of reset_after
  EXPECT_EQ(v.status().failures, 2u);
  v.ts.advance(1ns);
  EXPECT_EQ(v.status().failures, 0u);
  v.crash_child();
  v.expect_restart_after(100ms);
}

TEST(BackoffSupervisor, AFailureBeforeResetAfterKeepsTheDelayGrowingInVirtualTime) {
  virtual_backoff v({.min_backoff = 100ms, .max_backoff = 1s, .random_factor = 0.0, .reset_after = 10s});
  v.log->drain();
  v.crash_child();
  v.expect_restart_after(100ms);
  v.ts.advance(10s - 1ns);  // up almost long enough to count as healthy
  v.crash_child();
  v.expect_restart_after(200ms);
}

TEST(BackoffSupervisor, TheRandomFactorKeepsEachDelayBetweenTheBackoffAndItsStretchInVirtualTime) {
  for (std::uint64_t seed = 1; seed <= 20; ++seed) {
    virtual_backoff v({.min_backoff = 100ms, .max_backoff = 1s, .random_factor = 0.5, .reset_after = 10s, .seed = seed});
    v.log->drain();
    v.crash_child();
    ASSERT_EQ(v.log->drain(), (strings{"stop:w"}));
    v.ts.advance(100ms - 1ns);
    EXPECT_EQ(v.log->drain(), strings{}) << "seed " << seed;  // never sooner than min_backoff
    v.ts.advance(50ms + 1ns);
    EXPECT_EQ(v.log->drain(), (strings{"start:w"})) << "seed " << seed;  // never later than 1.5 x
  }
}

TEST(BackoffSupervisor, ATransientChildThatStopsNormallyStopsTheBackoffSupervisor) {
  troupe::system sys{quiet_config()};
  auto log = std::make_shared<event_log>();
  auto b = sys.spawn(otp::backoff_supervisor([log] { return worker("w", log); }, {.min_backoff = 1ms},
                                             {.restart = otp::restart_type::transient, .spawn = {.name = "w"}}));
  ASSERT_EQ(next_events(*log, 1).size(), 1u);
  auto down = watch_from_outside(sys, b);
  named(sys, "w").tell(quit{});
  auto t = down->pop();
  ASSERT_TRUE(t.has_value());
  EXPECT_EQ(t->reason.what, troupe::exit_reason::kind::normal);
  EXPECT_EQ(next_events(*log, 1), (strings{"stop:w"}));
}

TEST(BackoffSupervisor, StopTreeStopsTheChildThenTheSupervisor) {
  troupe::system sys{quiet_config()};
  auto log = std::make_shared<event_log>();
  auto b = sys.spawn(otp::backoff_supervisor([log] { return worker("w", log); }));
  ASSERT_EQ(next_events(*log, 1).size(), 1u);
  auto down = watch_from_outside(sys, b);
  b.tell(otp::stop_tree{});
  EXPECT_EQ(next_events(*log, 1), (strings{"stop:w"}));
  auto t = down->pop();
  ASSERT_TRUE(t.has_value());
  EXPECT_FALSE(t->reason.is_failure());
}

}  // namespace
