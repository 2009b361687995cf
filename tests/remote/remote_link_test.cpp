// Links across nodes: a local actor linked to an actor in another node process hears of its
// exit with the remote reason, its own failure stops the remote actor, and the node's end is a
// noconnection exit, each exactly once.
#include <gtest/gtest.h>

#include <chrono>
#include <cstdint>
#include <memory>
#include <string>
#include <variant>

#include "counter_protocol.hpp"
#include "node_process.hpp"
#include "remote_test_support.hpp"
#include "troupe/core/system.hpp"
#include "troupe/remote/node.hpp"

using namespace std::chrono_literals;
using troupe::remote::node;
using troupe::remote::testing::counter_msg;
using troupe::remote::testing::line_queue;
using troupe::remote::testing::node_process;
namespace t = troupe::remote::testing;

namespace {
struct two_nodes {
  node_process b{{"--name", "b"}};  // publishes a counter as "counter"
  line_queue logs;
  troupe::system sys{t::logging_config(logs)};
  node a{sys, t::named("a")};
};

struct go {};
struct fail {};
using linker_msg = std::variant<go, fail, troupe::exit_signal>;

// A local actor that links to `other` (trapping exits if asked), says "linked" once it did, and
// reports each exit_signal to `q`; `fail` crashes it.
troupe::ref<linker_msg> spawn_linker(troupe::system& sys, line_queue& q, troupe::ref<counter_msg> other, bool trap) {
  return sys.spawn(troupe::setup<linker_msg>([&q, other, trap](troupe::actor_context<linker_msg>& ctx) {
    if (trap) ctx.trap_exits();
    ctx.link(other);
    q.push("linked");
    return troupe::receive<linker_msg>(
        [&q](const go&) {
          q.push("go");
          return troupe::same;
        },
        [](const fail&) -> troupe::behavior<linker_msg> { throw std::runtime_error("linker failed"); },
        [&q](const troupe::exit_signal& e) {
          q.push("exit " + e.reason.describe());
          return troupe::same;
        });
  }));
}

// Watches `who` (a local or remote actor) and reports its terminated to `q`.
template <class P>
troupe::ref<troupe::terminated> spawn_watcher(troupe::system& sys, line_queue& q, troupe::ref<P> who) {
  return sys.spawn(troupe::setup<troupe::terminated>([&q, who](troupe::actor_context<troupe::terminated>& ctx) {
    ctx.watch(who);
    q.push("watching");
    return troupe::receive<troupe::terminated>([&q](const troupe::terminated& d) {
      q.push("terminated " + d.reason.describe());
      return troupe::same;
    });
  }));
}

// Exactly once: `go` told to linker `l` after its exit arrives next in `seen`, with no second
// exit before it.
void expect_go_next(line_queue& seen, troupe::ref<linker_msg>& l) {
  l.tell(go{});
  auto next = seen.expect("", 5s);
  ASSERT_TRUE(next);
  EXPECT_EQ(*next, "go");
}

// A round trip to b's counter: what a's actors sent b before it has been handled there.
void sync(troupe::ref<counter_msg>& c) {
  ASSERT_TRUE(c.ask<std::int64_t>([](troupe::ref<std::int64_t> r) { return t::get{r}; }, 5s).get());
}
}  // namespace

TEST(RemoteLink, ALinkedActorThatDoesNotTrapStopsWhenTheRemoteActorCrashes) {
  two_nodes n;
  auto c = n.a.lookup<counter_msg>("counter", n.b.address()).get();
  ASSERT_TRUE(c) << c.error().message();
  line_queue seen, down;
  auto l = spawn_linker(n.sys, seen, *c, false);
  ASSERT_TRUE(seen.expect("linked", 5s));
  auto w = spawn_watcher(n.sys, down, l);
  ASSERT_TRUE(down.expect("watching", 5s));
  sync(*c);
  c->tell(t::crash{"boom"});
  auto got = down.expect("terminated ", 5s);
  ASSERT_TRUE(got) << n.logs.all() << n.b.log();
  EXPECT_NE(got->find("linked"), std::string::npos) << *got;
  EXPECT_NE(got->find("on node 'b' failed"), std::string::npos) << *got;
  EXPECT_NE(got->find("boom"), std::string::npos) << *got;
}

