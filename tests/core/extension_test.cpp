// extension_test.cpp: the public seams behaviours are built on (core/extension.hpp): async_ask
// hands its outcome to a function exactly once, tell_self_past_bound reaches an actor's own full
// bounded mailbox, run_on_turn and start_turn_timer run work on the actor's turn, function refs
// (equal when made for one target_name), request_stop, timers_of, report_dead_letter and
// pool_allocated. Virtual time and a seeded order (test_system): no sleeps, exact deadlines.
#include "troupe/core/extension.hpp"

#include <gtest/gtest.h>

#include <chrono>
#include <memory>
#include <stdexcept>
#include <string>
#include <unordered_set>
#include <variant>
#include <vector>

#include "troupe/core/any_ref.hpp"
#include "troupe/testkit/test_system.hpp"
#include "troupe/troupe.hpp"

namespace {

using namespace std::chrono_literals;

// Sanitizer builds send every pool block to operator new, so that ASan and TSan see each one.
// g++ says so with __SANITIZE_*__, clang with __has_feature.
#if defined(__SANITIZE_THREAD__) || defined(__SANITIZE_ADDRESS__)
#define EXTENSION_TEST_SANITIZED 1
#elif defined(__has_feature)
#if __has_feature(thread_sanitizer) || __has_feature(address_sanitizer)
#define EXTENSION_TEST_SANITIZED 1
#endif
#endif
#ifdef EXTENSION_TEST_SANITIZED
constexpr bool troupe_extension_test_sanitized = true;
#else
constexpr bool troupe_extension_test_sanitized = false;
#endif

struct get {
  troupe::ref<int> reply_to;
};
auto make_get = [](troupe::ref<int> r) { return get{r}; };

troupe::behavior<get> answering(int value) {
  return troupe::receive<get>([value](const get& g) { g.reply_to.tell(value); });
}
// Never replies, but keeps every reply_to: a request whose reply_to is dropped completes at once
// with request_dropped, so only a kept one can reach its deadline.
troupe::behavior<get> hoarding(std::shared_ptr<std::vector<troupe::ref<int>>> kept) {
  return troupe::receive<get>([kept](const get& g) { kept->push_back(g.reply_to); });
}

TEST(Extension, AsyncAskHandsTheReplyToTheFunctionExactlyOnce) {
  troupe::testkit::test_system ts;
  auto s = ts.spawn(answering(7));
  std::vector<troupe::result<int>> outcomes;
  troupe::async_ask<int>(s, make_get, 1s, [&](troupe::result<int>&& r) { outcomes.push_back(std::move(r)); });
  EXPECT_TRUE(outcomes.empty());  // nothing runs until the test lets it
  ts.run_until_idle();
  ASSERT_EQ(outcomes.size(), 1u);
  EXPECT_EQ(outcomes[0].value(), 7);
  ts.advance(2s);  // past the deadline: the completed ask does not complete again
  EXPECT_EQ(outcomes.size(), 1u);
}

TEST(Extension, AsyncAskHandsATimeoutToTheFunctionAtTheDeadline) {
  troupe::testkit::test_system ts;
  auto s = ts.spawn(hoarding(std::make_shared<std::vector<troupe::ref<int>>>()));
  std::vector<troupe::result<int>> outcomes;
  troupe::async_ask<int>(s, make_get, 50ms, [&](troupe::result<int>&& r) { outcomes.push_back(std::move(r)); });
  ts.advance(50ms - 1ns);
  EXPECT_TRUE(outcomes.empty());
  ts.advance(1ns);
  ASSERT_EQ(outcomes.size(), 1u);
  ASSERT_FALSE(outcomes[0].has_value());
  EXPECT_EQ(outcomes[0].error(), troupe::errc::timeout) << outcomes[0].error().message();
}

struct go {};
struct filler {};
struct notice {};
using self_msg = std::variant<go, filler, notice>;

struct self_counts {
  troupe::result<void> plain_tell_while_full;
  int fillers = 0;
  int notices = 0;
};

// On `go`, fills its own bounded mailbox, then owes itself a notice.
troupe::behavior<self_msg> owing(self_counts& counts) {
  return troupe::setup<self_msg>([&counts](troupe::actor_context<self_msg>& ctx) {
    return troupe::receive<self_msg>(
        [&](const go&) {
          while (ctx.self().try_tell(filler{})) {
          }
          counts.plain_tell_while_full = ctx.self().try_tell(notice{});  // the control: refused
          troupe::tell_self_past_bound(ctx, notice{});
        },
        [&](const filler&) { ++counts.fillers; }, [&](const notice&) { ++counts.notices; });
  });
}

TEST(Extension, TellSelfPastBoundReachesTheActorsOwnFullMailbox) {
  troupe::testkit::test_system ts;
  self_counts counts;
  auto a = ts.spawn(owing(counts), {.mailbox = {.capacity = 4}});
  a.tell(go{});
  ts.run_until_idle();
  ASSERT_FALSE(counts.plain_tell_while_full.has_value());
  EXPECT_EQ(counts.plain_tell_while_full.error(), troupe::errc::mailbox_full);
  EXPECT_EQ(counts.fillers, 4);
  EXPECT_EQ(counts.notices, 1);
}


// Keeps a count that only its own turn may touch, and checks that it is on its turn.
using turn_msg = std::variant<go>;
struct turn_state {
  bool in_turn = false;
  std::vector<std::string> ran;
};
troupe::behavior<turn_msg> turn_keeper(std::shared_ptr<turn_state> st) {
  return troupe::receive<turn_msg>([st](const go&) { st->ran.push_back("go"); });
}

TEST(Extension, RunOnTurnRunsTheFunctionBehindTheMessagesAlreadyQueued) {
  troupe::testkit::test_system ts;
  auto st = std::make_shared<turn_state>();
  auto a = ts.spawn(turn_keeper(st));
  a.tell(go{});
  troupe::run_on_turn(a, [st] { st->ran.push_back("call"); });
  a.tell(go{});
  EXPECT_TRUE(st->ran.empty());  // queued, not run on the caller's thread
  ts.run_until_idle();
  EXPECT_EQ(st->ran, (std::vector<std::string>{"go", "call", "go"}));
}

TEST(Extension, RunOnTurnRefusesWhatIsNotALocalActor) {
  auto sink = troupe::make_function_ref<go>([](go&&) {});
  EXPECT_THROW(troupe::run_on_turn(sink, [] {}), troupe::usage_error);
  EXPECT_THROW(troupe::run_on_turn(troupe::ref<go>{}, [] {}), troupe::usage_error);
}

TEST(Extension, AFunctionThatRunsOnTheTurnAndThrowsCrashesTheActor) {
  troupe::testkit::test_system ts;
  auto st = std::make_shared<turn_state>();
  auto a = ts.spawn(turn_keeper(st));
  troupe::run_on_turn(a, [] { throw std::runtime_error("the call failed"); });
  ts.run_until_idle();
  EXPECT_TRUE(troupe::any_ref(a).has_stopped());
}

TEST(Extension, StartTurnTimerRunsOnceAtItsDeadlineAndCancelTimerStopsIt) {
  troupe::testkit::test_system ts;
  auto fired = std::make_shared<int>(0);
  auto cancel = std::make_shared<bool>(false);
  using timer_msg = std::variant<go>;
  auto a = ts.spawn(troupe::setup<timer_msg>([fired, cancel](troupe::actor_context<timer_msg>& ctx) {
    troupe::start_turn_timer(ctx, "t", 100ms, [fired] { ++*fired; });
    return troupe::receive<timer_msg>([&ctx](const go&) { ctx.cancel_timer("t"); });
  }));
  ts.run_until_idle();
  ts.advance(100ms - 1ns);
  EXPECT_EQ(*fired, 0);
  ts.advance(1ns);
  EXPECT_EQ(*fired, 1);
  ts.advance(1s);
  EXPECT_EQ(*fired, 1);  // once
  (void)a;
}

TEST(Extension, AStartTurnTimerCancelledBeforeItsDeadlineNeverRuns) {
  troupe::testkit::test_system ts;
  auto fired = std::make_shared<int>(0);
  using timer_msg = std::variant<go>;
  auto a = ts.spawn(troupe::setup<timer_msg>([fired](troupe::actor_context<timer_msg>& ctx) {
    troupe::start_turn_timer(ctx, "t", 100ms, [fired] { ++*fired; });
    return troupe::receive<timer_msg>([&ctx](const go&) { EXPECT_TRUE(ctx.cancel_timer("t")); });
  }));
  ts.run_until_idle();
  a.tell(go{});
  ts.run_until_idle();
  ts.advance(1s);
  EXPECT_EQ(*fired, 0);
}

TEST(Extension, AFunctionRefHandsEachMessageToItsFunctionAndCannotBeAsked) {
  std::vector<int> seen;
  auto r = troupe::make_function_ref<int>([&seen](int&& n) { seen.push_back(n); }, troupe::actor_id{0, 42});
  r.tell(1);
  r.tell(2);
  EXPECT_EQ(seen, (std::vector<int>{1, 2}));
  EXPECT_EQ(r.id(), (troupe::actor_id{0, 42}));
  EXPECT_FALSE(troupe::any_ref(r).is_local_actor());
  EXPECT_THROW(r.ask<int>([](troupe::ref<int>) { return 0; }, 1s), troupe::usage_error);
}

TEST(Extension, AFunctionRefWithAHomeIsAskedThroughTheActorItForwardsToAndItsErrorsNameIt) {
  troupe::testkit::test_system ts;
  auto counter = ts.spawn(answering(7));
  auto front = troupe::make_function_ref<get>(ts.system(), "the counter's front",
                                              [counter](get&& g) { counter.tell(std::move(g)); });
  auto answer = front.ask(make_get, 1s);
  ts.run_until_idle();
  EXPECT_EQ(answer.get().value(), 7);

  // Its deadline runs on the home system's clock, and the timeout names the ref.
  auto kept = std::make_shared<std::vector<troupe::ref<int>>>();
  auto hoarder = ts.spawn(hoarding(kept));
  auto slow = troupe::make_function_ref<get>(ts.system(), "the slow front", [hoarder](get&& g) { hoarder.tell(std::move(g)); });
  std::vector<troupe::result<int>> outcomes;
  troupe::async_ask<int>(slow, make_get, 50ms, [&](troupe::result<int>&& r) { outcomes.push_back(std::move(r)); });
  ts.advance(50ms - 1ns);
  EXPECT_TRUE(outcomes.empty());
  ts.advance(1ns);
  ASSERT_EQ(outcomes.size(), 1u);
  ASSERT_FALSE(outcomes[0].has_value());
  EXPECT_EQ(outcomes[0].error(), troupe::errc::timeout);
  EXPECT_NE(outcomes[0].error().message().find("the slow front"), std::string::npos) << outcomes[0].error().message();

  // A request its function drops completes at once with request_dropped, never receiver_dead.
  auto sink = troupe::make_function_ref<get>(ts.system(), "a sink", [](get&&) {});
  troupe::async_ask<int>(sink, make_get, 1s, [&](troupe::result<int>&& r) { outcomes.push_back(std::move(r)); });
  ASSERT_EQ(outcomes.size(), 2u);
  EXPECT_EQ(outcomes[1].error(), troupe::errc::request_dropped) << outcomes[1].error().message();
  EXPECT_NE(outcomes[1].error().message().find("a sink"), std::string::npos) << outcomes[1].error().message();
}

TEST(Extension, AFunctionRefWithAHomeIsFreedWithItsLastCopy) {
  troupe::testkit::test_system ts;
  auto held = std::make_shared<int>(0);  // the function's captures live as long as the ref
  auto r = troupe::make_function_ref<int>(ts.system(), "a counter", [held](int&& n) { *held += n; });
  auto copy = r;
  copy.tell(2);
  EXPECT_EQ(*held, 2);
  EXPECT_EQ(held.use_count(), 2);
  r = {};
  EXPECT_EQ(held.use_count(), 2);
  copy = {};
  EXPECT_EQ(held.use_count(), 1);
}

TEST(Extension, FunctionRefsMadeForOneTargetNameAreEqualAndHashAlike) {
  troupe::testkit::test_system ts;
  std::vector<std::string> seen;
  int space = 0, other_space = 0;  // compared by address only
  auto make = [&](const void* in, std::string name, std::string tag) {
    return troupe::make_function_ref<int>(ts.system(), "counter " + name, troupe::target_name{in, name},
                                          [&seen, tag](int&&) { seen.push_back(tag); });
  };
  auto a = make(&space, "7", "a");
  auto b = make(&space, "7", "b");  // made apart, for the same target
  auto c = make(&space, "8", "c");
  auto d = make(&other_space, "7", "d");
  auto plain = troupe::make_function_ref<int>(ts.system(), "counter 7", [](int&&) {});
  EXPECT_EQ(a, b);
  EXPECT_FALSE(a == c);
  EXPECT_FALSE(a == d);
  EXPECT_FALSE(a == plain);
  EXPECT_FALSE(plain == a);
  EXPECT_EQ(troupe::any_ref(a), troupe::any_ref(b));
  std::hash<troupe::ref<int>> hash;
  EXPECT_EQ(hash(a), hash(b));
  EXPECT_EQ(std::hash<troupe::any_ref>{}(b), hash(a));
  std::unordered_set<troupe::ref<int>> set{a, b, c, d, plain, make(&space, "8", "e")};
  EXPECT_EQ(set.size(), 4u);
  EXPECT_TRUE(set.contains(make(&space, "7", "f")));
  // Equal, yet each still hands its messages to its own function, and keeps its own id.
  a.tell(1);
  b.tell(1);
  EXPECT_EQ(seen, (std::vector<std::string>{"a", "b"}));
  auto e = troupe::make_function_ref<int>(ts.system(), "counter 7", troupe::target_name{&space, "7"}, [](int&&) {},
                                          troupe::new_actor_id(ts.system()));
  EXPECT_EQ(e, a);
  EXPECT_NE(e.id(), a.id());
}

TEST(Extension, AFunctionRefThatThrowsLosesOnlyThatMessage) {
  std::vector<int> seen;
  auto r = troupe::make_function_ref<int>([&seen](int&& n) {
    if (n < 0) throw std::invalid_argument("negative");
    seen.push_back(n);
  });
  r.tell(-1);
  r.tell(3);
  EXPECT_EQ(seen, std::vector<int>{3});
}

TEST(Extension, RequestStopFromOutsideStopsNormallyOrCrashesAsTheReasonSays) {
  troupe::testkit::test_system ts;
  auto st = std::make_shared<turn_state>();
  auto a = ts.spawn(turn_keeper(st));
  auto b = ts.spawn(turn_keeper(st));
  auto reasons = std::make_shared<std::vector<troupe::exit_reason>>();
  using watch_msg = std::variant<troupe::terminated>;
  ts.spawn(troupe::setup<watch_msg>([a, b, reasons](troupe::actor_context<watch_msg>& ctx) {
    ctx.watch(a);
    ctx.watch(b);
    return troupe::receive<watch_msg>([reasons](const troupe::terminated& t) { reasons->push_back(t.reason); });
  }));
  ts.run_until_idle();
  troupe::request_stop(a);
  troupe::request_stop(b, {troupe::exit_reason::kind::exception, "stopped from outside"});
  troupe::request_stop(troupe::any_ref{});  // ignored
  ts.run_until_idle();
  ASSERT_EQ(reasons->size(), 2u);
  int failures = 0;
  for (auto& r : *reasons) failures += r.is_failure() ? 1 : 0;
  EXPECT_EQ(failures, 1);
}

TEST(Extension, TimersOfAnActorAndOfItsSystemAreTheSystemsVirtualClock) {
  troupe::testkit::test_system ts;
  auto seen = std::make_shared<std::vector<bool>>();
  using timer_msg = std::variant<go>;
  ts.spawn(troupe::setup<timer_msg>([seen](troupe::actor_context<timer_msg>& ctx) {
    auto& timers = troupe::timers_of(ctx);
    timers.schedule_at(timers.now() + 30ms, [seen](bool fired) { seen->push_back(fired); });
    return troupe::receive<timer_msg>([](const go&) {});
  }));
  ts.run_until_idle();
  auto t0 = troupe::timers_of(ts.system()).now();
  ts.advance(30ms - 1ns);
  EXPECT_TRUE(seen->empty());
  ts.advance(1ns);
  EXPECT_EQ(*seen, std::vector<bool>{true});
  EXPECT_EQ(troupe::timers_of(ts.system()).now() - t0, 30ms);
}

TEST(Extension, ReportDeadLetterCountsItAndTellsSubscribersWhoWasTheRecipient) {
  troupe::testkit::test_system ts;
  auto letters = std::make_shared<std::vector<troupe::dead_letter>>();
  auto sub = ts.spawn(troupe::receive<troupe::dead_letter>([letters](const troupe::dead_letter& d) { letters->push_back(d); }));
  ts.system().subscribe_dead_letters(sub);
  using router_msg = std::variant<go>;
  auto r = ts.spawn(troupe::setup<router_msg>([](troupe::actor_context<router_msg>& ctx) {
    return troupe::receive<router_msg>([&ctx](const go&) { troupe::report_dead_letter<go>(ctx); });
  }));
  auto before = ts.system().dead_letter_count();
  r.tell(go{});
  ts.run_until_idle();
  EXPECT_EQ(ts.system().dead_letter_count(), before + 1);
  ASSERT_EQ(letters->size(), 1u);
  EXPECT_EQ(letters->at(0).recipient, r.id());
  EXPECT_NE(letters->at(0).message_type.find("go"), std::string::npos) << letters->at(0).message_type;
}

struct pooled : troupe::pool_allocated {
  explicit pooled(int v) : value(v) {}
  int value;
  char pad[40] = {};
};

TEST(Extension, NewActorIdIsAnAddressNoActorOfTheSystemHasOrGets) {
  troupe::testkit::test_system ts;
  auto before = ts.spawn(answering(1));
  auto fresh = troupe::new_actor_id(ts.system());
  auto after = ts.spawn(answering(2));
  EXPECT_EQ(fresh.node, 0u);  // local
  EXPECT_NE(fresh, before.id());
  EXPECT_NE(fresh, after.id());
  EXPECT_NE(fresh, troupe::new_actor_id(ts.system()));
  // A function ref under that address says so, as a test probe's does.
  auto sink = troupe::make_function_ref<int>([](int&&) {}, fresh);
  EXPECT_EQ(sink.id(), fresh);
}

TEST(Extension, APoolAllocatedTypeIsMadeAndFreedThroughTheMessagePool) {
  // The pool hands a block freed on this thread out again for the same size: the address shows
  // that new and delete went through it, not through malloc.
  auto* a = new pooled(1);
  void* where = a;
  delete a;
  auto* b = new pooled(2);
  if constexpr (!troupe_extension_test_sanitized) {
    EXPECT_EQ(static_cast<void*>(b), where);
  }
  EXPECT_EQ(b->value, 2);
  delete b;
}

}  // namespace

