// ask_test.cpp: request-reply: an ask always completes, with the reply or with an error.
#include "troupe/core/detail/reply_slot.hpp"

#include <gtest/gtest.h>

#include <optional>
#include <string>
#include <variant>
#include <vector>

#include "test_support.hpp"
#include "troupe/testkit/test_inbox.hpp"
#include "troupe/testkit/test_system.hpp"
#include "troupe/troupe.hpp"

namespace {

using namespace troupe_test;

struct get {
  troupe::ref<int> reply_to;
};
struct hold {  // blocks the actor's turn until released
  std::shared_ptr<gate> entered;
  std::shared_ptr<gate> release;
};
struct quit {};
using server_msg = std::variant<get, hold, quit>;

auto make_get = [](troupe::ref<int> r) { return get{r}; };

// Replies `value` to every get.
troupe::behavior<server_msg> answering(int value) {
  return troupe::receive<server_msg>([value](const get& g) { g.reply_to.tell(value); },
                                     [](const hold& h) {
                                       h.entered->open();
                                       h.release->wait();
                                     },
                                     [](quit) { return troupe::stopped; });
}

// Keeps every reply ref it is given and never answers.
troupe::behavior<server_msg> hoarding(std::vector<troupe::ref<int>> held) {
  return troupe::receive<server_msg>(
      [held](const get& g) mutable {
        auto more = held;
        more.push_back(g.reply_to);
        return hoarding(std::move(more));
      },
      [](const hold& h) {
        h.entered->open();
        h.release->wait();
        return troupe::stopped;  // stops with whatever is still queued behind
      },
      [](quit) { return troupe::stopped; });
}

// Handles every request and drops the reply ref on the floor.
troupe::behavior<server_msg> ignoring() {
  return troupe::receive<server_msg>([](const get&) {}, [](const hold&) {}, [](quit) { return troupe::stopped; });
}

TEST(Ask, FromOutsideReturnsTheReply) {
  troupe::system sys{small_config()};
  auto s = sys.spawn(answering(42));
  auto r = await(s.ask<int>(make_get, deadline));
  ASSERT_TRUE(r.has_value()) << r.error().message();
  EXPECT_EQ(*r, 42);
}

// The reply type comes from the request maker's parameter; naming it still works.
static_assert(std::is_same_v<troupe::reply_type_of_maker<decltype(make_get)>, int>);
static_assert(std::is_same_v<troupe::reply_type_of_maker<get (*)(troupe::ref<int>)>, int>);
static_assert(std::is_same_v<troupe::reply_type_of_maker<decltype([](const troupe::ref<long>&) mutable { return 0; })>, long>);

TEST(Ask, DeducesTheReplyTypeFromTheRequestMakersParameter) {
  troupe::system sys{small_config()};
  auto s = sys.spawn(answering(42));
  auto f = s.ask([](troupe::ref<int> r) { return get{r}; }, deadline);
  static_assert(std::is_same_v<decltype(f), std::future<troupe::result<int>>>);
  EXPECT_EQ(await(std::move(f)).value(), 42);
  EXPECT_EQ(await(s.ask<int>([](auto r) { return get{r}; }, deadline)).value(), 42);  // generic: named
  // From inside an actor, the same deduction.
  auto out = std::make_shared<blocking_queue<troupe::result<int>>>();
  using asker_msg = std::variant<troupe::result<int>>;
  sys.spawn(troupe::setup<asker_msg>([s, out](troupe::actor_context<asker_msg>& ctx) {
    ctx.ask(s, [](troupe::ref<int> r) { return get{r}; }, deadline,
            [](troupe::result<int> r) { return r; });
    return troupe::receive<asker_msg>([out](troupe::result<int>&& r) {
      out->push(std::move(r));
      return troupe::stopped;
    });
  }));
  auto r = out->pop();
  ASSERT_TRUE(r.has_value());
  EXPECT_EQ(r->value(), 42);
}

TEST(Ask, ManyConcurrentAsksEachGetTheirOwnReply) {
  troupe::system sys{small_config()};
  struct echo {
    int n;
    troupe::ref<int> reply_to;
  };
  auto s = sys.spawn(troupe::receive<echo>([](const echo& e) { e.reply_to.tell(e.n * 2); }));
  std::vector<std::future<troupe::result<int>>> futures;
  constexpr int n = 2000;
  for (int i = 0; i < n; ++i) futures.push_back(s.ask<int>([i](troupe::ref<int> r) { return echo{i, r}; }, deadline));
  for (int i = 0; i < n; ++i) EXPECT_EQ(await(std::move(futures[i])).value(), 2 * i);
}

TEST(Ask, CompletesWithTimeoutWhenReceiverNeverReplies) {
  troupe::testkit::test_system ts;  // virtual time: the deadline is exact and costs nothing
  auto s = ts.spawn(hoarding({}));
  auto f = s.ask<int>(make_get, 50ms);
  ts.advance(50ms - 1ns);
  EXPECT_EQ(f.wait_for(0s), std::future_status::timeout);  // not a nanosecond early
  ts.advance(1ns);
  ASSERT_EQ(f.wait_for(0s), std::future_status::ready);
  auto r = f.get();
  ASSERT_FALSE(r.has_value());
  EXPECT_EQ(r.error(), troupe::errc::timeout) << r.error().message();
  EXPECT_EQ(r.error().code().category().name(), std::string("troupe"));
}

TEST(Ask, CompletesWithTimeoutOnTheRealTimerThread) {
  troupe::system sys{small_config()};
  auto s = sys.spawn(hoarding({}));
  auto r = await(s.ask<int>(make_get, 1ms));
  ASSERT_FALSE(r.has_value());
  EXPECT_EQ(r.error(), troupe::errc::timeout) << r.error().message();
}

TEST(Ask, CompletesWithReceiverDeadWhenTheReceiverStopsWithTheRequestInItsMailbox) {
  troupe::system sys{small_config()};
  auto s = sys.spawn(hoarding({}));
  auto entered = std::make_shared<gate>(), release = std::make_shared<gate>();
  s.tell(hold{entered, release});
  ASSERT_TRUE(entered->wait());
  auto f = s.ask<int>(make_get, deadline);  // queued behind `hold`, which then stops the actor
  release->open();
  auto r = await(std::move(f));
  ASSERT_FALSE(r.has_value());
  EXPECT_EQ(r.error(), troupe::errc::receiver_dead) << r.error().message();
}

TEST(Ask, CompletesWithReceiverDeadWhenTheReceiverStopsHoldingTheRequest) {
  troupe::system sys{small_config()};
  auto s = sys.spawn(hoarding({}));
  auto f = s.ask<int>(make_get, deadline);
  auto g = s.ask<int>(make_get, troupe::infinity);  // no deadline at all
  s.tell(quit{});
  auto r = await(std::move(f));
  ASSERT_FALSE(r.has_value());
  EXPECT_EQ(r.error(), troupe::errc::receiver_dead) << r.error().message();
  auto r2 = await(std::move(g));
  ASSERT_FALSE(r2.has_value());
  EXPECT_EQ(r2.error(), troupe::errc::receiver_dead) << r2.error().message();
}

TEST(Ask, CompletesWithReceiverDeadWhenTheReceiverCrashesHoldingTheRequest) {
  troupe::system sys{small_config()};
  struct boom {};
  using msg = std::variant<get, boom>;
  std::function<troupe::behavior<msg>(std::optional<troupe::ref<int>>)> beh;
  beh = [&beh](std::optional<troupe::ref<int>> held) {
    return troupe::receive<msg>([&beh](const get& g) { return beh(g.reply_to); },
                                [held](boom) -> troupe::behavior<msg> { throw std::runtime_error("boom"); });
  };
  auto s = sys.spawn(beh(std::nullopt));
  auto f = s.ask<int>(make_get, deadline);
  s.tell(boom{});
  auto r = await(std::move(f));
  ASSERT_FALSE(r.has_value());
  EXPECT_EQ(r.error(), troupe::errc::receiver_dead) << r.error().message();
}

TEST(Ask, OnAStoppedActorCompletesWithReceiverDeadAtOnce) {
  troupe::system sys{small_config()};
  auto s = sys.spawn(answering(1));
  auto w = watch_from_outside(sys, s);
  s.tell(quit{});
  ASSERT_TRUE(w->pop().has_value());
  auto f = s.ask<int>(make_get, troupe::infinity);
  ASSERT_EQ(f.wait_for(0s), std::future_status::ready);  // decided before ask returned
  auto r = f.get();
  ASSERT_FALSE(r.has_value());
  EXPECT_EQ(r.error(), troupe::errc::receiver_dead) << r.error().message();
}

TEST(Ask, CompletesWithRequestDroppedWhenTheReceiverDiscardsTheReplyRef) {
  troupe::system sys{small_config()};
  auto s = sys.spawn(ignoring());
  auto r = await(s.ask<int>(make_get, deadline));
  ASSERT_FALSE(r.has_value());
  EXPECT_EQ(r.error(), troupe::errc::request_dropped) << r.error().message();
  // The actor is alive and well: dropping a request is not dying.
  auto again = await(s.ask<int>(make_get, deadline));
  ASSERT_FALSE(again.has_value());
  EXPECT_EQ(again.error(), troupe::errc::request_dropped) << again.error().message();
}

TEST(Ask, CompletesWithSystemStoppedWhenTheSystemShutsDownFirst) {
  // The request is forwarded to an actor of another system, which keeps it: when the asked
  // system shuts down, nothing of it holds the request any more, and its timers say so.
  troupe::system keeper_sys{small_config()};
  auto kept = std::make_shared<gate>();
  std::vector<troupe::ref<int>> keep;  // touched only by the keeper, then after its system stops
  auto keeper = keeper_sys.spawn(troupe::receive<get>([kept, &keep](const get& g) {
    keep.push_back(g.reply_to);
    kept->open();
  }));
  auto asked_sys = std::make_unique<troupe::system>(small_config());
  auto forwarder = asked_sys->spawn(troupe::receive<get>([keeper](get&& g) { keeper.tell(std::move(g)); }));
  auto f = forwarder.ask<int>([](troupe::ref<int> r) { return get{r}; }, 1h);
  ASSERT_TRUE(kept->wait());
  asked_sys->shutdown();
  auto r = await(std::move(f));
  ASSERT_FALSE(r.has_value());
  EXPECT_EQ(r.error(), troupe::errc::system_stopped) << r.error().message();
  keeper_sys.shutdown();
}

TEST(Ask, AReplyAfterTheTimeoutIsIgnored) {
  troupe::testkit::test_system ts;
  auto s = ts.spawn(answering(5));
  auto f = s.ask<int>(make_get, 1ms);
  // The deadline passes before the server gets to run: the ask times out, then the server
  // handles the request and replies to a slot that has already completed.
  ts.clock().set_time(ts.now() + 1ms);
  ASSERT_TRUE(ts.clock().fire_next_due());
  ASSERT_EQ(f.wait_for(0s), std::future_status::ready);
  ts.run_until_idle();
  auto r = f.get();
  ASSERT_FALSE(r.has_value());
  EXPECT_EQ(r.error(), troupe::errc::timeout);
  // The late reply goes nowhere harmful, and the server keeps answering.
  auto again = s.ask<int>(make_get, 1s);
  ts.run_until_idle();
  EXPECT_EQ(again.get().value(), 5);
}

// --- asking from inside an actor --------------------------------------------------------------

struct ask_now {
  troupe::ref<server_msg> target;
  std::chrono::milliseconds timeout;
};
struct answer {
  troupe::result<int> r;
};
using asker_msg = std::variant<ask_now, answer>;

troupe::ref<asker_msg> spawn_asker(troupe::system& sys, std::shared_ptr<blocking_queue<troupe::result<int>>> out) {
  return sys.spawn(troupe::setup<asker_msg>([out](troupe::actor_context<asker_msg>& ctx) {
    return troupe::receive<asker_msg>(
        [&ctx](const ask_now& a) {
          ctx.ask<int>(a.target, make_get, a.timeout, [](troupe::result<int>&& r) { return answer{std::move(r)}; });
        },
        [out](answer&& a) { out->push(std::move(a.r)); });
  }));
}

TEST(Ask, FromInsideAnActorDeliversTheMappedReply) {
  troupe::system sys{small_config()};
  auto out = std::make_shared<blocking_queue<troupe::result<int>>>();
  auto asker = spawn_asker(sys, out);
  asker.tell(ask_now{sys.spawn(answering(7)), deadline});
  auto r = out->pop();
  ASSERT_TRUE(r.has_value());
  ASSERT_TRUE(r->has_value()) << r->error().message();
  EXPECT_EQ(**r, 7);
}

TEST(Ask, FromInsideAnActorDeliversTheMappedFailure) {
  troupe::system sys{small_config()};
  auto out = std::make_shared<blocking_queue<troupe::result<int>>>();
  auto asker = spawn_asker(sys, out);

  auto dead = sys.spawn(answering(1));
  auto w = watch_from_outside(sys, dead);
  dead.tell(quit{});
  ASSERT_TRUE(w->pop().has_value());
  asker.tell(ask_now{dead, deadline});
  auto refused = out->pop();
  ASSERT_TRUE(refused.has_value());
  ASSERT_FALSE(refused->has_value());
  EXPECT_EQ(refused->error(), troupe::errc::receiver_dead) << refused->error().message();

  asker.tell(ask_now{sys.spawn(ignoring()), deadline});
  auto dropped = out->pop();
  ASSERT_TRUE(dropped.has_value());
  ASSERT_FALSE(dropped->has_value());
  EXPECT_EQ(dropped->error(), troupe::errc::request_dropped) << dropped->error().message();

  EXPECT_FALSE(out->pop(0ms).has_value());  // exactly one answer per ask
}

TEST(Ask, FromInsideAnActorDeliversATimeoutInVirtualTime) {
  troupe::testkit::test_system ts;
  troupe::testkit::test_inbox<troupe::result<int>> out;
  auto asker = ts.spawn(troupe::setup<asker_msg>([&out](troupe::actor_context<asker_msg>& ctx) {
    return troupe::receive<asker_msg>(
        [&ctx](const ask_now& a) {
          ctx.ask<int>(a.target, make_get, a.timeout, [](troupe::result<int>&& r) { return answer{std::move(r)}; });
        },
        [&out](answer&& a) { out.ref().tell(std::move(a.r)); });
  }));
  asker.tell(ask_now{ts.spawn(hoarding({})), 20ms});
  ts.advance(20ms - 1ns);
  EXPECT_FALSE(out.has_messages());
  ts.advance(1ns);
  auto answers = out.receive_all();
  ASSERT_EQ(answers.size(), 1u);
  ASSERT_FALSE(answers[0].has_value());
  EXPECT_EQ(answers[0].error(), troupe::errc::timeout) << answers[0].error().message();
  ts.advance(1h);
  EXPECT_FALSE(out.has_messages());  // exactly one answer per ask
}

TEST(Ask, FromInsideAnActorAThrowingMapperCrashesTheAskerOnly) {
  troupe::system sys{small_config()};
  struct go {
    troupe::ref<server_msg> target;
  };
  struct mapped {};
  using msg = std::variant<go, mapped>;
  auto asker = sys.spawn(troupe::setup<msg>([](troupe::actor_context<msg>& ctx) {
    return troupe::receive<msg>(
        [&ctx](const go& g) {
          ctx.ask<int>(g.target, make_get, deadline, [](troupe::result<int>&&) -> mapped {
            throw std::runtime_error("mapper failed");
          });
        },
        [](mapped) {});
  }));
  auto server = sys.spawn(answering(3));
  auto end = watch_from_outside(sys, asker);
  asker.tell(go{server});
  auto t = end->pop();
  ASSERT_TRUE(t.has_value());
  EXPECT_EQ(t->reason.what, troupe::exit_reason::kind::exception);
  EXPECT_NE(t->reason.text.find("mapper failed"), std::string::npos) << t->reason.text;
  // The server, on whose thread the mapper ran, is unharmed.
  EXPECT_EQ(await(server.ask<int>(make_get, deadline)).value(), 3);
}

TEST(Ask, FromInsideAnActorThroughAnEmptyRefCrashesOnlyTheAsker) {
  troupe::system sys{small_config()};
  auto out = std::make_shared<blocking_queue<troupe::result<int>>>();
  auto asker = spawn_asker(sys, out);
  auto end = watch_from_outside(sys, asker);
  asker.tell(ask_now{troupe::ref<server_msg>{}, deadline});
  auto t = end->pop();
  ASSERT_TRUE(t.has_value());
  EXPECT_EQ(t->reason.what, troupe::exit_reason::kind::exception);
  EXPECT_NE(t->reason.text.find("usage_error"), std::string::npos) << t->reason.text;
}

TEST(Ask, FromOutsideThroughAnEmptyRefThrowsUsageError) {
  troupe::ref<server_msg> empty;
  EXPECT_THROW((void)empty.ask<int>(make_get, deadline), troupe::usage_error);
}

}  // namespace
