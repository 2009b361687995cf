// actor_context_test.cpp: what an actor does from inside: self, children, stopping itself and
// its children.
#include "troupe/core/actor_context.hpp"

#include <gtest/gtest.h>

#include <string>
#include <utility>
#include <variant>

#include "test_support.hpp"
#include "troupe/troupe.hpp"

namespace {

using namespace troupe_test;

struct quit {};
struct crash {};
struct get {
  troupe::ref<int> reply_to;
};
using node_msg = std::variant<quit, crash, get>;

// An actor that spawns one child per level below it and reports each child's ref, noting its
// own destruction in `log`.
troupe::behavior<node_msg> family(std::shared_ptr<blocking_queue<troupe::ref<node_msg>>> children,
                                  std::shared_ptr<blocking_queue<std::string>> log, int depth) {
  return troupe::setup<node_msg>([=](troupe::actor_context<node_msg>& ctx) {
    if (depth > 0) children->push(ctx.spawn(family(children, log, depth - 1)));
    auto note = std::make_shared<destroy_note>(log, "depth" + std::to_string(depth));
    return troupe::receive<node_msg>([](quit) { return troupe::stopped; },
                                     [](crash) -> troupe::behavior<node_msg> { throw std::runtime_error("parent fails"); },
                                     [note, depth](const get& g) { g.reply_to.tell(depth); });
  });
}

TEST(ActorContext, SelfIsARefToTheActorItself) {
  troupe::system sys{small_config()};
  auto got = std::make_shared<blocking_queue<int>>();
  struct poke {
    int n;
  };
  auto a = sys.spawn(troupe::setup<poke>([got](troupe::actor_context<poke>& ctx) {
    ctx.self().tell(poke{1});  // a message to itself, handled after setup
    return troupe::receive<poke>([got, &ctx](const poke& p) {
      got->push(p.n);
      if (p.n < 3) ctx.self().tell(poke{p.n + 1});
    });
  }));
  EXPECT_EQ(got->pop(), 1);
  EXPECT_EQ(got->pop(), 2);
  EXPECT_EQ(got->pop(), 3);
  (void)a;
}

TEST(ActorContext, ChildrenStopWhenTheirParentStopsAndBeforeIt) {
  troupe::system sys{small_config()};
  auto children = std::make_shared<blocking_queue<troupe::ref<node_msg>>>();
  auto log = std::make_shared<blocking_queue<std::string>>();
  auto parent = sys.spawn(family(children, log, 2));
  auto child = children->pop();
  auto grandchild = children->pop();
  ASSERT_TRUE(child && grandchild);
  // The child's setup runs on its own and may push the grandchild before the parent pushes the
  // child (TSan's scheduling showed it): tell them apart by the depth each answers.
  auto depth_of = [](const troupe::ref<node_msg>& r) {
    return await(r.ask<int>([](troupe::ref<int> reply) { return get{reply}; }, deadline)).value();
  };
  if (depth_of(*child) == 0) std::swap(child, grandchild);
  ASSERT_EQ(depth_of(*child), 1);
  ASSERT_EQ(depth_of(*grandchild), 0);
  auto parent_end = watch_from_outside(sys, parent);
  auto child_end = watch_from_outside(sys, *child);
  auto grandchild_end = watch_from_outside(sys, *grandchild);

  parent.tell(crash{});

  auto p = parent_end->pop();
  auto c = child_end->pop();
  auto g = grandchild_end->pop();
  ASSERT_TRUE(p && c && g);
  EXPECT_EQ(p->reason.what, troupe::exit_reason::kind::exception);
  // A child does not inherit its parent's failure: it is stopped, as by a shutdown.
  EXPECT_EQ(c->reason.what, troupe::exit_reason::kind::shutdown);
  EXPECT_EQ(g->reason.what, troupe::exit_reason::kind::shutdown);
  // Each actor's state was destroyed before its parent's.
  EXPECT_EQ(log->drain(), (std::vector<std::string>{"depth0", "depth1", "depth2"}));
}

TEST(ActorContext, StopAsksAnotherActorToStop) {
  troupe::system sys{small_config()};
  auto children = std::make_shared<blocking_queue<troupe::ref<node_msg>>>();
  auto log = std::make_shared<blocking_queue<std::string>>();
  struct stop_child {};
  auto parent = sys.spawn(troupe::setup<stop_child>([children, log](troupe::actor_context<stop_child>& ctx) {
    auto child = ctx.spawn(family(children, log, 0));
    children->push(child);
    return troupe::receive<stop_child>([&ctx, child](stop_child) { ctx.stop(child); });
  }));
  auto child = children->pop();
  ASSERT_TRUE(child.has_value());
  auto child_end = watch_from_outside(sys, *child);
  parent.tell(stop_child{});
  auto c = child_end->pop();
  ASSERT_TRUE(c.has_value());
  EXPECT_FALSE(c->reason.is_failure());
  EXPECT_EQ(log->pop(), "depth0");
}

TEST(ActorContext, StopOfAnotherActorOvertakesItsQueuedMessages) {
  troupe::system sys{small_config()};
  struct hold {
    std::shared_ptr<gate> entered, release;
  };
  struct work {};
  using msg = std::variant<hold, work>;
  auto handled = std::make_shared<std::atomic<int>>(0);
  auto busy = sys.spawn(troupe::receive<msg>(
      [](const hold& h) {
        h.entered->open();
        h.release->wait();
      },
      [handled](work) { handled->fetch_add(1); }));
  auto end = watch_from_outside(sys, busy);
  auto entered = std::make_shared<gate>(), release = std::make_shared<gate>();
  busy.tell(hold{entered, release});
  ASSERT_TRUE(entered->wait());
  for (int i = 0; i < 10; ++i) busy.tell(work{});
  const auto before = sys.dead_letter_count();
  auto stopped = std::make_shared<gate>();
  sys.spawn(troupe::setup<int>([busy, stopped](troupe::actor_context<int>& ctx) {
    ctx.stop(busy);
    stopped->open();
    return troupe::stopped;
  }));
  ASSERT_TRUE(stopped->wait());  // the stop is queued behind the ten messages
  release->open();
  auto t = end->pop();
  ASSERT_TRUE(t.has_value());
  EXPECT_EQ(t->reason.what, troupe::exit_reason::kind::normal);
  EXPECT_EQ(handled->load(), 0);
  EXPECT_EQ(sys.dead_letter_count(), before + 10);
}

TEST(ActorContext, StopStopsTheActorAfterTheCurrentMessage) {
  troupe::system sys{small_config()};
  auto seen = std::make_shared<blocking_queue<int>>();
  auto a = sys.spawn(troupe::setup<int>([seen](troupe::actor_context<int>& ctx) {
    return troupe::receive<int>([seen, &ctx](int n) {
      if (n == 2) ctx.stop();
      seen->push(n);  // the current message is still handled to its end
    });
  }));
  auto end = watch_from_outside(sys, a);
  for (int i = 1; i <= 5; ++i) a.tell(i);
  auto t = end->pop();
  ASSERT_TRUE(t.has_value());
  EXPECT_EQ(t->reason.what, troupe::exit_reason::kind::normal);
  EXPECT_EQ(seen->drain(), (std::vector<int>{1, 2}));
}

TEST(ActorContext, AChildGetsItsOwnNameAndId) {
  troupe::system sys{small_config()};
  auto names = std::make_shared<blocking_queue<std::string>>();
  auto parent = sys.spawn(troupe::setup<quit>([names](troupe::actor_context<quit>& ctx) {
    auto child = ctx.spawn(troupe::setup<quit>([names](troupe::actor_context<quit>& c) {
                             names->push(c.name());
                             return troupe::receive<quit>([](quit) {});
                           }),
                           {.name = "kid"});
    names->push(child.id() != ctx.id() ? "distinct" : "same");
    return troupe::receive<quit>([](quit) {});
  }));
  std::vector<std::string> got{names->pop().value_or(""), names->pop().value_or("")};
  std::sort(got.begin(), got.end());
  EXPECT_EQ(got, (std::vector<std::string>{"distinct", "kid"}));
  auto found = sys.lookup<quit>("kid");
  EXPECT_TRUE(found.has_value());
  (void)parent;
}

}  // namespace

