// kill_test.cpp: actor_context::kill, the forced stop a supervisor uses when a child overstays
// its shutdown time: ahead of queued messages, untrappable, reason `killed`, children too.
#include "troupe/core/actor_context.hpp"

#include <gtest/gtest.h>

#include <memory>
#include <string>
#include <variant>

#include "test_support.hpp"
#include "troupe/troupe.hpp"

namespace {

using namespace troupe_test;

struct work {
  int n;
};
using worker_msg = std::variant<work, troupe::exit_signal>;

// Blocks in its first message until `release` opens, then reports every message it handles.
troupe::behavior<worker_msg> slow_worker(std::shared_ptr<gate> entered, std::shared_ptr<gate> release,
                                         std::shared_ptr<blocking_queue<int>> handled) {
  return troupe::setup<worker_msg>([=](troupe::actor_context<worker_msg>& ctx) {
    ctx.trap_exits();  // a kill ignores it
    return troupe::receive<worker_msg>(
        [=](const work& w) {
          if (w.n == 0) {
            entered->open();
            release->wait();
          }
          handled->push(w.n);
        },
        [](const troupe::exit_signal&) {});
  });
}

struct kill_it {
  troupe::ref<worker_msg> who;
  troupe::ref<int> done;  // answered once the kill is posted
};
using killer_msg = std::variant<kill_it>;

troupe::ref<killer_msg> spawn_killer(troupe::system& sys) {
  return sys.spawn(troupe::setup<killer_msg>([](troupe::actor_context<killer_msg>& ctx) {
    return troupe::receive<killer_msg>([&ctx](const kill_it& k) {
      ctx.kill(k.who, "shutdown timeout");
      k.done.tell(0);
    });
  }));
}

TEST(Kill, AKilledActorHandlesNoFurtherQueuedMessageAndWatchersSeeKilled) {
  troupe::system sys{small_config()};
  auto entered = std::make_shared<gate>();
  auto release = std::make_shared<gate>();
  auto handled = std::make_shared<blocking_queue<int>>();
  auto w = sys.spawn(slow_worker(entered, release, handled));
  auto down = watch_from_outside(sys, w);
  w.tell(work{0});
  ASSERT_TRUE(entered->wait());
  for (int i = 1; i <= 5; ++i) w.tell(work{i});  // queued behind the running handler
  // The kill is in the inbox before the handler returns; it cannot interrupt the handler.
  auto killer = spawn_killer(sys);
  ASSERT_TRUE(await(killer.ask<int>([w](troupe::ref<int> r) { return kill_it{w, r}; }, deadline)).has_value());
  release->open();
  auto t = down->pop();
  ASSERT_TRUE(t.has_value());
  EXPECT_EQ(t->reason.what, troupe::exit_reason::kind::killed);
  EXPECT_EQ(t->reason.text, "shutdown timeout");
  EXPECT_TRUE(t->reason.is_failure());
  auto got = handled->drain();
  ASSERT_EQ(got.size(), 1u);  // only the message it was running when killed
  EXPECT_EQ(got[0], 0);
  EXPECT_TRUE(wait_until([&] { return sys.dead_letter_count() == 5; }));
}

TEST(Kill, KillingAParentKillsItsChildren) {
  troupe::system sys{small_config()};
  auto children = std::make_shared<blocking_queue<troupe::ref<worker_msg>>>();
  using parent_msg = std::variant<work>;
  auto parent = sys.spawn(troupe::setup<parent_msg>([children](troupe::actor_context<parent_msg>& ctx) {
    children->push(ctx.spawn(troupe::receive<worker_msg>([](const auto&) {})));
    return troupe::receive<parent_msg>([](const work&) {});
  }));
  auto child = children->pop();
  ASSERT_TRUE(child.has_value());
  auto child_down = watch_from_outside(sys, *child);
  auto parent_down = watch_from_outside(sys, parent);
  using killer2_msg = std::variant<int>;
  sys.spawn(troupe::setup<killer2_msg>([parent](troupe::actor_context<killer2_msg>& ctx) {
    ctx.kill(parent);
    return troupe::receive<killer2_msg>([](int) {});
  }));
  auto c = child_down->pop();
  ASSERT_TRUE(c.has_value());
  EXPECT_EQ(c->reason.what, troupe::exit_reason::kind::killed);
  auto p = parent_down->pop();
  ASSERT_TRUE(p.has_value());
  EXPECT_EQ(p->reason.what, troupe::exit_reason::kind::killed);
  EXPECT_EQ(p->reason.text, "killed");
}

TEST(Kill, AKillTravelsOverLinksAsAFailure) {
  troupe::system sys{small_config()};
  using linked_msg = std::variant<work>;
  auto victim = sys.spawn(troupe::receive<worker_msg>([](const auto&) {}));
  auto partner = sys.spawn(troupe::setup<linked_msg>([victim](troupe::actor_context<linked_msg>& ctx) {
    ctx.link(victim);
    return troupe::receive<linked_msg>([&ctx, victim](const work&) { ctx.kill(victim); });
  }));
  auto partner_down = watch_from_outside(sys, partner);
  partner.tell(work{1});
  auto p = partner_down->pop();
  ASSERT_TRUE(p.has_value());
  EXPECT_EQ(p->reason.what, troupe::exit_reason::kind::linked);
  EXPECT_NE(p->reason.text.find("killed"), std::string::npos);
}

TEST(Kill, AWatcherToldOfAStopFindsTheActorsNameFree) {
  // A supervisor restarts a registered child under the same name as soon as it learns of its
  // stop: the name must be free by then.
  troupe::system sys{small_config()};
  auto respawned = std::make_shared<blocking_queue<bool>>();
  auto first = sys.spawn(troupe::receive<worker_msg>([](const auto&) {}), {.name = "worker"});
  using restarter_msg = std::variant<troupe::terminated>;
  sys.spawn(troupe::setup<restarter_msg>([first, respawned](troupe::actor_context<restarter_msg>& ctx) {
    ctx.watch(first);
    ctx.kill(first);
    return troupe::receive<restarter_msg>([&ctx, respawned](const troupe::terminated&) {
      try {
        ctx.spawn(troupe::receive<worker_msg>([](const auto&) {}), {.name = "worker"});
        respawned->push(true);
      } catch (const troupe::usage_error&) {
        respawned->push(false);
      }
    });
  }));
  auto ok = respawned->pop();
  ASSERT_TRUE(ok.has_value());
  EXPECT_TRUE(*ok);
}

}  // namespace
