// process_groups_test.cpp: process groups across three (then four) real node processes sharing
// a SQLite membership store: a join on one node is seen on the others, and so are leaves and
// members that stop; the members of a node killed with SIGKILL, frozen with SIGSTOP, or that leaves
// the cluster vanish from the others' views; a node that joins late learns the groups that exist (pg's sync);
// a node voted out is forgotten, and its next incarnation seen again; a scope destroyed leaves
// no listener of its cluster behind, and its actor leaves the node alone once the cluster is gone.
#include <signal.h>

#include <gtest/gtest.h>

#include <atomic>
#include <chrono>
#include <future>
#include <iostream>
#include <memory>
#include <string>
#include <thread>

#include "cluster/group_member.hpp"
#include "cluster/groups_test_support.hpp"
#include "troupe/cluster/cluster.hpp"
#include "troupe/cluster/membership_store.hpp"
#include "troupe/cluster/process_groups.hpp"
#include "troupe/cluster/receptionist.hpp"
#include "troupe/core/system.hpp"
#include "troupe/remote/node.hpp"

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

TEST_P(ProcessGroups, AVotedOutNodesMembersAreForgottenAndItsNextIncarnationIsSeenAgain) {
  start({"--down-after-ms", "600"});
  run(0, "pg_join lobby x", "pg_joined lobby x");
  run(2, "pg_join lobby y", "pg_joined lobby y");
  ASSERT_EQ(until(1, "pg_members", "lobby", "a/x,c/y"), "a/x,c/y") << logs();
  ASSERT_TRUE(node(2).freeze()) << logs();
  ASSERT_TRUE(node(0).wait_for("member_removed c voted out", 8s)) << logs();
  ASSERT_TRUE(node(1).wait_for("member_removed c voted out", 8s)) << logs();
  node(2).signal(SIGCONT);
  ASSERT_TRUE(node(2).wait_for("member_removed c this node was voted out", 5s)) << logs();
  // Awake and linked again, c is out: the others do not take its members back, even a new one,
  // and c forgets theirs.
  run(2, "pg_join lobby w", "pg_joined lobby w");
  EXPECT_EQ(until(2, "pg_members", "lobby", "c/w,c/y"), "c/w,c/y") << logs();
  for (int poll = 0; poll < 5; ++poll) {
    EXPECT_EQ(until(0, "pg_members", "lobby", "a/x", 0s), "a/x") << logs();
    EXPECT_EQ(until(1, "pg_members", "lobby", "a/x", 0s), "a/x") << logs();
  }
  // A new incarnation of c joins the cluster: its members are seen again, and it sees the others'.
  node(2).kill9();
  nodes_[2] = std::make_unique<troupe::cluster::testing::cluster_process>(std::vector<std::string>{
      "--name", "c", "--cluster", cluster_, "--store", store_, "--down-after-ms", "600"});
  for (std::size_t i = 0; i < 2; ++i) {
    for (auto deadline = clock_type::now() + 10s; node(i).count("member_up c") < 2 && clock_type::now() < deadline;)
      node(i).wait_output(10ms);
    ASSERT_EQ(node(i).count("member_up c"), 2u) << logs();
  }
  run(2, "pg_join lobby z", "pg_joined lobby z");
  for (std::size_t i = 0; i < 3; ++i) EXPECT_EQ(until(i, "pg_members", "lobby", "a/x,c/z"), "a/x,c/z") << i << "\n" << logs();
}

TEST(ProcessGroupsScope, AScopeDestroyedLeavesNoListenerOfItsClusterBehind) {
  // One node in this process: the cluster's listeners are counted before, with and after scopes.
  troupe::system sys;
  troupe::remote::node node{sys, {.name = "solo", .cookie = "scope-test"}};
  auto path = "/tmp/troupe-cluster-" + std::to_string(::getpid()) + "-scopes.db";
  troupe::cluster::testing::remove_store("sqlite:" + path);
  auto c = troupe::cluster::cluster::join(sys, node, troupe::cluster::membership_store::open_sqlite(path).value(),
                                          {.name = "scopes"})
               .value();
  auto& core = troupe::cluster::detail::cluster_access::core(*c);
  auto before = core.listener_count();
  auto m = sys.spawn(troupe::cluster::testing::group_member("solo/m"));
  for (int i = 0; i < 20; ++i) {
    troupe::cluster::process_groups pg(*c, "s" + std::to_string(i));
    troupe::cluster::receptionist reception(*c, "r" + std::to_string(i));
    ASSERT_TRUE(pg.join(troupe::otp::group<troupe::cluster::testing::member_msg>{"lobby"}, m));
    ASSERT_TRUE(reception.register_service(troupe::otp::service_key<troupe::cluster::testing::member_msg>{"k"}, m));
    EXPECT_EQ(core.listener_count(), before + 2);
  }
  EXPECT_EQ(core.listener_count(), before);
  c.reset();
  troupe::cluster::testing::remove_store("sqlite:" + path);
}

TEST(ProcessGroupsScope, AScopeActorThatFirstRunsAfterItsClusterAndNodeAreGoneLeavesTheNodeAlone) {
  // The scope actor publishes on its node in its first turn. Here that turn comes only after the
  // scope, the cluster and the node are destroyed (the one worker is held until then): it must
  // not touch the node. Before the fix this was a use after free (ASan) and a race (TSan).
  troupe::system_config sc;
  sc.worker_threads = 1;
  troupe::system sys{sc};
  std::promise<void> release;
  std::shared_future<void> released = release.get_future().share();
  std::promise<void> holding;
  auto holder = sys.spawn(troupe::receive<int>([&holding, released](int) {
    holding.set_value();
    released.wait();
    return troupe::same;
  }));
  holder.tell(1);
  holding.get_future().wait();
  auto path = "/tmp/troupe-cluster-" + std::to_string(::getpid()) + "-late-scope.db";
  troupe::cluster::testing::remove_store("sqlite:" + path);
  std::atomic<int> scope_turns{0};
  {
    auto node = std::make_unique<troupe::remote::node>(sys, troupe::remote::node_config{.name = "late", .cookie = "scope-test"});
    auto c = troupe::cluster::cluster::join(sys, *node, troupe::cluster::membership_store::open_sqlite(path).value(),
                                            {.name = "late"})
                 .value();
    auto m = sys.spawn(troupe::cluster::testing::group_member("late/m"));
    {
      troupe::cluster::process_groups pg(*c, "late");
      ASSERT_TRUE(pg.join(troupe::otp::group<troupe::cluster::testing::member_msg>{"lobby"}, m));
    }
    c.reset();
    node.reset();
  }
  release.set_value();
  // The scope actor's first turn has run once a message sent now, on the one worker, came back.
  auto probe = sys.spawn(troupe::receive<int>([&scope_turns](int) {
    scope_turns.fetch_add(1);
    return troupe::same;
  }));
  probe.tell(1);
  for (auto deadline = std::chrono::steady_clock::now() + 10s; scope_turns.load() == 0 && std::chrono::steady_clock::now() < deadline;)
    std::this_thread::yield();
  EXPECT_EQ(scope_turns.load(), 1);
  troupe::cluster::testing::remove_store("sqlite:" + path);
}

INSTANTIATE_TEST_SUITE_P(Sqlite, ProcessGroups, ::testing::Values(store_kind::sqlite), troupe::cluster::testing::store_name);

}  // namespace
