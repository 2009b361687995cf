// circuit_breaker_test.cpp: closed, open, half-open; max failures, call timeout, reset timeout;
// around asks from a thread and from an actor. The state machine and the call timeout run in
// the test kit's virtual time, checked to the nanosecond; two tests of asks run on a real
// system, where only ask timeouts pace anything.
#include "troupe/otp/circuit_breaker.hpp"

#include <gtest/gtest.h>

#include <atomic>
#include <future>
#include <memory>
#include <variant>
#include <vector>

#include "core/test_support.hpp"
#include "troupe/testkit/test_system.hpp"
#include "troupe/troupe.hpp"

namespace {

using namespace troupe_test;
using namespace std::chrono_literals;
namespace otp = troupe::otp;

void fail_times(const otp::circuit_breaker& b, unsigned n) {
  for (unsigned i = 0; i < n; ++i) {
    auto t = b.try_acquire();
    ASSERT_TRUE(t);
    b.record(*t, false);
  }
}

TEST(CircuitBreaker, OpensAfterMaxConsecutiveFailuresAndThenFailsFast) {
  troupe::testkit::test_system ts;
  otp::circuit_breaker b{ts.system(), {.max_failures = 3, .reset_timeout = 10s}};
  fail_times(b, 2);
  EXPECT_EQ(b.state(), otp::circuit_state::closed);
  EXPECT_EQ(b.failures(), 2u);
  fail_times(b, 1);
  EXPECT_EQ(b.state(), otp::circuit_state::open);
  auto refused = b.try_acquire();
  ASSERT_FALSE(refused);
  EXPECT_TRUE(refused.error() == troupe::errc::circuit_open);
}

TEST(CircuitBreaker, ASuccessResetsTheConsecutiveFailures) {
  troupe::testkit::test_system ts;
  otp::circuit_breaker b{ts.system(), {.max_failures = 3}};
  fail_times(b, 2);
  auto t = b.try_acquire();
  ASSERT_TRUE(t);
  b.record(*t, true);
  EXPECT_EQ(b.failures(), 0u);
  fail_times(b, 2);
  EXPECT_EQ(b.state(), otp::circuit_state::closed);
}

TEST(CircuitBreaker, AfterTheResetTimeoutOneTrialPassesAndItsSuccessCloses) {
  troupe::testkit::test_system ts;
  std::vector<std::pair<otp::circuit_state, otp::circuit_state>> moves;
  otp::circuit_breaker b{ts.system(), {.max_failures = 1,
                                 .reset_timeout = 5s,
                                 .on_transition = [&](otp::circuit_state from, otp::circuit_state to) {
                                   moves.emplace_back(from, to);
                                 }}};
  fail_times(b, 1);
  ts.advance(5s - 1ns);
  EXPECT_FALSE(b.try_acquire());  // still open, a nanosecond before the reset timeout
  EXPECT_EQ(b.state(), otp::circuit_state::open);
  ts.advance(1ns);
  auto trial = b.try_acquire();
  ASSERT_TRUE(trial);
  EXPECT_EQ(b.state(), otp::circuit_state::half_open);
  auto second = b.try_acquire();  // only one trial at a time
  ASSERT_FALSE(second);
  EXPECT_TRUE(second.error() == troupe::errc::circuit_open);
  b.record(*trial, true);
  EXPECT_EQ(b.state(), otp::circuit_state::closed);
  EXPECT_TRUE(b.try_acquire());
  using s = otp::circuit_state;
  EXPECT_EQ(moves, (std::vector<std::pair<s, s>>{{s::closed, s::open}, {s::open, s::half_open}, {s::half_open, s::closed}}));
}

TEST(CircuitBreaker, AFailedTrialOpensTheCircuitForAnotherResetTimeout) {
  troupe::testkit::test_system ts;
  otp::circuit_breaker b{ts.system(), {.max_failures = 1, .reset_timeout = 5s}};
  fail_times(b, 1);
  ts.advance(5s);
  auto trial = b.try_acquire();
  ASSERT_TRUE(trial);
  b.record(*trial, false);
  EXPECT_EQ(b.state(), otp::circuit_state::open);
  ts.advance(5s - 1ns);  // the new reset timeout counts from the failed trial
  EXPECT_FALSE(b.try_acquire());
  ts.advance(1ns);
  EXPECT_TRUE(b.try_acquire());
}

TEST(CircuitBreaker, OutcomesOfCallsFromBeforeAChangeOfStateAreIgnored) {
  troupe::testkit::test_system ts;
  otp::circuit_breaker b{ts.system(), {.max_failures = 1, .reset_timeout = 5s}};
  auto early = b.try_acquire();
  ASSERT_TRUE(early);
  fail_times(b, 1);  // opens
  b.record(*early, true);  // a late success from when it was closed must not close it
  EXPECT_EQ(b.state(), otp::circuit_state::open);
  EXPECT_THROW((otp::circuit_breaker{ts.system(), {.max_failures = 0}}), troupe::usage_error);
}

// --- around asks -------------------------------------------------------------------------------

struct call {
  troupe::ref<int> reply_to;
};
struct set_mode {
  int mode;  // 0: answer 42; 1: drop requests (request_dropped); 2: hold them (they time out)
};
using service_msg = std::variant<call, set_mode>;

struct service_stats {
  std::atomic<int> calls{0};
};

troupe::behavior<service_msg> flaky_service(std::shared_ptr<service_stats> stats) {
  return troupe::setup<service_msg>([stats](troupe::actor_context<service_msg>&) {
    auto mode = std::make_shared<int>(0);
    auto held = std::make_shared<std::vector<troupe::ref<int>>>();
    return troupe::receive<service_msg>(
        [stats, mode, held](const call& c) {
          stats->calls.fetch_add(1);
          if (*mode == 0) c.reply_to.tell(42);
          else if (*mode == 2) held->push_back(c.reply_to);
        },
        [mode](const set_mode& m) { *mode = m.mode; });
  });
}

auto make_call = [](troupe::ref<int> r) { return call{r}; };

TEST(CircuitBreaker, GuardsAsksFromAThread) {
  troupe::system sys{small_config()};
  auto stats = std::make_shared<service_stats>();
  auto svc = sys.spawn(flaky_service(stats));
  otp::circuit_breaker b{sys, {.max_failures = 2, .call_timeout = deadline, .reset_timeout = 1h}};
  auto ok = await(b.ask<int>(svc, make_call));
  ASSERT_TRUE(ok);
  EXPECT_EQ(*ok, 42);
  svc.tell(set_mode{1});
  for (int i = 0; i < 2; ++i) {
    auto r = await(b.ask<int>(svc, make_call));
    ASSERT_FALSE(r);
    EXPECT_TRUE(r.error() == troupe::errc::request_dropped);
  }
  EXPECT_EQ(b.state(), otp::circuit_state::open);
  auto fast = await(b.ask<int>(svc, make_call));
  ASSERT_FALSE(fast);
  EXPECT_TRUE(fast.error() == troupe::errc::circuit_open) << fast.error().message();
  EXPECT_EQ(stats->calls.load(), 3);  // the refused call never reached the service
}

TEST(CircuitBreaker, ACallTimeoutCountsAsAFailureExactlyAtTheCallTimeout) {
  troupe::testkit::test_system ts;
  auto stats = std::make_shared<service_stats>();
  auto svc = ts.spawn(flaky_service(stats));
  svc.tell(set_mode{2});
  otp::circuit_breaker b{ts.system(), {.max_failures = 1, .call_timeout = 20ms, .reset_timeout = 1h}};
  auto f = b.ask<int>(svc, make_call);
  ts.advance(20ms - 1ns);
  EXPECT_EQ(f.wait_for(0s), std::future_status::timeout);  // not a nanosecond early
  EXPECT_EQ(b.state(), otp::circuit_state::closed);
  ts.advance(1ns);
  ASSERT_EQ(f.wait_for(0s), std::future_status::ready);
  auto r = f.get();
  ASSERT_FALSE(r);
  EXPECT_TRUE(r.error() == troupe::errc::timeout);
  EXPECT_EQ(b.state(), otp::circuit_state::open);
  ts.advance(1h - 1ns);
  EXPECT_FALSE(b.try_acquire());
  ts.advance(1ns);
  EXPECT_TRUE(b.try_acquire());  // the trial, one hour after the timeout opened the circuit
}

TEST(CircuitBreaker, GuardsAsksFromAnActor) {
  troupe::system sys{small_config()};
  auto stats = std::make_shared<service_stats>();
  auto svc = sys.spawn(flaky_service(stats));
  svc.tell(set_mode{1});
  otp::circuit_breaker b{sys, {.max_failures = 2, .call_timeout = deadline, .reset_timeout = 1h}};
  struct go {};
  struct outcome {
    troupe::result<int> r;
  };
  using client_msg = std::variant<go, outcome>;
  auto outcomes = std::make_shared<blocking_queue<troupe::result<int>>>();
  // Capacity 1: the fast failure arrives past the bound, like an ask's answer.
  auto client = sys.spawn(troupe::setup<client_msg>([=](troupe::actor_context<client_msg>& ctx) {
                            return troupe::receive<client_msg>(
                                [&ctx, b, svc](const go&) {
                                  b.ask<int>(ctx, svc, make_call, [](troupe::result<int>&& r) { return outcome{std::move(r)}; });
                                },
                                [outcomes](const outcome& o) { outcomes->push(o.r); });
                          }),
                          {.mailbox = {.capacity = 1}});
  for (int i = 0; i < 3; ++i) {
    client.tell(go{});
    auto o = outcomes->pop();
    ASSERT_TRUE(o);
    ASSERT_FALSE(*o);
    EXPECT_TRUE(o->error() == (i < 2 ? troupe::errc::request_dropped : troupe::errc::circuit_open)) << o->error().message();
  }
  EXPECT_EQ(stats->calls.load(), 2);
}

}  // namespace
