// supervisor_report_test.cpp: a supervisor reports its children's starts, restarts and its own
// giving up as structured log records (OTP's SASL progress and supervisor reports), at levels an
// operator can filter: starts at info (debug for simple_one_for_one's many), restarts at warning,
// failed starts and giving up at error.
#include "troupe/otp/supervisor.hpp"

#include <gtest/gtest.h>

#include <memory>
#include <string>
#include <vector>

#include "core/test_support.hpp"
#include "otp/worker_actor.hpp"
#include "troupe/testkit/test_system.hpp"
#include "troupe/troupe.hpp"

namespace {

using namespace troupe_test;
using namespace troupe_test::worker_actor;
namespace otp = troupe::otp;
using troupe::log_level;

// The records of `ts` whose text matches `pattern` (a full match), as "level text".
std::vector<std::string> reports(const troupe::testkit::test_system& ts, const std::string& pattern) {
  std::vector<std::string> out;
  for (const auto& l : ts.logs())
    if (testing::internal::RE::FullMatch(l.text, pattern))
      out.push_back(std::string(troupe::to_string(l.level)) + " " + l.text);
  return out;
}

TEST(SupervisorReport, AStartIsReportedAtInfoWithTheChildIdAndItsActor) {
  troupe::testkit::test_system ts;
  auto log = std::make_shared<event_log>();
  auto sup = ts.spawn(otp::supervisor({.children = {worker_spec("a", log), worker_spec("b", log)}}), {.name = "sup"});
  ts.run_until_idle();
  auto got = reports(ts, "/sup: started child .*");
  ASSERT_EQ(got.size(), 2u);
  EXPECT_TRUE(testing::internal::RE::FullMatch(got[0], "info /sup: started child child=a actor=[0-9]+")) << got[0];
  EXPECT_TRUE(testing::internal::RE::FullMatch(got[1], "info /sup: started child child=b actor=[0-9]+")) << got[1];
  (void)sup;
}

TEST(SupervisorReport, ARestartIsAWarningWithTheReasonAndTheRestartCount) {
  troupe::testkit::test_system ts;
  auto log = std::make_shared<event_log>();
  auto sup = ts.spawn(otp::supervisor({.flags = {.max_restarts = 3, .within = std::chrono::seconds{5}},
                                       .children = {worker_spec("w", log)}}),
                      {.name = "sup"});
  ts.run_until_idle();
  for (int i = 0; i < 2; ++i) {
    named(ts.system(), "w").tell(crash{});
    ts.run_until_idle();
  }
  auto got = reports(ts, "/sup: restarting child .*");
  ASSERT_EQ(got.size(), 2u);
  EXPECT_EQ(got[0], R"(warning /sup: restarting child child=w reason="exception: std::runtime_error: boom" restarts=1 max_restarts=3 within=5s)");
  EXPECT_EQ(got[1], R"(warning /sup: restarting child child=w reason="exception: std::runtime_error: boom" restarts=2 max_restarts=3 within=5s)");
  EXPECT_EQ(reports(ts, "/sup: started child child=w .*").size(), 3u);  // the first start and two restarts
  (void)sup;
}

TEST(SupervisorReport, GivingUpIsAnErrorNamingTheLastFailureAndTheLimit) {
  troupe::testkit::test_system ts;
  auto log = std::make_shared<event_log>();
  auto sup = ts.spawn(otp::supervisor({.flags = {.max_restarts = 1, .within = std::chrono::seconds{1}},
                                       .children = {worker_spec("w", log)}}),
                      {.name = "sup"});
  ts.run_until_idle();
  for (int i = 0; i < 2; ++i) {
    named(ts.system(), "w").tell(crash{});
    ts.run_until_idle();
  }
  auto got = reports(ts, "/sup: giving up.*");
  ASSERT_EQ(got.size(), 1u);
  EXPECT_EQ(got[0], "error /sup: giving up: restart limit reached; stopping all children and escalating child=w "
                    "reason=\"exception: std::runtime_error: boom\" restarts=2 max_restarts=1 within=1s");
  EXPECT_EQ(reports(ts, "/sup: restarting child .*").size(), 1u);
  (void)sup;
}

TEST(SupervisorReport, AFailedStartIsAnError) {
  troupe::testkit::test_system ts;
  auto broken = otp::child_spec{.id = "broken", .start = [](otp::supervisor_context&, const std::any&) -> otp::child_ref {
                                  throw std::runtime_error("no database");
                                }};
  ts.spawn(otp::supervisor({.children = {broken}}), {.name = "sup"});
  ts.run_until_idle();
  EXPECT_EQ(reports(ts, "/sup: child failed to start.*"),
            (std::vector<std::string>{R"(error /sup: child failed to start child=broken reason="no database")"}));
}

TEST(SupervisorReport, ASimpleOneForOneChildsStartIsOnlyDebugAndTheLevelHidesIt) {
  troupe::testkit::test_system ts;
  auto log = std::make_shared<event_log>();
  auto sup = ts.spawn(otp::supervisor({.flags = {.strategy = otp::strategy::simple_one_for_one},
                                       .children = {otp::child_spec{
                                           .id = "session",
                                           .start = [log](otp::supervisor_context& ctx, const std::any&) -> otp::child_ref {
                                             return ctx.spawn(worker("s", log));
                                           }}}}),
                      {.name = "sessions"});
  ts.run_until_idle();
  auto f = otp::start_dynamic_child_of(sup, {}, troupe::infinity);
  ts.run_until_idle();
  ASSERT_TRUE(f.get());
  auto got = reports(ts, "/sessions: started child .*");
  ASSERT_EQ(got.size(), 1u);
  EXPECT_EQ(got[0].rfind("debug ", 0), 0u) << got[0];

  ts.system().logger().set_level(log_level::info);  // an operator's default: sessions go unreported
  auto g = otp::start_dynamic_child_of(sup, {}, troupe::infinity);
  ts.run_until_idle();
  ASSERT_TRUE(g.get());
  EXPECT_EQ(reports(ts, "/sessions: started child .*").size(), 1u);
}

}  // namespace
