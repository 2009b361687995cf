// singleton_test.cpp: one instance of an actor in a cluster of three real node processes, against
// SQLite and PostgreSQL: it runs on exactly one node, answers from every node, and starts on
// another node within 5 s of its node being voted out.
#include <gtest/gtest.h>

#include <chrono>
#include <string>

#include "cluster/cluster_test_support.hpp"

namespace {

using troupe::cluster::testing::ClusterTest;
using troupe::cluster::testing::store_kind;
using namespace std::chrono_literals;

class Singleton : public ClusterTest {
 protected:
  std::size_t started() {
    std::size_t n = 0;
    for (auto& p : nodes_)
      if (p) n += p->count("singleton leader started");
    return n;
  }
  // The node the singleton runs on, waiting up to `wait` for one.
  std::optional<std::size_t> holder(std::chrono::nanoseconds wait) {
    for (auto deadline = std::chrono::steady_clock::now() + wait; std::chrono::steady_clock::now() < deadline;)
      for (std::size_t i = 0; i < nodes_.size(); ++i)
        if (nodes_[i] && nodes_[i]->wait_for("singleton leader started", 10ms)) return i;
    return std::nullopt;
  }
};

TEST_P(Singleton, RunsOnOneNodeAndMovesWhenItsNodeDies) {
  start({"--ask-ms", "1000"});
  auto first = holder(5s);
  ASSERT_TRUE(first) << logs();
  for (std::size_t i = 0; i < 3; ++i) {
    auto id = next_id();
    node(i).command("leader " + id);
    EXPECT_EQ(answer(i, id, 5s), "0") << logs();
  }
  EXPECT_EQ(started(), 1u) << logs();
  auto survivor = *first == 0 ? 1u : 0u;
  auto dead_name = node(*first).name();
  node(*first).kill9();
  nodes_[*first].reset();
  ASSERT_TRUE(node(survivor).wait_for("member_removed " + dead_name, 5s)) << logs();
  auto again = holder(5s);
  ASSERT_TRUE(again) << "the singleton did not start again within 5 s of the vote\n" << logs();
  EXPECT_NE(*again, *first);
  EXPECT_EQ(started(), 1u) << logs();  // among the two nodes left
  auto id = next_id();
  node(survivor).command("leader " + id);
  EXPECT_EQ(answer(survivor, id, 5s), "0") << logs();
}

INSTANTIATE_TEST_SUITE_P(Sqlite, Singleton, ::testing::Values(store_kind::sqlite), troupe::cluster::testing::store_name);
INSTANTIATE_TEST_SUITE_P(Postgres, Singleton, ::testing::Values(store_kind::postgres), troupe::cluster::testing::store_name);

}  // namespace
