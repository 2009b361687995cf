// behavior_test.cpp: behaviours: receive, become, same, stopped, setup, catch-all handlers.
#include "troupe/core/behavior.hpp"

#include <gtest/gtest.h>

#include <array>
#include <string>
#include <variant>

#include "test_support.hpp"
#include "troupe/troupe.hpp"

namespace {

using namespace troupe_test;

struct add {
  int n;
};
struct get_total {
  troupe::ref<int> reply_to;
};
using counter_msg = std::variant<add, get_total>;

// Compile-time promises of the handler forms.
static_assert(std::is_nothrow_move_constructible_v<troupe::behavior<counter_msg>>);
static_assert(!std::is_copy_constructible_v<troupe::behavior<counter_msg>>);

troupe::behavior<counter_msg> counter(int total) {
  return troupe::receive<counter_msg>(
      [=](const add& m) { return counter(total + m.n); },  // become
      [=](const get_total& g) {
        g.reply_to.tell(total);
        return troupe::same;
      });
}

int total_of(const troupe::ref<counter_msg>& c) {
  return await(c.ask<int>([](troupe::ref<int> r) { return get_total{r}; }, deadline)).value();
}

TEST(Behavior, ReceiveBecomesTheBehaviourAHandlerReturns) {
  troupe::system sys{small_config()};
  auto c = sys.spawn(counter(0));
  for (int i = 1; i <= 100; ++i) c.tell(add{i});
  EXPECT_EQ(total_of(c), 5050);
  c.tell(add{-50});
  EXPECT_EQ(total_of(c), 5000);
}

// Two behaviours that share a protocol: "locked" ignores additions, "open" counts them.
struct toggle {};
struct count_one {};
struct get_count {
  troupe::ref<int> reply_to;
};
using door_msg = std::variant<toggle, count_one, get_count>;

troupe::behavior<door_msg> open_door(int n);
troupe::behavior<door_msg> locked_door(int n) {
  return troupe::receive<door_msg>([n](toggle) { return open_door(n); },
                                   [](count_one) { return troupe::same; },
                                   [n](const get_count& g) { g.reply_to.tell(-n); });
}
troupe::behavior<door_msg> open_door(int n) {
  return troupe::receive<door_msg>([n](toggle) { return locked_door(n); },
                                   [n](count_one) { return open_door(n + 1); },
                                   [n](const get_count& g) {
                                     g.reply_to.tell(n);
                                     return troupe::same;
                                   });
}

TEST(Behavior, SameKeepsTheCurrentBehaviourAndItsState) {
  troupe::system sys{small_config()};
  auto d = sys.spawn(locked_door(0));
  auto count = [&] { return await(d.ask<int>([](troupe::ref<int> r) { return get_count{r}; }, deadline)).value(); };
  d.tell(count_one{});  // locked: same
  d.tell(count_one{});
  EXPECT_EQ(count(), 0);  // the locked behaviour answers -n, still 0
  d.tell(toggle{});
  d.tell(count_one{});
  d.tell(count_one{});
  d.tell(count_one{});
  EXPECT_EQ(count(), 3);  // open, and `same` after get_count kept n = 3
  d.tell(toggle{});
  d.tell(count_one{});
  EXPECT_EQ(count(), -3);  // locked again: the state survived both becomes
}

TEST(Behavior, StoppedStopsTheActorAfterTheMessage) {
  troupe::system sys{small_config()};
  struct quit {};
  auto handled = std::make_shared<std::atomic<int>>(0);
  auto a = sys.spawn(troupe::receive<quit>([handled](quit) {
    handled->fetch_add(1);
    return troupe::stopped;
  }));
  auto watcher = watch_from_outside(sys, a);
  const auto dead_before = sys.dead_letter_count();
  a.tell(quit{});
  auto t = watcher->pop();
  ASSERT_TRUE(t.has_value());
  EXPECT_EQ(t->who, a.id());
  EXPECT_EQ(t->reason.what, troupe::exit_reason::kind::normal);
  EXPECT_FALSE(t->reason.is_failure());
  a.tell(quit{});  // to a stopped actor: a dead letter, not a second call
  EXPECT_EQ(sys.dead_letter_count(), dead_before + 1);
  EXPECT_EQ(handled->load(), 1);
}

TEST(Behavior, SetupRunsWithTheContextBeforeTheFirstMessage) {
  troupe::system sys{small_config()};
  auto events = std::make_shared<blocking_queue<std::string>>();
  auto ids = std::make_shared<blocking_queue<troupe::actor_id>>();
  auto a = sys.spawn(troupe::setup<add>([events, ids](troupe::actor_context<add>& ctx) {
    events->push("setup");
    ids->push(ctx.self().id());
    ids->push(ctx.id());
    return troupe::receive<add>([events](const add& m) { events->push("add " + std::to_string(m.n)); });
  }));
  a.tell(add{1});  // may well arrive before the actor's first turn
  a.tell(add{2});
  EXPECT_EQ(events->pop(), "setup");
  EXPECT_EQ(events->pop(), "add 1");
  EXPECT_EQ(events->pop(), "add 2");
  EXPECT_EQ(ids->pop(), a.id());
  EXPECT_EQ(ids->pop(), a.id());
}

TEST(Behavior, SetupMayReturnAnotherSetup) {
  troupe::system sys{small_config()};
  auto events = std::make_shared<blocking_queue<std::string>>();
  auto a = sys.spawn(troupe::setup<add>([events](troupe::actor_context<add>&) {
    events->push("outer");
    return troupe::setup<add>([events](troupe::actor_context<add>&) {
      events->push("inner");
      return troupe::receive<add>([events](const add&) { events->push("add"); });
    });
  }));
  a.tell(add{1});
  EXPECT_EQ(events->pop(), "outer");
  EXPECT_EQ(events->pop(), "inner");
  EXPECT_EQ(events->pop(), "add");
}

TEST(Behavior, SetupReturningStoppedStopsTheActor) {
  troupe::system sys{small_config()};
  auto a = sys.spawn(troupe::setup<add>([](troupe::actor_context<add>&) { return troupe::stopped; }));
  auto t = watch_from_outside(sys, a)->pop();
  ASSERT_TRUE(t.has_value());
  EXPECT_EQ(t->reason.what, troupe::exit_reason::kind::normal);
}

TEST(Behavior, StartingWithSameCrashesTheActorNotTheProcess) {
  troupe::system sys{small_config()};
  auto a = sys.spawn(troupe::behavior<add>(troupe::same));
  auto b = sys.spawn(troupe::setup<add>([](troupe::actor_context<add>&) { return troupe::same; }));
  for (auto* r : {&a, &b}) {
    auto t = watch_from_outside(sys, *r)->pop();
    ASSERT_TRUE(t.has_value());
    EXPECT_EQ(t->reason.what, troupe::exit_reason::kind::exception);
    EXPECT_NE(t->reason.text.find("usage_error"), std::string::npos) << t->reason.text;
  }
}

TEST(Behavior, HandlersMayReturnVoidToKeepTheBehaviour) {
  troupe::system sys{small_config()};
  auto seen = std::make_shared<blocking_queue<int>>();
  auto a = sys.spawn(troupe::receive<counter_msg>([seen](const add& m) { seen->push(m.n); },
                                                  [](const get_total& g) { g.reply_to.tell(7); }));
  a.tell(add{1});
  a.tell(add{2});
  EXPECT_EQ(total_of(a), 7);
  EXPECT_EQ(seen->drain(), (std::vector<int>{1, 2}));
}

TEST(Behavior, HandlersMayTakeMessagesByValueConstRefOrRvalueRef) {
  troupe::system sys{small_config()};
  struct a_msg {
    int n;
  };
  struct b_msg {
    std::string s;
  };
  struct c_msg {
    std::unique_ptr<int> p;
  };
  using abc = std::variant<a_msg, b_msg, c_msg>;
  auto seen = std::make_shared<blocking_queue<std::string>>();
  auto a = sys.spawn(troupe::receive<abc>([seen](a_msg m) { seen->push(std::to_string(m.n)); },
                                          [seen](const b_msg& m) { seen->push(m.s); },
                                          [seen](c_msg&& m) { seen->push(std::to_string(*m.p)); }));
  a.tell(a_msg{1});
  a.tell(b_msg{"two"});
  a.tell(c_msg{std::make_unique<int>(3)});
  EXPECT_EQ(seen->pop(), "1");
  EXPECT_EQ(seen->pop(), "two");
  EXPECT_EQ(seen->pop(), "3");
}

TEST(Behavior, ACatchAllHandlerTakesEveryTypeNotHandledBefore) {
  troupe::system sys{small_config()};
  struct x {};
  struct y {};
  struct z {};
  using xyz = std::variant<x, y, z>;
  auto seen = std::make_shared<blocking_queue<std::string>>();
  auto a = sys.spawn(troupe::receive<xyz>([seen](const x&) { seen->push("x"); },
                                          [seen](const auto&) { seen->push("rest"); }));
  a.tell(y{});
  a.tell(x{});
  a.tell(z{});
  EXPECT_EQ(seen->pop(), "rest");
  EXPECT_EQ(seen->pop(), "x");
  EXPECT_EQ(seen->pop(), "rest");
}

TEST(Behavior, StateCapturedByHandlersIsDestroyedWhenTheActorStops) {
  troupe::system sys{small_config()};
  std::atomic<long> live{0};
  struct quit {};
  struct bump {};
  using msg = std::variant<bump, quit>;
  // Small state lives inline in the behaviour, large state on the heap: both must be released,
  // across many becomes.
  struct big_state {
    std::array<char, 256> pad{};
  };
  std::function<troupe::behavior<msg>(tracked, int)> small_beh;
  small_beh = [&small_beh](tracked t, int n) {
    return troupe::receive<msg>([t, n, &small_beh](bump) { return small_beh(t, n + 1); },
                                [](quit) { return troupe::stopped; });
  };
  std::function<troupe::behavior<msg>(tracked, int)> big_beh;
  big_beh = [&big_beh](tracked t, int n) {
    return troupe::receive<msg>([t, n, big = big_state{}, &big_beh](bump) {
      (void)big;  // captured only to make the handlers too big to keep inline
      return big_beh(t, n + 1);
    },
                                [](quit) { return troupe::stopped; });
  };
  auto small_actor = sys.spawn(small_beh(tracked(live), 0));
  auto big_actor = sys.spawn(big_beh(tracked(live), 0));
  auto w1 = watch_from_outside(sys, small_actor);
  auto w2 = watch_from_outside(sys, big_actor);
  for (int i = 0; i < 1000; ++i) {
    small_actor.tell(bump{});
    big_actor.tell(bump{});
  }
  small_actor.tell(quit{});
  big_actor.tell(quit{});
  ASSERT_TRUE(w1->pop().has_value());
  ASSERT_TRUE(w2->pop().has_value());
  EXPECT_EQ(live.load(), 0);
}

}  // namespace
