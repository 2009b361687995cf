// timer_test.cpp: keyed actor timers: single, fixed-delay and fixed-rate; restart, cancel, stop.
// Real-time tests (the real timer thread) assert on order and counts, never on durations. Exact
// counts and interleavings run in the test kit's virtual time; a firing that races with a
// cancel on another thread uses a manual timer service (below) whose clock the test moves.
#include "troupe/core/timer_service.hpp"

#include <gtest/gtest.h>

#include <map>
#include <optional>
#include <string>
#include <thread>
#include <vector>
#include <variant>

#include "test_support.hpp"
#include "troupe/testkit/test_inbox.hpp"
#include "troupe/testkit/test_probe.hpp"
#include "troupe/testkit/test_system.hpp"
#include "troupe/troupe.hpp"

namespace {

using namespace troupe_test;

// A timer service whose clock only moves when the test calls advance(). Actions run on the
// thread that calls advance().
class manual_timers final : public troupe::timer_service {
 public:
  clock::time_point now() const override {
    std::lock_guard lock(mu_);
    return now_;
  }
  std::uint64_t schedule_at(clock::time_point due, std::function<void(bool)> action) override {
    std::unique_lock lock(mu_);
    if (stopped_) {
      lock.unlock();
      action(false);
      return 0;
    }
    auto id = next_id_++;
    pending_.emplace(std::make_pair(due, id), std::move(action));
    return id;
  }
  bool cancel(std::uint64_t id) noexcept override {
    std::function<void(bool)> doomed;  // destroyed outside the lock: it may release actors
    std::lock_guard lock(mu_);
    for (auto it = pending_.begin(); it != pending_.end(); ++it)
      if (it->first.second == id) {
        doomed = std::move(it->second);
        pending_.erase(it);
        return true;
      }
    return false;
  }
  void shutdown() override {
    std::map<std::pair<clock::time_point, std::uint64_t>, std::function<void(bool)>> left;
    {
      std::lock_guard lock(mu_);
      stopped_ = true;
      left.swap(pending_);
    }
    for (auto& [key, action] : left) action(false);
  }

  /// Moves the clock forward by `d`, running every action due by then, earliest first
  /// (including those scheduled by the actions themselves).
  void advance(std::chrono::nanoseconds d) {
    std::unique_lock lock(mu_);
    now_ += d;
    while (!pending_.empty() && pending_.begin()->first.first <= now_) {
      auto action = std::move(pending_.begin()->second);
      pending_.erase(pending_.begin());
      lock.unlock();
      action(true);
      action = nullptr;
      lock.lock();
    }
  }
  std::size_t pending() const {
    std::lock_guard lock(mu_);
    return pending_.size();
  }

