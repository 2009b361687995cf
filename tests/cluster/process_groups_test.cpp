// process_groups_test.cpp: process groups across three (then four) real node processes sharing
// a SQLite membership store: a join on one node is seen on the others, and so are leaves and
// members that stop; the members of a node killed with SIGKILL, frozen with SIGSTOP, or that leaves
// the cluster vanish from the others' views; a node that joins late learns the groups that exist (pg's sync).
#include <gtest/gtest.h>

#include <chrono>
#include <iostream>
#include <string>

#include "cluster/groups_test_support.hpp"

namespace {

using troupe::cluster::testing::GroupsTest;
using troupe::cluster::testing::store_kind;
using namespace std::chrono_literals;
using clock_type = std::chrono::steady_clock;

class ProcessGroups : public GroupsTest {};

TEST_P(ProcessGroups, AJoinOnOneNodeIsSeenOnEveryOtherAndSoAreALeaveAndAStop) {
  start();
  node(2).command("pg_subscribe lobby");
  run(2, "members", "members ");  // the subscription is in place before anyone joins
  run(0, "pg_join lobby alice", "pg_joined lobby alice");
  run(1, "pg_join lobby bob", "pg_joined lobby bob");
  // Every node asks each member its name: the refs work for ask wherever the member lives.
  for (std::size_t i = 0; i < 3; ++i) EXPECT_EQ(until(i, "pg_members", "lobby", "a/alice,b/bob"), "a/alice,b/bob") << logs();
  EXPECT_TRUE(node(2).wait_for("pg_event lobby joined", 5s)) << logs();
  EXPECT_EQ(until(0, "pg_members", "hall", ""), "") << logs();  // another group, nobody in it

  run(0, "pg_leave lobby alice", "pg_left lobby alice 1");
  for (std::size_t i = 0; i < 3; ++i) EXPECT_EQ(until(i, "pg_members", "lobby", "b/bob"), "b/bob") << logs();
  EXPECT_TRUE(node(2).wait_for("pg_event lobby left", 5s)) << logs();
  node(1).command("pg_stop bob");  // leaves by stopping
  for (std::size_t i = 0; i < 3; ++i) EXPECT_EQ(until(i, "pg_members", "lobby", ""), "") << logs();
  EXPECT_EQ(node(2).count("pg_event lobby joined"), 2u) << logs();
  EXPECT_EQ(node(2).count("pg_event lobby left"), 2u) << logs();
}

TEST_P(ProcessGroups, AKilledNodesMembersVanishFromTheOthersViewsWithinTheFailureDetectorsBound) {
  start();
  for (std::size_t i = 0; i < 3; ++i) run(i, "pg_join lobby x", "pg_joined lobby x");
  run(2, "pg_join lobby y", "pg_joined lobby y");
  for (std::size_t i = 0; i < 3; ++i) ASSERT_EQ(until(i, "pg_members", "lobby", "a/x,b/x,c/x,c/y"), "a/x,b/x,c/x,c/y") << logs();
  auto killed = clock_type::now();
  node(2).kill9();
  // A killed node's socket is reset at once; a silent one is declared down after down_after
  // (1.5 s): either way well within 3 s.
  EXPECT_EQ(until(0, "pg_members", "lobby", "a/x,b/x", 3s), "a/x,b/x") << logs();
  EXPECT_EQ(until(1, "pg_members", "lobby", "a/x,b/x", 3s), "a/x,b/x") << logs();
  auto ms = std::chrono::duration_cast<std::chrono::milliseconds>(clock_type::now() - killed).count();
  EXPECT_LT(ms, 3000);
  std::cout << "kill -9: its members gone from both other nodes' views after " << ms << " ms\n";
}

TEST_P(ProcessGroups, AFrozenNodesMembersVanishFromTheOthersViewsOnceItIsDeclaredDown) {
  start();
  for (std::size_t i = 0; i < 3; ++i) run(i, "pg_join lobby x", "pg_joined lobby x");
  for (std::size_t i = 0; i < 3; ++i) ASSERT_EQ(until(i, "pg_members", "lobby", "a/x,b/x,c/x"), "a/x,b/x,c/x") << logs();
  auto frozen = clock_type::now();
  ASSERT_TRUE(node(2).freeze()) << logs();
  // Its connections miss their heartbeats for down_after (1.5 s): then its members go, before
  // any vote (which a node frozen in the middle of a write to the SQLite file can hold up).
  EXPECT_EQ(until(0, "pg_members", "lobby", "a/x,b/x", 8s), "a/x,b/x") << logs();
  EXPECT_EQ(until(1, "pg_members", "lobby", "a/x,b/x", 8s), "a/x,b/x") << logs();
  std::cout << "SIGSTOP: its members gone from both other nodes' views after "
            << std::chrono::duration_cast<std::chrono::milliseconds>(clock_type::now() - frozen).count()
            << " ms (each poll waits up to 1 s for the frozen member's answer)\n";
}

TEST_P(ProcessGroups, ANodeThatLeavesTheClusterTakesItsMembersWithIt) {
  start();
  run(0, "pg_join lobby x", "pg_joined lobby x");
  run(2, "pg_join lobby x", "pg_joined lobby x");
  ASSERT_EQ(until(1, "pg_members", "lobby", "a/x,c/x"), "a/x,c/x") << logs();
  node(2).command("quit");
  ASSERT_TRUE(node(1).wait_for("member_removed c", 5s)) << logs();
  EXPECT_EQ(until(0, "pg_members", "lobby", "a/x"), "a/x") << logs();
  EXPECT_EQ(until(1, "pg_members", "lobby", "a/x"), "a/x") << logs();
}

TEST_P(ProcessGroups, AScopeThatIsDestroyedTakesItsNodesMembersOutOfTheOthersViews) {
  start();
  run(0, "pg_join lobby x", "pg_joined lobby x");
  run(1, "pg_join lobby x", "pg_joined lobby x");
  ASSERT_EQ(until(2, "pg_members", "lobby", "a/x,b/x"), "a/x,b/x") << logs();
  run(0, "pg_close", "pg_closed");  // a stays a member of the cluster
  EXPECT_EQ(until(2, "pg_members", "lobby", "b/x"), "b/x") << logs();
  EXPECT_EQ(until(1, "pg_members", "lobby", "b/x"), "b/x") << logs();
  // A new scope on a starts empty and is linked again.
  run(0, "pg_join lobby y", "pg_joined lobby y");
  EXPECT_EQ(until(2, "pg_members", "lobby", "a/y,b/x"), "a/y,b/x") << logs();
  EXPECT_EQ(until(0, "pg_members", "lobby", "a/y,b/x"), "a/y,b/x") << logs();
}

TEST_P(ProcessGroups, ANodeThatJoinsLateLearnsTheExistingGroupsAndTheOthersLearnItsMembers) {
  start();
  for (std::size_t i = 0; i < 3; ++i) run(i, "pg_join lobby x", "pg_joined lobby x");
  run(1, "pg_join hall h", "pg_joined hall h");
  ASSERT_EQ(until(0, "pg_members", "lobby", "a/x,b/x,c/x"), "a/x,b/x,c/x") << logs();
  start_late_node();
  EXPECT_EQ(until(3, "pg_members", "lobby", "a/x,b/x,c/x"), "a/x,b/x,c/x") << logs();
  EXPECT_EQ(until(3, "pg_members", "hall", "b/h"), "b/h") << logs();
  run(3, "pg_join lobby x", "pg_joined lobby x");
  for (std::size_t i = 0; i < 4; ++i) EXPECT_EQ(until(i, "pg_members", "lobby", "a/x,b/x,c/x,d/x"), "a/x,b/x,c/x,d/x") << logs();
}

INSTANTIATE_TEST_SUITE_P(Sqlite, ProcessGroups, ::testing::Values(store_kind::sqlite), troupe::cluster::testing::store_name);

}  // namespace
