// Tests of the virtual clock: time moves only when told; actions run in deadline order.
#include "troupe/testkit/virtual_clock.hpp"

#include <gtest/gtest.h>

#include <string>
#include <vector>

namespace {

using namespace std::chrono_literals;
using troupe::testkit::virtual_clock;

TEST(VirtualClock, NothingFiresBeforeItsDeadline) {
  virtual_clock clock;
  int fired = 0;
  clock.schedule_at(clock.now() + 1s, [&](bool f) { fired += f; });
  EXPECT_FALSE(clock.fire_next_due());
  clock.set_time(clock.now() + 999ms);
  EXPECT_FALSE(clock.fire_next_due());
  clock.set_time(clock.now() + 1ms);
  EXPECT_TRUE(clock.fire_next_due());
  EXPECT_EQ(fired, 1);
  EXPECT_EQ(clock.pending(), 0u);
}

TEST(VirtualClock, FiresInDeadlineOrderThenInSchedulingOrder) {
  virtual_clock clock;
  std::vector<std::string> order;
  auto t0 = clock.now();
  clock.schedule_at(t0 + 2s, [&](bool) { order.push_back("b"); });
  clock.schedule_at(t0 + 1s, [&](bool) { order.push_back("a"); });
  clock.schedule_at(t0 + 2s, [&](bool) { order.push_back("c"); });
  EXPECT_EQ(clock.next_due(), t0 + 1s);
  clock.set_time(t0 + 5s);
  while (clock.fire_next_due()) {
  }
  EXPECT_EQ(order, (std::vector<std::string>{"a", "b", "c"}));
}

TEST(VirtualClock, CancelledActionsNeverRun) {
  virtual_clock clock;
  int fired = 0;
  auto id = clock.schedule_at(clock.now() + 1s, [&](bool) { ++fired; });
  EXPECT_TRUE(clock.cancel(id));
  EXPECT_FALSE(clock.cancel(id));
  clock.set_time(clock.now() + 1s);
  EXPECT_FALSE(clock.fire_next_due());
  EXPECT_EQ(fired, 0);
}

TEST(VirtualClock, TimeNeverGoesBack) {
  virtual_clock clock;
  auto t0 = clock.now();
  clock.set_time(t0 - 1s);
  EXPECT_EQ(clock.now(), t0);
}

TEST(VirtualClock, ShutdownRunsPendingActionsWithFalseAndRefusesNewOnes) {
  virtual_clock clock;
  std::vector<bool> results;
  clock.schedule_at(clock.now() + 1h, [&](bool f) { results.push_back(f); });
  clock.shutdown();
  clock.schedule_at(clock.now(), [&](bool f) { results.push_back(f); });
  EXPECT_EQ(results, (std::vector<bool>{false, false}));
}

}  // namespace
