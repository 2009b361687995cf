// Tests of the deterministic test system: driving, virtual time, asks, shutdown, capture.
#include "troupe/testkit/test_system.hpp"

#include <gtest/gtest.h>

#include <string>
#include <variant>
#include <vector>

#include "troupe/testkit/test_inbox.hpp"

namespace {

using namespace std::chrono_literals;
using troupe::testkit::test_inbox;
using troupe::testkit::test_system;

struct add {
  int n;
};
struct get {
  troupe::ref<int> reply_to;
};
using counter_msg = std::variant<add, get>;

troupe::behavior<counter_msg> counter(int total) {
  return troupe::receive<counter_msg>([=](const add& m) { return counter(total + m.n); },
                                      [=](const get& m) { m.reply_to.tell(total); });
}

TEST(TestSystem, RunsNothingUntilTheTestDrivesIt) {
  test_system ts{7};
  test_inbox<int> replies;
  auto c = ts.spawn(counter(0));
  c.tell(add{5});
  c.tell(get{replies.ref()});
  EXPECT_FALSE(replies.has_messages());
  EXPECT_GT(ts.run_until_idle(), 0u);
  EXPECT_EQ(replies.receive_all(), std::vector<int>{5});
  EXPECT_EQ(ts.run_until_idle(), 0u);
}

TEST(TestSystem, RunOneRunsOneTurnAtATime) {
  test_system ts{7};
  test_inbox<int> replies;
  auto c = ts.spawn(counter(0));
  c.tell(get{replies.ref()});
  EXPECT_TRUE(ts.run_one());  // one turn: setup and the get (one message per turn)
  EXPECT_EQ(replies.receive_all(), std::vector<int>{0});
  EXPECT_FALSE(ts.run_one());
}

TEST(TestSystem, AnAskFromTheTestCompletesOnceTheSystemRuns) {
  test_system ts;
  auto c = ts.spawn(counter(40));
  c.tell(add{2});
  auto answer = c.ask<int>([](troupe::ref<int> r) { return get{r}; }, 1s);
  ts.run_until_idle();
  ASSERT_EQ(answer.wait_for(0s), std::future_status::ready);
  EXPECT_EQ(*answer.get(), 42);
}

struct ping {};
troupe::behavior<ping> silent() {
  return troupe::receive<ping>([](ping) {});
}
struct silent_ask {
  troupe::ref<int> reply_to;
};

TEST(TestSystem, AnAskTimesOutInVirtualTimeAndNotBefore) {
  test_system ts;
  // Keep the request (and so its reply slot) alive: only the deadline may complete the ask.
  std::vector<silent_ask> kept;
  auto keeper = ts.spawn(troupe::receive<silent_ask>([&kept](const silent_ask& a) { kept.push_back(a); }));
  auto answer = keeper.ask<int>([](troupe::ref<int> r) { return silent_ask{r}; }, 5min);
  ts.advance(5min - 1ns);
  EXPECT_EQ(answer.wait_for(0s), std::future_status::timeout);
  ts.advance(1ns);
  ASSERT_EQ(answer.wait_for(0s), std::future_status::ready);
  auto r = answer.get();
  ASSERT_FALSE(r.has_value());
  EXPECT_EQ(r.error().code(), troupe::errc::timeout);
  EXPECT_EQ(ts.elapsed(), 5min);
}

struct tick {};
struct count {
  troupe::ref<int> reply_to;
};
using ticker_msg = std::variant<tick, count>;

troupe::behavior<ticker_msg> ticker(int ticks) {
  return troupe::receive<ticker_msg>([=](tick) { return ticker(ticks + 1); },
                                     [=](const count& c) { c.reply_to.tell(ticks); });
}

TEST(TestSystem, AdvanceFiresPeriodicTimersOncePerPeriodInTheWindow) {
  test_system ts;
  test_inbox<int> replies;
  auto t = ts.spawn(troupe::setup<ticker_msg>([](troupe::actor_context<ticker_msg>& ctx) {
    ctx.start_timer("tick", tick{}, 1s, troupe::timer_mode::fixed_rate);
    return ticker(0);
  }));
  ts.run_until_idle();
  ts.advance(10s);
  t.tell(count{replies.ref()});
  ts.run_until_idle();
  EXPECT_EQ(replies.receive_all(), std::vector<int>{10});
}

struct chain {
  int left;
};
TEST(TestSystem, AdvanceFiresATimerSetByAnotherTimerInsideTheWindow) {
  test_system ts;
  test_inbox<int> fired_at_ms;
  ts.spawn(troupe::setup<chain>([&](troupe::actor_context<chain>& ctx) {
    ctx.start_timer("next", chain{3}, 100ms);
    return troupe::receive<chain>([&ts, &ctx, &fired_at_ms](const chain& c) {
      fired_at_ms.ref().tell(static_cast<int>(ts.elapsed() / 1ms));
      if (c.left > 1) ctx.start_timer("next", chain{c.left - 1}, 100ms);
    });
  }));
  ts.advance(299ms);
  EXPECT_EQ(fired_at_ms.receive_all(), (std::vector<int>{100, 200}));
  ts.advance(1ms);
  EXPECT_EQ(fired_at_ms.receive_all(), (std::vector<int>{300}));
}

TEST(TestSystem, ShutdownStopsActorsOnTheTestThread) {
  auto ts = std::make_unique<test_system>();
  test_inbox<int> stopped;
  auto parent = ts->spawn(troupe::setup<ping>([&](troupe::actor_context<ping>& ctx) {
    ctx.spawn(silent());
    return silent();
  }));
  ts->run_until_idle();
  ts.reset();  // must not hang: shutdown drives the deterministic scheduler
  SUCCEED();
  (void)parent;
}

TEST(TestSystem, CapturesTheRuntimesLogLines) {
  test_system ts;
  auto crasher = ts.spawn(troupe::receive<ping>([](ping) -> void { throw std::runtime_error("boom"); }));
  crasher.tell(ping{});
  ts.run_until_idle();
  EXPECT_TRUE(ts.logged("boom"));
  ASSERT_FALSE(ts.logs().empty());
  EXPECT_EQ(ts.logs().front().level, troupe::log_level::error);
}

TEST(TestSystem, CapturesWhatAnActorLogged) {
  test_system ts;
  auto talker = ts.spawn(troupe::setup<ping>([](troupe::actor_context<ping>& ctx) {
    return troupe::receive<ping>([&ctx](ping) { ctx.log(troupe::log_level::warning, "pinged"); });
  }), {.name = "talker"});
  EXPECT_FALSE(ts.logged("pinged"));
  talker.tell(ping{});
  ts.run_until_idle();
  ASSERT_EQ(ts.logs().size(), 1u);
  EXPECT_EQ(ts.logs().front().level, troupe::log_level::warning);
  EXPECT_EQ(ts.logs().front().text, "/talker: pinged");
}

TEST(TestSystem, RecordsDeadLetters) {
  test_system ts;
  auto gone = ts.spawn(troupe::receive<ping>([](ping) { return troupe::stopped; }));
  gone.tell(ping{});
  ts.run_until_idle();
  EXPECT_EQ(ts.dead_letter_count(), 0u);
  gone.tell(ping{});
  ASSERT_EQ(ts.dead_letters().size(), 1u);
  EXPECT_EQ(ts.dead_letters().front().recipient, gone.id());
  EXPECT_NE(ts.dead_letters().front().message_type.find("ping"), std::string::npos);
  EXPECT_EQ(ts.dead_letter_count(), 1u);
}

TEST(TestSystem, BlockingActorsRunOnTheDeterministicSchedulerToo) {
  test_system ts;
  test_inbox<int> replies;
  auto c = ts.spawn(counter(3), {.blocking = true});
  c.tell(get{replies.ref()});
  ts.run_until_idle();
  EXPECT_EQ(replies.receive_all(), std::vector<int>{3});
}

}  // namespace

namespace {

TEST(TestSystem, MessagesPerTurnSetsHowManyMessagesATurnHandles) {
  troupe::testkit::test_system ts{{.seed = 7, .messages_per_turn = 64}};
  test_inbox<int> replies;
  auto c = ts.spawn(counter(0));
  for (int i = 0; i < 3; ++i) c.tell(add{1});
  c.tell(get{replies.ref()});
  EXPECT_TRUE(ts.run_one());  // setup and all four messages in one turn
  EXPECT_EQ(replies.receive_all(), std::vector<int>{3});
  EXPECT_EQ(ts.seed(), 7u);
}

}  // namespace