TEST(ActorContext, NowReadsTheSystemsClock) {
  // A timer service whose clock stands still at a chosen instant: now() must read it, not the
  // wall clock, or the test kit's virtual time could not govern actors' deadlines.
  struct frozen_clock final : troupe::timer_service {
    clock::time_point at = clock::time_point{} + std::chrono::hours(1234);
    clock::time_point now() const override { return at; }
    std::uint64_t schedule_at(clock::time_point, std::function<void(bool)> action) override {
      action(false);
      return 1;
    }
    bool cancel(std::uint64_t) noexcept override { return false; }
    void shutdown() override {}
  };
  auto clock = std::make_shared<frozen_clock>();
  troupe::system_config cfg;
  cfg.worker_threads = 1;
  cfg.long_turn_threshold = std::chrono::milliseconds{0};
  cfg.timers = clock;
  troupe::system sys{cfg};
  std::promise<troupe::timer_service::clock::time_point> seen;
  sys.spawn(troupe::setup<std::variant<int>>([&](troupe::actor_context<std::variant<int>>& ctx) {
    seen.set_value(ctx.now());
    return troupe::stopped;
  }));
  auto f = seen.get_future();
  ASSERT_EQ(f.wait_for(troupe_test::deadline), std::future_status::ready);
  EXPECT_EQ(f.get(), clock->at);
}
