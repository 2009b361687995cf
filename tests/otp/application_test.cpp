// application_test.cpp: otp::application starts a tree from a spec, stops it in order, and
// shuts the system down when a permanent (or failed transient) application ends.
#include "troupe/otp/application.hpp"

#include <gtest/gtest.h>

#include <memory>
#include <string>

#include "core/test_support.hpp"
#include "otp/worker_actor.hpp"
#include "troupe/troupe.hpp"

namespace {

using namespace troupe_test;
using namespace troupe_test::worker_actor;
namespace otp = troupe::otp;
using strings = std::vector<std::string>;

otp::supervisor_spec fragile_tree(std::shared_ptr<event_log> log) {
  return {.flags = {.max_restarts = 0, .within = std::chrono::seconds{1}},
          .children = {worker_spec("a", log), worker_spec("b", log), worker_spec("c", log)}};
}

TEST(Application, TheConstructorReturnsOnceTheRootHasStartedItsChildren) {
  troupe::system sys{quiet_config()};
  auto log = std::make_shared<event_log>();
  otp::application app(sys, {.name = "shop", .root = fragile_tree(log)});
  EXPECT_TRUE(sys.lookup<worker_msg>("a").has_value());
  EXPECT_TRUE(sys.lookup<worker_msg>("c").has_value());
  EXPECT_EQ(app.name(), "shop");
}

TEST(Application, APermanentApplicationThatFailsShutsTheSystemDown) {
  troupe::system sys{quiet_config()};
  auto log = std::make_shared<event_log>();
  otp::application app(sys, {.name = "shop", .root = fragile_tree(log)});
  ASSERT_EQ(next_events(*log, 3).size(), 3u);
  named(sys, "b").tell(crash{});
  auto why = app.run_for(deadline);
  ASSERT_TRUE(why.has_value());
  EXPECT_TRUE(why->is_failure());
  EXPECT_TRUE(sys.stopping());
}

TEST(Application, StopStopsTheTreeInReverseOrderAndLeavesTheSystemRunning) {
  troupe::system sys{quiet_config()};
  auto log = std::make_shared<event_log>();
  otp::application app(sys, {.name = "shop", .root = fragile_tree(log)});
  ASSERT_EQ(next_events(*log, 3).size(), 3u);
  EXPECT_TRUE(sys.lookup<otp::supervisor_msg>("shop").has_value());
  auto why = app.stop();
  EXPECT_FALSE(why.is_failure());
  EXPECT_EQ(next_events(*log, 3), (strings{"stop:c", "stop:b", "stop:a"}));
  auto after = app.run_for(deadline);
  ASSERT_TRUE(after.has_value());
  EXPECT_FALSE(sys.stopping());
}

TEST(Application, ATransientApplicationThatEndsNormallyLeavesTheSystemRunning) {
  troupe::system sys{quiet_config()};
  auto log = std::make_shared<event_log>();
  otp::application app(sys, {.name = "jobs", .root = fragile_tree(log), .type = otp::application_type::transient});
  ASSERT_EQ(next_events(*log, 3).size(), 3u);
  app.root().tell(otp::stop_tree{});  // the tree ends on its own, normally
  auto why = app.run_for(deadline);
  ASSERT_TRUE(why.has_value());
  EXPECT_FALSE(why->is_failure());
  EXPECT_FALSE(sys.stopping());
}

TEST(Application, ATransientApplicationThatFailsShutsTheSystemDown) {
  troupe::system sys{quiet_config()};
  auto log = std::make_shared<event_log>();
  otp::application app(sys, {.name = "jobs", .root = fragile_tree(log), .type = otp::application_type::transient});
  ASSERT_EQ(next_events(*log, 3).size(), 3u);
  named(sys, "a").tell(crash{});
  auto why = app.run_for(deadline);
  ASSERT_TRUE(why.has_value());
  EXPECT_TRUE(why->is_failure());
  EXPECT_TRUE(sys.stopping());
}

TEST(Application, ATemporaryApplicationThatFailsLeavesTheSystemRunning) {
  troupe::system sys{quiet_config()};
  auto log = std::make_shared<event_log>();
  otp::application app(sys, {.name = "cron", .root = fragile_tree(log), .type = otp::application_type::temporary});
  ASSERT_EQ(next_events(*log, 3).size(), 3u);
  named(sys, "a").tell(crash{});
  auto why = app.run_for(deadline);
  ASSERT_TRUE(why.has_value());
  EXPECT_TRUE(why->is_failure());
  EXPECT_FALSE(sys.stopping());
}

TEST(Application, RunReturnsWhenTheSystemIsShutDownElsewhere) {
  troupe::system sys{quiet_config()};
  auto log = std::make_shared<event_log>();
  otp::application app(sys, {.name = "shop", .root = fragile_tree(log)});
  ASSERT_EQ(next_events(*log, 3).size(), 3u);
  sys.shutdown();
  auto why = app.run_for(deadline);
  ASSERT_TRUE(why.has_value());
  EXPECT_FALSE(why->is_failure());
}

TEST(Application, RunForGivesUpWhileTheTreeStillRuns) {
  troupe::system sys{quiet_config()};
  auto log = std::make_shared<event_log>();
  otp::application app(sys, {.name = "shop", .root = fragile_tree(log)});
  EXPECT_FALSE(app.run_for(std::chrono::milliseconds{1}).has_value());
  EXPECT_FALSE(sys.stopping());
}

}  // namespace
