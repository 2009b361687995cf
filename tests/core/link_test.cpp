// link_test.cpp: links: a failure of either linked actor stops the other, unless it traps exits.
#include "troupe/core/signals.hpp"

#include <gtest/gtest.h>

#include <string>
#include <variant>

#include "test_support.hpp"
#include "target_actor.hpp"
#include "troupe/troupe.hpp"

namespace {

using namespace troupe_test;

using namespace troupe_test::target_actor;

// An actor that links itself to `other` when it starts, and can unlink on request.
struct unlink_now {
  troupe::ref<int> done;
};
using node_msg = std::variant<quit, crash, get, unlink_now>;

troupe::behavior<node_msg> linked_to(troupe::ref<target_msg> other) {
  return troupe::setup<node_msg>([other](troupe::actor_context<node_msg>& ctx) {
    ctx.link(other);
    return troupe::receive<node_msg>([](quit) { return troupe::stopped; },
                                     [](crash) -> troupe::behavior<node_msg> { throw std::runtime_error("bang"); },
                                     [](const get& g) { g.reply_to.tell(2); },
                                     [&ctx, other](const unlink_now& u) {
                                       ctx.unlink(other);
                                       u.done.tell(0);
                                     });
  });
}

// Links to `other`, traps its exit, and reports every exit_signal; answers get while alive.
using trapper_msg = std::variant<troupe::exit_signal, get>;
troupe::ref<trapper_msg> spawn_trapper(troupe::system& sys, troupe::ref<target_msg> other,
                                       std::shared_ptr<blocking_queue<troupe::exit_signal>> out) {
  auto ready = std::make_shared<gate>();
  auto r = sys.spawn(troupe::setup<trapper_msg>([other, out, ready](troupe::actor_context<trapper_msg>& ctx) {
    ctx.trap_exits();
    ctx.link(other);
    ready->open();  // the link signal is in other's mailbox by now
    return troupe::receive<trapper_msg>([out](troupe::exit_signal&& e) { out->push(std::move(e)); },
                                        [](const get& g) { g.reply_to.tell(3); });
  }));
  EXPECT_TRUE(ready->wait());
  return r;
}

template <class P>
troupe::result<int> ask_get(const troupe::ref<P>& r) {
  return await(r.template ask<int>([](troupe::ref<int> reply) { return get{reply}; }, deadline));
}

TEST(Link, AFailureStopsTheLinkedActor) {
  troupe::system sys{small_config()};
  auto b = sys.spawn(target());
  auto a = sys.spawn(linked_to(b));
  auto a_end = watch_from_outside(sys, a);
  ASSERT_EQ(ask_get(a).value(), 2);  // a has started, so its link reached b's mailbox
  b.tell(crash{});
  auto t = a_end->pop();
  ASSERT_TRUE(t.has_value());
  EXPECT_EQ(t->reason.what, troupe::exit_reason::kind::linked);
  EXPECT_TRUE(t->reason.is_failure());
  EXPECT_NE(t->reason.text.find("boom"), std::string::npos) << t->reason.text;
}

TEST(Link, AFailurePropagatesTheOtherWayToo) {
  troupe::system sys{small_config()};
  auto b = sys.spawn(target());
  auto b_end = watch_from_outside(sys, b);
  auto a = sys.spawn(linked_to(b));
  ASSERT_EQ(ask_get(a).value(), 2);
  a.tell(crash{});
  auto t = b_end->pop();
  ASSERT_TRUE(t.has_value());
  EXPECT_EQ(t->reason.what, troupe::exit_reason::kind::linked);
  EXPECT_NE(t->reason.text.find("bang"), std::string::npos) << t->reason.text;
}

TEST(Link, AFailurePropagatesAlongAChainOfLinks) {
  troupe::system sys{small_config()};
  auto c = sys.spawn(target());
  // b is a target linked to c; a is linked to b.
  auto b = sys.spawn(troupe::setup<target_msg>([c](troupe::actor_context<target_msg>& ctx) {
    ctx.link(c);
    return target();
  }));
  auto a = sys.spawn(linked_to(b));
  auto a_end = watch_from_outside(sys, a);
  ASSERT_EQ(ask_get(b).value(), 1);
  ASSERT_EQ(ask_get(a).value(), 2);
  c.tell(crash{});
  auto t = a_end->pop();
  ASSERT_TRUE(t.has_value());
  EXPECT_EQ(t->reason.what, troupe::exit_reason::kind::linked);
}

TEST(Link, ANormalExitDoesNotPropagate) {
  troupe::system sys{small_config()};
  auto b = sys.spawn(target());
  auto a = sys.spawn(linked_to(b));
  ASSERT_EQ(ask_get(a).value(), 2);
  // Linked after a, so b tells a of its exit before it tells the trapper.
  auto exits = std::make_shared<blocking_queue<troupe::exit_signal>>();
  spawn_trapper(sys, b, exits);
  b.tell(quit{});
  auto e = exits->pop();
  ASSERT_TRUE(e.has_value());
  EXPECT_EQ(e->from, b.id());
  EXPECT_EQ(e->reason.what, troupe::exit_reason::kind::normal);
  // b's exit is ahead of this request in a's mailbox, and a is still there to answer.
  auto r = ask_get(a);
  ASSERT_TRUE(r.has_value()) << r.error().message();
  EXPECT_EQ(*r, 2);
}

TEST(Link, TrappingExitsTurnsALinkedFailureIntoAMessage) {
  troupe::system sys{small_config()};
  auto b = sys.spawn(target());
  auto exits = std::make_shared<blocking_queue<troupe::exit_signal>>();
  auto trapper = spawn_trapper(sys, b, exits);
  b.tell(crash{});
  auto e = exits->pop();
  ASSERT_TRUE(e.has_value());
  EXPECT_EQ(e->from, b.id());
  EXPECT_EQ(e->reason.what, troupe::exit_reason::kind::exception);
  EXPECT_NE(e->reason.text.find("boom"), std::string::npos) << e->reason.text;
  auto r = ask_get(trapper);  // handled the exit as a message and lives on
  ASSERT_TRUE(r.has_value()) << r.error().message();
  EXPECT_EQ(*r, 3);
}

TEST(Link, AnExitSignalArrivesAfterTheMessagesTheLinkedActorSentBeforeStopping) {
  troupe::system sys{small_config()};
  using report_msg = std::variant<int, troupe::exit_signal>;
  auto seen = std::make_shared<blocking_queue<int>>();
  auto ready = std::make_shared<gate>();
  struct go {
    troupe::ref<report_msg> to;
  };
  auto sender = sys.spawn(troupe::receive<go>([](const go& g) -> troupe::behavior<go> {
    for (int i = 0; i < 10'000; ++i) g.to.tell(i);
    throw std::runtime_error("after the messages");
  }));
  auto trapper = sys.spawn(troupe::setup<report_msg>([sender, seen, ready](troupe::actor_context<report_msg>& ctx) {
    ctx.trap_exits();
    ctx.link(sender);
    ready->open();
    return troupe::receive<report_msg>([seen](int i) { seen->push(i); },
                                       [seen](const troupe::exit_signal& e) { seen->push(e.reason.is_failure() ? -1 : -2); });
  }));
  ASSERT_TRUE(ready->wait());
  sender.tell(go{trapper});
  for (int i = 0; i < 10'000; ++i) {
    auto got = seen->pop();
    ASSERT_TRUE(got.has_value());
    ASSERT_EQ(*got, i);
  }
  EXPECT_EQ(seen->pop(), -1);
}

TEST(Link, LinkingToAnActorThatAlreadyFailedStopsTheLinker) {
  troupe::system sys{small_config()};
  auto b = sys.spawn(target());
  auto b_end = watch_from_outside(sys, b);
  b.tell(crash{});
  ASSERT_TRUE(b_end->pop().has_value());
  auto a = sys.spawn(linked_to(b));
  auto t = watch_from_outside(sys, a)->pop();
  ASSERT_TRUE(t.has_value());
  EXPECT_EQ(t->reason.what, troupe::exit_reason::kind::linked);
  EXPECT_NE(t->reason.text.find("boom"), std::string::npos) << t->reason.text;
}

TEST(Link, UnlinkStopsThePropagation) {
  troupe::system sys{small_config()};
  auto b = sys.spawn(target());
  auto a = sys.spawn(linked_to(b));
  ASSERT_EQ(await(a.ask<int>([](troupe::ref<int> r) { return unlink_now{r}; }, deadline)).value(), 0);
  auto exits = std::make_shared<blocking_queue<troupe::exit_signal>>();
  spawn_trapper(sys, b, exits);
  b.tell(crash{});
  ASSERT_TRUE(exits->pop().has_value());
  auto r = ask_get(a);
  ASSERT_TRUE(r.has_value()) << r.error().message();
  EXPECT_EQ(*r, 2);
}

}  // namespace
