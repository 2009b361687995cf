// group_view_test.cpp: one node's view of the cluster's groups (detail/group_view.hpp), without
// other nodes: memberships are named by (node, id), a node's state replaces what it said before
// and subscribers hear only the difference, and dropping a node touches nothing else.
#include <gtest/gtest.h>

#include <string>
#include <typeindex>
#include <vector>

#include "troupe/cluster/detail/group_view.hpp"
#include "troupe/core/behavior.hpp"
#include "troupe/core/system.hpp"

namespace {

using view = troupe::cluster::detail::group_view;

struct GroupView : ::testing::Test {
  troupe::system sys;
  troupe::any_ref actor() {
    return sys.spawn(troupe::receive<int>([](int) { return troupe::same; }));
  }
  view::key lobby{"lobby", typeid(int)};
  // Each change as "+N" or "-N", N the index of the member in `refs`.
  std::vector<troupe::any_ref> refs;
  std::vector<std::string> heard;
  view::notify_fn recorder() {
    return [this](const std::vector<troupe::any_ref>&, const troupe::any_ref& who, bool joined) {
      for (std::size_t i = 0; i < refs.size(); ++i)
        if (refs[i] == who) heard.push_back((joined ? "+" : "-") + std::to_string(i));
    };
  }
};

TEST_F(GroupView, ALocalJoinGetsAnIdOnceAndItsLeaveGivesThatIdBack) {
  view v("a");
  auto m = actor();
  auto id = v.join_local(lobby, m);
  ASSERT_TRUE(id);
  EXPECT_FALSE(v.join_local(lobby, m));  // joining twice is joining once
  EXPECT_EQ(v.local_members(lobby), std::vector<troupe::any_ref>{m});
  EXPECT_EQ(v.leave_local(lobby, m), id);
  EXPECT_FALSE(v.leave_local(lobby, m));
  EXPECT_TRUE(v.members(lobby).empty());
  EXPECT_TRUE(v.names(typeid(int)).empty());
}

TEST_F(GroupView, ANodesNewStateReplacesItsOldOneAndSubscribersHearOnlyTheDifference) {
  view v("a");
  refs = {actor(), actor(), actor(), actor()};
  ASSERT_TRUE(v.join_local(lobby, refs[0]));
  v.add(lobby, "b", 1, refs[1]);
  v.add(lobby, "b", 2, refs[2]);
  v.add(lobby, "b", 2, refs[2]);  // told twice: once
  v.subscribe(lobby, refs[0], recorder());
  v.replace_node("b", typeid(int), {{"lobby", 2, refs[2]}, {"lobby", 3, refs[3]}});
  EXPECT_EQ(heard, (std::vector<std::string>{"-1", "+3"}));
  EXPECT_EQ(v.members(lobby), (std::vector<troupe::any_ref>{refs[0], refs[2], refs[3]}));
  EXPECT_TRUE(v.remove(lobby, "b", 3));
  EXPECT_FALSE(v.remove(lobby, "b", 3));
  EXPECT_FALSE(v.remove(lobby, "c", 2));  // the id is b's, not c's
  EXPECT_EQ(heard, (std::vector<std::string>{"-1", "+3", "-3"}));
}

TEST_F(GroupView, DroppingANodeRemovesOnlyItsMembersOfThatProtocol) {
  view v("a");
  refs = {actor(), actor(), actor(), actor()};
  view::key hall{"hall", typeid(int)};
  view::key other{"lobby", typeid(double)};  // same name, another protocol: another group
  ASSERT_TRUE(v.join_local(lobby, refs[0]));
  v.add(lobby, "b", 1, refs[1]);
  v.add(hall, "b", 2, refs[2]);
  v.add(other, "b", 3, refs[3]);
  v.add(lobby, "c", 1, refs[3]);
  EXPECT_EQ(v.nodes(typeid(int)), (std::vector<std::string>{"a", "b", "c"}));
  v.drop_node("b", typeid(int));
  EXPECT_EQ(v.members(lobby), (std::vector<troupe::any_ref>{refs[0], refs[3]}));
  EXPECT_TRUE(v.members(hall).empty());
  EXPECT_EQ(v.members(other), std::vector<troupe::any_ref>{refs[3]});
  EXPECT_EQ(v.names(typeid(int)), std::vector<std::string>{"lobby"});
}

TEST_F(GroupView, ASubscriptionWithNotifyNowHearsTheMembersAtOnce) {
  view v("a");
  refs = {actor()};
  ASSERT_TRUE(v.join_local(lobby, refs[0]));
  std::vector<std::size_t> sizes;
  auto now = v.subscribe(
      lobby, refs[0], [&](const std::vector<troupe::any_ref>& all, const troupe::any_ref&, bool) { sizes.push_back(all.size()); },
      true);
  EXPECT_EQ(now, refs);
  v.leave_local(lobby, refs[0]);
  EXPECT_EQ(sizes, (std::vector<std::size_t>{1, 0}));
  v.unsubscribe(lobby, refs[0]);
  v.add(lobby, "b", 1, refs[0]);
  EXPECT_EQ(sizes.size(), 2u);
}

}  // namespace
