// Remote refs: a ref<P> to an actor in another node process is used exactly like a local one.
// Refs travel inside messages both ways; watches and asks learn of a node's end.
#include <gtest/gtest.h>
#include <signal.h>

#include <chrono>
#include <cstdint>
#include <future>
#include <unordered_set>
#include <variant>

#include "counter_protocol.hpp"
#include "node_process.hpp"
#include "remote_test_support.hpp"
#include "troupe/core/any_ref.hpp"
#include "troupe/core/system.hpp"
#include "troupe/remote/node.hpp"

using namespace std::chrono_literals;
using troupe::remote::node;
using troupe::remote::testing::counter_msg;
using troupe::remote::testing::line_queue;
using troupe::remote::testing::node_process;
namespace t = troupe::remote::testing;

namespace {
using probe_msg = std::variant<std::int64_t, troupe::terminated>;

// An actor that reports each number and each terminated it receives to `q`, and watches
// `watched` if given.
troupe::ref<probe_msg> spawn_probe(troupe::system& sys, line_queue& q, troupe::ref<counter_msg> watched = {}) {
  return sys.spawn(troupe::setup<probe_msg>([&q, watched](troupe::actor_context<probe_msg>& ctx) {
    if (watched) ctx.watch(watched);
    return troupe::receive<probe_msg>(
        [&q](std::int64_t n) {
          q.push("number " + std::to_string(n));
          return troupe::same;
        },
        [&q](const troupe::terminated& d) {
          q.push("terminated " + d.reason.describe());
          return troupe::same;
        });
  }));
}

struct two_nodes {
  node_process b{{"--name", "b"}};  // publishes a counter as "counter"
  line_queue logs;
  troupe::system sys{t::logging_config(logs)};
  node a{sys, t::named("a")};
};
}  // namespace

TEST(RemoteRef, TellAndAskThroughALookedUpRefWorkAsOnALocalRef) {
  two_nodes n;
  auto c = n.a.lookup<counter_msg>("counter", n.b.address()).get();
  ASSERT_TRUE(c) << c.error().message() << n.logs.all();
  for (int i = 0; i < 3; ++i) c->tell(t::add{5});
  auto total = c->ask<std::int64_t>([](troupe::ref<std::int64_t> r) { return t::get{r}; }, 5s).get();
  ASSERT_TRUE(total) << total.error().message() << n.logs.all() << n.b.log();
  EXPECT_EQ(*total, 15);  // the three adds came first: one sender, one receiver, in order
  EXPECT_EQ(c->id().serial != 0, true);
}

TEST(RemoteRef, ARefSentInAMessageArrivesAsAWorkingRefAndKeepsOrder) {
  two_nodes n;
  line_queue seen;
  auto probe = spawn_probe(n.sys, seen);
  auto c = n.a.lookup<counter_msg>("counter", n.b.address()).get();
  ASSERT_TRUE(c) << c.error().message();
  // The probe's protocol is variant<int64, terminated>, the ref's is int64: send a ref<int64>
  // that points at a local actor speaking exactly int64.
  auto sink = n.sys.spawn(troupe::receive<std::int64_t>([probe](std::int64_t v) {
    probe.tell(v);
    return troupe::same;
  }));
  c->tell(t::report_to{sink});
  for (int i = 1; i <= 50; ++i) c->tell(t::add{1});
  for (int i = 1; i <= 50; ++i) {
    auto got = seen.expect("number ", 5s);
    ASSERT_TRUE(got) << n.logs.all() << n.b.log();
    ASSERT_EQ(*got, "number " + std::to_string(i));
  }
}

