// grain_test.cpp: virtual actors across three real node processes, against SQLite and PostgreSQL:
// a grain answers from every node, is activated once, even when nodes race for it, and comes
// back with its state after going idle.
#include <gtest/gtest.h>

#include <chrono>
#include <cstdlib>
#include <iostream>
#include <string>

#include "cluster/cluster_test_support.hpp"

namespace {

using troupe::cluster::testing::ClusterTest;
using troupe::cluster::testing::store_kind;
using namespace std::chrono_literals;

class Grains : public ClusterTest {};

TEST_P(Grains, AGrainAnswersFromEveryNodeAndIsActivatedOnce) {
  start();
  EXPECT_EQ(call(0, "k1", 5), "5") << logs();
  EXPECT_EQ(call(1, "k1", 3), "8") << logs();
  EXPECT_EQ(call(2, "k1", 0), "8") << logs();
  EXPECT_EQ(call(0, "k2", 1), "1") << logs();
  EXPECT_EQ(activations("k1"), 1u) << logs();
  EXPECT_EQ(activations("k2"), 1u) << logs();
}

TEST_P(Grains, NodesRacingToActivateOneKeyEndWithOneActivationAndEveryCallAnswered) {
  // Prefer-local placement: each node tries to activate the grain on itself, all at once.
  start({"--placement", "local"});
  constexpr int per_node = 5;
  std::vector<std::pair<std::size_t, std::string>> sent;
  for (int r = 0; r < per_node; ++r)
    for (std::size_t i = 0; i < 3; ++i) {
      auto id = next_id();
      node(i).command("call " + id + " race 1");
      sent.emplace_back(i, id);
    }
  std::vector<long> totals;
  for (auto& [i, id] : sent) {
    auto a = answer(i, id, 10s);
    ASSERT_EQ(a.find_first_not_of("0123456789"), std::string::npos) << "call " << id << ": " << a << "\n" << logs();
    totals.push_back(std::stol(a));
  }
  std::sort(totals.begin(), totals.end());
  for (int k = 0; k < 3 * per_node; ++k) EXPECT_EQ(totals[k], k + 1);  // each add applied once
  EXPECT_EQ(call(1, "race", 0), std::to_string(3 * per_node));
  EXPECT_EQ(activations("race"), 1u) << logs();
  std::size_t rerouted = 0;  // the race happened: the losers re-routed their callers' calls
  for (std::size_t i = 0; i < 3; ++i)
    if (node(i).wait_containing("device/race is held by", 10ms)) ++rerouted;
  EXPECT_EQ(rerouted, 2u) << logs();
  if (::testing::Test::HasFailure() || std::getenv("TROUPE_CLUSTER_LOGS")) std::cout << logs();
}

TEST_P(Grains, AnIdleGrainIsDeactivatedAndComesBackWithItsState) {
  start({"--idle-ms", "300"});
  EXPECT_EQ(call(0, "sleepy", 4), "4") << logs();
  bool deactivated = false;
  for (auto deadline = std::chrono::steady_clock::now() + 5s; !deactivated && std::chrono::steady_clock::now() < deadline;)
    for (std::size_t i = 0; i < 3 && !deactivated; ++i)
      deactivated = node(i).wait_containing("device/sleepy deactivated", 10ms).has_value();
  ASSERT_TRUE(deactivated) << logs();
  EXPECT_EQ(call(1, "sleepy", 1), "5") << logs();
  EXPECT_EQ(activations("sleepy"), 2u) << logs();
}

TEST_P(Grains, AGrainWhoseFactoryThrowsFailsAloneAndTheOthersKeepServing) {
  start({"--placement", "local", "--ask-ms", "500"});
  auto r = call(0, "boom1", 1);
  EXPECT_EQ(r.rfind("error", 0), 0u) << r;
  ASSERT_TRUE(node(0).wait_containing("device/boom1: its factory threw", 5s)) << logs();
  EXPECT_EQ(call(0, "fine", 2), "2") << logs();  // the same node's service still serves
  EXPECT_EQ(call(1, "fine", 1), "3") << logs();
}

INSTANTIATE_TEST_SUITE_P(Sqlite, Grains, ::testing::Values(store_kind::sqlite), troupe::cluster::testing::store_name);
INSTANTIATE_TEST_SUITE_P(Postgres, Grains, ::testing::Values(store_kind::postgres), troupe::cluster::testing::store_name);

}  // namespace