 private:
  mutable std::mutex mu_;
  clock::time_point now_{};  // guarded by mu_
  std::map<std::pair<clock::time_point, std::uint64_t>, std::function<void(bool)>> pending_;  // guarded by mu_
  std::uint64_t next_id_ = 1;  // guarded by mu_
  bool stopped_ = false;       // guarded by mu_
};

struct tick {
  int gen;
};
struct start {
  std::string key;
  int gen;
  std::chrono::nanoseconds delay;
  troupe::timer_mode mode;
};
struct cancel {
  std::string key;
  troupe::ref<bool> reply_to;
};
struct hold {  // blocks the actor's turn; then, in the same turn, restarts or cancels a timer
  std::shared_ptr<gate> entered, release;
  std::optional<start> then_start;
  std::optional<std::string> then_cancel;
};
struct is_active {
  std::string key;
  troupe::ref<bool> reply_to;
};
using timed_msg = std::variant<tick, start, cancel, hold, is_active>;

// Starts and cancels timers on request and reports every tick it handles.
troupe::ref<timed_msg> spawn_timed(troupe::system& sys, std::shared_ptr<blocking_queue<int>> ticks,
                                   std::function<void(troupe::actor_context<timed_msg>&)> on_start = {}) {
  return sys.spawn(troupe::setup<timed_msg>([ticks, on_start](troupe::actor_context<timed_msg>& ctx) {
    if (on_start) on_start(ctx);
    return troupe::receive<timed_msg>(
        [ticks](const tick& t) { ticks->push(t.gen); },
        [&ctx](const start& s) { ctx.start_timer(s.key, tick{s.gen}, s.delay, s.mode); },
        [&ctx](const cancel& c) { c.reply_to.tell(ctx.cancel_timer(c.key)); },
        [&ctx](const hold& h) {
          h.entered->open();
          h.release->wait();
          if (h.then_start) ctx.start_timer(h.then_start->key, tick{h.then_start->gen}, h.then_start->delay, h.then_start->mode);
          if (h.then_cancel) ctx.cancel_timer(*h.then_cancel);
        },
        [&ctx](const is_active& a) { a.reply_to.tell(ctx.timer_active(a.key)); });
  }));
}

bool active(const troupe::ref<timed_msg>& a, std::string key) {
  return await(a.ask<bool>([key](troupe::ref<bool> r) { return is_active{key, r}; }, deadline)).value();
}

// --- real time ---------------------------------------------------------------------------------

TEST(Timer, ASingleTimerFiresOnceAndRetires) {
  troupe::system sys{small_config()};
  auto ticks = std::make_shared<blocking_queue<int>>();
  auto a = spawn_timed(sys, ticks);
  a.tell(start{"once", 1, 1ms, troupe::timer_mode::single});
  EXPECT_EQ(ticks->pop(), 1);
  EXPECT_FALSE(active(a, "once"));  // handled, so no longer pending
  a.tell(start{"zero", 2, 0ns, troupe::timer_mode::single});
  EXPECT_EQ(ticks->pop(), 2);
}

TEST(Timer, CancelTimerReportsWhetherATimerWasActive) {
  troupe::system sys{small_config()};
  auto ticks = std::make_shared<blocking_queue<int>>();
  auto a = spawn_timed(sys, ticks);
  auto cancel_key = [&](std::string k) {
    return await(a.ask<bool>([k](troupe::ref<bool> r) { return cancel{k, r}; }, deadline)).value();
  };
  EXPECT_FALSE(cancel_key("none"));
  a.tell(start{"long", 1, 1h, troupe::timer_mode::single});
  EXPECT_TRUE(active(a, "long"));
  EXPECT_TRUE(cancel_key("long"));
  EXPECT_FALSE(active(a, "long"));
  EXPECT_FALSE(cancel_key("long"));
}

TEST(Timer, APeriodicTimerNeedsAPositiveInterval) {
  troupe::system sys{small_config()};
  auto ticks = std::make_shared<blocking_queue<int>>();
  auto a = spawn_timed(sys, ticks);
  auto end = watch_from_outside(sys, a);
  a.tell(start{"bad", 1, 0ns, troupe::timer_mode::fixed_rate});  // a usage_error in the handler
  auto t = end->pop();
  ASSERT_TRUE(t.has_value());
  EXPECT_EQ(t->reason.what, troupe::exit_reason::kind::exception);
  EXPECT_NE(t->reason.text.find("usage_error"), std::string::npos) << t->reason.text;
}

TEST(Timer, TimersAreCancelledWhenTheActorStops) {
  troupe::system sys{small_config()};
  auto token = std::make_shared<int>(0);  // each pending timer holds a copy of its message
  struct carry_token {
    std::shared_ptr<int> token;
  };
  struct quit {};
  using msg = std::variant<carry_token, quit>;
  auto a = sys.spawn(troupe::setup<msg>([token](troupe::actor_context<msg>& ctx) {
    ctx.start_timer("rate", carry_token{token}, 1ms, troupe::timer_mode::fixed_rate);
    ctx.start_timer("delay", carry_token{token}, 1ms, troupe::timer_mode::fixed_delay);
    ctx.start_timer("single", carry_token{token}, 1h, troupe::timer_mode::single);
    return troupe::receive<msg>([](const carry_token&) {}, [](quit) { return troupe::stopped; });
  }));
  auto end = watch_from_outside(sys, a);
  a.tell(quit{});
  ASSERT_TRUE(end->pop().has_value());
  // Periodic timers that kept running would hold their message (and token) forever.
  EXPECT_TRUE(wait_until([&] { return token.use_count() == 1; })) << token.use_count();
}

struct carry {
  std::shared_ptr<int> token;
};
struct quit_all {};
using many_msg = std::variant<carry, quit_all>;

// A parent with `actors` children, each holding `keys` pending timers that carry `token`.
troupe::ref<many_msg> spawn_timer_farm(troupe::system& sys, std::size_t actors, std::size_t keys,
                                       std::shared_ptr<int> token, std::shared_ptr<std::atomic<std::size_t>> started) {
  return sys.spawn(troupe::setup<many_msg>([=](troupe::actor_context<many_msg>& ctx) {
    for (std::size_t i = 0; i < actors; ++i)
      ctx.spawn(troupe::setup<many_msg>([=](troupe::actor_context<many_msg>& c) {
        for (std::size_t k = 0; k < keys; ++k) c.start_timer("k" + std::to_string(k), carry{token}, 1h);
        started->fetch_add(keys);
        return troupe::receive<many_msg>([](const carry&) {}, [](quit_all) {});
      }));
    return troupe::receive<many_msg>([](const carry&) {}, [](quit_all) { return troupe::stopped; });
  }));
}

TEST(Timer, AHundredThousandPendingTimersAreCancelledWhenTheirActorsStop) {
  troupe::system sys{small_config()};
  const std::size_t actors = 1000, keys = 100;
  auto token = std::make_shared<int>(0);
  auto started = std::make_shared<std::atomic<std::size_t>>(0);
  auto farm = spawn_timer_farm(sys, actors, keys, token, started);
  ASSERT_TRUE(wait_until([&] { return started->load() == actors * keys; }));
  // Once the setups are done, only the timers (and this test) hold the token.
  ASSERT_TRUE(wait_until([&] { return static_cast<std::size_t>(token.use_count()) == actors * keys + 1; }))
      << token.use_count();
  auto end = watch_from_outside(sys, farm);
  farm.tell(quit_all{});  // stops the parent, and with it every child
  ASSERT_TRUE(end->pop().has_value());
  EXPECT_EQ(token.use_count(), 1);  // all cancelled, synchronously, as each actor stopped
}

TEST(Timer, AHundredThousandPendingTimersAreCancelledAtShutdown) {
  const std::size_t actors = 1000, keys = 100;
  auto token = std::make_shared<int>(0);
  auto started = std::make_shared<std::atomic<std::size_t>>(0);
  {
    troupe::system sys{small_config()};
    spawn_timer_farm(sys, actors, keys, token, started);
    ASSERT_TRUE(wait_until([&] { return started->load() == actors * keys; }));
    sys.shutdown();
    EXPECT_EQ(token.use_count(), 1);
  }
  EXPECT_EQ(token.use_count(), 1);
}

// --- virtual time (the test kit): exact counts and exact interleavings ------------------------

// Asks `a` on the test system and runs it until the answer is there.
template <class Make>
bool ask_now(troupe::testkit::test_system& ts, const troupe::ref<timed_msg>& a, Make make) {
  auto f = a.ask<bool>(make, 1s);
  ts.run_until_idle();
  return f.get().value();
}

TEST(Timer, AFixedDelayTimerFiresOncePerIntervalUntilCancelled) {
  troupe::testkit::test_system ts;
  auto ticks = std::make_shared<blocking_queue<int>>();
  auto a = spawn_timed(ts.system(), ticks);
  a.tell(start{"rep", 7, 10ms, troupe::timer_mode::fixed_delay});
  ts.advance(50ms - 1ns);
  EXPECT_EQ(ticks->size(), 4u);
  ts.advance(1ns);
  EXPECT_EQ(ticks->size(), 5u);
  EXPECT_TRUE(ask_now(ts, a, [](troupe::ref<bool> r) { return is_active{"rep", r}; }));
  EXPECT_TRUE(ask_now(ts, a, [](troupe::ref<bool> r) { return cancel{"rep", r}; }));
  EXPECT_FALSE(ask_now(ts, a, [](troupe::ref<bool> r) { return is_active{"rep", r}; }));
  ts.advance(1h);
  EXPECT_EQ(ticks->size(), 5u);  // not one more tick after the cancel
}

TEST(Timer, AFixedRateTimerFiresOncePerPeriod) {
  troupe::testkit::test_system ts;
  auto ticks = std::make_shared<blocking_queue<int>>();
  auto a = spawn_timed(ts.system(), ticks);
  a.tell(start{"rate", 3, 1s, troupe::timer_mode::fixed_rate});
  ts.advance(1h);  // an hour of virtual time in a few milliseconds
  EXPECT_EQ(ticks->size(), 3600u);
  EXPECT_TRUE(ask_now(ts, a, [](troupe::ref<bool> r) { return is_active{"rate", r}; }));
}

TEST(Timer, RestartingAKeyDiscardsAMessageTheOldTimerAlreadySent) {
  troupe::testkit::test_system ts;
  auto ticks = std::make_shared<blocking_queue<int>>();
  auto a = spawn_timed(ts.system(), ticks, [](troupe::actor_context<timed_msg>& ctx) {
    ctx.start_timer("k", tick{1}, 10ms);
  });
  ts.run_until_idle();
  a.tell(start{"k", 2, 10ms, troupe::timer_mode::single});
  // The old timer fires before the actor runs again: tick 1 is already in the mailbox when the
  // actor restarts the key.
  ts.clock().set_time(ts.now() + 10ms);
  ASSERT_TRUE(ts.clock().fire_next_due());
  ts.advance(10ms);
  EXPECT_EQ(ticks->pop(0ms), 2);
  EXPECT_EQ(ticks->size(), 0u);
}

TEST(Timer, CancelDiscardsAMessageTheTimerAlreadySent) {
  troupe::testkit::test_system ts;
  auto ticks = std::make_shared<blocking_queue<int>>();
  auto a = spawn_timed(ts.system(), ticks, [](troupe::actor_context<timed_msg>& ctx) {
    ctx.start_timer("k", tick{1}, 10ms, troupe::timer_mode::fixed_rate);
    ctx.start_timer("other", tick{9}, 30ms);
  });
  ts.run_until_idle();
  troupe::testkit::test_inbox<bool> cancelled;
  a.tell(cancel{"k", cancelled.ref()});
  // k fires twice before the actor gets to the cancel.
  ts.clock().set_time(ts.now() + 20ms);
  while (ts.clock().fire_next_due()) {
  }
  ts.advance(10ms);  // the cancel, the two stale ticks, then "other"
  EXPECT_EQ(cancelled.receive_all(), std::vector<bool>{true});
  EXPECT_EQ(ticks->pop(0ms), 9);
  EXPECT_EQ(ticks->size(), 0u);
}

TEST(Timer, FixedRateCatchesUpAfterAStallButFixedDelayDoesNot) {
  troupe::testkit::test_system ts;
  auto ticks = std::make_shared<blocking_queue<int>>();
  spawn_timed(ts.system(), ticks, [](troupe::actor_context<timed_msg>& ctx) {
    ctx.start_timer("rate", tick{1}, 10ms, troupe::timer_mode::fixed_rate);
    ctx.start_timer("delay", tick{2}, 10ms, troupe::timer_mode::fixed_delay);
  });
  ts.run_until_idle();
  // A stall: five periods pass before the timers get to fire.
  ts.clock().set_time(ts.now() + 50ms);
  while (ts.clock().fire_next_due()) {
  }
  ts.run_until_idle();
  // fixed_rate fires for every period missed; fixed_delay once, then measures from now.
  std::map<int, int> counts;
  while (auto t = ticks->pop(0ms)) ++counts[*t];
  EXPECT_EQ(counts[1], 5);
  EXPECT_EQ(counts[2], 1);
  EXPECT_EQ(ts.clock().pending(), 2u);
  ts.advance(10ms);
  std::map<int, int> next;
  while (auto t = ticks->pop(0ms)) ++next[*t];
  EXPECT_EQ(next[1], 1);
  EXPECT_EQ(next[2], 1);
}

TEST(Timer, StoppingAnActorLeavesNoTimerPending) {
  troupe::testkit::test_system ts;
  auto ticks = std::make_shared<blocking_queue<int>>();
  auto a = spawn_timed(ts.system(), ticks, [](troupe::actor_context<timed_msg>& ctx) {
    ctx.start_timer("a", tick{1}, 10ms, troupe::timer_mode::fixed_rate);
    ctx.start_timer("b", tick{2}, 10ms, troupe::timer_mode::fixed_delay);
    ctx.start_timer("c", tick{3}, 1h);
  });
  ts.run_until_idle();
  EXPECT_EQ(ts.clock().pending(), 3u);
  ts.spawn(troupe::setup<int>([a](troupe::actor_context<int>& ctx) {
    ctx.stop(a);
    return troupe::stopped;
  }));
  troupe::testkit::test_probe<int> probe{ts};
  probe.expect_terminated(a);
  EXPECT_EQ(ts.clock().pending(), 0u);
}

// --- manual time on a real system: a firing that races with a cancel ---------------------------

troupe::system_config manual_config(std::shared_ptr<manual_timers> timers) {
  auto cfg = small_config();
  cfg.timers = std::move(timers);
  return cfg;
}

TEST(Timer, APeriodicTimerCancelledWhileFiringIsNotRearmed) {
  // The firing (here on the test thread) builds the message while the actor cancels the timer.
  auto timers = std::make_shared<manual_timers>();
  troupe::system sys{manual_config(timers)};
  auto in_copy = std::make_shared<gate>(), finish_copy = std::make_shared<gate>();
  struct slow_copy {
    std::shared_ptr<gate> in_copy, finish_copy;
    slow_copy(std::shared_ptr<gate> a, std::shared_ptr<gate> b) : in_copy(std::move(a)), finish_copy(std::move(b)) {}
    slow_copy(const slow_copy& o) : in_copy(o.in_copy), finish_copy(o.finish_copy) {
      // Only a firing copies the message (start_timer moves it): hold the firing here.
      in_copy->open();
      finish_copy->wait();
    }
    slow_copy(slow_copy&&) noexcept = default;
  };
  struct stop_timer {
    troupe::ref<bool> reply_to;
  };
  using msg = std::variant<slow_copy, stop_timer>;
  auto a = sys.spawn(troupe::setup<msg>([in_copy, finish_copy](troupe::actor_context<msg>& ctx) {
    ctx.start_timer("k", slow_copy{in_copy, finish_copy}, 10ms, troupe::timer_mode::fixed_rate);
    return troupe::receive<msg>([](const slow_copy&) {},
                                [&ctx](const stop_timer& s) { s.reply_to.tell(ctx.cancel_timer("k")); });
  }));
  ASSERT_TRUE(wait_until([&] { return timers->pending() == 1; }));
  std::thread firing([&] { timers->advance(10ms); });
  ASSERT_TRUE(in_copy->wait());
  EXPECT_TRUE(await(a.ask<bool>([](troupe::ref<bool> r) { return stop_timer{r}; }, deadline)).value());
  finish_copy->open();
  firing.join();
  // Cancelled: nothing may stay pending for this key, or a cancelled timer would keep the actor
  // and its message alive until it fires again.
  EXPECT_EQ(timers->pending(), 0u);
}

}  // namespace
