// supervise_test.cpp: otp::supervise, supervision of a behaviour inside its own actor.
#include "troupe/otp/supervise.hpp"

#include <gtest/gtest.h>

#include <memory>
#include <stdexcept>
#include <variant>

#include "core/test_support.hpp"
#include "otp/worker_actor.hpp"
#include "troupe/troupe.hpp"

namespace {

using namespace troupe_test;
namespace otp = troupe::otp;

struct add {
  int n;
};
struct get {
  troupe::ref<int> reply_to;
};
struct fail_soft {};  // throws std::invalid_argument
struct fail_hard {};  // throws std::runtime_error
struct fail_odd {};   // throws an int
using counter_msg = std::variant<add, get, fail_soft, fail_hard, fail_odd>;

troupe::behavior<counter_msg> counter(int total) {
  return troupe::receive<counter_msg>(
      [=](const add& a) { return counter(total + a.n); },
      [=](const get& g) { g.reply_to.tell(total); },
      [](const fail_soft&) -> troupe::same_tag { throw std::invalid_argument("soft"); },
      [](const fail_hard&) -> troupe::same_tag { throw std::runtime_error("hard"); },
      [](const fail_odd&) -> troupe::same_tag { throw 7; });
}

// Counts its setups, so a test sees a restart run it again.
troupe::behavior<counter_msg> counted_counter(std::shared_ptr<std::atomic<int>> setups) {
  return troupe::setup<counter_msg>([setups](troupe::actor_context<counter_msg>&) {
    setups->fetch_add(1);  // seq_cst: read by the test thread after an ask's reply
    return counter(0);
  });
}

int total_of(const troupe::ref<counter_msg>& c) {
  return await(c.ask<int>([](troupe::ref<int> r) { return get{r}; }, deadline)).value();
}

TEST(Supervise, ResumeKeepsTheCurrentBehaviourAndItsState) {
  troupe::system sys{worker_actor::quiet_config()};
  auto c = sys.spawn(otp::supervise([] { return counter(0); })
                         .on_failure<std::invalid_argument>(otp::failure_directive::resume));
  c.tell(add{2});
  c.tell(fail_soft{});
  c.tell(add{3});
  EXPECT_EQ(total_of(c), 5);
}

TEST(Supervise, RestartGoesBackToTheInitialBehaviourAndRunsItsSetupAgain) {
  troupe::system sys{worker_actor::quiet_config()};
  auto setups = std::make_shared<std::atomic<int>>(0);
  auto c = sys.spawn(otp::supervise([setups] { return counted_counter(setups); })
                         .on_failure<std::runtime_error>(otp::failure_directive::restart));
  c.tell(add{2});
  c.tell(fail_hard{});
  c.tell(add{3});
  EXPECT_EQ(total_of(c), 3);
  EXPECT_EQ(setups->load(), 2);
}

TEST(Supervise, StopLetsTheActorCrashWithTheException) {
  troupe::system sys{worker_actor::quiet_config()};
  auto c = sys.spawn(otp::supervise([] { return counter(0); })
                         .on_failure<std::invalid_argument>(otp::failure_directive::stop));
  auto down = watch_from_outside(sys, c);
  c.tell(fail_soft{});
  auto t = down->pop();
  ASSERT_TRUE(t.has_value());
  EXPECT_EQ(t->reason.what, troupe::exit_reason::kind::exception);
  EXPECT_NE(t->reason.text.find("soft"), std::string::npos);
}

TEST(Supervise, MatchesOnTheExceptionTypeInTheOrderTheRulesWereGiven) {
  troupe::system sys{worker_actor::quiet_config()};
  // invalid_argument derives from logic_error: the first matching rule (resume) wins; a
  // thrown int matches no rule, so it stops the actor.
  auto c = sys.spawn(otp::supervise([] { return counter(0); })
                         .on_failure<std::logic_error>(otp::failure_directive::resume)
                         .on_failure<std::invalid_argument>(otp::failure_directive::restart));
  auto down = watch_from_outside(sys, c);
  c.tell(add{4});
  c.tell(fail_soft{});
  EXPECT_EQ(total_of(c), 4);
  c.tell(fail_odd{});
  auto t = down->pop();
  ASSERT_TRUE(t.has_value());
  EXPECT_TRUE(t->reason.is_failure());
}

TEST(Supervise, AStoppedInnerBehaviourStopsTheActorNormally) {
  troupe::system sys{worker_actor::quiet_config()};
  using quit_msg = std::variant<int>;
  auto a = sys.spawn(otp::supervise([] { return troupe::receive<quit_msg>([](int) { return troupe::stopped; }); })
                         .on_failure<std::exception>(otp::failure_directive::resume));
  auto down = watch_from_outside(sys, a);
  a.tell(1);
  auto t = down->pop();
  ASSERT_TRUE(t.has_value());
  EXPECT_EQ(t->reason.what, troupe::exit_reason::kind::normal);
}

}  // namespace
