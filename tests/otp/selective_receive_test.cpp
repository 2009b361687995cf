// selective_receive_test.cpp: a coroutine actor's receive takes the first matching message in
// arrival order, keeps the others in order, honours guards and after(), and, given a mark,
// finds a reply without rescanning the backlog (Erlang's trick, counted with scans()). The
// after() deadlines, and the races at the deadline, are checked in virtual time.
#include "troupe/otp/receive_pattern.hpp"

#include <gtest/gtest.h>

#include <chrono>
#include <cstdint>
#include <initializer_list>
#include <memory>
#include <stdexcept>
#include <string>
#include <type_traits>
#include <variant>
#include <vector>

#include "core/test_support.hpp"
#include "troupe/otp/coroutine_actor.hpp"
#include "troupe/testkit/test_system.hpp"
#include "troupe/troupe.hpp"

namespace {

using namespace troupe_test;
using namespace std::chrono_literals;
using troupe::otp::after;
using troupe::otp::coroutine;
using troupe::otp::when;

struct go {};
struct a {
  int n;
};
struct b {
  int n;
};
using ab_msg = std::variant<go, a, b>;
using ab_context = troupe::otp::coroutine_context<ab_msg>;
using log_queue = blocking_queue<std::string>;

std::string text(const ab_msg& m) {
  if (auto* x = std::get_if<a>(&m)) return "a" + std::to_string(x->n);
  if (auto* x = std::get_if<b>(&m)) return "b" + std::to_string(x->n);
  return "go";
}

// Sends `go` last, so that everything before it is saved when the receives start.
void send_then_go(const troupe::ref<ab_msg>& r, std::initializer_list<ab_msg> msgs) {
  for (const auto& m : msgs) std::visit([&](const auto& x) { r.tell(x); }, m);
  r.tell(go{});
}

TEST(SelectiveReceive, TakesTheFirstMatchingMessageInArrivalOrderAndKeepsTheOthersInOrder) {
  troupe::system sys(small_config());
  auto log = std::make_shared<log_queue>();
  auto r = sys.spawn(troupe::otp::coroutine_actor<ab_msg>([log](ab_context& self) -> coroutine<ab_msg> {
    co_await self.receive([](go) {});
    log->push("saved " + std::to_string(self.saved()));
    co_await self.receive([&](b&& m) { log->push("b" + std::to_string(m.n)); });
    co_await self.receive([&](b&& m) { log->push("b" + std::to_string(m.n)); });
    for (;;) {
      // A catch-all that does not wait: takes what is left, in order, then times out at once.
      auto got = co_await self.receive([&](auto&& m) { log->push(text(ab_msg(m))); }, after(std::chrono::milliseconds(0)));
      if (!got) break;
    }
    log->push("end");
  }));
  send_then_go(r, {a{1}, b{1}, a{2}, b{2}, a{3}});
  EXPECT_EQ(log->pop(), "saved 5");
  for (const char* expected : {"b1", "b2", "a1", "a2", "a3", "end"}) EXPECT_EQ(log->pop(), expected);
}

TEST(SelectiveReceive, AMessageArrivingWhileWaitingIsTakenIfItMatchesAndSavedIfNot) {
  troupe::system sys(small_config());
  auto log = std::make_shared<log_queue>();
  auto r = sys.spawn(troupe::otp::coroutine_actor<ab_msg>([log](ab_context& self) -> coroutine<ab_msg> {
    int n = co_await self.receive([](b&& m) { return m.n; });
    log->push("took b" + std::to_string(n) + ", saved " + std::to_string(self.saved()));
    n = co_await self.receive([](a&& m) { return m.n; });
    log->push("then a" + std::to_string(n));
  }));
  r.tell(a{1});
  r.tell(go{});
  r.tell(b{7});
  EXPECT_EQ(log->pop(), "took b7, saved 2");
  EXPECT_EQ(log->pop(), "then a1");
}

TEST(SelectiveReceive, PatternsAreTriedInTheOrderWritten) {
  troupe::system sys(small_config());
  auto log = std::make_shared<log_queue>();
  auto r = sys.spawn(troupe::otp::coroutine_actor<ab_msg>([log](ab_context& self) -> coroutine<ab_msg> {
    for (int i = 0; i < 2; ++i)
      co_await self.receive([&](const a&) { log->push("first"); }, [&](const auto&) { log->push("catch-all"); });
  }));
  r.tell(a{1});
  r.tell(b{1});
  EXPECT_EQ(log->pop(), "first");
  EXPECT_EQ(log->pop(), "catch-all");
}

TEST(SelectiveReceive, AGuardSelectsAmongMessagesOfOneType) {
  troupe::system sys(small_config());
  auto log = std::make_shared<log_queue>();
  auto r = sys.spawn(troupe::otp::coroutine_actor<ab_msg>([log](ab_context& self) -> coroutine<ab_msg> {
    co_await self.receive([](go) {});
    int n = co_await self.receive(when([](const a& m) { return m.n % 2 == 0; }, [](a&& m) { return m.n; }));
    log->push("even a" + std::to_string(n));
    for (int i = 0; i < 3; ++i) co_await self.receive([&](a&& m) { log->push("a" + std::to_string(m.n)); });
  }));
  send_then_go(r, {a{1}, a{3}, a{4}, a{5}});
  for (const char* expected : {"even a4", "a1", "a3", "a5"}) EXPECT_EQ(log->pop(), expected);
}

TEST(SelectiveReceive, AfterYieldsTimeoutWhenNothingMatchesAndKeepsTheSavedMessages) {
  troupe::system sys(small_config());
  auto log = std::make_shared<log_queue>();
  auto r = sys.spawn(troupe::otp::coroutine_actor<ab_msg>([log](ab_context& self) -> coroutine<ab_msg> {
    co_await self.receive([](go) {});
    auto got = co_await self.receive([](const b&) {}, after(std::chrono::milliseconds(20)));
    log->push(got ? "matched" : got.error() == troupe::errc::timeout ? "timeout" : "other error");
    log->push("saved " + std::to_string(self.saved()));
    co_await self.receive([&](a&& m) { log->push("a" + std::to_string(m.n)); });
  }));
  send_then_go(r, {a{1}});
  EXPECT_EQ(log->pop(), "timeout");
  EXPECT_EQ(log->pop(), "saved 1");
  EXPECT_EQ(log->pop(), "a1");
}

TEST(SelectiveReceive, AfterZeroLooksOnlyAtTheSavedMessages) {
  troupe::system sys(small_config());
  auto log = std::make_shared<log_queue>();
  auto r = sys.spawn(troupe::otp::coroutine_actor<ab_msg>([log](ab_context& self) -> coroutine<ab_msg> {
    auto none = co_await self.receive([](const b&) {}, after(std::chrono::milliseconds(0)));
    log->push(none ? "matched" : "timeout at once");
    co_await self.receive([](go) {});
    auto some = co_await self.receive([](b&& m) { return m.n; }, after(std::chrono::milliseconds(0)));
    log->push(some ? "b" + std::to_string(*some) : "timeout");
  }));
  EXPECT_EQ(log->pop(), "timeout at once");
  send_then_go(r, {b{2}});
  EXPECT_EQ(log->pop(), "b2");
}

TEST(SelectiveReceive, AMessageThatArrivesBeforeTheTimeoutIsTakenAndTheTimerIsCancelled) {
  troupe::system sys(small_config());
  auto log = std::make_shared<log_queue>();
  auto r = sys.spawn(troupe::otp::coroutine_actor<ab_msg>([log](ab_context& self) -> coroutine<ab_msg> {
    auto got = co_await self.receive([](b&& m) { return m.n; }, after(deadline));
    log->push(got ? "b" + std::to_string(*got) : "timeout");
    log->push(self.actor().timer_active("troupe.recv") ? "timer still running" : "timer cancelled");
  }));
  r.tell(b{3});
  EXPECT_EQ(log->pop(), "b3");
  EXPECT_EQ(log->pop(), "timer cancelled");
}

// --- after() in virtual time ----------------------------------------------------------------------

using strings = std::vector<std::string>;

// Two receives of b, each with after(1s); logs "b<n>" or "timeout" for each.
troupe::behavior<ab_msg> two_timed_receives(std::shared_ptr<log_queue> log) {
  return troupe::otp::coroutine_actor<ab_msg>([log](ab_context& self) -> coroutine<ab_msg> {
    for (int i = 0; i < 2; ++i) {
      auto got = co_await self.receive([](b&& m) { return m.n; }, after(1s));
      log->push(got ? "b" + std::to_string(*got) : "timeout");
    }
  });
}

TEST(SelectiveReceive, AfterTimesOutExactlyAtItsDeadlineInVirtualTime) {
  troupe::testkit::test_system ts;
  auto log = std::make_shared<log_queue>();
  auto r = ts.spawn(two_timed_receives(log));
  ts.run_until_idle();
  r.tell(a{1});  // a message that matches nothing does not end the wait
  ts.run_until_idle();
  ts.advance(1s - 1ns);
  EXPECT_EQ(log->drain(), strings{});  // not a nanosecond early
  ts.advance(1ns);
  EXPECT_EQ(log->drain(), (strings{"timeout"}));
  ts.advance(500ms);  // the second receive's second starts when it began, at 1 s
  r.tell(b{2});
  ts.run_until_idle();
  EXPECT_EQ(log->drain(), (strings{"b2"}));
}

// The race a real clock cannot stage: the deadline passes just as a matching message arrives.
// The message was queued first, so it wins; the timeout that fired behind it is stale and must
// neither resume the body again nor cut the next receive short.
TEST(SelectiveReceive, AMessageQueuedAheadOfTheFiredTimeoutWinsAndTheStaleTimeoutIsDiscarded) {
  troupe::testkit::test_system ts;
  auto log = std::make_shared<log_queue>();
  auto r = ts.spawn(two_timed_receives(log));
  ts.run_until_idle();
  r.tell(b{1});                               // queued, not yet handled
  ts.clock().set_time(ts.now() + 1s);         // the deadline passes...
  ASSERT_TRUE(ts.clock().fire_next_due());    // ...and the timeout is queued behind the message
  ts.run_until_idle();
  EXPECT_EQ(log->drain(), (strings{"b1"}));
  ts.advance(1s - 1ns);                       // the second receive waits its full second
  EXPECT_EQ(log->drain(), strings{});
  ts.advance(1ns);
  EXPECT_EQ(log->drain(), (strings{"timeout"}));
}

// The other order: the timeout fired first, so it wins, and the message is kept for the next
// receive, not lost.
TEST(SelectiveReceive, ATimeoutQueuedAheadOfTheMessageWinsAndTheMessageIsKept) {
  troupe::testkit::test_system ts;
  auto log = std::make_shared<log_queue>();
  auto r = ts.spawn(two_timed_receives(log));
  ts.run_until_idle();
  ts.clock().set_time(ts.now() + 1s);
  ASSERT_TRUE(ts.clock().fire_next_due());  // the timeout is queued first
  r.tell(b{1});                             // then the message
  ts.run_until_idle();
  EXPECT_EQ(log->drain(), (strings{"timeout", "b1"}));
}

TEST(SelectiveReceive, AnExceptionFromAHandlerSurfacesAtItsCoAwait) {
  troupe::system sys(small_config());
  auto log = std::make_shared<log_queue>();
  auto r = sys.spawn(troupe::otp::coroutine_actor<ab_msg>([log](ab_context& self) -> coroutine<ab_msg> {
    try {
      co_await self.receive([](const a&) { throw std::runtime_error("bad a"); });
    } catch (const std::runtime_error& e) {
      log->push(std::string("caught ") + e.what());
    }
    co_await self.receive([&](const b&) { log->push("still running"); });
  }));
  r.tell(a{1});
  r.tell(b{1});
  EXPECT_EQ(log->pop(), "caught bad a");
  EXPECT_EQ(log->pop(), "still running");
}

// What a receive yields, decided at compile time from its handlers and its after().
struct take_a {
  int operator()(a&& m) const { return m.n; }
};
struct take_any {
  template <class M>
  void operator()(const M&) const {}
};
static_assert(std::is_same_v<troupe::otp::detail::pattern_set<ab_msg, take_a>::value_type, int>);
static_assert(std::is_same_v<troupe::otp::detail::pattern_set<ab_msg, take_any>::value_type, void>);
static_assert(troupe::otp::detail::pattern_set<ab_msg, take_a, troupe::otp::after_clause>::has_timeout);
// Arguments g++ 12 would destroy twice if made inside a co_await are refused at compile time.
static_assert(troupe::otp::detail::safe_in_co_await<take_a>);                            // nothing to destroy
static_assert(troupe::otp::detail::safe_in_co_await<troupe::ref<ab_msg>&>);              // a named value
#if defined(__GNUC__) && !defined(__clang__)
static_assert(!troupe::otp::detail::safe_in_co_await<troupe::ref<ab_msg>>);              // a temporary
#endif

// --- Erlang's trick: a mark, and the scan counter that proves it ---------------------------------

struct request {
  troupe::ref<ab_msg> reply_to;
};
// Answers every request with b{42}.
troupe::behavior<request> replier() {
  return troupe::receive<request>([](const request& r) { r.reply_to.tell(b{42}); });
}

constexpr int backlog = 1000;

TEST(SelectiveReceive, AReceiveAfterAMarkFindsTheReplyWithoutRescanningTheBacklog) {
  troupe::system sys(small_config());
  auto log = std::make_shared<blocking_queue<std::uint64_t>>();
  auto server = sys.spawn(replier());
  auto r = sys.spawn(troupe::otp::coroutine_actor<ab_msg>([log, server](ab_context& self) -> coroutine<ab_msg> {
    co_await self.receive([](go) {});  // the backlog is saved now
    // Without a mark, the reply's receive tests every saved message first.
    auto before = self.scans();
    server.tell(request{self.self()});
    co_await self.receive([](const b&) {});
    log->push(self.scans() - before);
    // With a mark taken before the request, only what arrived after it is tested.
    before = self.scans();
    auto mark = self.mark();
    server.tell(request{self.self()});
    co_await self.receive(mark, [](const b&) {});
    log->push(self.scans() - before);
    log->push(self.saved());
  }));
  for (int i = 0; i < backlog; ++i) r.tell(a{i});
  r.tell(go{});
  EXPECT_EQ(*log->pop(), std::uint64_t{backlog} + 1);  // the backlog, then the reply
  EXPECT_EQ(*log->pop(), 1u);                      // the reply alone
  EXPECT_EQ(*log->pop(), std::uint64_t{backlog});  // the backlog is still there, in order
}

TEST(SelectiveReceive, AMarkStillSeesMessagesThatArriveAfterIt) {
  troupe::system sys(small_config());
  auto log = std::make_shared<log_queue>();
  auto r = sys.spawn(troupe::otp::coroutine_actor<ab_msg>([log](ab_context& self) -> coroutine<ab_msg> {
    co_await self.receive([](go) {});
    auto mark = self.mark();
    co_await self.receive([](go) {});  // a{2} and b{2} arrive after the mark and are saved
    int n = co_await self.receive(mark, [](b&& m) { return m.n; });
    log->push("b" + std::to_string(n));
    for (int i = 0; i < 2; ++i) co_await self.receive([&](a&& m) { log->push("a" + std::to_string(m.n)); });
  }));
  send_then_go(r, {a{1}, b{1}});
  send_then_go(r, {a{2}, b{2}});
  for (const char* expected : {"b2", "a1", "a2"}) EXPECT_EQ(log->pop(), expected);
}

}  // namespace
