// router_test.cpp: group and pool routers with each routing logic.
#include "troupe/otp/router.hpp"

#include <gtest/gtest.h>

#include <map>
#include <memory>
#include <optional>
#include <set>
#include <stdexcept>
#include <string>
#include <utility>
#include <variant>
#include <vector>

#include "core/test_support.hpp"
#include "troupe/testkit/test_system.hpp"
#include "troupe/troupe.hpp"

namespace {

using namespace troupe_test;

struct job {
  int key;
  int n;
};
struct crash {};
struct quit {};
using job_msg = std::variant<job, crash, quit>;

using delivery = std::pair<std::string, job>;  // which routee got which job

// The key of each message type, for consistent hashing.
struct key_of {
  int operator()(const job& j) const { return j.key; }
  int operator()(const crash&) const { return -1; }
  int operator()(const quit&) const { return -2; }
};

troupe::behavior<job_msg> routee(std::string name, std::shared_ptr<blocking_queue<delivery>> out) {
  return troupe::receive<job_msg>([=](const job& j) { out->push({name, j}); },
                                  [](crash) -> troupe::behavior<job_msg> { throw std::runtime_error("worker crashed"); },
                                  [](quit) { return troupe::stopped; });
}

struct fixture {
  troupe::system sys{small_config()};
  std::shared_ptr<blocking_queue<delivery>> out = std::make_shared<blocking_queue<delivery>>();
  std::vector<troupe::ref<job_msg>> routees;