TEST(RemoteRef, RefsToOneRemoteActorAreEqualHoweverOftenTheyArriveAndALocalRefComesBackAsItself) {
  two_nodes n;
  auto first = n.a.lookup<counter_msg>("counter", n.b.address()).get();
  auto second = n.a.lookup<counter_msg>("counter", n.b.address()).get();
  ASSERT_TRUE(first && second) << n.logs.all();
  EXPECT_EQ(*first, *second);  // two proxies, one actor
  EXPECT_EQ(first->id(), second->id());
  EXPECT_EQ(std::hash<troupe::ref<counter_msg>>{}(*first), std::hash<troupe::ref<counter_msg>>{}(*second));
  EXPECT_EQ((std::unordered_set<troupe::ref<counter_msg>>{*first, *second}.size()), 1u);

  // A ref to a local actor sent to b and sent back by b is the local ref again.
  auto tally = n.sys.spawn(t::tally(0));
  auto back = std::make_shared<std::promise<troupe::ref<t::tally_msg>>>();
  auto sink = n.sys.spawn(troupe::receive<troupe::ref<t::tally_msg>>([back](const troupe::ref<t::tally_msg>& r) {
    back->set_value(r);
    return troupe::stopped;
  }));
  auto returned = back->get_future();
  first->tell(t::pass_on{tally, 1, sink});
  ASSERT_EQ(returned.wait_for(10s), std::future_status::ready) << n.logs.all() << n.b.log();
  auto again = returned.get();
  EXPECT_EQ(again, tally);
  EXPECT_TRUE(troupe::any_ref(again).is_local_actor());
}

TEST(RemoteRef, LookupFailsClearlyForAnUnpublishedNameOrAnotherProtocol) {
  two_nodes n;
  auto missing = n.a.lookup<counter_msg>("nobody", n.b.address()).get();
  ASSERT_FALSE(missing);
  EXPECT_EQ(missing.error(), troupe::errc::name_not_found) << missing.error().message();
  auto wrong = n.a.lookup<std::int64_t>("counter", n.b.address()).get();
  ASSERT_FALSE(wrong);
  EXPECT_EQ(wrong.error(), troupe::errc::wrong_protocol) << wrong.error().message();
}

// The callback form is what an actor uses (cluster's grain and group services do): it must
// deliver the same working ref, or the same error, as the future.
TEST(RemoteRef, ALookupWithACallbackAnswersWithAWorkingRefOrTheError) {
  two_nodes n;
  using answer = troupe::result<troupe::ref<counter_msg>>;
  std::promise<answer> found_promise, missing_promise;
  auto found = found_promise.get_future(), missing = missing_promise.get_future();
  n.a.lookup<counter_msg>("counter", n.b.address(), 5s, [&found_promise](answer r) { found_promise.set_value(std::move(r)); });
  n.a.lookup<counter_msg>("nobody", n.b.address(), 5s, [&missing_promise](answer r) { missing_promise.set_value(std::move(r)); });
  ASSERT_EQ(found.wait_for(10s), std::future_status::ready) << n.logs.all();
  ASSERT_EQ(missing.wait_for(10s), std::future_status::ready) << n.logs.all();
  auto c = found.get();
  ASSERT_TRUE(c) << c.error().message() << n.logs.all();
  c->tell(t::add{7});
  auto total = c->ask<std::int64_t>([](troupe::ref<std::int64_t> r) { return t::get{r}; }, 5s).get();
  ASSERT_TRUE(total) << total.error().message() << n.logs.all() << n.b.log();
  EXPECT_EQ(*total, 7);
  auto m = missing.get();
  ASSERT_FALSE(m);
  EXPECT_EQ(m.error(), troupe::errc::name_not_found) << m.error().message();
}

TEST(RemoteRef, AnAskToANodeThatIsKilledFailsWithNodeDownBeforeItsTimeout) {
  two_nodes n;
  auto c = n.a.lookup<counter_msg>("counter", n.b.address()).get();
  ASSERT_TRUE(c) << c.error().message();
  auto pending = c->ask<std::int64_t>([](troupe::ref<std::int64_t> r) { return t::hold{r}; }, 60s);
  // The hold is on the wire before the kill: an ask answered by get proves the order.
  ASSERT_TRUE(c->ask<std::int64_t>([](troupe::ref<std::int64_t> r) { return t::get{r}; }, 5s).get());
  auto t0 = std::chrono::steady_clock::now();
  n.b.kill9();
  ASSERT_EQ(pending.wait_for(10s), std::future_status::ready);
  auto r = pending.get();
  ASSERT_FALSE(r);
  EXPECT_EQ(r.error(), troupe::remote::errc::node_down) << r.error().message();
  EXPECT_LT(std::chrono::steady_clock::now() - t0, 5s);
}

