// sharding_test.cpp: sharded counters (counter_entity.hpp, 16 shards) across real node processes,
// against SQLite and PostgreSQL: an entity answers from every node and starts once, on the node
// hash allocation names; a member that joins takes its shards by hand-off (the entity stops on
// the old node before it starts on the new one, no call lost or applied twice); a killed member's
// shards start again elsewhere; the hand-off buffer is bounded and the rest go to dead letters;
// remembered entities start again after a kill or a hand-off without a message, unless they
// stopped themselves.
#include "troupe/cluster/sharding.hpp"

#include <gtest/gtest.h>

#include <algorithm>
#include <chrono>
#include <cstdlib>
#include <iostream>
#include <map>
#include <string>
#include <vector>

#include "cluster/cluster_test_support.hpp"
#include "cluster/counter_entity.hpp"
#include "troupe/cluster/membership_store.hpp"
#include "troupe/cluster/placement.hpp"
#include "troupe/core/system.hpp"
#include "troupe/remote/node.hpp"

namespace {

using troupe::cluster::testing::ClusterTest;
using troupe::cluster::testing::cluster_process;
using troupe::cluster::testing::store_kind;
using namespace std::chrono_literals;
using clock_type = std::chrono::steady_clock;

constexpr std::size_t shards = 16;  // cluster_node_main's default

// The node that allocation places entity `id` on, among `members` (what every node computes).
std::string allocated(const std::string& id, std::vector<std::string> members) {
  troupe::cluster::hash_placement h;
  return h.choose("shard.counter", std::to_string(troupe::cluster::shard_of(id, shards)), members, "");
}

class Sharding : public ClusterTest {
 protected:
  std::size_t index_of(const std::string& name) { return static_cast<std::size_t>(name[0] - 'a'); }
  // Starts a fourth node, d, in the same cluster, and waits until every node sees it up.
  void start_d(std::vector<std::string> extra = {}) {
    std::vector<std::string> args{"--name", "d", "--cluster", cluster_, "--store", store_};
    args.insert(args.end(), extra.begin(), extra.end());
    nodes_.push_back(std::make_unique<cluster_process>(args));
  }
  void await_d_up() {
    for (auto& p : nodes_) ASSERT_TRUE(p->wait_for("member_up d", 10s)) << p->name() << " never saw d up\n" << logs();
  }
  std::string send(std::size_t i, const std::string& key, long n) {
    auto id = next_id();
    node(i).command("ecall " + id + " " + key + " " + std::to_string(n));
    return id;
  }
  std::string ecall(std::size_t i, const std::string& key, long n, std::chrono::nanoseconds wait = 5s) {
    return answer(i, send(i, key, n), wait);
  }
  std::size_t started(std::size_t i, const std::string& key) { return node(i).count("entity_started " + key + " "); }
  // The steady-clock time in the first "<what> <key> <ns>" line of node i (0 if none).
  long long stamp(std::size_t i, const std::string& what, const std::string& key) {
    auto l = node(i).wait_for(what + " " + key + " ", 10ms);
    return l ? std::stoll(l->substr(what.size() + key.size() + 2)) : 0;
  }
  // Entity ids, `moving` of which allocation moves from a, b, c to d when d joins, `staying` not.
  std::vector<std::string> keys(std::size_t moving, std::size_t staying, const std::string& prefix = "e") {
    std::vector<std::string> out;
    for (int k = 0; moving + staying > 0; ++k) {
      auto id = prefix + std::to_string(k);
      bool moves = allocated(id, {"a", "b", "c", "d"}) == "d";
      if (moves && moving) --moving, out.push_back(id);
      else if (!moves && staying) --staying, out.push_back(id);
    }
    return out;
  }
};

TEST_P(Sharding, AnEntityAnswersFromEveryNodeAndStartsOnceWhereAllocationPlacesIt) {
  start();
  for (const std::string k : {"u1", "u2", "u3", "u4", "u5"}) {
    EXPECT_EQ(ecall(0, k, 2), "2") << logs();
    EXPECT_EQ(ecall(1, k, 3), "5") << logs();
    EXPECT_EQ(ecall(2, k, 0), "5") << logs();
    auto home = index_of(allocated(k, {"a", "b", "c"}));
    for (std::size_t i = 0; i < 3; ++i) EXPECT_EQ(started(i, k), i == home ? 1u : 0u) << k << " on node " << i << "\n" << logs();
  }
}

TEST_P(Sharding, AJoiningMemberTakesItsShardsByHandOffAndNoCallIsLostOrAppliedTwice) {
  // Long asks: a lost call must show as lost, not as slow under a loaded machine or TSan.
  start({"--ask-ms", "8000"});
  auto ids = keys(4, 4);
  std::map<std::string, std::vector<std::pair<std::size_t, std::string>>> sent;  // key -> (node, request)
  // One call per key from a, b and c in turn; a round is sent before the previous one is
  // answered, so calls are in flight while shards move (calls held in a hand-off buffer are
  // answered once the shard has moved).
  std::vector<std::pair<std::size_t, std::string>> previous;
  auto round = [&](int r) {
    std::vector<std::pair<std::size_t, std::string>> now;
    for (std::size_t k = 0; k < ids.size(); ++k) {
      auto i = (k + static_cast<std::size_t>(r)) % 3;
      now.emplace_back(i, send(i, ids[k], 1));
      sent[ids[k]].push_back(now.back());
    }
    for (auto& [i, id] : previous) answer(i, id, 10s);
    previous = std::move(now);
  };
  round(0);
  round(1);  // answers round 0: every entity has started on a, b or c before d joins
  start_d({"--ask-ms", "8000"});
  // Calls keep coming from a, b and c while d joins and the shards move (until d runs all of them).
  int r = 2;
  auto on_d = [&] {
    std::size_t n = 0;
    for (auto& k : ids) n += started(3, k) ? 1 : 0;
    return n;
  };
  for (auto deadline = clock_type::now() + 10s; on_d() < 4 && clock_type::now() < deadline; ++r) round(r);
  await_d_up();
  round(r++);
  for (auto& k : ids) {
    std::vector<long> totals;
    for (auto& [i, id] : sent[k]) {
      auto a = answer(i, id, 10s);
      ASSERT_EQ(a.find_first_not_of("0123456789"), std::string::npos) << k << " call " << id << ": " << a << "\n" << logs();
      totals.push_back(std::stol(a));
    }
    std::sort(totals.begin(), totals.end());
    for (std::size_t t = 0; t < totals.size(); ++t) EXPECT_EQ(totals[t], static_cast<long>(t + 1)) << k << "\n" << logs();
    EXPECT_EQ(ecall(3, k, 0), std::to_string(totals.size())) << k;
    auto old_home = index_of(allocated(k, {"a", "b", "c"}));
    auto new_home = index_of(allocated(k, {"a", "b", "c", "d"}));
    std::size_t total_starts = 0;
    for (std::size_t i = 0; i < 4; ++i) total_starts += started(i, k);
    if (new_home == old_home) {
      EXPECT_EQ(total_starts, 1u) << k << " stayed, yet started again\n" << logs();
      continue;
    }
    EXPECT_EQ(started(old_home, k), 1u) << k << "\n" << logs();
    EXPECT_EQ(started(3, k), 1u) << k << "\n" << logs();
    EXPECT_EQ(total_starts, 2u) << k << "\n" << logs();
    auto stopped = stamp(old_home, "entity_stopped", k), began = stamp(3, "entity_started", k);
    EXPECT_NE(stopped, 0) << k << " was not stopped by the hand-off\n" << logs();
    EXPECT_LT(stopped, began) << k << " started on d before it stopped on " << node(old_home).name() << "\n" << logs();
  }
  std::cout << "join: " << r << " rounds of " << ids.size() << " calls while d joined\n";
  if (::testing::Test::HasFailure() || std::getenv("TROUPE_CLUSTER_LOGS")) std::cout << logs();
}

TEST_P(Sharding, AMemberThatLeavesHandsItsShardsOffFirstAndNoCallIsLostOrAppliedTwice) {
  start({"--ask-ms", "8000"});
  // Entities allocated to c (which leaves) and to a or b (which stay).
  std::vector<std::string> ids;
  for (int k = 0, moving = 0, staying = 0; moving + staying < 8; ++k) {
    auto id = "l" + std::to_string(k);
    bool on_c = allocated(id, {"a", "b", "c"}) == "c";
    if (on_c && moving < 4) ++moving, ids.push_back(id);
    else if (!on_c && staying < 4) ++staying, ids.push_back(id);
  }
  std::map<std::string, std::vector<std::pair<std::size_t, std::string>>> sent;
  // Calls from a and b in turn, a round sent before the previous one is answered, so calls are
  // in flight (and some wait in hand-off buffers) while c leaves.
  std::vector<std::pair<std::size_t, std::string>> previous;
  auto round = [&](int r) {
    std::vector<std::pair<std::size_t, std::string>> now;
    for (std::size_t k = 0; k < ids.size(); ++k) {
      auto i = (k + static_cast<std::size_t>(r)) % 2;
      now.emplace_back(i, send(i, ids[k], 1));
      sent[ids[k]].push_back(now.back());
    }
    for (auto& [i, id] : previous) answer(i, id, 10s);
    previous = std::move(now);
  };
  round(0);
  round(1);  // every entity has started before c leaves
  for (auto& k : ids) ASSERT_EQ(started(index_of(allocated(k, {"a", "b", "c"})), k), 1u) << k << "\n" << logs();
  node(2).command("leave");
  int r = 2;
  for (auto deadline = clock_type::now() + 10s; !node(2).count("left") && clock_type::now() < deadline; ++r) round(r);
  ASSERT_TRUE(node(2).wait_for("left", 10s)) << logs();
  round(r++);
  round(r++);
  for (auto& k : ids) {
    std::vector<long> totals;
    for (auto& [i, id] : sent[k]) {
      auto a = answer(i, id, 10s);
      ASSERT_EQ(a.find_first_not_of("0123456789"), std::string::npos) << k << " call " << id << ": " << a << "\n" << logs();
      totals.push_back(std::stol(a));
    }
    std::sort(totals.begin(), totals.end());
    for (std::size_t t = 0; t < totals.size(); ++t) EXPECT_EQ(totals[t], static_cast<long>(t + 1)) << k << "\n" << logs();
    auto old_home = index_of(allocated(k, {"a", "b", "c"}));
    auto new_home = index_of(allocated(k, {"a", "b"}));
    if (old_home != 2) {
      EXPECT_EQ(started(0, k) + started(1, k) + started(2, k), 1u) << k << " stayed, yet started again\n" << logs();
      continue;
    }
    EXPECT_EQ(started(new_home, k), 1u) << k << "\n" << logs();
    auto stopped = stamp(2, "entity_stopped", k), began = stamp(new_home, "entity_started", k);
    EXPECT_NE(stopped, 0) << k << " was not stopped by the hand-off\n" << logs();
    EXPECT_LT(stopped, began) << k << " started on " << node(new_home).name() << " before it stopped on c\n" << logs();
  }
  EXPECT_TRUE(node(0).wait_for("member_removed c leaving the cluster", 5s)) << logs();
  std::cout << "leave: " << r << " rounds of " << ids.size() << " calls while c left\n";
  if (::testing::Test::HasFailure() || std::getenv("TROUPE_CLUSTER_LOGS")) std::cout << logs();
}

TEST_P(Sharding, AKilledMembersShardsStartElsewhereWithTheirStateWithinTheDetectorsBound) {
  start({"--ask-ms", "500"});
  std::vector<std::string> on_c;
  for (int k = 0; on_c.size() < 3; ++k)
    if (auto id = "k" + std::to_string(k); allocated(id, {"a", "b", "c"}) == "c") on_c.push_back(id);
  for (auto& k : on_c) ASSERT_EQ(ecall(0, k, 5), "5") << logs();
  auto killed = clock_type::now();
  node(2).kill9();
  for (auto& k : on_c) {
    bool back = false;
    while (!back && clock_type::now() < killed + 5s) back = ecall(0, k, 0, 1s) == "5";
    EXPECT_TRUE(back) << k << " did not answer again within 5 s of the kill\n" << logs();
    EXPECT_EQ(started(index_of(allocated(k, {"a", "b"})), k), 1u) << k << "\n" << logs();
  }
  auto took = std::chrono::duration_cast<std::chrono::milliseconds>(clock_type::now() - killed).count();
  std::cout << "kill -9: the dead member's entities answered again on the others after " << took << " ms\n";
  EXPECT_TRUE(node(0).wait_for("member_removed c", 1s)) << logs();
  EXPECT_EQ(ecall(1, on_c[0], 1), "6") << logs();
}

TEST_P(Sharding, RememberedEntitiesOfAKilledMemberStartElsewhereWithoutAMessageButNotOnesThatStoppedThemselves) {
  start({"--remember", "1", "--ask-ms", "1000"});
  // On c: x and y in one shard (y will stop itself), z in another.
  std::map<std::size_t, std::vector<std::string>> on_c;
  std::string x, y, z;
  for (int k = 0; x.empty() || z.empty(); ++k) {
    auto id = "m" + std::to_string(k);
    if (allocated(id, {"a", "b", "c"}) != "c") continue;
    auto shard = troupe::cluster::shard_of(id, shards);
    on_c[shard].push_back(id);
    if (x.empty() && on_c[shard].size() == 2) x = on_c[shard][0], y = on_c[shard][1];
    if (z.empty() && on_c.size() >= 2 && on_c[shard].size() == 1) z = id;
  }
  if (troupe::cluster::shard_of(z, shards) == troupe::cluster::shard_of(x, shards)) z = on_c.begin()->second[0];
  ASSERT_NE(troupe::cluster::shard_of(z, shards), troupe::cluster::shard_of(x, shards));
  for (auto& k : {x, y, z}) {
    ASSERT_EQ(ecall(0, k, 5), "5") << logs();
    ASSERT_TRUE(node(2).wait_containing("entity '" + k + "' remembered", 5s)) << logs();
  }
  node(2).command("epassivate " + y);
  ASSERT_TRUE(node(2).wait_containing("entity '" + y + "' stopped itself: forgotten", 5s)) << logs();
  auto killed = clock_type::now();
  node(2).kill9();
  // No call: x and z start on the node allocation now names once c is voted out; y does not.
  for (auto& k : {x, z})
    EXPECT_TRUE(node(index_of(allocated(k, {"a", "b"}))).wait_for("entity_started " + k + " ", 5s)) << k << "\n" << logs();
  auto took = std::chrono::duration_cast<std::chrono::milliseconds>(clock_type::now() - killed).count();
  EXPECT_EQ(started(0, y) + started(1, y), 0u) << logs();  // x's shard started without it
  EXPECT_EQ(ecall(0, x, 0), "5") << logs();
  EXPECT_EQ(ecall(1, z, 1), "6") << logs();
  EXPECT_EQ(started(index_of(allocated(x, {"a", "b"})), x), 1u) << logs();
  std::cout << "kill -9: the dead member's remembered entities started on the others after " << took << " ms\n";
  if (::testing::Test::HasFailure() || std::getenv("TROUPE_CLUSTER_LOGS")) std::cout << logs();
}

TEST_P(Sharding, RememberedEntitiesHandedOffToAJoiningMemberStartThereWithoutAMessage) {
  start({"--remember", "1"});
  auto moving = keys(2, 0, "r");
  for (auto& k : moving) {
    ASSERT_EQ(ecall(0, k, 3), "3") << logs();
    ASSERT_TRUE(node(index_of(allocated(k, {"a", "b", "c"}))).wait_containing("entity '" + k + "' remembered", 5s))
        << logs();
  }
  start_d({"--remember", "1"});
  await_d_up();
  // Stopped on the old node by the hand-off (not forgotten: that is not a passivation), then
  // started on d with no call.
  for (auto& k : moving) EXPECT_TRUE(node(3).wait_for("entity_started " + k + " ", 5s)) << k << "\n" << logs();
  for (auto& k : moving) {
    EXPECT_EQ(ecall(1, k, 0), "3") << logs();
    EXPECT_EQ(started(3, k), 1u) << logs();
  }
  if (::testing::Test::HasFailure() || std::getenv("TROUPE_CLUSTER_LOGS")) std::cout << logs();
}

TEST_P(Sharding, CallsBeyondTheHandOffBufferGoToDeadLettersAndTheBufferedOnesAreDeliveredAfter) {
  // A "stuck" entity ignores the stop message, so its hand-off stays open until the timeout.
  start({"--handoff-buffer", "3", "--handoff-timeout-ms", "1000", "--ask-ms", "5000"});
  auto key = keys(1, 0, "stuck")[0];
  auto old_home = index_of(allocated(key, {"a", "b", "c"}));
  ASSERT_EQ(ecall(old_home, key, 1), "1") << logs();
  start_d({"--handoff-buffer", "3", "--handoff-timeout-ms", "1000", "--ask-ms", "5000"});
  auto shard = std::to_string(troupe::cluster::shard_of(key, shards));
  ASSERT_TRUE(node(old_home).wait_containing("shard shard.counter/" + shard + ": handing off to 'd'", 10s)) << logs();
  std::vector<std::string> reqs;
  for (int k = 0; k < 5; ++k) reqs.push_back(send(old_home, key, 1));
  std::vector<std::string> answers;
  for (auto& id : reqs) answers.push_back(answer(old_home, id, 10s));
  // The node sends each call from its own thread, so which three were buffered is up to them.
  std::vector<std::string> ok, failed;
  for (auto& a : answers) (a.find_first_not_of("0123456789") == std::string::npos ? ok : failed).push_back(a);
  std::sort(ok.begin(), ok.end());
  EXPECT_EQ(ok, (std::vector<std::string>{"2", "3", "4"})) << logs();  // applied once each, after the move
  ASSERT_EQ(failed.size(), 2u) << logs();
  for (auto& f : failed) EXPECT_NE(f.find("dropped"), std::string::npos) << f;  // at once, not at the timeout
  EXPECT_EQ(node(old_home).count("dead_letter"), 2u) << logs();
  EXPECT_TRUE(node(old_home).wait_containing("the hand-off buffer is full (3 calls)", 1s)) << logs();
  EXPECT_TRUE(node(old_home).wait_containing("still running at the hand-off timeout", 1s)) << logs();
  EXPECT_EQ(started(3, key), 1u) << logs();
  EXPECT_EQ(ecall(3, key, 0), "4") << logs();
}

TEST(ShardOf, IsTheSameOnEveryBuildAndSpreadsIds) {
  // FNV-1a: fixed values, so nodes built apart agree on every entity's shard.
  EXPECT_EQ(troupe::cluster::shard_of("", 1000), 14695981039346656037ull % 1000);
  EXPECT_EQ(troupe::cluster::shard_of("a", 1000), 0xaf63dc4c8601ec8cull % 1000);
  std::vector<int> per(16);
  for (int k = 0; k < 1600; ++k) ++per[troupe::cluster::shard_of("user-" + std::to_string(k), 16)];
  for (int n : per) EXPECT_GT(n, 50);  // 100 each on average
}

TEST(ShardRegion, RefusesATypeWithoutShardsOrFactoryAndOneStartedTwice) {
  namespace tc = troupe::cluster;
  auto file = "/tmp/troupe-shard-region-" + std::to_string(::getpid()) + ".db";
  troupe::cluster::testing::remove_store("sqlite:" + file);
  {
    troupe::system sys;
    troupe::remote::node node{sys, {.name = "solo", .cookie = "c"}};
    auto c = tc::cluster::join(sys, node, tc::membership_store::open_sqlite(file).value(), {.name = "solo"}).value();
    using tc::testing::counter_msg;
    auto make = [](const std::string&) { return troupe::receive<counter_msg>([](const auto&) { return troupe::same; }); };
    EXPECT_THROW(tc::shard_region<counter_msg>::start(*c, {.type = "counter", .make = make, .stop_message = {}, .shards = 0}), troupe::usage_error);
    EXPECT_THROW(tc::shard_region<counter_msg>::start(*c, {.type = "counter"}), troupe::usage_error);
    auto region = tc::shard_region<counter_msg>::start(*c, {.type = "counter", .make = make});
    EXPECT_EQ(region.shards(), 64u);
    EXPECT_EQ(region.shard_of("x"), troupe::cluster::shard_of("x", 64));
    EXPECT_THROW(tc::shard_region<counter_msg>::start(*c, {.type = "counter", .make = make}), troupe::usage_error);
  }
  troupe::cluster::testing::remove_store("sqlite:" + file);
}

INSTANTIATE_TEST_SUITE_P(Sqlite, Sharding, ::testing::Values(store_kind::sqlite), troupe::cluster::testing::store_name);
INSTANTIATE_TEST_SUITE_P(Postgres, Sharding, ::testing::Values(store_kind::postgres), troupe::cluster::testing::store_name);

}  // namespace
