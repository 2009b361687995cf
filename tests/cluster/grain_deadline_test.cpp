// grain_deadline_test.cpp: a grain call carries its caller's ask deadline, and a call still
// queued when that deadline passes is not run (Orleans drops such a request too): its caller has
// had its timeout already, and the grain's state must not change behind its back. Queued behind a
// slow call, on the caller's node and on another node (two nodes in this process); a call within
// its deadline still runs. The slow call waits on a gate the test opens: no sleeps.
#include <unistd.h>

#include <gtest/gtest.h>

#include <atomic>
#include <chrono>
#include <cstdint>
#include <future>
#include <memory>
#include <mutex>
#include <string>
#include <type_traits>
#include <variant>
#include <vector>

#include "cluster/cluster_process.hpp"
#include "cluster/device_grain.hpp"
#include "cluster/in_process_nodes.hpp"
#include "troupe/cluster/cluster.hpp"
#include "troupe/core/extension.hpp"

namespace {

namespace tc = troupe::cluster;
using tc::testing::add;
using tc::testing::always_on;
using tc::testing::device_msg;
using tc::testing::get;
using tc::testing::hold;
using tc::testing::in_process_node;
using namespace std::chrono_literals;

// What the test and its grain share: a gate that a `hold` waits on, and whether one is inside.
struct gate {
  std::promise<void> open;
  std::shared_future<void> opened = open.get_future().share();
  std::atomic<bool> entered{false};
  std::atomic<bool> released{false};
  void release() {
    if (!released.exchange(true)) open.set_value();
  }
};
// Opens the gate however the test ends, so that no worker stays blocked at shutdown.
struct release_at_end {
  std::shared_ptr<gate> g;
  ~release_at_end() { g->release(); }
};

// A counter grain whose `hold` is the slow call: it blocks its worker until the test opens the
// gate (then the calls queued behind it are taken). `add` adds and answers the total, `get`
// answers it. In memory: the activation's state is what the test reads.
troupe::behavior<device_msg> slow_counter(std::shared_ptr<gate> g) {
  auto total = std::make_shared<std::int64_t>(0);
  return troupe::receive<device_msg>([g, total](const auto& m) {
    using M = std::decay_t<decltype(m)>;
    if constexpr (std::is_same_v<M, hold>) {
      g->entered = true;
      g->opened.wait();  // the test's gate, opened once the call behind it timed out
    } else if constexpr (std::is_same_v<M, add>) {
      *total += m.n;
      m.reply_to.tell(*total);
    } else {
      m.reply_to.tell(*total);
    }
    return troupe::same;
  });
}

// The reasons of the dead letters a system reports.
struct dead_letters {
  std::mutex mu;
  std::vector<troupe::dead_letter_reason> reasons;  // guarded by mu
  std::size_t count(troupe::dead_letter_reason r) {
    std::lock_guard lk(mu);
    std::size_t n = 0;
    for (auto x : reasons) n += x == r ? 1 : 0;
    return n;
  }
};
std::shared_ptr<dead_letters> watch_dead_letters(troupe::system& sys) {
  auto d = std::make_shared<dead_letters>();
  sys.subscribe_dead_letters(troupe::make_function_ref<troupe::dead_letter>([d](troupe::dead_letter&& l) {
    std::lock_guard lk(d->mu);
    d->reasons.push_back(l.reason);
  }));
  return d;
}

// Calls from `caller` the grain "slow"/"k" (active on `host`): a slow call, then an add of 1
// whose ask gives up while it is queued behind it, then a told add of 100 (no deadline) and an
// asked add of 10 within its deadline. The add of 1 does not change the grain; the others do.
void a_call_whose_caller_gave_up_is_not_run(in_process_node& caller, in_process_node& host, const std::shared_ptr<gate>& g) {
  release_at_end guard{g};
  auto dead = watch_dead_letters(*host.sys);
  auto grain = caller.c->grain<device_msg>("slow", "k");
  auto first = grain.ask<std::int64_t>([](troupe::ref<std::int64_t> r) { return get{r}; }, 10s).get();
  ASSERT_TRUE(first.has_value()) << first.error().message() << "\n" << caller.log->all();
  ASSERT_EQ(*first, 0);

  auto slow = grain.ask<std::int64_t>([](troupe::ref<std::int64_t> r) { return hold{r}; }, 20s);
  ASSERT_TRUE(tc::testing::wait_until([&] { return g->entered.load(); })) << "the slow call never started";

  // Queued behind the slow call: its caller waits 100 ms and gives up.
  auto late = grain.ask<std::int64_t>([](troupe::ref<std::int64_t> r) { return add{1, r}; }, 100ms).get();
  ASSERT_FALSE(late.has_value()) << "answered " << *late;
  EXPECT_EQ(late.error(), troupe::errc::timeout) << late.error().message();
  // Deadlines travel in whole milliseconds, rounded up, and the time a call spends on the wire is
  // not counted (docs/cluster.md, "Deadlines"): a call may still run a little after its caller
  // gave up, never before. Let the clock pass that slack before the grain takes the call.
  const auto gave_up = std::chrono::steady_clock::now();
  ASSERT_TRUE(tc::testing::wait_until([&] { return std::chrono::steady_clock::now() > gave_up + 20ms; }));
  // Queued behind it too: a tell, which has no deadline, and an ask whose caller waits long enough.
  grain.tell(add{100, troupe::make_function_ref<std::int64_t>([](std::int64_t&&) {})});
  auto in_time = grain.ask<std::int64_t>([](troupe::ref<std::int64_t> r) { return add{10, r}; }, 10s);

  g->release();
  auto r = in_time.get();
  ASSERT_TRUE(r.has_value()) << r.error().message() << "\n" << host.log->all();
  EXPECT_EQ(*r, 110) << "the add whose caller had given up was applied (111), or the tell was not (10)";
  auto now = grain.ask<std::int64_t>([](troupe::ref<std::int64_t> r) { return get{r}; }, 10s).get();
  ASSERT_TRUE(now.has_value()) << now.error().message();
  EXPECT_EQ(*now, 110);
  EXPECT_EQ(dead->count(troupe::dead_letter_reason::deadline_passed), 1u)
      << "the dropped call is a dead letter where the grain is, with its reason";
  (void)slow;
}

TEST(GrainDeadlines, ACallQueuedBehindASlowCallIsNotRunOnceItsCallerGaveUpAndOneWithinItsDeadlineIs) {
  auto path = "/tmp/troupe-cluster-" + std::to_string(::getpid()) + "-deadline-local.db";
  tc::testing::remove_store("sqlite:" + path);
  {
    auto g = std::make_shared<gate>();
    in_process_node a("a", path, {.name = "deadline-local"});
    a.c->register_grain<device_msg>("slow", [g](const std::string&) { return slow_counter(g); });
    ASSERT_TRUE(tc::testing::all_see({&a}, 1)) << a.log->all();
    a_call_whose_caller_gave_up_is_not_run(a, a, g);
  }
  tc::testing::remove_store("sqlite:" + path);
}

TEST(GrainDeadlines, ACallFromAnotherNodeQueuedBehindASlowCallIsNotRunOnceItsCallerGaveUp) {
  auto path = "/tmp/troupe-cluster-" + std::to_string(::getpid()) + "-deadline-remote.db";
  tc::testing::remove_store("sqlite:" + path);
  {
    auto g = std::make_shared<gate>();
    // a calls, b holds the grain (every node places it on b).
    in_process_node a("a", path, {.name = "deadline-remote", .placement = std::make_shared<always_on>("b")});
    in_process_node b("b", path, {.name = "deadline-remote", .placement = std::make_shared<always_on>("b")});
    a.c->register_grain<device_msg>("slow", [g](const std::string&) { return slow_counter(g); });
    b.c->register_grain<device_msg>("slow", [g](const std::string&) { return slow_counter(g); });
    ASSERT_TRUE(tc::testing::all_see({&a, &b}, 2)) << "the two nodes never saw each other\n" << a.log->all();
    a_call_whose_caller_gave_up_is_not_run(a, b, g);
  }
  tc::testing::remove_store("sqlite:" + path);
}

TEST(GrainDeadlines, CallsThatWaitedForTheDirectoryPastTheirDeadlinesAreNotRunNorActivateTheirGrain) {
  auto path = "/tmp/troupe-cluster-" + std::to_string(::getpid()) + "-deadline-directory.db";
  tc::testing::remove_store("sqlite:" + path);
  {
    auto g = std::make_shared<gate>();  // holds the cluster's thread (the directory's work) back
    release_at_end guard{g};
    auto activations = std::make_shared<std::atomic<int>>(0);
    in_process_node a("a", path, {.name = "deadline-directory"});
    a.c->register_grain<device_msg>("slow", [g, activations](const std::string&) {
      ++*activations;
      return slow_counter(g);
    });
    ASSERT_TRUE(tc::testing::all_see({&a}, 1)) << a.log->all();
    auto dead = watch_dead_letters(*a.sys);
    // The cluster's thread is busy (an overloaded store): first calls wait for the directory.
    tc::detail::cluster_access::core(*a.c).post([g](tc::membership_store&) { g->opened.wait(); });
    auto only_late = a.c->grain<device_msg>("slow", "only-late");
    auto mixed = a.c->grain<device_msg>("slow", "mixed");
    auto add_within = [](const troupe::ref<device_msg>& to, std::int64_t n, std::chrono::nanoseconds t) {
      return to.ask<std::int64_t>([n](troupe::ref<std::int64_t> r) { return add{n, r}; }, t);
    };
    auto late1 = add_within(only_late, 1, 100ms);
    auto late2 = add_within(mixed, 1, 100ms);
    for (auto* f : {&late1, &late2}) {
      auto r = f->get();
      ASSERT_FALSE(r.has_value());
      EXPECT_EQ(r.error(), troupe::errc::timeout) << r.error().message();
    }
    auto in_time = add_within(mixed, 10, 10s);  // waits with the late one, and is still wanted
    const auto gave_up = std::chrono::steady_clock::now();  // the slack, as in the tests above
    ASSERT_TRUE(tc::testing::wait_until([&] { return std::chrono::steady_clock::now() > gave_up + 20ms; }));
    g->release();
    auto r = in_time.get();
    ASSERT_TRUE(r.has_value()) << r.error().message() << "\n" << a.log->all();
    EXPECT_EQ(*r, 10) << "the add that waited past its deadline was applied";
    EXPECT_EQ(activations->load(), 1) << "a grain whose every call had given up was activated";
    // The two late adds are dead letters (only-late's when the service hears that the
    // directory was not asked for it, which may come after mixed's answer).
    EXPECT_TRUE(tc::testing::wait_until([&] { return dead->count(troupe::dead_letter_reason::deadline_passed) == 2; }))
        << dead->count(troupe::dead_letter_reason::deadline_passed) << " dead letters deadline_passed\n" << a.log->all();
    auto now = only_late.ask<std::int64_t>([](troupe::ref<std::int64_t> r) { return get{r}; }, 10s).get();
    ASSERT_TRUE(now.has_value()) << now.error().message();
    EXPECT_EQ(*now, 0) << "the add that waited past its deadline was applied";
  }
  tc::testing::remove_store("sqlite:" + path);
}

}  // namespace