TEST(RemoteRef, AnAskToAFrozenNodeFailsWithNodeDownWithinTwoSeconds) {
  two_nodes n;
  auto c = n.a.lookup<counter_msg>("counter", n.b.address()).get();
  ASSERT_TRUE(c) << c.error().message();
  ASSERT_TRUE(c->ask<std::int64_t>([](troupe::ref<std::int64_t> r) { return t::get{r}; }, 5s).get());
  ASSERT_TRUE(n.b.freeze());
  auto t0 = std::chrono::steady_clock::now();
  auto r = c->ask<std::int64_t>([](troupe::ref<std::int64_t> r) { return t::get{r}; }, 60s).get();
  ASSERT_FALSE(r);
  EXPECT_EQ(r.error(), troupe::remote::errc::node_down) << r.error().message();
  EXPECT_LT(std::chrono::steady_clock::now() - t0, 2500ms);
  n.b.signal(SIGCONT);
}

TEST(RemoteWatch, AWatcherHearsOfARemoteActorsCrashWithItsReason) {
  two_nodes n;
  auto c = n.a.lookup<counter_msg>("counter", n.b.address()).get();
  ASSERT_TRUE(c) << c.error().message();
  line_queue seen;
  auto probe = spawn_probe(n.sys, seen, *c);
  // The watch is registered on b before the crash: an ask after it arrives in order.
  ASSERT_TRUE(c->ask<std::int64_t>([](troupe::ref<std::int64_t> r) { return t::get{r}; }, 5s).get());
  c->tell(t::crash{"boom"});
  auto got = seen.expect("terminated ", 5s);
  ASSERT_TRUE(got) << n.logs.all() << n.b.log();
  EXPECT_NE(got->find("exception"), std::string::npos) << *got;
  EXPECT_NE(got->find("boom"), std::string::npos) << *got;
}

TEST(RemoteWatch, AWatcherHearsNoconnectionExactlyOnceWhenTheNodeIsKilled) {
  two_nodes n;
  auto c = n.a.lookup<counter_msg>("counter", n.b.address()).get();
  ASSERT_TRUE(c) << c.error().message();
  line_queue seen;
  auto probe = spawn_probe(n.sys, seen, *c);
  ASSERT_TRUE(c->ask<std::int64_t>([](troupe::ref<std::int64_t> r) { return t::get{r}; }, 5s).get());
  n.b.kill9();
  auto got = seen.expect("terminated ", 5s);
  ASSERT_TRUE(got) << n.logs.all();
  // The probe's watch leaves on its first turn, which nothing here waits for: if b is declared
  // down before the watch reaches the node, the reason is "node 'b' is not connected" instead
  // of "node 'b' down: ...". Both are noconnection, which is what a watcher is promised.
  EXPECT_EQ(got->rfind("terminated noconnection: node 'b' ", 0), 0u) << *got;
  // Exactly once: a number sent after it arrives, and no second terminated before it.
  probe.tell(std::int64_t{7});
  auto next = seen.expect("", 5s);
  ASSERT_TRUE(next);
  EXPECT_EQ(*next, "number 7");
}

