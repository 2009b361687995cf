// placement_test.cpp: the placements that come with the cluster layer.
#include "troupe/cluster/placement.hpp"

#include <gtest/gtest.h>

#include <map>
#include <set>
#include <string>
#include <vector>

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
