// grain_ref_test.cpp: grain refs and sharded entity refs, on nodes in this process: making
// one spawns nothing and keeps nothing per key once it is dropped (a node that calls millions of
// keys does not grow), a ref still held keeps working after the grains it reached went idle,
// one sender's messages keep their order across every ref made (and dropped) for one key, and
// refs made apart for one key are equal, here and, sent to another node, there and back.
#include <unistd.h>

#include <gtest/gtest.h>

#include <atomic>
#include <chrono>
#include <cstdint>
#include <map>
#include <memory>
#include <mutex>
#include <string>
#include <thread>
#include <unordered_set>
#include <variant>
#include <vector>

#include "cluster/cluster_process.hpp"
#include "cluster/counter_entity.hpp"
#include "cluster/device_grain.hpp"
#include "cluster/in_process_nodes.hpp"
#include "troupe/cluster/cluster.hpp"
#include "troupe/cluster/membership_store.hpp"
#include "troupe/cluster/sharding.hpp"
#include "troupe/core/actor_observer.hpp"
#include "troupe/core/any_ref.hpp"
#include "troupe/core/extension.hpp"
#include "troupe/core/system.hpp"
#include "troupe/remote/node.hpp"

namespace {

namespace tc = troupe::cluster;
using tc::testing::add;
using tc::testing::counter_msg;
using tc::testing::device_msg;
using tc::testing::get;
using namespace std::chrono_literals;
using clock_type = std::chrono::steady_clock;

// Counts the system's live actors (spawned, not yet stopped).
struct actor_tally final : troupe::actor_observer {
  std::atomic<std::int64_t> spawns{0}, stops{0};
  void spawned(const troupe::observed_actor*, const troupe::observed_actor&) override { spawns.fetch_add(1); }
  void stopped(const troupe::observed_actor&, const troupe::exit_reason&) override { stops.fetch_add(1); }
  std::int64_t live() const { return spawns.load() - stops.load(); }
};

// What every grain and entity of a test saw, per key, in the order handled.
struct journal {
  std::mutex mu;
  std::map<std::string, std::vector<std::int64_t>> seen;  // guarded by mu
  void note(const std::string& key, std::int64_t n) {
    std::lock_guard lk(mu);
    seen[key].push_back(n);
  }
  std::vector<std::int64_t> of(const std::string& key) {
    std::lock_guard lk(mu);
    return seen[key];
  }
};

// A grain that notes each add and answers with its running total (not durable: a grain
// deactivated and activated again starts from 0).
template <class P>
troupe::behavior<P> noting(std::shared_ptr<journal> j, std::string key, std::int64_t total = 0) {
  return troupe::receive<P>([j, key, total](const auto& m) -> troupe::behavior<P> {
    using M = std::decay_t<decltype(m)>;
    if constexpr (std::is_same_v<M, add>) {
      j->note(key, m.n);
      m.reply_to.tell(total + m.n);
      return noting<P>(j, key, total + m.n);
    } else if constexpr (std::is_same_v<M, get>) {
      m.reply_to.tell(total);
    }
    return troupe::same;
  });
}

class GrainRefs : public ::testing::Test {
 protected:
  // One node; grains idle for `idle` are deactivated (checked every idle / 4, at least 20 ms).
  void start(std::chrono::nanoseconds idle) {
    path_ = "/tmp/troupe-cluster-" + std::to_string(::getpid()) + "-grain-refs.db";
    tc::testing::remove_store("sqlite:" + path_);
    troupe::system_config sc;
    sc.observer = tally_;
    sys_ = std::make_unique<troupe::system>(sc);
    node_ = std::make_unique<troupe::remote::node>(*sys_, troupe::remote::node_config{.name = "solo", .cookie = "refs"});
    c_ = tc::cluster::join(*sys_, *node_, tc::membership_store::open_sqlite(path_).value(),
                           {.name = "refs", .idle_timeout = idle})
             .value();
    c_->register_grain<device_msg>("device", [j = seen_](const std::string& key) { return noting<device_msg>(j, key); });
  }
  void TearDown() override {
    c_.reset();
    node_.reset();
    sys_.reset();
    if (!path_.empty()) tc::testing::remove_store("sqlite:" + path_);
  }

  template <class P>
  static troupe::result<std::int64_t> add_to(const troupe::ref<P>& r, std::int64_t n) {
    return r.template ask<std::int64_t>([n](troupe::ref<std::int64_t> to) { return add{n, to}; }, 5s).get();
  }
  // Waits until `done()` or the deadline; false at the deadline.
  template <class F>
  static bool wait_until(F done, std::chrono::nanoseconds limit = 10s) {
    for (auto deadline = clock_type::now() + limit; !done();) {
      if (clock_type::now() > deadline) return false;
      std::this_thread::sleep_for(1ms);  // polling a condition with a deadline, not a fixed delay
    }
    return true;
  }

