// process_groups_test.cpp: pg-style groups: join, leave, members, subscriptions, automatic leave.
#include "troupe/otp/process_groups.hpp"

#include <gtest/gtest.h>

#include <memory>
#include <string>
#include <variant>

#include "core/test_support.hpp"
#include "troupe/troupe.hpp"

namespace {

using namespace troupe_test;

struct said {
  std::string text;
};
struct quit {};
using member_msg = std::variant<said, quit>;

troupe::behavior<member_msg> member(std::shared_ptr<blocking_queue<std::string>> heard, std::string who) {
  return troupe::receive<member_msg>([=](const said& s) { heard->push(who + ":" + s.text); },
                                     [](quit) { return troupe::stopped; });
}

const troupe::otp::group<member_msg> lobby{"lobby"};

TEST(ProcessGroups, JoinLeaveAndMembersTakeEffectAtOnce) {
  troupe::system sys{small_config()};
  troupe::otp::process_groups pg(sys);
  auto heard = std::make_shared<blocking_queue<std::string>>();
  auto a = sys.spawn(member(heard, "a"));
  auto b = sys.spawn(member(heard, "b"));
  ASSERT_TRUE(pg.join(lobby, a).has_value());
  ASSERT_TRUE(pg.join(lobby, b).has_value());
  ASSERT_TRUE(pg.join(lobby, a).has_value());  // twice is once
  EXPECT_EQ(pg.members(lobby), (std::vector<troupe::ref<member_msg>>{a, b}));
  EXPECT_EQ(pg.which_groups<member_msg>(), std::vector<std::string>{"lobby"});
  EXPECT_TRUE(pg.leave(lobby, a));
  EXPECT_FALSE(pg.leave(lobby, a));
  EXPECT_EQ(pg.members(lobby), std::vector<troupe::ref<member_msg>>{b});
  EXPECT_EQ(pg.broadcast(lobby, said{"hi"}), 1u);
  EXPECT_EQ(heard->pop(), "b:hi");
}

TEST(ProcessGroups, GroupsOfDifferentProtocolsOrScopesNeverMix) {
  troupe::system sys{small_config()};
  troupe::otp::process_groups pg(sys);
  troupe::otp::process_groups other(sys);
  auto heard = std::make_shared<blocking_queue<std::string>>();
  auto a = sys.spawn(member(heard, "a"));
  auto n = sys.spawn(troupe::receive<int>([](int) {}));
  ASSERT_TRUE(pg.join(lobby, a).has_value());
  ASSERT_TRUE(pg.join(troupe::otp::group<int>{"lobby"}, n).has_value());
  EXPECT_EQ(pg.members(lobby).size(), 1u);
  EXPECT_EQ(pg.members(troupe::otp::group<int>{"lobby"}).size(), 1u);
  EXPECT_TRUE(other.members(lobby).empty());
}

TEST(ProcessGroups, AMemberThatStopsLeavesEveryGroup) {
  troupe::system sys{small_config()};
  troupe::otp::process_groups pg(sys);
  auto heard = std::make_shared<blocking_queue<std::string>>();
  auto a = sys.spawn(member(heard, "a"));
  auto b = sys.spawn(member(heard, "b"));
  troupe::otp::group<member_msg> games{"games"};
  ASSERT_TRUE(pg.join(lobby, a).has_value());
  ASSERT_TRUE(pg.join(games, a).has_value());
  ASSERT_TRUE(pg.join(lobby, b).has_value());
  a.tell(quit{});
  EXPECT_TRUE(wait_until([&] { return pg.members(lobby).size() == 1 && pg.members(games).empty(); }));
  EXPECT_EQ(pg.members(lobby), std::vector<troupe::ref<member_msg>>{b});
}

TEST(ProcessGroups, RefusesAMemberThatHasAlreadyStopped) {
  troupe::system sys{small_config()};
  troupe::otp::process_groups pg(sys);
  auto heard = std::make_shared<blocking_queue<std::string>>();
  auto a = sys.spawn(member(heard, "a"));
  auto down = watch_from_outside(sys, a);
  a.tell(quit{});
  ASSERT_TRUE(down->pop().has_value());
  auto r = pg.join(lobby, a);
  ASSERT_FALSE(r.has_value());
  EXPECT_TRUE(r.error() == troupe::errc::receiver_dead);
  EXPECT_TRUE(pg.members(lobby).empty());
}

TEST(ProcessGroups, SubscribersHearEveryJoinAndLeaveInOrder) {
  troupe::system sys{small_config()};
  troupe::otp::process_groups pg(sys);
  auto heard = std::make_shared<blocking_queue<std::string>>();
  auto events = std::make_shared<blocking_queue<troupe::otp::group_event<member_msg>>>();
  auto watcher = spawn_probe(sys, events);
  auto a = sys.spawn(member(heard, "a"));
  ASSERT_TRUE(pg.join(lobby, a).has_value());
  auto now = pg.subscribe(lobby, watcher);
  EXPECT_EQ(now, std::vector<troupe::ref<member_msg>>{a});  // the members before the subscription
  auto b = sys.spawn(member(heard, "b"));
  ASSERT_TRUE(pg.join(lobby, b).has_value());
  pg.leave(lobby, b);
  a.tell(quit{});  // leaves by stopping
  auto e1 = events->pop();
  auto e2 = events->pop();
  auto e3 = events->pop();
  ASSERT_TRUE(e1 && e2 && e3);
  EXPECT_TRUE(e1->joined && e1->member == b && e1->group == "lobby");
  EXPECT_TRUE(!e2->joined && e2->member == b);
  EXPECT_TRUE(!e3->joined && e3->member == a);
}

TEST(ProcessGroups, ConcurrentJoinsFromManyThreadsAreAllKept) {
  troupe::system sys{small_config()};
  troupe::otp::process_groups pg(sys);
  auto heard = std::make_shared<blocking_queue<std::string>>();
  constexpr int per_thread = 50;
  std::vector<std::thread> threads;
  for (int t = 0; t < 4; ++t)
    threads.emplace_back([&] {
      for (int i = 0; i < per_thread; ++i) (void)pg.join(lobby, sys.spawn(member(heard, "m")));
    });
  for (auto& t : threads) t.join();
  EXPECT_EQ(pg.members(lobby).size(), 4u * per_thread);
}

}  // namespace