TEST(RemoteRef, AMessageThatDoesNotDecodeGoesToDeadLettersWithTheReasonAndTheConnectionKeepsServing) {
  two_nodes n;
  auto c = n.a.lookup<counter_msg>("counter", n.b.address()).get();
  ASSERT_TRUE(c) << c.error().message();
  auto id = c->id().serial;
  // Hand-made payloads on the wire: a wrong protocol fingerprint, an id never exported, garbage.
  std::string wrong_fp{'\x01', static_cast<char>(id), 1, 2, 3, 4, 5, 6, 7, 8, 0};
  std::string unknown_id{'\x01', '\x7f', 1, 2, 3, 4, 5, 6, 7, 8, 0};
  ASSERT_TRUE(n.a.send_payload("b", id, wrong_fp));
  ASSERT_TRUE(n.a.send_payload("b", 127, unknown_id));
  ASSERT_TRUE(n.a.send_payload("b", id, "\xff\xff garbage"));
  // Each is a dead-letter record saying why (node_main prints them), after its log line. The
  // lanes differ, so the three may come in any order.
  std::string letters;
  for (int i = 0; i < 3; ++i) {
    auto l = n.b.expect("dead_letter ", 5s);
    ASSERT_TRUE(l) << n.b.log();
    letters += *l + "\n";
  }
  auto has = [&](const std::string& text) { return letters.find(text) != std::string::npos; };
  // The wrong fingerprint names the counter (by its id on b) and its protocol.
  EXPECT_TRUE(has("dead_letter undecodable ")) << letters;
  EXPECT_TRUE(has("testing::add")) << letters;
  EXPECT_TRUE(has(" from node 'a': its protocol is not the target's, or not on this node's allow-list\n")) << letters;
  EXPECT_TRUE(has("dead_letter undecodable 0 a message from node 'a': no actor was exported to that node under this id\n"))
      << letters;
  EXPECT_TRUE(has("dead_letter undecodable 0 a message from node 'a': a payload of unknown kind 255\n")) << letters;
  auto log = n.b.log();
  EXPECT_NE(log.find("log remote node 'b': a message from node 'a' to id " + std::to_string(id) + " went to dead letters"),
            std::string::npos) << log;
  EXPECT_NE(log.find("log remote node 'b': a message from node 'a' to id 127 went to dead letters: no actor was exported"),
            std::string::npos) << log;
  c->tell(t::add{2});
  auto total = c->ask<std::int64_t>([](troupe::ref<std::int64_t> r) { return t::get{r}; }, 5s).get();
  ASSERT_TRUE(total) << total.error().message();
  EXPECT_EQ(*total, 2);
}

TEST(RemoteRef, WhenOneNodeIsKilledTheOthersKeepServing) {
  two_nodes n;
  node_process c_node({"--name", "c"});
  auto b = n.a.lookup<counter_msg>("counter", n.b.address()).get();
  auto c = n.a.lookup<counter_msg>("counter", c_node.address()).get();
  ASSERT_TRUE(b) << b.error().message();
  ASSERT_TRUE(c) << c.error().message();
  auto pending = b->ask<std::int64_t>([](troupe::ref<std::int64_t> r) { return t::hold{r}; }, 60s);
  ASSERT_TRUE(b->ask<std::int64_t>([](troupe::ref<std::int64_t> r) { return t::get{r}; }, 5s).get());
  n.b.kill9();
  ASSERT_EQ(pending.wait_for(10s), std::future_status::ready);
  EXPECT_EQ(pending.get().error(), troupe::remote::errc::node_down);
  c->tell(t::add{4});
  auto total = c->ask<std::int64_t>([](troupe::ref<std::int64_t> r) { return t::get{r}; }, 5s).get();
  ASSERT_TRUE(total) << total.error().message() << n.logs.all();
  EXPECT_EQ(*total, 4);
  // A tell to the dead node's actor is dropped (at most once), never an exception or a hang.
  b->tell(t::add{1});
  EXPECT_EQ(n.a.connected_nodes(), std::vector<std::string>{"c"});
}

