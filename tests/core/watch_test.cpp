// watch_test.cpp: monitors: a watcher learns when and why a watched actor stopped.
#include "troupe/core/signals.hpp"

#include <gtest/gtest.h>

#include <set>
#include <string>
#include <variant>
#include <vector>

#include "test_support.hpp"
#include "target_actor.hpp"
#include "troupe/troupe.hpp"

namespace {

using namespace troupe_test;

using namespace troupe_test::target_actor;

// A watcher whose protocol holds troupe::terminated; it reports what it receives.
struct watch_it {
  troupe::ref<target_msg> who;
};
struct unwatch_it {
  troupe::ref<target_msg> who;
  troupe::ref<int> done;
};
struct sync {  // answered once everything sent to the watcher before it was handled
  troupe::ref<int> done;
};
using watcher_msg = std::variant<watch_it, unwatch_it, sync, troupe::terminated>;

troupe::ref<watcher_msg> spawn_watcher(troupe::system& sys, std::shared_ptr<blocking_queue<troupe::terminated>> out) {
  return sys.spawn(troupe::setup<watcher_msg>([out](troupe::actor_context<watcher_msg>& ctx) {
    return troupe::receive<watcher_msg>([&ctx](const watch_it& w) { ctx.watch(w.who); },
                                        [&ctx](const unwatch_it& u) {
                                          ctx.unwatch(u.who);
                                          u.done.tell(0);
                                        },
                                        [](const sync& s) { s.done.tell(0); },
                                        [out](troupe::terminated&& t) { out->push(std::move(t)); });
  }));
}

int sync_with(const troupe::ref<watcher_msg>& w) {
  return await(w.ask<int>([](troupe::ref<int> r) { return sync{r}; }, deadline)).value();
}

TEST(Watch, AWatcherReceivesTerminatedWhenTheWatchedActorStops) {
  troupe::system sys{small_config()};
  auto out = std::make_shared<blocking_queue<troupe::terminated>>();
  auto w = spawn_watcher(sys, out);
  auto t = sys.spawn(target());
  w.tell(watch_it{t});
  // Whether the watch lands before or after the stop, terminated arrives exactly once.
  t.tell(quit{});
  auto got = out->pop();
  ASSERT_TRUE(got.has_value());
  EXPECT_EQ(got->who, t.id());
  EXPECT_EQ(got->reason.what, troupe::exit_reason::kind::normal);
  EXPECT_EQ(sync_with(w), 0);
  EXPECT_EQ(out->size(), 0u);
}

TEST(Watch, TerminatedArrivesAfterTheMessagesTheActorSentBeforeStopping) {
  troupe::system sys{small_config()};
  // As Erlang orders signals and messages between a pair of processes: the watcher hears of
  // the end only after everything the actor sent it before.
  using report_msg = std::variant<int, troupe::terminated>;
  auto seen = std::make_shared<blocking_queue<int>>();
  auto ready = std::make_shared<gate>();
  struct go {
    troupe::ref<report_msg> to;
  };
  auto sender = sys.spawn(troupe::receive<go>([](const go& g) {
    for (int i = 0; i < 10'000; ++i) g.to.tell(i);
    return troupe::stopped;
  }));
  auto watcher = sys.spawn(troupe::setup<report_msg>([sender, seen, ready](troupe::actor_context<report_msg>& ctx) {
    ctx.watch(sender);
    ready->open();
    return troupe::receive<report_msg>([seen](int i) { seen->push(i); },
                                       [seen](const troupe::terminated&) { seen->push(-1); });
  }));
  ASSERT_TRUE(ready->wait());  // the watch is in the sender's mailbox, ahead of `go`
  sender.tell(go{watcher});
  for (int i = 0; i < 10'000; ++i) {
    auto got = seen->pop();
    ASSERT_TRUE(got.has_value());
    ASSERT_EQ(*got, i);
  }
  EXPECT_EQ(seen->pop(), -1);
}

TEST(Watch, TerminatedCarriesTheExceptionThatStoppedTheActor) {
  troupe::system sys{small_config()};
  auto out = std::make_shared<blocking_queue<troupe::terminated>>();
  auto w = spawn_watcher(sys, out);
  auto t = sys.spawn(target());
  w.tell(watch_it{t});
  t.tell(crash{});
  auto got = out->pop();
  ASSERT_TRUE(got.has_value());
  EXPECT_EQ(got->who, t.id());
  EXPECT_EQ(got->reason.what, troupe::exit_reason::kind::exception);
  EXPECT_TRUE(got->reason.is_failure());
  EXPECT_NE(got->reason.text.find("boom"), std::string::npos) << got->reason.text;
  EXPECT_NE(got->reason.text.find("runtime_error"), std::string::npos) << got->reason.text;
}

TEST(Watch, AMappingFunctionTurnsTerminatedIntoAMessageOfTheWatchersProtocol) {
  troupe::system sys{small_config()};
  struct child_gone {
    troupe::actor_id who;
    bool failed;
  };
  auto out = std::make_shared<blocking_queue<child_gone>>();
  auto t = sys.spawn(target());
  sys.spawn(troupe::setup<child_gone>([out, t](troupe::actor_context<child_gone>& ctx) {
    ctx.watch(t, [](troupe::terminated&& term) { return child_gone{term.who, term.reason.is_failure()}; });
    return troupe::receive<child_gone>([out](const child_gone& g) { out->push(g); });
  }));
  t.tell(crash{});
  auto got = out->pop();
  ASSERT_TRUE(got.has_value());
  EXPECT_EQ(got->who, t.id());
  EXPECT_TRUE(got->failed);
}

TEST(Watch, WatchingAnActorThatAlreadyStoppedDeliversTerminatedAtOnce) {
  troupe::system sys{small_config()};
  auto t = sys.spawn(target());
  auto first = watch_from_outside(sys, t);
  t.tell(crash{});
  ASSERT_TRUE(first->pop().has_value());  // t has stopped

  auto out = std::make_shared<blocking_queue<troupe::terminated>>();
  auto w = spawn_watcher(sys, out);
  w.tell(watch_it{t});
  auto got = out->pop();
  ASSERT_TRUE(got.has_value());
  EXPECT_EQ(got->who, t.id());
  // The late watcher still learns why: the reason outlives the actor.
  EXPECT_EQ(got->reason.what, troupe::exit_reason::kind::exception);
  EXPECT_NE(got->reason.text.find("boom"), std::string::npos) << got->reason.text;
}

TEST(Watch, UnwatchStopsTheDeliveryOfTerminated) {
  troupe::system sys{small_config()};
  auto t = sys.spawn(target());
  auto out = std::make_shared<blocking_queue<troupe::terminated>>();
  auto w = spawn_watcher(sys, out);
  w.tell(watch_it{t});
  // The reply orders things: w's watch signal reached t's mailbox before w answered.
  EXPECT_EQ(await(w.ask<int>([t](troupe::ref<int> r) { return unwatch_it{t, r}; }, deadline)).value(), 0);
  // A second watcher, watching from now on: t's watchers would be told in the order they
  // watched, so by the time this one hears of t's end, w would have been told as well.
  auto later = watch_from_outside(sys, t);
  t.tell(quit{});
  ASSERT_TRUE(later->pop().has_value());
  // Anything w had been sent is ahead of this request in its mailbox.
  EXPECT_EQ(sync_with(w), 0);
  EXPECT_EQ(out->size(), 0u);
}

TEST(Watch, WatchingTwiceDeliversTerminatedOnce) {
  troupe::system sys{small_config()};
  auto t = sys.spawn(target());
  auto out = std::make_shared<blocking_queue<troupe::terminated>>();
  auto w = spawn_watcher(sys, out);
  w.tell(watch_it{t});
  w.tell(watch_it{t});
  EXPECT_EQ(sync_with(w), 0);  // both watches were made before the next watcher's
  auto later = watch_from_outside(sys, t);
  t.tell(quit{});
  ASSERT_TRUE(later->pop().has_value());
  EXPECT_EQ(sync_with(w), 0);  // whatever t told w came before this
  ASSERT_EQ(out->size(), 1u);
}

// Past a few dozen relations an actor indexes them (a supervisor of many children, a cluster's
// grain service): watching, unwatching and hearing of each must behave as with a handful.
TEST(Watch, AnActorWatchingHundredsHearsOfEachOnceAndNotOfThoseItUnwatched) {
  troupe::system sys{small_config()};
  auto out = std::make_shared<blocking_queue<troupe::terminated>>();
  auto w = spawn_watcher(sys, out);
  std::vector<troupe::ref<target_msg>> targets;
  for (int i = 0; i < 300; ++i) {
    targets.push_back(sys.spawn(target()));
    w.tell(watch_it{targets.back()});
  }
  std::set<troupe::actor_id> expected;
  for (int i = 0; i < 300; ++i) {
    if (i % 3 == 1) {  // unwatch a third, spread over the list
      EXPECT_EQ(await(w.ask<int>([t = targets[i]](troupe::ref<int> r) { return unwatch_it{t, r}; }, deadline)).value(), 0);
    } else {
      expected.insert(targets[i].id());
    }
  }
  for (auto& t : targets) t.tell(quit{});
  std::set<troupe::actor_id> heard;
  for (std::size_t i = 0; i < expected.size(); ++i) {
    auto got = out->pop();
    ASSERT_TRUE(got.has_value()) << "heard " << heard.size() << " of " << expected.size();
    EXPECT_TRUE(heard.insert(got->who).second) << "terminated twice";
  }
  EXPECT_EQ(heard, expected);
  // Every target gone, so a terminated for one it had unwatched would be on its way to w.
  for (auto& t : targets) ASSERT_TRUE(watch_from_outside(sys, t)->pop().has_value());
  EXPECT_EQ(sync_with(w), 0);
  EXPECT_EQ(out->size(), 0u);
}

TEST(Watch, AnActorWatchedByHundredsTellsEachStillWatchingOnce) {
  troupe::system sys{small_config()};
  auto t = sys.spawn(target());
  auto out = std::make_shared<blocking_queue<troupe::terminated>>();
  std::vector<troupe::ref<watcher_msg>> watchers;
  for (int i = 0; i < 300; ++i) {
    watchers.push_back(spawn_watcher(sys, out));
    watchers.back().tell(watch_it{t});
  }
  std::size_t still = 0;
  for (int i = 0; i < 300; ++i) {
    if (i % 3 == 1) {
      EXPECT_EQ(await(watchers[i].ask<int>([t](troupe::ref<int> r) { return unwatch_it{t, r}; }, deadline)).value(), 0);
    } else {
      EXPECT_EQ(sync_with(watchers[i]), 0);  // its watch has been made
      ++still;
    }
  }
  t.tell(quit{});
  for (std::size_t i = 0; i < still; ++i) {
    auto got = out->pop();
    ASSERT_TRUE(got.has_value()) << "heard " << i << " of " << still;
    EXPECT_EQ(got->who, t.id());
  }
  for (auto& w : watchers) EXPECT_EQ(sync_with(w), 0);  // whatever t told w came before this
  EXPECT_EQ(out->size(), 0u);
}

}  // namespace
