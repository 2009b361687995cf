// introspection_test.cpp: snapshots of live actors, trees, workers and dead letters, taken from
// another thread while a real multi-threaded system runs.
#include "troupe/observe/introspection.hpp"

#include <gtest/gtest.h>

#include <algorithm>
#include <future>
#include <string>
#include <variant>
#include <vector>
#include <thread>

#include "core/test_support.hpp"
#include "troupe/otp/supervisor.hpp"
#include "troupe/troupe.hpp"

namespace {

using namespace troupe_test;
using namespace std::chrono_literals;
namespace ob = troupe::observe;

troupe::system_config introspected(unsigned workers = 2) {
  auto cfg = small_config(workers);
  cfg.introspection = true;
  return cfg;
}

// An actor that blocks in its first message until `g` opens, so the messages behind it wait.
troupe::behavior<int> held(std::shared_ptr<gate> g, std::shared_ptr<gate> inside) {
  return troupe::receive<int>([g, inside](int) {
    inside->open();
    g->wait();
  });
}

troupe::behavior<int> quiet() { return troupe::receive<int>([](int) {}); }

std::optional<ob::actor_info> find_named(const std::vector<ob::actor_info>& all, const std::string& name) {
  for (auto& a : all)
    if (a.name == name) return a;
  return std::nullopt;
}

// What a watcher-and-linker does: link to `a`, watch `b`; unlink and unwatch on -1.
using relate_msg = std::variant<int, troupe::terminated>;

TEST(Introspection, ReportsLinksMonitorsAndMonitoredByOfAnActor) {
  troupe::system sys{introspected()};
  auto a = sys.spawn(quiet(), {.name = "a"});
  auto b = sys.spawn(quiet(), {.name = "b"});
  auto ready = std::make_shared<gate>();
  auto w = sys.spawn(troupe::setup<relate_msg>([a, b, ready](troupe::actor_context<relate_msg>& ctx) {
    ctx.link(a);
    ctx.watch(b);
    ready->open();
    return troupe::receive<relate_msg>([a, b, &ctx](const int&) {
      ctx.unlink(a);
      ctx.unwatch(b);
    }, [](const troupe::terminated&) {});
  }));
  ASSERT_TRUE(ready->wait());
  const std::vector<troupe::actor_id> none, just_w{w.id()};
  // The other side learns by a signal, handled on its own turn: wait for it.
  auto related = [&] {
    auto fa = ob::find_actor(sys, a.id());
    auto fb = ob::find_actor(sys, b.id());
    return fa && fb && fa->links == just_w && fb->monitored_by == just_w;
  };
  ASSERT_TRUE(wait_until(related));
  auto me = ob::find_actor(sys, w.id());
  ASSERT_TRUE(me.has_value());
  EXPECT_EQ(me->links, (std::vector<troupe::actor_id>{a.id()}));
  EXPECT_EQ(me->monitors, (std::vector<troupe::actor_id>{b.id()}));
  EXPECT_EQ(me->monitored_by, none);
  auto all = ob::list_actors(sys);
  ASSERT_TRUE(all.has_value());
  EXPECT_EQ(find_named(*all, "b")->monitored_by, just_w);
  EXPECT_TRUE(find_named(*all, "a")->monitors.empty());
  // top_actors leaves them out.
  auto top = ob::top_actors(sys, ob::sort_key::memory);  // kept: a range-for over *temporary dangles
  ASSERT_TRUE(top.has_value());
  for (auto& t : *top) EXPECT_TRUE(t.links.empty());

  w.tell(1);  // unlink and unwatch
  ASSERT_TRUE(wait_until([&] {
    auto fa = ob::find_actor(sys, a.id());
    auto fb = ob::find_actor(sys, b.id());
    auto fw = ob::find_actor(sys, w.id());
    return fa && fb && fw && fa->links.empty() && fb->monitored_by.empty() && fw->links.empty() && fw->monitors.empty();
  }));
}

TEST(Introspection, DropsALinkWhenTheLinkedActorStops) {
  troupe::system sys{introspected()};
  // stops normally at its first message: a normal exit does not stop the linked actor
  auto a = sys.spawn(troupe::receive<int>([](int) { return troupe::stopped; }));
  auto ready = std::make_shared<gate>();
  auto w = sys.spawn(troupe::setup<relate_msg>([a, ready](troupe::actor_context<relate_msg>& ctx) {
    ctx.link(a);
    ctx.watch(a);
    ready->open();
    return troupe::receive<relate_msg>([](const int&) {}, [](const troupe::terminated&) {});
  }));
  ASSERT_TRUE(ready->wait());
  ASSERT_TRUE(wait_until([&] {
    auto fa = ob::find_actor(sys, a.id());
    return fa && fa->links.size() == 1 && fa->monitored_by.size() == 1;
  }));
  a.tell(0);
  ASSERT_TRUE(wait_until([&] {
    auto fw = ob::find_actor(sys, w.id());
    return fw && fw->links.empty() && fw->monitors.empty();
  }));
}

TEST(Introspection, FailsWithIntrospectionOffWhenTheSystemDidNotAskForIt) {
  troupe::system sys{small_config()};
  auto r = ob::list_actors(sys);
  ASSERT_FALSE(r.has_value());
  EXPECT_TRUE(r.error() == ob::errc::introspection_off);
  EXPECT_FALSE(ob::top_actors(sys, ob::sort_key::memory).has_value());
  // Workers and dead letters need no table.
  EXPECT_FALSE(ob::workers(sys).empty());
  EXPECT_EQ(ob::dead_letters(sys).back().reason, "total");
}

TEST(Introspection, ListsEveryLiveActorWithItsNameProtocolParentAndChildren) {
  troupe::system sys{introspected()};
  auto made = std::make_shared<gate>();
  auto parent = sys.spawn(troupe::setup<int>([made](troupe::actor_context<int>& ctx) {
                            ctx.spawn(quiet(), {.name = "kid-a"});
                            ctx.spawn(quiet(), {.name = "kid-b"});
                            made->open();
                            return quiet();
                          }),
                          {.name = "mum"});
  ASSERT_TRUE(made->wait());
  auto all = ob::list_actors(sys);
  ASSERT_TRUE(all.has_value());
  auto mum = find_named(*all, "mum");
  auto a = find_named(*all, "kid-a");
  auto b = find_named(*all, "kid-b");
  ASSERT_TRUE(mum && a && b);
  EXPECT_EQ(mum->id, parent.id());
  EXPECT_FALSE(mum->parent.has_value());
  EXPECT_EQ(mum->protocol, "int");
  ASSERT_TRUE(a->parent.has_value());
  EXPECT_EQ(*a->parent, parent.id());
  EXPECT_EQ(mum->children, (std::vector<troupe::actor_id>{a->id, b->id}));
  EXPECT_GT(mum->memory_bytes, 0u);
  EXPECT_TRUE(std::is_sorted(all->begin(), all->end(), [](auto& x, auto& y) { return x.id < y.id; }));
  auto found = ob::find_actor(sys, a->id);
  ASSERT_TRUE(found.has_value());
  EXPECT_EQ(found->name, "kid-a");
  auto count = ob::actor_count(sys);
  ASSERT_TRUE(count.has_value());
  EXPECT_EQ(*count, all->size());
}

TEST(Introspection, ShowsMailboxLengthStateAndMessagesHandledOfABusyActor) {
  troupe::system sys{introspected()};
  auto release = std::make_shared<gate>();
  auto inside = std::make_shared<gate>();
  auto a = sys.spawn(held(release, inside), {.name = "busy"});
  for (int i = 0; i < 5; ++i) a.tell(i);
  ASSERT_TRUE(inside->wait());
  auto info = ob::find_actor(sys, a.id());
  ASSERT_TRUE(info.has_value());
  // One taken and being handled, four behind it: a tallied mailbox counts what a turn took at
  // the turn's end, so until then the one in hand is still in the length and not yet handled.
  EXPECT_EQ(info->mailbox_length, 5u);
  EXPECT_EQ(info->state, ob::actor_state::running);
  EXPECT_EQ(info->messages_handled, 0u);
  EXPECT_EQ(troupe::mailbox_length(a), std::nullopt);  // the tally is introspection's, not exact
  release->open();
  ASSERT_TRUE(wait_until([&] {
    auto i = ob::find_actor(sys, a.id());
    return i && i->messages_handled == 5 && i->state == ob::actor_state::waiting;
  }));
  EXPECT_EQ(ob::find_actor(sys, a.id())->mailbox_length, 0u);
}

TEST(Introspection, CountsAMailboxLongerThanTheInboxsSixteenBitCountOfPushes) {
  troupe::system sys{introspected()};
  auto release = std::make_shared<gate>();
  auto inside = std::make_shared<gate>();
  auto a = sys.spawn(held(release, inside), {.name = "backlog"});
  a.tell(-1);
  ASSERT_TRUE(inside->wait());
  // The inbox counts pushes modulo 2^16; the push that wraps the count carries 2^16 to the
  // actor's probe, so a backlog past 65,536 is counted whole.
  constexpr std::size_t backlog = 140'000;
  for (std::size_t i = 0; i < backlog; ++i) a.tell(0);
  ASSERT_TRUE(wait_until([&] {
    auto i = ob::find_actor(sys, a.id());
    return i && i->mailbox_length == backlog + 1;  // the one in hand and the backlog
  }));
  release->open();
  ASSERT_TRUE(wait_until([&] {
    auto i = ob::find_actor(sys, a.id());
    return i && i->messages_handled == backlog + 1 && i->mailbox_length == 0 && i->state == ob::actor_state::waiting;
  }));
}

TEST(Introspection, CountsAFloodFromAnActorInTheMailboxLengthByTheEndOfItsSendersTurn) {
  troupe::system sys{introspected()};
  auto release = std::make_shared<gate>();
  auto inside = std::make_shared<gate>();
  auto a = sys.spawn(held(release, inside), {.name = "flooded"});
  a.tell(-1);
  ASSERT_TRUE(inside->wait());
  // A turn that tells one actor again and again is a flood: the scheduler holds its tells and
  // pushes them a batch at a time, and the tally counts each batch as it is pushed.
  auto flooder = sys.spawn(troupe::receive<int>([a](int n) {
    for (int i = 0; i < n; ++i) a.tell(i);
  }));
  flooder.tell(1000);
  ASSERT_TRUE(wait_until([&] {
    auto i = ob::find_actor(sys, a.id());
    return i && i->mailbox_length == 1001;  // the one in hand and the whole flood
  }));
  release->open();
  ASSERT_TRUE(wait_until([&] {
    auto i = ob::find_actor(sys, a.id());
    return i && i->messages_handled == 1001 && i->mailbox_length == 0 && i->state == ob::actor_state::waiting;
  }));
}

TEST(Introspection, CountsACountedMailboxExactlyWhileItsTurnRuns) {
  troupe::system sys{introspected()};
  auto release = std::make_shared<gate>();
  auto inside = std::make_shared<gate>();
  auto a = sys.spawn(held(release, inside), {.mailbox = {.counted = true}});  // counted, not tallied
  for (int i = 0; i < 5; ++i) a.tell(i);
  ASSERT_TRUE(inside->wait());
  auto info = ob::find_actor(sys, a.id());
  ASSERT_TRUE(info.has_value());
  EXPECT_EQ(info->mailbox_length, 4u);  // counted per message: the one in hand is out
  EXPECT_EQ(info->messages_handled, 1u);
  EXPECT_EQ(troupe::mailbox_length(a), std::optional<std::size_t>{4});
  release->open();
  ASSERT_TRUE(wait_until([&] {
    auto i = ob::find_actor(sys, a.id());
    return i && i->messages_handled == 5 && i->mailbox_length == 0 && i->state == ob::actor_state::waiting;
  }));
}

TEST(Introspection, TopActorsOrdersByMailboxLengthLargestFirst) {
  troupe::system sys{introspected(4)};
  auto release = std::make_shared<gate>();
  std::vector<troupe::ref<int>> actors;
  for (int k = 0; k < 4; ++k) {
    auto inside = std::make_shared<gate>();
    actors.push_back(sys.spawn(held(release, inside)));
    for (int i = 0; i <= 3 * k; ++i) actors.back().tell(i);  // k=3 waits with 9 behind it
    ASSERT_TRUE(inside->wait());
  }
  for (int i = 0; i < 10; ++i) sys.spawn(quiet());
  auto top = ob::top_actors(sys, ob::sort_key::mailbox_length, 3);
  ASSERT_TRUE(top.has_value());
  ASSERT_EQ(top->size(), 3u);
  EXPECT_EQ((*top)[0].id, actors[3].id());
  EXPECT_EQ((*top)[0].mailbox_length, 10u);  // 9 behind the one in hand, which its turn's end takes off
  EXPECT_EQ((*top)[1].id, actors[2].id());
  EXPECT_EQ((*top)[2].id, actors[1].id());
  EXPECT_TRUE((*top)[0].children.empty());
  release->open();
}

TEST(Introspection, RatesMessagesPerSecondBetweenTwoLooks) {
  troupe::system sys{introspected()};
  auto done = std::make_shared<blocking_queue<int>>();
  auto chatty = sys.spawn(troupe::receive<int>([done](int n) {
    if (n == 99) done->push(n);
  }));
  auto idle = sys.spawn(quiet());
  ASSERT_TRUE(ob::top_actors(sys, ob::sort_key::message_rate, 10).has_value());  // the first look
  for (int i = 0; i < 100; ++i) chatty.tell(i);
  ASSERT_TRUE(done->pop().has_value());
  auto top = ob::top_actors(sys, ob::sort_key::message_rate, 10);
  ASSERT_TRUE(top.has_value());
  ASSERT_FALSE(top->empty());
  EXPECT_EQ((*top)[0].id, chatty.id());
  EXPECT_GT((*top)[0].messages_per_second, 0.0);
  auto it = std::find_if(top->begin(), top->end(), [&](auto& a) { return a.id == idle.id(); });
  ASSERT_NE(it, top->end());
  EXPECT_EQ(it->messages_per_second, 0.0);
}

TEST(Introspection, ForgetsAnActorOnceItHasStopped) {
  troupe::system sys{introspected()};
  auto a = sys.spawn(troupe::receive<int>([](int) { return troupe::stopped; }));
  ASSERT_TRUE(ob::find_actor(sys, a.id()).has_value());
  auto end = watch_from_outside(sys, a);
  a.tell(1);
  ASSERT_TRUE(end->pop().has_value());
  ASSERT_TRUE(wait_until([&] { return !ob::find_actor(sys, a.id()).has_value(); }));
  EXPECT_TRUE(ob::find_actor(sys, a.id()).error() == ob::errc::no_such_actor);
}

TEST(Introspection, CountsAndListsActorsSpawnedOnThreadsThatLeftAndStoppedOnOthers) {
  // The table keeps each spawning thread's actors apart and learns of an actor's end from the
  // worker that ends it: the count and the lists must still be exact, across the sweeps of
  // many stops (more than 64 per thread) and after the spawning threads have exited.
  troupe::system sys{introspected()};
  constexpr int threads = 4, stoppers = 300, stayers = 50;
  std::vector<std::vector<troupe::ref<int>>> stopping(threads), staying(threads);
  std::vector<std::thread> spawners;
  for (int t = 0; t < threads; ++t)
    spawners.emplace_back([&, t] {
      for (int i = 0; i < stoppers; ++i) stopping[t].push_back(sys.spawn(troupe::receive<int>([](int) { return troupe::stopped; })));
      for (int i = 0; i < stayers; ++i) staying[t].push_back(sys.spawn(quiet()));
    });
  for (auto& th : spawners) th.join();
  ASSERT_EQ(ob::actor_count(sys).value(), std::size_t{threads * (stoppers + stayers)});
  for (auto& refs : stopping)
    for (auto& r : refs) r.tell(1);
  ASSERT_TRUE(wait_until([&] { return ob::actor_count(sys).value() == std::size_t{threads * stayers}; }));
  auto all = ob::list_actors(sys);
  ASSERT_TRUE(all.has_value());
  EXPECT_EQ(all->size(), std::size_t{threads * stayers});
  for (auto& refs : staying)
    for (auto& r : refs)
      EXPECT_TRUE(std::any_of(all->begin(), all->end(), [&](const ob::actor_info& a) { return a.id == r.id(); }));
  auto top = ob::top_actors(sys, ob::sort_key::messages_handled, 1000);
  ASSERT_TRUE(top.has_value());
  EXPECT_EQ(top->size(), std::size_t{threads * stayers});
  for (auto& refs : stopping)
    EXPECT_TRUE(ob::find_actor(sys, refs.front().id()).error() == ob::errc::no_such_actor);
}

TEST(Introspection, ShowsASupervisorsTreeAndCountsItsRestarts) {
  namespace otp = troupe::otp;
  troupe::system sys{introspected()};
  auto sup = sys.spawn(otp::supervisor({.flags = {.max_restarts = 5, .within = 10s},
                                        .children = {otp::child("a", [] { return quiet(); }, {.name = "child-a"}),
                                                     otp::child("b", [] { return quiet(); })}}),
                       {.name = "root-sup"});
  ASSERT_TRUE(wait_until([&] {
    auto t = ob::subtree(sys, sup.id());
    return t && t->children.size() == 2;
  }));
  auto trees = ob::supervision_trees(sys);
  ASSERT_TRUE(trees.has_value());
  auto root = std::find_if(trees->begin(), trees->end(), [](auto& t) { return t.actor.name == "root-sup"; });
  ASSERT_NE(root, trees->end());
  ASSERT_EQ(root->children.size(), 2u);
  EXPECT_EQ(root->children[0].actor.name, "child-a");
  auto old_id = root->children[0].actor.id;
  // Kill child-a: the supervisor restarts it, a new id under the same parent.
  auto a = sys.lookup<int>("child-a");
  ASSERT_TRUE(a.has_value());
  troupe::detail::ref_access::cell_of(*a)->request_kill("chaos drill");
  ASSERT_TRUE(wait_until([&] {
    auto s = ob::find_actor(sys, sup.id());
    return s && s->restarts == 1 && s->children.size() == 2 && s->children[0] != old_id;
  }));
}

TEST(Introspection, CountsDeadLettersByReason) {
  troupe::system sys{introspected()};
  auto a = sys.spawn(troupe::receive<int>([](int) { return troupe::stopped; }));
  auto end = watch_from_outside(sys, a);
  a.tell(1);
  ASSERT_TRUE(end->pop().has_value());
  a.tell(2);  // to a stopped actor
  auto release = std::make_shared<gate>();
  auto inside = std::make_shared<gate>();
  auto full = sys.spawn(held(release, inside),
                        {.mailbox = {.capacity = 1, .overflow = troupe::overflow_policy::dead_letters}});
  full.tell(0);
  ASSERT_TRUE(inside->wait());
  full.tell(1);  // fills the mailbox
  full.tell(2);  // refused: dead letter
  auto count = [&](const std::string& reason) {
    for (auto& d : ob::dead_letters(sys))
      if (d.reason == reason) return d.count;
    return std::uint64_t{0};
  };
  EXPECT_EQ(count("receiver_stopped"), 1u);
  EXPECT_EQ(count("mailbox_full"), 1u);
  EXPECT_EQ(count("no_route"), 0u);
  EXPECT_EQ(count("total"), 2u);
  release->open();
}

TEST(Introspection, ReportsEachWorkersTurns) {
  troupe::system sys{introspected(2)};
  auto done = std::make_shared<blocking_queue<int>>();
  auto a = sys.spawn(troupe::receive<int>([done](int n) { done->push(n); }));
  for (int i = 0; i < 10; ++i) a.tell(i);
  for (int i = 0; i < 10; ++i) ASSERT_TRUE(done->pop().has_value());
  auto ws = ob::workers(sys);
  ASSERT_EQ(std::count_if(ws.begin(), ws.end(), [](auto& w) { return w.pool == "workers"; }), 2);
  std::uint64_t turns = 0;
  for (auto& w : ws) turns += w.turns;
  EXPECT_GE(turns, 1u);
}

}  // namespace