TEST(RemoteLink, ATrappingActorReceivesTheRemoteReasonAsAnExitSignal) {
  two_nodes n;
  auto c = n.a.lookup<counter_msg>("counter", n.b.address()).get();
  ASSERT_TRUE(c) << c.error().message();
  line_queue seen;
  auto l = spawn_linker(n.sys, seen, *c, true);
  ASSERT_TRUE(seen.expect("linked", 5s));
  sync(*c);
  c->tell(t::crash{"boom"});
  auto got = seen.expect("exit ", 5s);
  ASSERT_TRUE(got) << n.logs.all() << n.b.log();
  EXPECT_NE(got->find("exception"), std::string::npos) << *got;
  EXPECT_NE(got->find("boom"), std::string::npos) << *got;
}

TEST(RemoteLink, TheRemoteActorStopsWhenItsLocalLinkFails) {
  two_nodes n;
  auto c = n.a.lookup<counter_msg>("counter", n.b.address()).get();
  ASSERT_TRUE(c) << c.error().message();
  line_queue seen, down;
  auto w = spawn_watcher(n.sys, down, *c);  // watches b's counter
  ASSERT_TRUE(down.expect("watching", 5s));
  auto l = spawn_linker(n.sys, seen, *c, false);
  ASSERT_TRUE(seen.expect("linked", 5s));
  sync(*c);  // the link is on b before the failure
  l.tell(fail{});
  auto got = down.expect("terminated ", 5s);
  ASSERT_TRUE(got) << n.logs.all() << n.b.log();
  EXPECT_NE(got->find("linked actor"), std::string::npos) << *got;
  EXPECT_NE(got->find("on node 'a' failed"), std::string::npos) << *got;
  EXPECT_NE(got->find("linker failed"), std::string::npos) << *got;
}

TEST(RemoteLink, ATrappingActorHearsNoconnectionExactlyOnceWhenTheNodeIsKilled) {
  two_nodes n;
  auto c = n.a.lookup<counter_msg>("counter", n.b.address()).get();
  ASSERT_TRUE(c) << c.error().message();
  line_queue seen;
  auto l = spawn_linker(n.sys, seen, *c, true);
  ASSERT_TRUE(seen.expect("linked", 5s));
  sync(*c);
  n.b.kill9();
  auto got = seen.expect("exit ", 5s);
  ASSERT_TRUE(got) << n.logs.all();
  EXPECT_EQ(got->rfind("exit noconnection: node 'b' down", 0), 0u) << *got;
  expect_go_next(seen, l);
}

TEST(RemoteLink, LinkingToAnActorOnANodeThatIsNotConnectedIsAnImmediateNoconnection) {
  two_nodes n;
  auto c = n.a.lookup<counter_msg>("counter", n.b.address()).get();
  ASSERT_TRUE(c) << c.error().message();
  line_queue events;
  n.a.add_monitor([&events](std::variant<troupe::remote::node_up, troupe::remote::node_down> e) {
    if (std::holds_alternative<troupe::remote::node_down>(e)) events.push("node_down");
  });
  n.b.kill9();
  ASSERT_TRUE(events.expect("node_down", 5s));
  line_queue seen;
  auto l = spawn_linker(n.sys, seen, *c, true);
  auto got = seen.expect("exit ", 5s);
  ASSERT_TRUE(got) << n.logs.all();
  EXPECT_EQ(got->rfind("exit noconnection", 0), 0u) << *got;
}

namespace {
// Node a, connected to b's counter, in a system that outlives it: a.reset() stops the node.
struct node_that_stops {
  node_process b{{"--name", "b"}};
  line_queue logs;
  troupe::system sys{t::logging_config(logs)};
  std::unique_ptr<node> a = std::make_unique<node>(sys, t::named("a"));
  troupe::ref<counter_msg> counter() {
    auto c = a->lookup<counter_msg>("counter", b.address()).get();
    EXPECT_TRUE(c) << c.error().message();
    return c ? *c : troupe::ref<counter_msg>{};
  }
};
}  // namespace

