// any_ref_test.cpp: a handle whose protocol is erased (core/any_ref.hpp): it gives the typed ref
// back only for its own protocol, compares by actor, says when the actor has stopped, and an
// actor can watch, stop, kill and link through it. Virtual time and a seeded order (test_system).
#include "troupe/core/any_ref.hpp"

#include <gtest/gtest.h>

#include <memory>
#include <string>
#include <unordered_set>
#include <variant>
#include <vector>

#include "troupe/testkit/test_system.hpp"
#include "troupe/troupe.hpp"

namespace {

struct ping {};
using a_msg = std::variant<ping>;
struct other {};
using b_msg = std::variant<other>;

troupe::behavior<a_msg> idle_a() {
  return troupe::receive<a_msg>([](const ping&) {});
}

TEST(AnyRef, GivesTheTypedRefBackOnlyForItsOwnProtocol) {
  troupe::testkit::test_system ts;
  auto a = ts.spawn(idle_a());
  troupe::any_ref any = a;
  EXPECT_TRUE(any.speaks<a_msg>());
  EXPECT_FALSE(any.speaks<b_msg>());
  EXPECT_EQ(any.protocol(), typeid(a_msg));
  auto back = any.as<a_msg>();
  ASSERT_TRUE(back.has_value());
  EXPECT_EQ(*back, a);
  auto wrong = any.as<b_msg>();
  ASSERT_FALSE(wrong.has_value());
  EXPECT_EQ(wrong.error(), troupe::errc::wrong_protocol);
  EXPECT_EQ(any.id(), a.id());
}

TEST(AnyRef, AnEmptyHandleIsFalseAndTypesToReceiverDead) {
  troupe::any_ref none;
  EXPECT_FALSE(none);
  EXPECT_EQ(none.id(), troupe::actor_id{});
  EXPECT_FALSE(none.has_stopped());
  EXPECT_FALSE(none.is_local_actor());
  EXPECT_EQ(none.protocol(), typeid(void));
  auto r = none.as<a_msg>();
  ASSERT_FALSE(r.has_value());
  EXPECT_EQ(r.error(), troupe::errc::receiver_dead);
  EXPECT_EQ(none, troupe::any_ref{});
}

TEST(AnyRef, ComparesByActorAndSaysWhenItHasStopped) {
  troupe::testkit::test_system ts;
  auto a = ts.spawn(idle_a(), {.name = "alpha"});
  auto b = ts.spawn(idle_a());
  troupe::any_ref x = a, y = a, z = b;
  EXPECT_EQ(x, y);
  EXPECT_FALSE(x == z);
  // Hashed as compared, and as the typed ref it was made from.
  EXPECT_EQ(std::hash<troupe::any_ref>{}(x), std::hash<troupe::ref<a_msg>>{}(a));
  std::unordered_set<troupe::any_ref> set{x, y, z};
  EXPECT_EQ(set.size(), 2u);
  EXPECT_TRUE(x.is_local_actor());
  EXPECT_EQ(x.describe(), "actor 'alpha'");
  ts.run_until_idle();
  EXPECT_FALSE(x.has_stopped());
  troupe::request_stop(x);
  ts.run_until_idle();
  EXPECT_TRUE(x.has_stopped());
  EXPECT_FALSE(z.has_stopped());
}

// Watches, links, stops and kills the actors it is given as any_refs, whatever they speak.
struct watch_it {
  troupe::any_ref who;
};
struct stop_it {
  troupe::any_ref who;
};
struct kill_it {
  troupe::any_ref who;
};
using keeper_msg = std::variant<watch_it, stop_it, kill_it, troupe::terminated>;

troupe::behavior<keeper_msg> keeper(std::shared_ptr<std::vector<troupe::terminated>> seen) {
  return troupe::setup<keeper_msg>([seen](troupe::actor_context<keeper_msg>& ctx) {
    return troupe::receive<keeper_msg>([&ctx](const watch_it& w) { ctx.watch(w.who); },
                                       [&ctx](const stop_it& s) { ctx.stop(s.who); },
                                       [&ctx](const kill_it& k) { ctx.kill(k.who, "killed by the keeper"); },
                                       [seen](const troupe::terminated& t) { seen->push_back(t); });
  });
}

TEST(AnyRef, AnActorWatchesStopsAndKillsThroughIt) {
  troupe::testkit::test_system ts;
  auto seen = std::make_shared<std::vector<troupe::terminated>>();
  auto k = ts.spawn(keeper(seen));
  auto a = ts.spawn(idle_a());
  auto b = ts.spawn(troupe::receive<b_msg>([](const other&) {}));
  k.tell(watch_it{a});
  k.tell(watch_it{b});
  ts.run_until_idle();
  k.tell(stop_it{a});
  ts.run_until_idle();
  k.tell(kill_it{b});
  ts.run_until_idle();
  ASSERT_EQ(seen->size(), 2u);
  EXPECT_EQ(seen->at(0).who, a.id());
  EXPECT_FALSE(seen->at(0).reason.is_failure());
  EXPECT_EQ(seen->at(1).who, b.id());
  EXPECT_TRUE(seen->at(1).reason.is_failure());
}

TEST(AnyRef, AnEmptyHandleIsAUsageErrorForTheActorThatUsesIt) {
  troupe::testkit::test_system ts;
  auto seen = std::make_shared<std::vector<troupe::terminated>>();
  auto k = ts.spawn(keeper(seen));
  auto w = std::make_shared<std::vector<troupe::terminated>>();
  ts.spawn(keeper(w)).tell(watch_it{k});
  ts.run_until_idle();
  k.tell(stop_it{troupe::any_ref{}});  // a bug in the keeper's caller: the keeper crashes
  ts.run_until_idle();
  ASSERT_EQ(w->size(), 1u);
  EXPECT_TRUE(w->at(0).reason.is_failure());
}

}  // namespace