TEST(RemoteRef, AnAskToANodeThatIsAlreadyGoneFailsWithNodeDownBeforeItsTimeout) {
  two_nodes n;
  line_queue events;
  n.a.add_monitor([&events](std::variant<troupe::remote::node_up, troupe::remote::node_down> e) {
    if (std::holds_alternative<troupe::remote::node_down>(e)) events.push("node_down " + std::get<1>(e).node);
  });
  auto c = n.a.lookup<counter_msg>("counter", n.b.address()).get();
  ASSERT_TRUE(c) << c.error().message();
  n.b.kill9();
  ASSERT_TRUE(events.expect("node_down b", 5s));
  // The request waits for a dial that fails (connection refused): the ask fails then.
  auto t0 = std::chrono::steady_clock::now();
  auto r = c->ask<std::int64_t>([](troupe::ref<std::int64_t> r) { return t::get{r}; }, 60s).get();
  ASSERT_FALSE(r);
  EXPECT_EQ(r.error(), troupe::remote::errc::node_down) << r.error().message();
  EXPECT_LT(std::chrono::steady_clock::now() - t0, 10s);
}

TEST(RemoteWatch, TerminatedArrivesAfterTheActorsLastMessageToTheWatcher) {
  two_nodes n;
  auto c = n.a.lookup<counter_msg>("counter", n.b.address()).get();
  ASSERT_TRUE(c) << c.error().message();
  line_queue seen;
  // One actor both watches the counter and receives its last message: 4 MiB, 64 fragments, so
  // a terminated on another lane would overtake it (Erlang: a signal after a message from the
  // same sender arrives after it).
  auto w = n.sys.spawn(troupe::setup<std::string>([&seen, counter = *c](troupe::actor_context<std::string>& ctx) {
    ctx.watch(counter, [](troupe::terminated&& t) { return "terminated " + t.reason.describe(); });
    seen.push("watching");
    return troupe::receive<std::string>([&seen](const std::string& s) {
      seen.push(s.rfind("terminated ", 0) == 0 ? s : "message of " + std::to_string(s.size()) + " bytes");
      return troupe::same;
    });
  }));
  ASSERT_TRUE(seen.expect("watching", 5s));
  ASSERT_TRUE(c->ask<std::int64_t>([](troupe::ref<std::int64_t> r) { return t::get{r}; }, 5s).get());
  c->tell(t::send_then_crash{w, 4 << 20, "after the message"});
  auto first = seen.expect("", 10s);
  ASSERT_TRUE(first) << n.logs.all() << n.b.log();
  EXPECT_EQ(*first, "message of 4194304 bytes");
  auto second = seen.expect("", 10s);
  ASSERT_TRUE(second) << n.logs.all() << n.b.log();
  EXPECT_EQ(second->rfind("terminated exception", 0), 0u) << *second;
}

TEST(RemoteRef, ARefToAnActorOnAThirdNodeWorksWhereverItIsSent) {
  two_nodes n;
  node_process c_node({"--name", "c"});
  auto counter = n.a.lookup<counter_msg>("counter", n.b.address()).get();
  auto tally = n.a.lookup<t::tally_msg>("tally", c_node.address()).get();
  ASSERT_TRUE(counter) << counter.error().message();
  ASSERT_TRUE(tally) << tally.error().message();
  // a sends b a ref to c's tally; b, never connected to c, dials c to add to it, and sends the
  // ref back to a, which uses it too: a third node's ref both ways.
  auto back = std::make_shared<std::promise<troupe::ref<t::tally_msg>>>();
  auto sink = n.sys.spawn(troupe::receive<troupe::ref<t::tally_msg>>([back](const troupe::ref<t::tally_msg>& r) {
    back->set_value(r);
    return troupe::stopped;
  }));
  auto returned = back->get_future();
  counter->tell(t::pass_on{*tally, 5, sink});
  ASSERT_EQ(returned.wait_for(10s), std::future_status::ready) << n.logs.all() << n.b.log() << c_node.log();
  auto again = returned.get();
  again.tell(t::add{2});
  auto total = again.ask<std::int64_t>([](troupe::ref<std::int64_t> r) { return t::get{r}; }, 5s).get();
  ASSERT_TRUE(total) << total.error().message() << n.logs.all() << c_node.log();
  EXPECT_EQ(*total, 7);  // b's 5 (b reached c itself) and a's 2 through the returned ref
  EXPECT_TRUE(c_node.expect("node_up b", 5s)) << c_node.log();
}