// A stopped node runs nothing more on its thread: work queued for it afterwards (here a link,
// and the watch its agent takes on the linker) must not keep the node alive from its own queue.
// Before the fix each queued handler held the node, a cycle that LeakSanitizer reports at exit
// (the ASan run of this test fails then); the actors here still stop cleanly with their system.
// Since a stopped node refuses such work (the links hear noconnection from their caller at
// once), this guards that nothing is queued for it any more.
TEST(RemoteLink, LinksMadeAfterTheNodeStoppedKeepNothingAlive) {
  node_that_stops n;
  auto c = n.counter();
  ASSERT_TRUE(c);
  n.a.reset();
  line_queue seen;
  auto l = spawn_linker(n.sys, seen, c, true);
  ASSERT_TRUE(seen.expect("linked", 5s));
  auto l2 = spawn_linker(n.sys, seen, c, false);
  ASSERT_TRUE(seen.expect("linked", 5s));
  l2.tell(fail{});  // its end is reported to the stopped node's agent, which queues it there
}

// The local node stops while the system lives on: its watches and links across nodes end as a
// peer's going down ends them (Erlang's noconnection), each exactly once.
TEST(RemoteLink, AWatcherOfARemoteActorHearsNoconnectionOnceWhenTheLocalNodeStops) {
  node_that_stops n;
  auto c = n.counter();
  ASSERT_TRUE(c);
  line_queue down;
  auto w = spawn_watcher(n.sys, down, c);
  ASSERT_TRUE(down.expect("watching", 5s));
  sync(c);  // the watch is on b too
  n.a.reset();
  auto got = down.expect("terminated ", 5s);
  ASSERT_TRUE(got) << n.logs.all();
  EXPECT_EQ(got->rfind("terminated noconnection: node 'a' stopped", 0), 0u) << *got;
  // Exactly once: a message sent after it arrives next, with no second notice before it.
  w.tell(troupe::terminated{{}, {troupe::exit_reason::kind::normal, "marker"}});
  auto next = down.expect("", 5s);
  ASSERT_TRUE(next);
  EXPECT_NE(next->find("marker"), std::string::npos) << *next;
}

TEST(RemoteLink, ALinkedActorHearsNoconnectionOnceWhenTheLocalNodeStops) {
  node_that_stops n;
  auto c = n.counter();
  ASSERT_TRUE(c);
  line_queue seen;
  auto l = spawn_linker(n.sys, seen, c, true);
  ASSERT_TRUE(seen.expect("linked", 5s));
  sync(c);  // the link is on b too
  n.a.reset();
  auto got = seen.expect("exit ", 5s);
  ASSERT_TRUE(got) << n.logs.all();
  EXPECT_EQ(got->rfind("exit noconnection: node 'a' stopped", 0), 0u) << *got;
  expect_go_next(seen, l);
}

// A watch or link on a remote ref made after the local node stopped is never silence.
TEST(RemoteLink, AWatchMadeAfterTheLocalNodeStoppedHearsNoconnectionAtOnce) {
  node_that_stops n;
  auto c = n.counter();
  ASSERT_TRUE(c);
  n.a.reset();
  line_queue down;
  auto w = spawn_watcher(n.sys, down, c);
  ASSERT_TRUE(down.expect("watching", 5s));
  auto got = down.expect("terminated ", 5s);
  ASSERT_TRUE(got) << n.logs.all();
  EXPECT_EQ(got->rfind("terminated noconnection: node 'a' stopped", 0), 0u) << *got;
}

TEST(RemoteLink, ALinkMadeAfterTheLocalNodeStoppedHearsNoconnectionAtOnce) {
  node_that_stops n;
  auto c = n.counter();
  ASSERT_TRUE(c);
  n.a.reset();
  line_queue seen;
  auto l = spawn_linker(n.sys, seen, c, true);
  ASSERT_TRUE(seen.expect("linked", 5s));
  auto got = seen.expect("exit ", 5s);
  ASSERT_TRUE(got) << n.logs.all();
  EXPECT_EQ(got->rfind("exit noconnection: node 'a' stopped", 0), 0u) << *got;
  expect_go_next(seen, l);
}
