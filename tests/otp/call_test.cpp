// call_test.cpp: OTP's call: a request with a reply handle; it always completes.
#include "troupe/otp/call.hpp"

#include <gtest/gtest.h>

#include <variant>
#include <vector>

#include "core/test_support.hpp"
#include "troupe/testkit/test_probe.hpp"
#include "troupe/testkit/test_system.hpp"
#include "troupe/troupe.hpp"

namespace {

using namespace troupe_test;
using namespace std::chrono_literals;
namespace otp = troupe::otp;

struct get {
  otp::reply_to<int> reply_to;
};
struct keep {  // the server keeps the handle and answers it at the next `release`
  otp::reply_to<int> reply_to;
};
struct release {
  int value;
};
struct drop {  // the server lets the handle go unanswered
  otp::reply_to<int> reply_to;
};
struct divide {
  int a, b;
  otp::reply_to<troupe::result<int>> reply_to;
};
struct twice {  // the server replies twice; the caller sees the first
  otp::reply_to<int> reply_to;
};
struct crash {};
using calc_msg = std::variant<get, keep, release, drop, divide, twice, crash>;

troupe::behavior<calc_msg> calc(std::vector<otp::reply_to<int>> kept) {
  return troupe::receive<calc_msg>(
      [](const get& g) { g.reply_to.reply(42); },
      [kept](keep&& k) mutable {
        kept.push_back(std::move(k.reply_to));
        return calc(std::move(kept));
      },
      [kept](const release& r) {
        for (auto& k : kept) k.reply(r.value);
        return calc({});
      },
      [](drop&&) {},
      [](const divide& d) {
        if (d.b == 0) d.reply_to.reply(troupe::error{troupe::errc::request_dropped, "division by zero"});
        else d.reply_to.reply(d.a / d.b);
      },
      [](const twice& t) {
        t.reply_to.reply(1);
        t.reply_to.reply(2);
      },
      [](crash) -> troupe::same_tag { throw std::runtime_error("boom"); });
}

static_assert(otp::default_call_timeout == std::chrono::seconds{5});
static_assert(otp::call_message<get>);
static_assert(!otp::call_message<release>);
static_assert(std::is_same_v<otp::call_result_of<get>, troupe::result<int>>);
static_assert(std::is_same_v<otp::call_result_of<divide>, troupe::result<int>>);  // not nested

TEST(Call, FromAThreadReturnsTheReply) {
  troupe::system sys{small_config()};
  auto s = sys.spawn(calc({}));
  auto r = await(otp::call(s, get{}));
  ASSERT_TRUE(r.has_value()) << r.error().message();
  EXPECT_EQ(*r, 42);
}

TEST(Call, AReplyThatIsAResultCompletesTheCallerWithThatResult) {
  troupe::system sys{small_config()};
  auto s = sys.spawn(calc({}));
  EXPECT_EQ(await(otp::call(s, divide{84, 2, {}})).value(), 42);
  auto r = await(otp::call(s, divide{1, 0, {}}));
  ASSERT_FALSE(r.has_value());
  EXPECT_EQ(r.error().context(), "division by zero");
}

TEST(Call, CompletesWithTimeoutWhenTheServerKeepsTheCallerPastTheDeadline) {
  troupe::system sys{small_config()};
  auto s = sys.spawn(calc({}));
  auto r = await(otp::call(s, keep{}, std::chrono::milliseconds{5}));
  ASSERT_FALSE(r.has_value());
  EXPECT_TRUE(r.error() == troupe::errc::timeout) << r.error().message();
}

TEST(Call, WithInfinityWaitsForAReplyGivenFromALaterMessage) {
  troupe::system sys{small_config()};
  auto s = sys.spawn(calc({}));
  auto f = otp::call(s, keep{}, troupe::infinity);
  EXPECT_EQ(await(otp::call(s, get{})).value(), 42);  // the keep has been handled, and kept
  EXPECT_EQ(f.wait_for(std::chrono::seconds{0}), std::future_status::timeout);
  s.tell(release{7});
  EXPECT_EQ(await(std::move(f)).value(), 7);
}

TEST(Call, CompletesWithReceiverDeadWhenTheServerDiesHoldingTheCaller) {
  troupe::system sys{small_config()};
  auto s = sys.spawn(calc({}));
  auto f = otp::call(s, keep{}, troupe::infinity);
  s.tell(crash{});
  auto r = await(std::move(f));
  ASSERT_FALSE(r.has_value());
  EXPECT_TRUE(r.error() == troupe::errc::receiver_dead) << r.error().message();
}

TEST(Call, CompletesWithReceiverDeadWhenTheServerHadAlreadyStopped) {
  troupe::system sys{small_config()};
  auto s = sys.spawn(calc({}));
  auto down = watch_from_outside(sys, s);
  s.tell(crash{});
  ASSERT_TRUE(down->pop().has_value());
  auto r = await(otp::call(s, get{}, troupe::infinity));
  ASSERT_FALSE(r.has_value());
  EXPECT_TRUE(r.error() == troupe::errc::receiver_dead) << r.error().message();
}

TEST(Call, CompletesWithRequestDroppedWhenTheServerDropsTheHandleUnanswered) {
  troupe::system sys{small_config()};
  auto s = sys.spawn(calc({}));
  auto r = await(otp::call(s, drop{}, troupe::infinity));
  ASSERT_FALSE(r.has_value());
  EXPECT_TRUE(r.error() == troupe::errc::request_dropped) << r.error().message();
}

TEST(Call, FromAnActorArrivesAsAMessageOfTheCallersProtocol) {
  troupe::system sys{small_config()};
  auto s = sys.spawn(calc({}));
  auto out = std::make_shared<blocking_queue<troupe::result<int>>>();
  struct answer {
    troupe::result<int> r;
  };
  sys.spawn(troupe::setup<answer>([s, out](troupe::actor_context<answer>& ctx) {
    otp::call(ctx, s, get{}, [](troupe::result<int> r) { return answer{std::move(r)}; });
    otp::call(ctx, s, keep{}, std::chrono::milliseconds{5}, [](troupe::result<int> r) { return answer{std::move(r)}; });
    return troupe::receive<answer>([out](answer&& a) { out->push(std::move(a.r)); });
  }));
  auto first = out->pop();
  auto second = out->pop();
  ASSERT_TRUE(first && second);
  // The two answers may arrive in either order: one is 42, the other a timeout.
  if (!first->has_value()) std::swap(first, second);
  EXPECT_EQ(first->value(), 42);
  ASSERT_FALSE(second->has_value());
  EXPECT_TRUE(second->error() == troupe::errc::timeout);
}

// --- virtual time: the exact deadlines -------------------------------------------------------------

template <class T>
bool ready(const std::future<T>& f) {
  return f.wait_for(0s) == std::future_status::ready;
}

TEST(Call, TheDefaultTimeoutIsFiveSecondsToTheNanosecondInVirtualTime) {
  troupe::testkit::test_system ts;
  auto s = ts.spawn(calc({}));
  auto f = otp::call(s, keep{});  // the server keeps the handle and never answers
  ts.advance(5s - 1ns);
  EXPECT_FALSE(ready(f));  // not a nanosecond early
  ts.advance(1ns);
  ASSERT_TRUE(ready(f));
  auto r = f.get();
  ASSERT_FALSE(r.has_value());
  EXPECT_TRUE(r.error() == troupe::errc::timeout) << r.error().message();
}

TEST(Call, AReplyJustBeforeTheDeadlineWinsInVirtualTime) {
  troupe::testkit::test_system ts;
  auto s = ts.spawn(calc({}));
  auto f = otp::call(s, keep{}, 100ms);
  ts.advance(100ms - 1ns);
  s.tell(release{7});
  ts.run_until_idle();
  ASSERT_TRUE(ready(f));
  EXPECT_EQ(f.get().value(), 7);
  ts.advance(1h);  // the deadline passing later changes nothing (and does not crash)
}

TEST(Call, WithInfinityDoesNotTimeOutAfterAnHourInVirtualTime) {
  troupe::testkit::test_system ts;
  auto s = ts.spawn(calc({}));
  auto f = otp::call(s, keep{}, troupe::infinity);
  ts.advance(1h);
  EXPECT_FALSE(ready(f));
  s.tell(release{7});
  ts.run_until_idle();
  ASSERT_TRUE(ready(f));
  EXPECT_EQ(f.get().value(), 7);
}

TEST(Call, FromAnActorTimesOutExactlyAtTheDeadlineInVirtualTime) {
  troupe::testkit::test_system ts;
  troupe::testkit::test_probe<troupe::result<int>> probe{ts};
  auto s = ts.spawn(calc({}));
  struct answer {
    troupe::result<int> r;
  };
  auto out = probe.ref();
  ts.spawn(troupe::setup<answer>([s, out](troupe::actor_context<answer>& ctx) {
    otp::call(ctx, s, keep{}, [](troupe::result<int> r) { return answer{std::move(r)}; });  // default: 5 s
    return troupe::receive<answer>([out](answer&& a) { out.tell(std::move(a.r)); });
  }));
  ts.run_until_idle();
  probe.expect_no_message(5s - 1ns);
  auto r = probe.expect_message(1ns);
  ASSERT_FALSE(r.has_value());
  EXPECT_TRUE(r.error() == troupe::errc::timeout);
  EXPECT_EQ(ts.elapsed(), 5s);
}

TEST(Call, TheFirstReplyWinsAndLaterOnesAreIgnored) {
  troupe::system sys{small_config()};
  auto s = sys.spawn(calc({}));
  EXPECT_EQ(await(otp::call(s, twice{})).value(), 1);
  EXPECT_EQ(await(otp::call(s, get{})).value(), 42);  // the server lives on
}

TEST(Call, AMovedFromOrEmptyHandleCannotReply) {
  troupe::system sys{small_config()};
  auto q = std::make_shared<blocking_queue<int>>();
  otp::reply_to<int> a(spawn_probe<int>(sys, q));
  otp::reply_to<int> b = std::move(a);
  EXPECT_FALSE(a);  // NOLINT(bugprone-use-after-move): what a moved-from handle is, is the point
  EXPECT_THROW(a.reply(1), troupe::usage_error);
  b.reply(5);
  EXPECT_EQ(q->pop(), 5);
}

}  // namespace
