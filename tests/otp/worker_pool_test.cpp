// worker_pool_test.cpp: checkout and checkin, overflow, waiting with a deadline, leases. The
// checkout's wait is checked to the nanosecond in virtual time, with the race at its deadline.
#include "troupe/otp/worker_pool.hpp"

#include <gtest/gtest.h>

#include <future>
#include <memory>
#include <variant>

#include "core/test_support.hpp"
#include "troupe/testkit/test_system.hpp"
#include "troupe/troupe.hpp"

namespace {

using namespace troupe_test;
using namespace std::chrono_literals;

struct square {
  int n;
  troupe::ref<int> reply_to;
};
struct quit {};
using worker_msg = std::variant<square, quit>;
using pool_ref = troupe::ref<troupe::otp::worker_pool_msg<worker_msg>>;

troupe::behavior<worker_msg> worker() {
  return troupe::receive<worker_msg>([](const square& s) { s.reply_to.tell(s.n * s.n); },
                                     [](quit) { return troupe::stopped; });
}

troupe::otp::pool_status status_of(const pool_ref& pool) {
  return await(pool.ask<troupe::otp::pool_status>([](troupe::ref<troupe::otp::pool_status> r) {
           return troupe::otp::status_request{r};
         }, deadline)).value();
}

pool_ref spawn_pool(troupe::system& sys, troupe::otp::worker_pool_options opts) {
  return sys.spawn(troupe::otp::worker_pool<worker_msg>([] { return worker(); }, opts));
}

TEST(WorkerPool, ALeaseHoldsAWorkerAndChecksItBackInWhenDestroyed) {
  troupe::system sys{small_config()};
  auto pool = spawn_pool(sys, {.size = 2});
  {
    auto l = await(troupe::otp::checkout(pool, 0ms));
    ASSERT_TRUE(l.has_value()) << l.error().message();
    auto r = await((*l)->ask<int>([](troupe::ref<int> r) { return square{7, r}; }, deadline));
    EXPECT_EQ(r.value(), 49);
    auto s = status_of(pool);
    EXPECT_EQ(s.idle, 1u);
    EXPECT_EQ(s.busy, 1u);
  }
  EXPECT_TRUE(wait_until([&] { return status_of(pool).idle == 2; }));
}

TEST(WorkerPool, CheckoutWithoutWaitingFailsWithTimeoutWhenEveryWorkerIsBusy) {
  troupe::system sys{small_config()};
  auto pool = spawn_pool(sys, {.size = 1});
  auto held = await(troupe::otp::checkout(pool, 0ms));
  ASSERT_TRUE(held.has_value());
  auto none = await(troupe::otp::checkout(pool, 0ms));
  ASSERT_FALSE(none.has_value());
  EXPECT_TRUE(none.error() == troupe::errc::timeout) << none.error().message();
}

TEST(WorkerPool, AWaitingCheckoutGetsTheNextWorkerCheckedIn) {
  troupe::system sys{small_config()};
  auto pool = spawn_pool(sys, {.size = 1});
  auto held = await(troupe::otp::checkout(pool, 0ms)).value();
  auto waiting = troupe::otp::checkout(pool, deadline);
  ASSERT_TRUE(wait_until([&] { return status_of(pool).waiting == 1; }));
  auto worker_id = held.worker().id();
  held.give_back();
  auto got = await(std::move(waiting));
  ASSERT_TRUE(got.has_value()) << got.error().message();
  EXPECT_EQ(got->worker().id(), worker_id);
}

TEST(WorkerPool, AWaitingCheckoutTimesOutWhenNoWorkerComesBack) {
  troupe::system sys{small_config()};
  auto pool = spawn_pool(sys, {.size = 1});
  auto held = await(troupe::otp::checkout(pool, 0ms)).value();
  auto r = await(troupe::otp::checkout(pool, 20ms));
  ASSERT_FALSE(r.has_value());
  EXPECT_TRUE(r.error() == troupe::errc::timeout);
  EXPECT_EQ(status_of(pool).waiting, 0u);
}

TEST(WorkerPool, OverflowWorkersAreSpawnedWhileAllAreBusyAndStoppedWhenCheckedIn) {
  troupe::system sys{small_config()};
  auto pool = spawn_pool(sys, {.size = 1, .max_overflow = 1});
  auto a = await(troupe::otp::checkout(pool, 0ms)).value();
  auto b = await(troupe::otp::checkout(pool, 0ms)).value();
  EXPECT_FALSE(await(troupe::otp::checkout(pool, 0ms)).has_value());  // the overflow is bounded
  EXPECT_EQ(status_of(pool).overflow, 1u);
  auto overflow_worker = b.worker();
  auto down = watch_from_outside(sys, overflow_worker);
  b.give_back();
  ASSERT_TRUE(down->pop().has_value());  // stopped, not kept
  auto s = status_of(pool);
  EXPECT_EQ(s.overflow, 0u);
  EXPECT_EQ(s.idle, 0u);
  EXPECT_EQ(s.busy, 1u);
}

TEST(WorkerPool, ABorrowerThatStopsGivesItsWorkerBack) {
  troupe::system sys{small_config()};
  auto pool = spawn_pool(sys, {.size = 1});
  struct got {
    troupe::result<troupe::otp::lease<worker_msg>> lease;
  };
  auto ok = std::make_shared<gate>();
  auto borrower = sys.spawn(troupe::setup<got>([pool, ok](troupe::actor_context<got>& ctx) {
    troupe::otp::checkout(ctx, pool, 1s, [](troupe::result<troupe::otp::lease<worker_msg>>&& l) { return got{std::move(l)}; });
    auto kept = std::make_shared<troupe::otp::lease<worker_msg>>();
    return troupe::receive<got>([kept, ok](got&& g) {
      if (g.lease) *kept = std::move(*g.lease);  // held in the actor's state
      ok->open();
      return troupe::stopped;  // and lost when the state is destroyed: checked back in
    });
  }));
  ASSERT_TRUE(ok->wait());
  EXPECT_TRUE(wait_until([&] { return status_of(pool).idle == 1; }));
}

TEST(WorkerPool, NoWorkerIsLostWhenAskersGiveUpBeforeTheirLeaseArrives) {
  troupe::system sys{small_config()};
  auto pool = spawn_pool(sys, {.size = 2});
  // Asks that time out almost at once: a lease that arrives after its asker gave up is
  // destroyed on arrival, which checks it in; one that arrives in time is dropped here.
  for (int i = 0; i < 200; ++i) {
    auto f = pool.ask<troupe::otp::lease<worker_msg>>(
        [](troupe::ref<troupe::otp::lease<worker_msg>> r) { return troupe::otp::checkout_request<worker_msg>{r, 0ms}; },
        std::chrono::microseconds{i % 3});
    (void)await(std::move(f));
  }
  EXPECT_TRUE(wait_until([&] {
    auto s = status_of(pool);
    return s.idle == 2 && s.busy == 0;
  }));
}

TEST(WorkerPool, AWorkerThatStopsIsReplaced) {
  troupe::system sys{small_config()};
  auto pool = spawn_pool(sys, {.size = 1});
  auto l = await(troupe::otp::checkout(pool, 0ms)).value();
  auto first = l.worker();
  first.tell(quit{});
  ASSERT_TRUE(wait_until([&] { return status_of(pool).idle == 1; }));
  auto next = await(troupe::otp::checkout(pool, 0ms)).value();
  EXPECT_NE(next.worker().id(), first.id());
  l.give_back();  // the stopped worker's lease: ignored by the pool
  EXPECT_EQ(status_of(pool).busy, 1u);
}

TEST(WorkerPool, CheckoutFromAStoppedPoolFailsWithReceiverDead) {
  troupe::system sys{small_config()};
  auto pool = spawn_pool(sys, {.size = 1});
  auto down = watch_from_outside(sys, pool);
  sys.spawn(troupe::setup<std::monostate>([pool](troupe::actor_context<std::monostate>& ctx) {
    ctx.stop(pool);
    return troupe::behavior<std::monostate>(troupe::stopped);
  }));
  ASSERT_TRUE(down->pop().has_value());
  auto r = await(troupe::otp::checkout(pool, 10ms));
  ASSERT_FALSE(r.has_value());
  EXPECT_TRUE(r.error() == troupe::errc::receiver_dead) << r.error().message();
}

// --- the checkout wait in virtual time ---------------------------------------------------------------

template <class T>
T ready_value(troupe::testkit::test_system& ts, std::future<T>& f) {
  ts.run_until_idle();
  EXPECT_EQ(f.wait_for(0s), std::future_status::ready);
  return f.get();
}

troupe::otp::pool_status status_in(troupe::testkit::test_system& ts, const pool_ref& pool) {
  auto f = pool.ask<troupe::otp::pool_status>([](troupe::ref<troupe::otp::pool_status> r) {
    return troupe::otp::status_request{r};
  }, 1s);
  return ready_value(ts, f).value();
}

TEST(WorkerPool, AWaitingCheckoutTimesOutExactlyAtItsWaitInVirtualTime) {
  troupe::testkit::test_system ts;
  auto pool = ts.spawn(troupe::otp::worker_pool<worker_msg>([] { return worker(); }, {.size = 1}));
  auto first = troupe::otp::checkout(pool, 0ms);
  auto held = ready_value(ts, first).value();
  auto waiting = troupe::otp::checkout(pool, 20ms);
  ts.advance(20ms - 1ns);
  EXPECT_EQ(waiting.wait_for(0s), std::future_status::timeout);  // not a nanosecond early
  EXPECT_EQ(status_in(ts, pool).waiting, 1u);
  ts.advance(1ns);
  ASSERT_EQ(waiting.wait_for(0s), std::future_status::ready);
  auto r = waiting.get();
  ASSERT_FALSE(r.has_value());
  EXPECT_TRUE(r.error() == troupe::errc::timeout) << r.error().message();
  EXPECT_EQ(status_in(ts, pool).waiting, 0u);
}

// The worker is checked in just as the waiter's deadline passes, the checkin queued ahead of
// the expiry: the waiter gets the worker, and the stale expiry loses nothing.
TEST(WorkerPool, AWorkerCheckedInAsTheWaitEndsGoesToTheWaiterAndIsNotLost) {
  troupe::testkit::test_system ts;
  auto pool = ts.spawn(troupe::otp::worker_pool<worker_msg>([] { return worker(); }, {.size = 1}));
  auto first = troupe::otp::checkout(pool, 0ms);
  auto held = ready_value(ts, first).value();
  auto waiting = troupe::otp::checkout(pool, 20ms);
  ts.run_until_idle();
  held.give_back();                           // the checkin is queued...
  ts.clock().set_time(ts.now() + 20ms);       // ...the deadline passes...
  ASSERT_TRUE(ts.clock().fire_next_due());    // ...and the expiry is queued behind it
  auto got = ready_value(ts, waiting);
  ASSERT_TRUE(got.has_value()) << got.error().message();
  auto s = status_in(ts, pool);
  EXPECT_EQ(s.busy, 1u);
  EXPECT_EQ(s.waiting, 0u);
  got->give_back();
  EXPECT_EQ(status_in(ts, pool).idle, 1u);
}

}  // namespace
