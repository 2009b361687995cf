// placement_test.cpp: the placements that come with the cluster layer; least-loaded placement
// also with three node processes.
#include "troupe/cluster/placement.hpp"

#include <gtest/gtest.h>

#include <chrono>
#include <map>
#include <set>
#include <sstream>
#include <string>
#include <vector>

#include "cluster/cluster_test_support.hpp"

namespace tc = troupe::cluster;

TEST(HashPlacement, EveryNodeChoosesTheSameMemberForAKey) {
  tc::hash_placement on_a, on_b;
  std::vector<std::string> up{"a", "b", "c"};
  for (int k = 0; k < 200; ++k)
    EXPECT_EQ(on_a.choose("device", std::to_string(k), up, "a"), on_b.choose("device", std::to_string(k), up, "b"));
}

TEST(HashPlacement, SpreadsKeysOverTheMembers) {
  tc::hash_placement p;
  std::map<std::string, int> per_node;
  for (int k = 0; k < 3000; ++k) ++per_node[p.choose("device", std::to_string(k), {"a", "b", "c"}, "a")];
  ASSERT_EQ(per_node.size(), 3u);
  for (auto& [node, n] : per_node) EXPECT_GT(n, 800) << node;  // 1000 each on average
}

TEST(HashPlacement, AMemberLeavingMovesOnlyTheKeysItHeld) {
  tc::hash_placement p;
  for (int k = 0; k < 1000; ++k) {
    auto key = std::to_string(k);
    auto before = p.choose("device", key, {"a", "b", "c"}, "a");
    auto after = p.choose("device", key, {"a", "b"}, "a");
    if (before != "c") {
      EXPECT_EQ(after, before) << key;
    }
  }
}

TEST(PreferLocalPlacement, ChoosesTheCallingNodeWhenItIsUp) {
  tc::prefer_local_placement p;
  EXPECT_EQ(p.choose("device", "1", {"a", "b", "c"}, "b"), "b");
  EXPECT_EQ(p.choose("device", "1", {"a", "c"}, "b"), "a");
}

TEST(RandomPlacement, ChoosesOnlyUpMembersAndReachesEachOfThem) {
  tc::random_placement p{42};
  std::set<std::string> seen;
  for (int i = 0; i < 100; ++i) {
    auto n = p.choose("device", "1", {"a", "b", "c"}, "a");
    EXPECT_TRUE(n == "a" || n == "b" || n == "c") << n;
    seen.insert(n);
  }
  EXPECT_EQ(seen.size(), 3u);
}

TEST(LeastLoadedPlacement, ChoosesTheMemberWithTheFewestActiveGrains) {
  tc::least_loaded_placement p;
  p.loads({{"a", 10}, {"b", 2}, {"c", 5}});
  EXPECT_EQ(p.choose("device", "1", {"a", "b", "c"}, "a"), "b");
  EXPECT_EQ(p.choose("device", "2", {"a", "c"}, "a"), "c");  // only up members
}

TEST(LeastLoadedPlacement, SpreadsABurstOfFirstCallsBetweenTwoReadings) {
  tc::least_loaded_placement p;
  p.loads({{"a", 0}, {"b", 0}, {"c", 3}});
  std::map<std::string, int> per_node;
  for (int k = 0; k < 33; ++k) ++per_node[p.choose("device", std::to_string(k), {"a", "b", "c"}, "a")];
  // What it placed itself counts until the members publish again: 12, 12 and 9, not 33 on a.
  EXPECT_EQ(per_node["a"], 12);
  EXPECT_EQ(per_node["b"], 12);
  EXPECT_EQ(per_node["c"], 9);
  // b and c published their new counts (12, and 11: one of c's grains stopped meanwhile); a's
  // is unchanged, not counting what was placed there yet: its 12 still count, so c is the emptiest.
  p.loads({{"a", 0}, {"b", 12}, {"c", 11}});
  EXPECT_EQ(p.choose("device", "x", {"a", "b", "c"}, "a"), "c");
}

namespace {
using troupe::cluster::testing::ClusterTest;
using troupe::cluster::testing::store_kind;
using namespace std::chrono_literals;

class LeastLoaded : public ClusterTest {
 protected:
  // Node i's reading of the members' active grains, e.g. {a: 12, b: 0, c: 1}.
  std::map<std::string, long> loads(std::size_t i) {
    auto before = node(i).count("loads ");
    node(i).command("loads");
    std::map<std::string, long> out;
    for (auto deadline = std::chrono::steady_clock::now() + 5s; node(i).count("loads ") == before;)
      if (std::chrono::steady_clock::now() > deadline || !node(i).wait_output(100ms)) return out;
    auto all = node(i).log();  // the last "loads" line
    auto at = all.rfind("| loads ");
    std::istringstream in(all.substr(at + 8, all.find('\n', at) - at - 8));
    for (std::string item; std::getline(in, item, ',');)
      out[item.substr(0, item.find('='))] = std::stol(item.substr(item.find('=') + 1));
    return out;
  }
};

TEST_P(LeastLoaded, NewActivationsGoToTheEmptierNodes) {
  // a places its grains on itself; b uses least-loaded placement.
  start({}, {{"--placement", "local"}, {"--placement", "least"}});
  for (int k = 0; k < 12; ++k) ASSERT_EQ(call(0, "full" + std::to_string(k), 1), "1") << logs();
  ASSERT_EQ(node(0).count("activated full"), 12u) << logs();
  // b reads a's count at its heartbeat, once a has published it at its own.
  auto deadline = std::chrono::steady_clock::now() + 5s;
  while (loads(1)["a"] < 12) ASSERT_LT(std::chrono::steady_clock::now(), deadline) << logs();
  for (int k = 0; k < 6; ++k) ASSERT_EQ(call(1, "new" + std::to_string(k), 1), "1") << logs();
  // None on a; b and c share them (one of them may hold the singleton "leader").
  EXPECT_EQ(node(0).count("activated new"), 0u) << logs();
  auto on_b = node(1).count("activated new"), on_c = node(2).count("activated new");
  EXPECT_EQ(on_b + on_c, 6u) << logs();
  EXPECT_GE(on_b, 2u) << logs();
  EXPECT_GE(on_c, 2u) << logs();
}

INSTANTIATE_TEST_SUITE_P(Sqlite, LeastLoaded, ::testing::Values(store_kind::sqlite), troupe::cluster::testing::store_name);
INSTANTIATE_TEST_SUITE_P(Postgres, LeastLoaded, ::testing::Values(store_kind::postgres), troupe::cluster::testing::store_name);
}  // namespace
