// Tests of behavior_test_kit: one behaviour, message by message, and its effects.
#include "troupe/testkit/behavior_test_kit.hpp"

#include <gtest/gtest.h>

#include <string>
#include <variant>
#include <vector>

#include "troupe/testkit/test_inbox.hpp"

namespace {

using namespace std::chrono_literals;
using troupe::testkit::behavior_test_kit;
using troupe::testkit::find_effect;
using troupe::testkit::test_inbox;
namespace effects = troupe::testkit::effects;

// A chat session: login starts an idle timer and spawns a typing indicator; each message resets
// the timer and is echoed; logout cancels the timer and stops; the idle timer stops it too.
struct login {
  std::string user;
};
struct say {
  std::string text;
  troupe::ref<std::string> echo_to;
};
struct logout {};
struct idle {};
using session_msg = std::variant<login, say, logout, idle>;

struct typing {
  bool on;
};

troupe::behavior<session_msg> session() {
  return troupe::setup<session_msg>([](troupe::actor_context<session_msg>& ctx) {
    return troupe::receive<session_msg>(
        [&ctx](const login& l) {
          ctx.spawn(troupe::receive<typing>([](typing) {}), {.name = "typing-" + l.user});
          ctx.start_timer("idle", idle{}, 5min);
          return troupe::behavior<session_msg>(troupe::same);
        },
        [&ctx](const say& s) {
          ctx.start_timer("idle", idle{}, 5min);  // restarts it
          s.echo_to.tell(s.text);
        },
        [&ctx](logout) {
          ctx.cancel_timer("idle");
          return troupe::behavior<session_msg>(troupe::stopped);
        },
        [](idle) { return troupe::stopped; });
  });
}

TEST(BehaviorTestKit, RecordsTheChildrenSpawnedAndTheTimersStarted) {
  behavior_test_kit<session_msg> kit{session()};
  EXPECT_TRUE(kit.take_effects().empty());  // the setup did nothing visible
  auto fx = kit.run(login{"ann"});
  ASSERT_EQ(fx.size(), 2u);
  auto child = find_effect<effects::spawned>(fx);
  ASSERT_TRUE(child);
  EXPECT_EQ(child->name, "typing-ann");
  EXPECT_NE(child->protocol.find("typing"), std::string::npos);
  auto timer = find_effect<effects::timer_started>(fx);
  ASSERT_TRUE(timer);
  EXPECT_EQ(timer->key, "idle");
  EXPECT_EQ(timer->delay, 5min);
  EXPECT_EQ(timer->mode, troupe::timer_mode::single);
}

TEST(BehaviorTestKit, RecordsATimerReplacedUnderTheSameKey) {
  behavior_test_kit<session_msg> kit{session()};
  kit.run(login{"ann"});
  test_inbox<std::string> echoes;
  auto fx = kit.run(say{"hi", echoes.ref()});
  ASSERT_EQ(fx.size(), 2u);
  EXPECT_EQ(std::get<effects::timer_cancelled>(fx[0]).key, "idle");
  EXPECT_EQ(std::get<effects::timer_started>(fx[1]).key, "idle");
  EXPECT_EQ(echoes.receive_all(), std::vector<std::string>{"hi"});  // the message it sent
}

TEST(BehaviorTestKit, RecordsTheStopAndTheCancelledTimerOnLogout) {
  behavior_test_kit<session_msg> kit{session()};
  kit.run(login{"ann"});
  auto fx = kit.run(logout{});
  ASSERT_EQ(fx.size(), 2u);
  EXPECT_EQ(std::get<effects::timer_cancelled>(fx[0]).key, "idle");
  EXPECT_FALSE(std::get<effects::stopped>(fx[1]).reason.is_failure());
  EXPECT_FALSE(kit.is_alive());
}

TEST(BehaviorTestKit, TheActorsTimersFollowTheKitsVirtualTime) {
  behavior_test_kit<session_msg> kit{session()};
  kit.run(login{"ann"});
  kit.system().advance(5min - 1ms);
  EXPECT_TRUE(kit.is_alive());
  kit.system().advance(1ms);
  EXPECT_FALSE(kit.is_alive());
  EXPECT_TRUE(find_effect<effects::stopped>(kit.take_effects()));
}

troupe::behavior<int> summer(int total, troupe::ref<int> report) {
  return troupe::receive<int>([=](int n) {
    report.tell(total + n);
    return summer(total + n, report);
  });
}

TEST(BehaviorTestKit, RecordsEachNewBehaviourReturned) {
  test_inbox<int> sums;
  behavior_test_kit<int> kit{summer(0, sums.ref())};
  auto fx = kit.run(2);
  ASSERT_EQ(fx.size(), 1u);
  EXPECT_TRUE(std::holds_alternative<effects::became>(fx[0]));
  kit.run(3);
  EXPECT_EQ(sums.receive_all(), (std::vector<int>{2, 5}));
}

TEST(BehaviorTestKit, GivesATypedRefToASpawnedChild) {
  behavior_test_kit<session_msg> kit{session()};
  auto child = find_effect<effects::spawned>(kit.run(login{"ann"}));
  ASSERT_TRUE(child);
  auto typing_ref = kit.child<typing>(*child);
  EXPECT_EQ(typing_ref.id(), child->child);
  typing_ref.tell(typing{true});
  EXPECT_THROW(kit.child<int>(*child), troupe::testkit::expectation_failed);
}

TEST(BehaviorTestKit, RecordsACrashAsAFailedStop) {
  behavior_test_kit<int> kit{troupe::receive<int>([](int) -> void { throw std::runtime_error("nope"); })};
  auto fx = kit.run(1);
  auto s = find_effect<effects::stopped>(fx);
  ASSERT_TRUE(s);
  EXPECT_TRUE(s->reason.is_failure());
  EXPECT_TRUE(kit.system().logged("nope"));
}

}  // namespace