namespace deadline_test {
struct add {
  int n;
};
struct total {
  troupe::ref<int> reply_to;
};
using counter_msg = std::variant<add, total>;
using time_point = troupe::timer_service::clock::time_point;

// Sums its adds, and records the deadline each add was handled with (deadline_of_message).
troupe::behavior<counter_msg> counter(std::shared_ptr<std::vector<time_point>> seen) {
  return troupe::setup<counter_msg>([seen](troupe::actor_context<counter_msg>& ctx) {
    auto sum = std::make_shared<int>(0);
    return troupe::receive<counter_msg>(
        [&ctx, seen, sum](const add& a) {
          *sum += a.n;
          seen->push_back(troupe::deadline_of_message(ctx));
        },
        [sum](const total& t) { t.reply_to.tell(*sum); });
  });
}
}  // namespace deadline_test

TEST(Extension, TellBeforeDropsAMessageTakenAfterItsDeadlineUnhandledAsADeadLetter) {
  using namespace deadline_test;
  troupe::testkit::test_system ts;
  auto seen = std::make_shared<std::vector<time_point>>();
  auto c = ts.spawn(counter(seen));
  const auto t0 = ts.now();
  troupe::tell_before(c, add{1}, t0 + 10ms);   // taken after its deadline: dropped
  troupe::tell_before(c, add{2}, t0 + 1s);     // taken before it: handled
  c.tell(add{4});                              // no deadline: handled
  ts.clock().set_time(t0 + 20ms);              // the actor takes them only now
  auto sum = c.ask<int>([](troupe::ref<int> r) { return total{r}; }, 1s);
  ts.run_until_idle();
  EXPECT_EQ(sum.get().value(), 6);
  ASSERT_EQ(seen->size(), 2u);
  // The deadline it was told with, rounded up to a whole millisecond of the clock: never earlier.
  EXPECT_TRUE((*seen)[0] >= t0 + 1s && (*seen)[0] < t0 + 1001ms) << "the handler reads the deadline it was told with";
  EXPECT_EQ((*seen)[1], time_point::max()) << "a plain tell has none";
  auto dead = ts.dead_letters();
  ASSERT_EQ(dead.size(), 1u);
  EXPECT_EQ(dead[0].reason, troupe::dead_letter_reason::deadline_passed);
  EXPECT_NE(dead[0].message_type.find("add"), std::string::npos) << dead[0].message_type;
  EXPECT_STREQ(troupe::to_string(dead[0].reason), "deadline_passed");
}

TEST(Extension, AFunctionRefThatTakesADeadlineIsHandedTheAsksAndNoneForATell) {
  using namespace deadline_test;
  troupe::testkit::test_system ts;
  std::vector<time_point> handed;
  std::vector<troupe::ref<int>> kept;  // a request's reply_to dropped would end its ask at once
  auto front = troupe::make_function_ref<total>(ts.system(), "the front", [&](total&& t, time_point due) {
    handed.push_back(due);
    kept.push_back(t.reply_to);
  });
  const auto t0 = ts.now();
  auto timed = front.ask<int>([](troupe::ref<int> r) { return total{r}; }, 1500ms);
  auto endless = front.ask<int>([](troupe::ref<int> r) { return total{r}; }, troupe::infinity);
  front.tell(total{});
  ASSERT_EQ(handed.size(), 3u);
  // The ask's deadline, rounded up to a whole millisecond of the clock: never earlier.
  EXPECT_TRUE(handed[0] >= t0 + 1500ms && handed[0] < t0 + 1501ms);
  EXPECT_EQ(handed[1], time_point::max());
  EXPECT_EQ(handed[2], time_point::max());
  kept.clear();
}