  explicit fixture(int n) {
    for (int i = 0; i < n; ++i) routees.push_back(sys.spawn(routee(std::string(1, static_cast<char>('a' + i)), out)));
  }
  // Who received each of the next `n` deliveries, in arrival order.
  std::vector<delivery> take(int n) {
    std::vector<delivery> got;
    for (int i = 0; i < n; ++i) {
      auto d = out->pop();
      if (!d) break;
      got.push_back(*d);
    }
    return got;
  }
};

TEST(Router, RoundRobinSendsEachMessageToTheNextRoutee) {
  fixture f(3);
  auto r = f.sys.spawn(troupe::otp::group_router(f.routees, troupe::otp::round_robin{}));
  for (int i = 0; i < 6; ++i) r.tell(job{0, i});
  std::map<std::string, std::vector<int>> by_routee;
  for (auto& [who, j] : f.take(6)) by_routee[who].push_back(j.n);
  EXPECT_EQ(by_routee["a"], (std::vector<int>{0, 3}));
  EXPECT_EQ(by_routee["b"], (std::vector<int>{1, 4}));
  EXPECT_EQ(by_routee["c"], (std::vector<int>{2, 5}));
}

TEST(Router, RandomChoiceSpreadsMessagesOverEveryRoutee) {
  fixture f(3);
  auto r = f.sys.spawn(troupe::otp::group_router(f.routees, troupe::otp::random_choice{7}));
  for (int i = 0; i < 300; ++i) r.tell(job{0, i});
  std::map<std::string, int> count;
  for (auto& [who, j] : f.take(300)) ++count[who];
  EXPECT_EQ(count.size(), 3u);
  for (auto& [who, c] : count) EXPECT_GT(c, 30) << who;
}

TEST(Router, SmallestMailboxPicksTheRouteeWithFewestMessagesWaiting) {
  fixture f(3);
  std::map<troupe::actor_id, std::size_t> lengths{
      {f.routees[0].id(), 5}, {f.routees[1].id(), 0}, {f.routees[2].id(), 3}};
  auto r = f.sys.spawn(troupe::otp::group_router(
      f.routees, troupe::otp::smallest_mailbox{[lengths](troupe::actor_id id) { return lengths.at(id); }}));
  for (int i = 0; i < 4; ++i) r.tell(job{0, i});
  for (auto& [who, j] : f.take(4)) EXPECT_EQ(who, "b");
}

TEST(Router, SmallestMailboxSharesWorkAmongEquallyIdleRoutees) {
  fixture f(3);
  auto r = f.sys.spawn(troupe::otp::group_router(
      f.routees, troupe::otp::smallest_mailbox{[](troupe::actor_id) { return std::size_t{0}; }}));
  for (int i = 0; i < 3; ++i) r.tell(job{0, i});
  std::set<std::string> who;
  for (auto& d : f.take(3)) who.insert(d.first);
  EXPECT_EQ(who.size(), 3u);
}

TEST(Router, ConsistentHashingSendsTheSameKeyToTheSameRoutee) {
  fixture f(4);
  auto r = f.sys.spawn(troupe::otp::group_router(f.routees, troupe::otp::consistent_hashing{key_of{}}));
  for (int round = 0; round < 3; ++round)
    for (int k = 0; k < 40; ++k) r.tell(job{k, round});
  std::map<int, std::set<std::string>> owners;
  std::set<std::string> used;
  for (auto& [who, j] : f.take(120)) {
    owners[j.key].insert(who);
    used.insert(who);
  }
  ASSERT_EQ(owners.size(), 40u);
  for (auto& [k, o] : owners) EXPECT_EQ(o.size(), 1u) << "key " << k;
  EXPECT_GE(used.size(), 3u);  // 40 keys over 4 routees: all but improbably all of them used
}

TEST(Router, ConsistentHashingMovesOnlyTheKeysOfARouteeThatLeft) {
  fixture f(4);
  auto r = f.sys.spawn(troupe::otp::group_router(f.routees, troupe::otp::consistent_hashing{key_of{}}));
  for (int k = 0; k < 60; ++k) r.tell(job{k, 0});
  std::map<int, std::string> before;
  for (auto& [who, j] : f.take(60)) before[j.key] = who;
  auto down = watch_from_outside(f.sys, f.routees[0]);
  f.routees[0].tell(quit{});
  ASSERT_TRUE(down->pop().has_value());
  // The router learns of the stop through its keeper: until then, a job for "a" is a dead
  // letter. Key -1 belongs to "a" only if "a" owned it before; probe with a key it owned.
  int owned_by_a = -1;
  for (auto& [k, who] : before)
    if (who == "a") owned_by_a = k;
  ASSERT_NE(owned_by_a, -1);
  ASSERT_TRUE(wait_until([&] {
    auto lost = f.sys.dead_letter_count();
    r.tell(job{owned_by_a, 0});
    if (!wait_until([&] { return f.out->size() > 0 || f.sys.dead_letter_count() > lost; })) return true;
    return !f.out->drain().empty();
  }));
  for (int k = 0; k < 60; ++k) r.tell(job{k, 1});
  for (auto& [who, j] : f.take(60)) {
    EXPECT_NE(who, "a");
    if (before[j.key] != "a") {
      EXPECT_EQ(who, before[j.key]) << "key " << j.key << " moved";
    }
  }
}

TEST(Router, BroadcastSendsEveryMessageToEveryRoutee) {
  fixture f(3);
  auto r = f.sys.spawn(troupe::otp::group_router(f.routees, troupe::otp::broadcast{}));
  r.tell(job{0, 1});
  r.tell(job{0, 2});
  std::map<std::string, std::vector<int>> by_routee;
  for (auto& [who, j] : f.take(6)) by_routee[who].push_back(j.n);
  for (auto name : {"a", "b", "c"}) EXPECT_EQ(by_routee[name], (std::vector<int>{1, 2})) << name;
}

TEST(Router, GroupRouterDropsARouteeThatStopsAndSendsToDeadLettersWhenNoneIsLeft) {
  fixture f(1);
  auto r = f.sys.spawn(troupe::otp::group_router(f.routees, troupe::otp::round_robin{}));
  auto down = watch_from_outside(f.sys, f.routees[0]);
  f.routees[0].tell(quit{});
  ASSERT_TRUE(down->pop().has_value());
  // Until the keeper has told the router, a job may still go to the stopped routee: a dead
  // letter either way.
  EXPECT_TRUE(wait_until([&] {
    auto before = f.sys.dead_letter_count();
    r.tell(job{0, 0});
    return wait_until([&] { return f.sys.dead_letter_count() > before; });
  }));
}

TEST(Router, PoolRouterRestartsAWorkerThatCrashes) {
  troupe::system sys{small_config()};
  auto out = std::make_shared<blocking_queue<delivery>>();
  auto spawned = std::make_shared<std::atomic<int>>(0);
  auto pool = sys.spawn(troupe::otp::pool_router<job_msg>(
      [=] {
        int n = spawned->fetch_add(1);
        return routee("w" + std::to_string(n), out);
      },
      troupe::otp::round_robin{}, {.size = 2}));
  pool.tell(crash{});  // to w0
  // Until the keeper has replaced w0 and told the router, a job may go to the dead w0 (a dead
  // letter); send jobs one at a time until the replacement, w2, answers.
  std::set<std::string> who;
  ASSERT_TRUE(wait_until([&] {
    auto lost = sys.dead_letter_count();
    pool.tell(job{0, 0});
    if (!wait_until([&] { return out->size() > 0 || sys.dead_letter_count() > lost; })) return true;
    for (auto& d : out->drain()) who.insert(d.first);
    return who.count("w2") == 1;
  }));
  EXPECT_EQ(spawned->load(), 3);
  EXPECT_EQ(who.count("w0"), 0u);
}

TEST(Router, PoolRouterStopsWhenWorkersCrashTooOften) {
  troupe::system sys{small_config()};
  auto spawned = std::make_shared<std::atomic<int>>(0);
  // Every worker crashes as it starts: a fault no restart can cure.
  auto pool = sys.spawn(troupe::otp::pool_router<job_msg>(
      [=] {
        spawned->fetch_add(1);
        return troupe::setup<job_msg>([](troupe::actor_context<job_msg>&) -> troupe::behavior<job_msg> {
          throw std::runtime_error("cannot start");
        });
      },
      troupe::otp::round_robin{}, {.size = 1, .max_restarts = 2, .within = std::chrono::minutes{1}}));
  auto down = watch_from_outside(sys, pool);
  auto t = down->pop();
  ASSERT_TRUE(t.has_value());
  EXPECT_TRUE(t->reason.is_failure());
  EXPECT_NE(t->reason.text.find("restarts"), std::string::npos) << t->reason.describe();
  EXPECT_EQ(spawned->load(), 3);  // the first worker and two restarts
}

// In virtual time: the pool's restart window, to the nanosecond. A restart exactly `within` old
// still counts (as a supervisor's does); one older does not.
TEST(Router, PoolRouterRestartsOlderThanTheWindowNoLongerCountInVirtualTime) {
  troupe::testkit::test_system ts;
  auto out = std::make_shared<blocking_queue<delivery>>();
  auto spawned = std::make_shared<int>(0);  // only the test's thread runs actors
  auto pool = ts.spawn(troupe::otp::pool_router<job_msg>(
      [=] { return routee("w" + std::to_string((*spawned)++), out); }, troupe::otp::round_robin{},
      {.size = 1, .max_restarts = 1, .within = std::chrono::seconds{1}}));
  ts.run_until_idle();
  auto down = watch_from_outside(ts.system(), pool);
  auto crash_worker = [&] {
    pool.tell(crash{});
    ts.run_until_idle();
  };
  crash_worker();  // one restart: allowed
  EXPECT_EQ(*spawned, 2);
  ts.advance(std::chrono::seconds{1} + std::chrono::nanoseconds{1});  // it has left the window
  crash_worker();
  EXPECT_EQ(*spawned, 3);
  ts.advance(std::chrono::seconds{1});  // exactly one window old: it still counts
  crash_worker();
  EXPECT_EQ(*spawned, 3);
  ASSERT_EQ(down->size(), 1u);
  EXPECT_TRUE(down->pop()->reason.is_failure());
}

TEST(Router, PoolRouterStopsItsWorkersWhenItStops) {
  troupe::system sys{small_config()};
  auto out = std::make_shared<blocking_queue<delivery>>();
  auto workers = std::make_shared<blocking_queue<std::string>>();
  auto pool = sys.spawn(troupe::otp::pool_router<job_msg>(
      [=] {
        return troupe::setup<job_msg>([=](troupe::actor_context<job_msg>&) {
          auto note = std::make_shared<destroy_note>(workers, "worker gone");
          return troupe::receive<job_msg>([note](const auto&) {});
        });
      },
      troupe::otp::round_robin{}, {.size = 3}));
  pool.tell(job{0, 0});
  auto down = watch_from_outside(sys, pool);
  sys.spawn(troupe::setup<std::monostate>([pool](troupe::actor_context<std::monostate>& ctx) {
    ctx.stop(pool);
    return troupe::behavior<std::monostate>(troupe::stopped);
  }));
  ASSERT_TRUE(down->pop().has_value());
  for (int i = 0; i < 3; ++i) EXPECT_EQ(workers->pop(), "worker gone");
}

}  // namespace

