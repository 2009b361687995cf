// kill_test.cpp: killing a live actor by its id, as the web view's kill route and troupectl do,
// in a real multi-threaded system under a real supervisor.
#include "troupe/observe/kill.hpp"

#include <gtest/gtest.h>

#include <string>

#include "core/test_support.hpp"
#include "troupe/observe/introspection.hpp"
#include "troupe/otp/supervisor.hpp"
#include "troupe/troupe.hpp"

namespace {

using namespace troupe_test;
using namespace std::chrono_literals;
namespace ob = troupe::observe;

troupe::system_config introspected() {
  auto cfg = small_config();
  cfg.introspection = true;
  return cfg;
}

troupe::behavior<int> quiet() { return troupe::receive<int>([](int) {}); }

TEST(Kill, KillsTheActorAndItsWatchersSeeKilledWithTheReason) {
  troupe::system sys{introspected()};
  auto victim = sys.spawn(quiet());
  auto end = watch_from_outside(sys, victim);
  ASSERT_TRUE(ob::kill(sys, victim.id(), "chaos drill"));
  auto t = end->pop();
  ASSERT_TRUE(t.has_value());
  EXPECT_EQ(t->who, victim.id());
  EXPECT_EQ(t->reason.what, troupe::exit_reason::kind::killed);
  EXPECT_NE(t->reason.describe().find("chaos drill"), std::string::npos) << t->reason.describe();
}

TEST(Kill, ASupervisorStartsTheKilledChildAgainUnderANewId) {
  namespace otp = troupe::otp;
  troupe::system sys{introspected()};
  auto sup = sys.spawn(otp::supervisor({.flags = {.max_restarts = 5, .within = 10s},
                                        .children = {otp::child("a", [] { return quiet(); }, {.name = "child-a"})}}));
  std::vector<troupe::actor_id> kids;
  ASSERT_TRUE(wait_until([&] {
    auto s = ob::find_actor(sys, sup.id());
    if (s) kids = s->children;
    return s && kids.size() == 1;
  }));
  ASSERT_TRUE(ob::kill(sys, kids[0]));
  ASSERT_TRUE(wait_until([&] {
    auto s = ob::find_actor(sys, sup.id());
    return s && s->restarts == 1 && s->children.size() == 1 && s->children[0] != kids[0];
  }));
}

TEST(Kill, FailsWithNoSuchActorForAnIdThatIsNotAlive) {
  troupe::system sys{introspected()};
  auto r = ob::kill(sys, troupe::actor_id{0, 999'999'999});
  ASSERT_FALSE(r);
  EXPECT_TRUE(r.error() == ob::errc::no_such_actor);
  auto remote = ob::kill(sys, troupe::actor_id{7, 1});
  ASSERT_FALSE(remote);
  EXPECT_TRUE(remote.error() == ob::errc::no_such_actor);
}

TEST(Kill, FailsWithIntrospectionOffWithoutTheActorTable) {
  troupe::system sys{small_config()};
  auto a = sys.spawn(quiet());
  auto r = ob::kill(sys, a.id());
  ASSERT_FALSE(r);
  EXPECT_TRUE(r.error() == ob::errc::introspection_off);
}

}  // namespace