  std::string path_;
  std::shared_ptr<actor_tally> tally_ = std::make_shared<actor_tally>();
  std::shared_ptr<journal> seen_ = std::make_shared<journal>();
  std::unique_ptr<troupe::system> sys_;
  std::unique_ptr<troupe::remote::node> node_;
  std::unique_ptr<tc::cluster> c_;
};

TEST_F(GrainRefs, ARefHeldByNobodyLeavesNothingPerKeyAndAHeldOneKeepsAnswering) {
  start(200ms);
  auto kept = c_->grain<device_msg>("device", "kept");
  ASSERT_EQ(add_to(kept, 1).value(), 1);
  // Making refs spawns nothing: there is no actor per key (there was one, kept for the node's life).
  constexpr int keys = 2000;
  auto spawns = tally_->spawns.load();
  for (int k = 0; k < keys; ++k) (void)c_->grain<device_msg>("device", "made-" + std::to_string(k));
  EXPECT_LT(tally_->spawns.load() - spawns, 20) << "an actor per grain ref";

  // Touch many keys, each through a ref dropped at once: each activates its grain here.
  auto base = tally_->live() - 1;  // without the kept grain, which may go idle meanwhile
  std::atomic<int> answered{0};
  auto counted = troupe::make_function_ref<std::int64_t>([&answered](std::int64_t&&) { answered.fetch_add(1); });
  for (int k = 0; k < keys; ++k) c_->grain<device_msg>("device", "touched-" + std::to_string(k)).tell(add{1, counted});
  ASSERT_TRUE(wait_until([&] { return answered.load() == keys; })) << answered.load() << " of " << keys << " answered";
  // Once the grains have gone idle nothing is left of the keys on this node: no grain, no ref.
  EXPECT_TRUE(wait_until([&] { return tally_->live() <= base; }))
      << tally_->live() - base << " actors more than before the keys were touched";

  // The ref held all along still answers (its grain activated again, from 0), and so does a
  // ref asked for again for a key whose refs were all dropped.
  EXPECT_EQ(add_to(kept, 5).value(), 5);
  EXPECT_EQ(add_to(c_->grain<device_msg>("device", "touched-7"), 2).value(), 2);
}

TEST_F(GrainRefs, OneSendersMessagesKeepTheirOrderAcrossEveryRefMadeAndDroppedForAKey) {
  // Every third message goes through a ref held all along, the others each through a ref made
  // for it and dropped at once: they reach the grain in the order sent. (No deactivation in
  // the middle: a grain stopped while busy loses what is queued behind it.)
  start(std::chrono::minutes(10));
  constexpr int messages = 3000;
  auto kept = c_->grain<device_msg>("device", "fifo");
  std::atomic<int> answered{0};
  auto counted = troupe::make_function_ref<std::int64_t>([&answered](std::int64_t&&) { answered.fetch_add(1); });
  for (int n = 0; n < messages; ++n) {
    if (n % 3 == 0) kept.tell(add{n, counted});
    else c_->grain<device_msg>("device", "fifo").tell(add{n, counted});
  }
  ASSERT_TRUE(wait_until([&] { return answered.load() == messages; })) << answered.load() << " of " << messages;
  auto seen = seen_->of("fifo");
  ASSERT_EQ(seen.size(), static_cast<std::size_t>(messages));
  for (int n = 0; n < messages; ++n) ASSERT_EQ(seen[n], n) << "at " << n;
}

TEST_F(GrainRefs, EntityRefsLeaveNothingPerIdKeepTheirOrderAndAHeldOneKeepsAnswering) {
  start(std::chrono::minutes(10));
  auto region = tc::shard_region<counter_msg>::start(
      *c_, {.type = "counter", .make = [j = seen_](const std::string& id) { return noting<counter_msg>(j, id); },
            .stop_message = counter_msg{tc::testing::passivate{}}, .shards = 8});
  auto kept = region.entity("kept");
  ASSERT_EQ(add_to(kept, 1).value(), 1);
  auto spawns = tally_->spawns.load();
  for (int k = 0; k < 2000; ++k) (void)region.entity("made-" + std::to_string(k));
  EXPECT_LT(tally_->spawns.load() - spawns, 20) << "an actor per entity ref";

  constexpr int messages = 3000;
  std::atomic<int> answered{0};
  auto counted = troupe::make_function_ref<std::int64_t>([&answered](std::int64_t&&) { answered.fetch_add(1); });
  for (int n = 0; n < messages; ++n) {
    if (n % 3 == 0) kept.tell(add{n, counted});
    else region.entity("kept").tell(add{n, counted});
  }
  ASSERT_TRUE(wait_until([&] { return answered.load() == messages; })) << answered.load() << " of " << messages;
  auto seen = seen_->of("kept");
  ASSERT_EQ(seen.size(), static_cast<std::size_t>(messages + 1));
  for (int n = 0; n < messages; ++n) ASSERT_EQ(seen[n + 1], n) << "at " << n;
  EXPECT_EQ(add_to(kept, 0).value(), 1 + messages * (messages - 1) / 2);
}

TEST_F(GrainRefs, RefsToOneGrainAreEqualAndHashAlikeAndRefsToAnyOtherAreNot) {
  start(std::chrono::minutes(10));
  c_->register_grain<device_msg>("sensor", [j = seen_](const std::string& key) { return noting<device_msg>(j, key); });
  c_->register_grain<device_msg>("dev", [j = seen_](const std::string& key) { return noting<device_msg>(j, key); });
  auto a = c_->grain<device_msg>("device", "7");
  auto b = c_->grain<device_msg>("device", "7");  // made apart: no copy of a
  std::hash<troupe::ref<device_msg>> hash;
  EXPECT_EQ(a, b);
  EXPECT_EQ(hash(a), hash(b));
  EXPECT_EQ(troupe::any_ref(a), troupe::any_ref(b));
  EXPECT_FALSE(a == c_->grain<device_msg>("device", "8"));   // another key
  EXPECT_FALSE(a == c_->grain<device_msg>("sensor", "7"));   // another type, the same key
  EXPECT_FALSE(c_->grain<device_msg>("dev", "ice7") == c_->grain<device_msg>("device", "7"));

  // Keys of an unordered set: each key once, however many refs were made for it.
  std::unordered_set<troupe::ref<device_msg>> set;
  for (int round = 0; round < 2; ++round)
    for (int k = 0; k < 100; ++k) set.insert(c_->grain<device_msg>("device", std::to_string(k)));
  EXPECT_EQ(set.size(), 100u);
  EXPECT_TRUE(set.contains(c_->grain<device_msg>("device", "42")));
  EXPECT_FALSE(set.contains(c_->grain<device_msg>("sensor", "42")));

  // An entity's refs likewise; never equal to a grain's of the same name.
  auto region = tc::shard_region<counter_msg>::start(
      *c_, {.type = "device", .make = [j = seen_](const std::string& id) { return noting<counter_msg>(j, id); },
            .stop_message = counter_msg{tc::testing::passivate{}}, .shards = 8});
  EXPECT_EQ(region.entity("7"), region.entity("7"));
  EXPECT_EQ(std::hash<troupe::ref<counter_msg>>{}(region.entity("7")), std::hash<troupe::ref<counter_msg>>{}(region.entity("7")));
  EXPECT_FALSE(region.entity("7") == region.entity("8"));
  EXPECT_FALSE(troupe::any_ref(region.entity("7")) == troupe::any_ref(a));

  // Equal refs reach the one grain.
  EXPECT_EQ(add_to(a, 1).value(), 1);
  EXPECT_EQ(add_to(b, 2).value(), 3);
}

// Sends back the refs it is sent, saying whether they were equal on its node.
struct ref_pair {
  troupe::ref<device_msg> first, second;
  bool equal_there = false;
};
struct bounce {
  ref_pair refs;
  troupe::ref<ref_pair> reply_to;
};
troupe::behavior<bounce> bouncer() {
  return troupe::receive<bounce>([](const bounce& m) {
    auto back = m.refs;
    back.equal_there = back.first == back.second &&
                       std::hash<troupe::ref<device_msg>>{}(back.first) == std::hash<troupe::ref<device_msg>>{}(back.second);
    m.reply_to.tell(back);
  });
}

TEST(GrainRefsAcrossNodes, RefsToOneGrainSentToAnotherNodeAreEqualThereAndEqualToTheOriginalWhenSentBack) {
  auto path = "/tmp/troupe-cluster-" + std::to_string(::getpid()) + "-grain-ref-trip.db";
  tc::testing::remove_store("sqlite:" + path);
  {
    tc::testing::in_process_node a("a", path, {.name = "trip"});
    tc::testing::in_process_node b("b", path, {.name = "trip"});
    a.c->register_grain<device_msg>("device", tc::testing::echo);
    b.c->register_grain<device_msg>("device", tc::testing::echo);
    auto bouncing = b.sys->spawn(bouncer());
    ASSERT_TRUE(b.node->publish("bouncer", bouncing));
    auto there = a.node->lookup<bounce>("bouncer", b.node->address()).get();
    ASSERT_TRUE(there) << there.error().message() << a.log->all();

    auto first = a.c->grain<device_msg>("device", "k");
    auto second = a.c->grain<device_msg>("device", "k");  // made apart: no copy of first
    auto back = there->ask<ref_pair>([&](troupe::ref<ref_pair> r) { return bounce{{first, second}, r}; }, 5s).get();
    ASSERT_TRUE(back) << back.error().message() << a.log->all() << b.log->all();
    EXPECT_TRUE(back->equal_there) << "b got two unequal refs for one grain";
    EXPECT_EQ(back->first, first);
    EXPECT_EQ(back->second, first);
    EXPECT_EQ(back->first, a.c->grain<device_msg>("device", "k"));
    EXPECT_EQ(std::hash<troupe::ref<device_msg>>{}(back->second), std::hash<troupe::ref<device_msg>>{}(first));

    // And the ref that came back reaches the grain, wherever it is placed.
    ASSERT_TRUE(tc::testing::all_see({&a, &b}, 2)) << a.log->all();
    auto n = back->second.ask<std::int64_t>([](troupe::ref<std::int64_t> r) { return add{5, r}; }, 5s).get();
    ASSERT_TRUE(n) << n.error().message() << a.log->all() << b.log->all();
    EXPECT_EQ(*n, 5);
  }
  tc::testing::remove_store("sqlite:" + path);
}

}  // namespace
