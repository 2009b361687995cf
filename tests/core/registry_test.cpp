// registry_test.cpp: names: spawning under a name registers it until the actor stops.
#include "troupe/core/system.hpp"

#include <gtest/gtest.h>

#include <string>
#include <variant>

#include "test_support.hpp"
#include "troupe/troupe.hpp"

namespace {

using namespace troupe_test;

struct registry_ping {
  troupe::ref<int> reply_to;
};
struct registry_quit {};
using registry_msg = std::variant<registry_ping, registry_quit>;
struct registry_other {};

troupe::behavior<registry_msg> named(int tag) {
  return troupe::receive<registry_msg>([tag](const registry_ping& p) { p.reply_to.tell(tag); },
                                       [](registry_quit) { return troupe::stopped; });
}

int ping(const troupe::ref<registry_msg>& r) {
  return await(r.ask<int>([](troupe::ref<int> reply) { return registry_ping{reply}; }, deadline)).value();
}

TEST(Registry, SpawningWithANameRegistersTheActor) {
  troupe::system sys{small_config()};
  auto a = sys.spawn(named(1), {.name = "x"});
  auto found = sys.lookup<registry_msg>("x");
  ASSERT_TRUE(found.has_value()) << found.error().message();
  EXPECT_EQ(*found, a);
  EXPECT_EQ(ping(*found), 1);
}

TEST(Registry, LookupOfAnUnknownNameFailsWithNameNotFound) {
  troupe::system sys{small_config()};
  auto found = sys.lookup<registry_msg>("nobody");
  ASSERT_FALSE(found.has_value());
  EXPECT_EQ(found.error(), troupe::errc::name_not_found);
  EXPECT_NE(found.error().message().find("nobody"), std::string::npos) << found.error().message();
}

TEST(Registry, LookupWithTheWrongProtocolNamesBothProtocols) {
  troupe::system sys{small_config()};
  auto a = sys.spawn(named(1), {.name = "x"});
  auto found = sys.lookup<registry_other>("x");
  ASSERT_FALSE(found.has_value());
  EXPECT_EQ(found.error(), troupe::errc::wrong_protocol);
  const auto text = found.error().message();
  EXPECT_NE(text.find("registry_ping"), std::string::npos) << text;   // what it speaks
  EXPECT_NE(text.find("registry_other"), std::string::npos) << text;  // what was asked for
  // A protocol that merely contains the right messages is not the same protocol.
  auto partial = sys.lookup<std::variant<registry_ping>>("x");
  ASSERT_FALSE(partial.has_value());
  EXPECT_EQ(partial.error(), troupe::errc::wrong_protocol);
}

TEST(Registry, SpawningUnderATakenNameThrowsUsageError) {
  troupe::system sys{small_config()};
  auto a = sys.spawn(named(1), {.name = "x"});
  EXPECT_THROW(sys.spawn(named(2), {.name = "x"}), troupe::usage_error);
  auto found = sys.lookup<registry_msg>("x");  // still the first one
  ASSERT_TRUE(found.has_value());
  EXPECT_EQ(ping(*found), 1);
}

TEST(Registry, TheNameIsFreedWhenTheActorStops) {
  troupe::system sys{small_config()};
  auto a = sys.spawn(named(1), {.name = "x"});
  a.tell(registry_quit{});
  ASSERT_TRUE(wait_until([&] { return !sys.lookup<registry_msg>("x").has_value(); }));
  EXPECT_EQ(sys.lookup<registry_msg>("x").error(), troupe::errc::name_not_found);
  auto b = sys.spawn(named(2), {.name = "x"});
  auto found = sys.lookup<registry_msg>("x");
  ASSERT_TRUE(found.has_value());
  EXPECT_EQ(*found, b);
  EXPECT_EQ(ping(*found), 2);
}

TEST(Registry, RegisterNameAddsANameToARunningActor) {
  troupe::system sys{small_config()};
  auto a = sys.spawn(named(1));
  auto b = sys.spawn(named(2), {.name = "taken"});
  ASSERT_TRUE(sys.register_name("alias", a).has_value());
  EXPECT_EQ(ping(sys.lookup<registry_msg>("alias").value()), 1);
  auto clash = sys.register_name("taken", a);
  ASSERT_FALSE(clash.has_value());
  EXPECT_EQ(clash.error(), troupe::errc::name_taken);
  sys.unregister_name("alias");
  EXPECT_EQ(sys.lookup<registry_msg>("alias").error(), troupe::errc::name_not_found);
}

TEST(Registry, RegisteringAStoppedActorFailsWithReceiverDead) {
  troupe::system sys{small_config()};
  auto a = sys.spawn(named(1));
  auto end = watch_from_outside(sys, a);
  a.tell(registry_quit{});
  ASSERT_TRUE(end->pop().has_value());
  auto r = sys.register_name("late", a);
  ASSERT_FALSE(r.has_value());
  EXPECT_EQ(r.error(), troupe::errc::receiver_dead);
  EXPECT_FALSE(sys.lookup<registry_msg>("late").has_value());
}

TEST(Registry, EveryNameOfAnActorIsFreedWhenItStops) {
  troupe::system sys{small_config()};
  auto a = sys.spawn(named(1), {.name = "first"});
  ASSERT_TRUE(sys.register_name("second", a).has_value());
  auto end = watch_from_outside(sys, a);
  a.tell(registry_quit{});
  ASSERT_TRUE(end->pop().has_value());
  // Freed before the watchers were told.
  EXPECT_EQ(sys.lookup<registry_msg>("first").error(), troupe::errc::name_not_found);
  EXPECT_EQ(sys.lookup<registry_msg>("second").error(), troupe::errc::name_not_found);
  EXPECT_NO_THROW(sys.spawn(named(3), {.name = "first"}));
  EXPECT_TRUE(sys.register_name("second", sys.spawn(named(4))).has_value());
}

// register_name from outside races the actor's own stop on a worker. Whichever wins, a name
// never outlives its holder: once the watcher hears `terminated`, the name is free again.
TEST(Registry, ANameRegisteredWhileItsHolderStopsIsFreedWithIt) {
  troupe::system sys{small_config()};
  int registered = 0;
  for (int round = 0; round < 300; ++round) {
    auto a = sys.spawn(named(1));
    auto end = watch_from_outside(sys, a);
    a.tell(registry_quit{});
    // A spin of varying length moves the registration across the worker's stop, both sides.
    for (volatile int spin = 0; spin < (round % 30) * 200; spin = spin + 1) {
    }
    auto r = sys.register_name("racing", a);
    if (r.has_value()) ++registered;
    else ASSERT_EQ(r.error(), troupe::errc::receiver_dead) << r.error().message();
    ASSERT_TRUE(end->pop().has_value());
    ASSERT_EQ(sys.lookup<registry_msg>("racing").error(), troupe::errc::name_not_found) << "round " << round;
  }
  EXPECT_TRUE(sys.register_name("racing", sys.spawn(named(2))).has_value());
  RecordProperty("registered_before_the_stop", registered);
}

}  // namespace
