// membership_test.cpp: member events across three real node processes, against SQLite and
// PostgreSQL: every node hears every member up, and a node that leaves is removed as `left` while
// its grains answer at once from another node with their state.
#include <gtest/gtest.h>

#include <chrono>
#include <string>

#include "cluster/cluster_test_support.hpp"

namespace {

using troupe::cluster::testing::ClusterTest;
using troupe::cluster::testing::store_kind;
using namespace std::chrono_literals;

class Membership : public ClusterTest {};

TEST_P(Membership, ANodeThatLeavesIsRemovedAsLeftAndItsGrainsMoveWithTheirState) {
  start({"--placement", "local"});  // start() checks that every node heard a, b and c up
  ASSERT_EQ(call(2, "l1", 9), "9") << logs();
  node(2).command("members");
  ASSERT_TRUE(node(2).wait_for("members a,b,c", 5s)) << logs();
  node(2).command("quit");
  auto a = node(0).wait_for("member_removed c", 5s);
  ASSERT_TRUE(a) << logs();
  EXPECT_NE(a->find("left the cluster"), std::string::npos) << *a;
  ASSERT_TRUE(node(1).wait_for("member_removed c left the cluster", 5s)) << logs();
  EXPECT_EQ(call(0, "l1", 1), "10") << logs();  // no vote needed: its registration went with it
  node(0).command("members");
  EXPECT_TRUE(node(0).wait_for("members a,b", 5s)) << logs();
}

INSTANTIATE_TEST_SUITE_P(Sqlite, Membership, ::testing::Values(store_kind::sqlite), troupe::cluster::testing::store_name);
INSTANTIATE_TEST_SUITE_P(Postgres, Membership, ::testing::Values(store_kind::postgres), troupe::cluster::testing::store_name);

}  // namespace