TEST(Router, SmallestMailboxReadsTheRuntimesCountOfWaitingMessages) {
  // Routee `a` is held inside a handler with three jobs queued behind it; `b` and `c` are free.
  // Four routed jobs can leave at most two waiting at `b` or `c`, never three, so none of them
  // may go to `a` while the router reads the real mailbox lengths.
  troupe::system sys{small_config()};
  auto out = std::make_shared<blocking_queue<delivery>>();
  auto held = std::make_shared<gate>();
  auto entered = std::make_shared<gate>();
  auto holdable = [&](std::string name) {
    return troupe::receive<job_msg>(
        [=](const job& j) {
          if (j.n < 0) {
            entered->open();
            held->wait();
          }
          out->push({name, j});
        },
        [](crash) {}, [](quit) { return troupe::stopped; });
  };
  std::vector<troupe::ref<job_msg>> routees;
  for (auto name : {"a", "b", "c"}) routees.push_back(sys.spawn(holdable(name), {.mailbox = {.counted = true}}));
  routees[0].tell(job{0, -1});
  ASSERT_TRUE(entered->wait());
  for (int i = 0; i < 3; ++i) routees[0].tell(job{0, 100 + i});
  ASSERT_EQ(troupe::mailbox_length(routees[0]), std::optional<std::size_t>{3});

  auto r = sys.spawn(troupe::otp::group_router(routees, troupe::otp::smallest_mailbox{}));
  for (int i = 0; i < 4; ++i) r.tell(job{0, i});
  auto got = std::vector<delivery>{};
  for (int i = 0; i < 4; ++i) {
    auto d = out->pop();
    ASSERT_TRUE(d);
    got.push_back(*d);
  }
  held->open();
  for (auto& [who, j] : got) EXPECT_NE(who, "a") << "job " << j.n;
}
