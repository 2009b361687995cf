// coroutine_actor_test.cpp: actors written as coroutines: they start, finish and crash like
// other actors; co_await ask suspends only the asking actor; a stop or a linked failure that
// arrives while the coroutine waits destroys its frame (its locals' destructors run); a watched
// actor's end wakes a receive that waits for it; many waiting coroutines hold no thread.
#include "troupe/otp/coroutine_actor.hpp"

#include <gtest/gtest.h>

#include <atomic>
#include <chrono>
#include <cstddef>
#include <dirent.h>
#include <fstream>
#include <iostream>
#include <memory>
#include <stdexcept>
#include <string>
#include <type_traits>
#include <unistd.h>
#include <variant>
#include <vector>

#include "core/target_actor.hpp"
#include "core/test_support.hpp"
#include "troupe/testkit/test_system.hpp"
#include "troupe/troupe.hpp"

namespace {

using namespace troupe_test;
using namespace std::chrono_literals;
using troupe::otp::coroutine;
using troupe_test::target_actor::target;
using troupe_test::target_actor::target_msg;

struct note {
  std::string text;
};
struct query {
  troupe::ref<int> reply_to;
};
using co_msg = std::variant<note, query, troupe::terminated, troupe::exit_signal>;
using co_context = troupe::otp::coroutine_context<co_msg>;
using log_queue = blocking_queue<std::string>;

// Stops `r` from inside an actor, as a parent or supervisor would.
template <class P>
void stop_from_an_actor(troupe::system& sys, const troupe::ref<P>& r) {
  sys.spawn(troupe::setup<int>([r](troupe::actor_context<int>& ctx) -> troupe::behavior<int> {
    ctx.stop(r);
    return troupe::stopped;
  }));
}

// A plain function coroutine: the protocol is deduced from its signature; `greeting` is a
// reference into the arguments stored with the actor.
coroutine<co_msg> greeter(co_context& self, const std::string& greeting, std::shared_ptr<log_queue> log) {
  for (;;) co_await self.receive([&](note&& n) { log->push(greeting + " " + n.text); });
}

TEST(CoroutineActor, ReceivesWithArgumentsStoredWithTheActor) {
  troupe::system sys(small_config());
  auto log = std::make_shared<log_queue>();
  auto r = sys.spawn(troupe::otp::coroutine_actor(greeter, std::string("hello"), log));
  r.tell(note{"world"});
  r.tell(note{"again"});
  EXPECT_EQ(log->pop(), "hello world");
  EXPECT_EQ(log->pop(), "hello again");
}

TEST(CoroutineActor, StopsNormallyWhenItsFunctionReturns) {
  troupe::system sys(small_config());
  auto r = sys.spawn(troupe::otp::coroutine_actor<co_msg>([](co_context& self) -> coroutine<co_msg> {
    co_await self.receive([](const note&) {});
  }));
  auto down = watch_from_outside(sys, r);
  r.tell(note{"last"});
  auto t = down->pop();
  ASSERT_TRUE(t);
  EXPECT_EQ(t->reason.what, troupe::exit_reason::kind::normal);
}

TEST(CoroutineActor, CrashesWithTheExceptionItsFunctionThrows) {
  troupe::system sys(small_config());
  auto r = sys.spawn(troupe::otp::coroutine_actor<co_msg>([](co_context& self) -> coroutine<co_msg> {
    co_await self.receive([](const note&) {});
    throw std::runtime_error("coroutine boom");
  }));
  auto down = watch_from_outside(sys, r);
  r.tell(note{"go"});
  auto t = down->pop();
  ASSERT_TRUE(t);
  EXPECT_EQ(t->reason.what, troupe::exit_reason::kind::exception);
  EXPECT_NE(t->reason.text.find("coroutine boom"), std::string::npos);
}

// --- co_await ask -----------------------------------------------------------------------------

TEST(CoroutineActor, AskYieldsTheReply) {
  troupe::system sys(small_config());
  auto log = std::make_shared<log_queue>();
  auto server = sys.spawn(target());
  sys.spawn(troupe::otp::coroutine_actor<co_msg>([log, server](co_context& self) -> coroutine<co_msg> {
    auto r = co_await self.ask<int>(server, [](troupe::ref<int> to) { return target_actor::get{to}; }, deadline);
    log->push(r ? "reply " + std::to_string(*r) : r.error().message());
  }));
  EXPECT_EQ(log->pop(), "reply 1");
}

TEST(CoroutineActor, AskDeducesTheReplyTypeFromTheMakersParameter) {
  troupe::system sys(small_config());
  auto log = std::make_shared<log_queue>();
  auto server = sys.spawn(target());
  sys.spawn(troupe::otp::coroutine_actor<co_msg>([log, server](co_context& self) -> coroutine<co_msg> {
    auto r = co_await self.ask(server, [](troupe::ref<int> to) { return target_actor::get{to}; }, deadline);
    static_assert(std::is_same_v<decltype(r), troupe::result<int>>);
    log->push(r ? "reply " + std::to_string(*r) : r.error().message());
  }));
  EXPECT_EQ(log->pop(), "reply 1");
}

// One worker: if an ask held the thread, the actor that must answer could never run.
struct hold {
  troupe::ref<int> reply_to;
};
struct release {};
using gate_msg = std::variant<hold, release>;
troupe::behavior<gate_msg> answer_on_release(std::vector<troupe::ref<int>> held) {
  return troupe::receive<gate_msg>(
      [held](const hold& h) mutable {
        held.push_back(h.reply_to);
        return answer_on_release(std::move(held));
      },
      [held](release) {
        for (const auto& r : held) r.tell(7);
        return answer_on_release({});
      });
}

TEST(CoroutineActor, AskSuspendsOnlyTheAskingActor) {
  troupe::system sys(small_config(1));
  auto log = std::make_shared<log_queue>();
  auto gatekeeper = sys.spawn(answer_on_release({}));
  auto asker = sys.spawn(troupe::otp::coroutine_actor<co_msg>([log, gatekeeper](co_context& self) -> coroutine<co_msg> {
    auto r = co_await self.ask<int>(gatekeeper, [](troupe::ref<int> to) { return hold{to}; }, deadline);
    log->push(r ? "asker got " + std::to_string(*r) : r.error().message());
  }));
  // Another actor on the same single worker runs while the asker waits, and releases it.
  auto releaser = sys.spawn(troupe::otp::coroutine_actor<co_msg>([log, gatekeeper](co_context& self) -> coroutine<co_msg> {
    co_await self.receive([](const note&) {});
    log->push("releaser ran");
    gatekeeper.tell(release{});
  }));
  (void)asker;
  releaser.tell(note{"go"});
  EXPECT_EQ(log->pop(), "releaser ran");
  EXPECT_EQ(log->pop(), "asker got 7");
}

TEST(CoroutineActor, AskYieldsTimeoutWhenTheReceiverNeverReplies) {
  troupe::system sys(small_config());
  auto log = std::make_shared<log_queue>();
  auto silent = sys.spawn(answer_on_release({}));
  sys.spawn(troupe::otp::coroutine_actor<co_msg>([log, silent](co_context& self) -> coroutine<co_msg> {
    auto r = co_await self.ask<int>(silent, [](troupe::ref<int> to) { return hold{to}; }, 20ms);
    log->push(r ? "reply" : r.error() == troupe::errc::timeout ? "timeout" : r.error().message());
  }));
  EXPECT_EQ(log->pop(), "timeout");
}

// co_await ask in virtual time: the deadline to the nanosecond, and the races at the deadline.

troupe::behavior<co_msg> asker_of(troupe::ref<gate_msg> server, std::shared_ptr<log_queue> log) {
  return troupe::otp::coroutine_actor<co_msg>([log, server](co_context& self) -> coroutine<co_msg> {
    for (int i = 0; i < 2; ++i) {
      auto r = co_await self.ask<int>(server, [](troupe::ref<int> to) { return hold{to}; }, 2s);
      log->push(r ? "reply " + std::to_string(*r) : r.error() == troupe::errc::timeout ? "timeout" : r.error().message());
    }
  });
}

TEST(CoroutineActor, AskTimesOutExactlyAtItsDeadlineInVirtualTime) {
  troupe::testkit::test_system ts;
  auto log = std::make_shared<log_queue>();
  auto server = ts.spawn(answer_on_release({}));
  ts.spawn(asker_of(server, log));
  ts.run_until_idle();
  ts.advance(2s - 1ns);
  EXPECT_EQ(log->drain(), std::vector<std::string>{});  // not a nanosecond early
  ts.advance(1ns);
  EXPECT_EQ(log->drain(), std::vector<std::string>{"timeout"});
  server.tell(release{});  // answers both asks: the first one's reply comes too late
  ts.run_until_idle();
  EXPECT_EQ(log->drain(), std::vector<std::string>{"reply 7"});
}

// The reply is on its way (queued to the asker) when the deadline passes: the reply wins and
// the timer, which fires after the ask completed, neither resumes the body nor ends the next ask.
TEST(CoroutineActor, AReplyThatArrivesAsTheAskDeadlinePassesWinsAndTheTimeoutIsDiscarded) {
  troupe::testkit::test_system ts;
  auto log = std::make_shared<log_queue>();
  auto server = ts.spawn(answer_on_release({}));
  ts.spawn(asker_of(server, log));
  ts.run_until_idle();
  ts.clock().set_time(ts.now() + 2s - 1ns);
  server.tell(release{});
  ASSERT_TRUE(ts.run_one());  // the server's turn (the only runnable actor): it replies
  EXPECT_EQ(log->size(), 0u);  // the asker has not run yet
  ts.clock().set_time(ts.now() + 1ns);  // the deadline passes as the reply waits in the mailbox
  while (ts.clock().fire_next_due()) {
  }
  ts.run_until_idle();
  EXPECT_EQ(log->drain(), std::vector<std::string>{"reply 7"});
  ts.advance(2s - 1ns);  // the second ask has its full two seconds
  EXPECT_EQ(log->drain(), std::vector<std::string>{});
  ts.advance(1ns);
  EXPECT_EQ(log->drain(), std::vector<std::string>{"timeout"});
}

TEST(CoroutineActor, AskYieldsReceiverDeadWhenTheReceiverStopsBeforeReplying) {
  troupe::system sys(small_config());
  auto log = std::make_shared<log_queue>();
  auto server = sys.spawn(target());
  sys.spawn(troupe::otp::coroutine_actor<co_msg>([log, server](co_context& self) -> coroutine<co_msg> {
    server.tell(target_actor::quit{});  // handled first: the request then dies in its mailbox
    auto r = co_await self.ask<int>(server, [](troupe::ref<int> to) { return target_actor::get{to}; }, deadline);
    log->push(r ? "reply" : r.error() == troupe::errc::receiver_dead ? "receiver dead" : r.error().message());
    // An actor already dead is answered at once, the same way.
    r = co_await self.ask<int>(server, [](troupe::ref<int> to) { return target_actor::get{to}; }, deadline);
    log->push(r ? "reply" : r.error() == troupe::errc::receiver_dead ? "receiver dead" : r.error().message());
  }));
  EXPECT_EQ(log->pop(), "receiver dead");
  EXPECT_EQ(log->pop(), "receiver dead");
}

// Tells the asker three notes, then replies: from one sender, so they arrive before the reply.
struct chatty_request {
  troupe::ref<co_msg> asker;
  troupe::ref<int> reply_to;
};
troupe::behavior<chatty_request> chatty_server() {
  return troupe::receive<chatty_request>([](const chatty_request& r) {
    for (const char* t : {"1", "2", "3"}) r.asker.tell(note{t});
    r.reply_to.tell(7);
  });
}

TEST(CoroutineActor, MessagesArrivingDuringAnAskAreSavedInOrderWithoutAScan) {
  troupe::system sys(small_config());
  auto log = std::make_shared<log_queue>();
  auto server = sys.spawn(chatty_server());
  sys.spawn(troupe::otp::coroutine_actor<co_msg>([log, server](co_context& self) -> coroutine<co_msg> {
    auto before = self.scans();
    // Named, not a temporary inside the co_await: it holds a ref (see detail::safe_in_co_await).
    auto request = [me = self.self()](troupe::ref<int> to) { return chatty_request{me, to}; };
    auto reply = co_await self.ask<int>(server, request, deadline);
    if (!reply) log->push(reply.error().message());
    log->push("reply " + std::to_string(reply.value()) + ", saved " + std::to_string(self.saved()) + ", scans " +
              std::to_string(self.scans() - before));
    for (int i = 0; i < 3; ++i) co_await self.receive([&](note&& n) { log->push(n.text); });
  }));
  EXPECT_EQ(log->pop(), "reply 7, saved 3, scans 0");
  for (const char* expected : {"1", "2", "3"}) EXPECT_EQ(log->pop(), expected);
}

// --- signals while waiting --------------------------------------------------------------------

TEST(CoroutineActor, AStopWhileReceivingDestroysTheFrameAndRunsItsLocalsDestructors) {
  troupe::system sys(small_config());
  auto log = std::make_shared<log_queue>();
  std::atomic<long> live{0};
  auto r = sys.spawn(troupe::otp::coroutine_actor<co_msg>([log, &live](co_context& self) -> coroutine<co_msg> {
    tracked local(live);
    auto note_on_exit = std::make_unique<destroy_note>(log, "frame destroyed");
    log->push("waiting");
    co_await self.receive([](const note&) {});
    log->push("resumed (wrong)");
  }));
  auto down = watch_from_outside(sys, r);
  EXPECT_EQ(log->pop(), "waiting");
  EXPECT_EQ(live.load(), 1);
  stop_from_an_actor(sys, r);
  EXPECT_EQ(log->pop(), "frame destroyed");
  auto t = down->pop();
  ASSERT_TRUE(t);
  EXPECT_EQ(t->reason.what, troupe::exit_reason::kind::normal);
  EXPECT_EQ(live.load(), 0);
  EXPECT_EQ(log->size(), 0u);
}

TEST(CoroutineActor, AStopWhileAskingDestroysTheFrameAndTheLateReplyIsDropped) {
  troupe::system sys(small_config());
  auto log = std::make_shared<log_queue>();
  auto gatekeeper = sys.spawn(answer_on_release({}));
  auto r = sys.spawn(troupe::otp::coroutine_actor<co_msg>([log, gatekeeper](co_context& self) -> coroutine<co_msg> {
    auto note_on_exit = std::make_unique<destroy_note>(log, "frame destroyed");
    log->push("asking");
    auto reply = co_await self.ask<int>(gatekeeper, [](troupe::ref<int> to) { return hold{to}; },
                                        troupe::infinity);
    log->push("resumed (wrong)");
  }));
  auto down = watch_from_outside(sys, r);
  EXPECT_EQ(log->pop(), "asking");
  stop_from_an_actor(sys, r);
  EXPECT_EQ(log->pop(), "frame destroyed");
  ASSERT_TRUE(down->pop());
  gatekeeper.tell(release{});  // the reply reaches a stopped actor: dropped, nothing resumes
  auto probe = std::make_shared<blocking_queue<int>>();
  gatekeeper.tell(hold{spawn_probe<int>(sys, probe)});
  gatekeeper.tell(release{});
  EXPECT_EQ(probe->pop(), 7);  // the release was handled, and the stopped coroutine stayed quiet
  EXPECT_EQ(log->size(), 0u);
}

TEST(CoroutineActor, ALinkedFailureWhileWaitingStopsTheActorAndDestroysTheFrame) {
  troupe::system sys(small_config());
  auto log = std::make_shared<log_queue>();
  auto partner = sys.spawn(target());
  auto r = sys.spawn(troupe::otp::coroutine_actor<co_msg>([log, partner](co_context& self) -> coroutine<co_msg> {
    auto note_on_exit = std::make_unique<destroy_note>(log, "frame destroyed");
    self.actor().link(partner);
    log->push("linked");
    co_await self.receive([](const note&) {});
    log->push("resumed (wrong)");
  }));
  auto down = watch_from_outside(sys, r);
  EXPECT_EQ(log->pop(), "linked");
  partner.tell(target_actor::crash{});
  EXPECT_EQ(log->pop(), "frame destroyed");
  auto t = down->pop();
  ASSERT_TRUE(t);
  EXPECT_EQ(t->reason.what, troupe::exit_reason::kind::linked);
}

TEST(CoroutineActor, ADownWhileWaitingWakesAReceiveThatMatchesIt) {
  troupe::system sys(small_config());
  auto log = std::make_shared<log_queue>();
  auto watched = sys.spawn(target());
  sys.spawn(troupe::otp::coroutine_actor<co_msg>([log, watched](co_context& self) -> coroutine<co_msg> {
    self.actor().watch(watched);
    log->push("watching");
    auto got = co_await self.receive([](troupe::terminated&& t) { return t.reason.describe(); },
                                     troupe::otp::after(deadline));
    log->push(got ? "down: " + *got : "timeout");
  }));
  EXPECT_EQ(log->pop(), "watching");
  watched.tell(target_actor::crash{});
  auto line = log->pop();
  ASSERT_TRUE(line);
  EXPECT_EQ(line->rfind("down: exception", 0), 0u) << *line;
}

TEST(CoroutineActor, ATrappedExitWhileWaitingWakesAReceiveThatMatchesIt) {
  troupe::system sys(small_config());
  auto log = std::make_shared<log_queue>();
  auto partner = sys.spawn(target());
  sys.spawn(troupe::otp::coroutine_actor<co_msg>([log, partner](co_context& self) -> coroutine<co_msg> {
    self.actor().trap_exits();
    self.actor().link(partner);
    log->push("trapping");
    auto got = co_await self.receive([](troupe::exit_signal&& e) { return e.reason.describe(); });
    log->push("exit: " + got);
  }));
  EXPECT_EQ(log->pop(), "trapping");
  partner.tell(target_actor::crash{});
  auto line = log->pop();
  ASSERT_TRUE(line);
  EXPECT_EQ(line->rfind("exit: exception", 0), 0u) << *line;
}

TEST(CoroutineActor, AnAskLeftInTheSaveQueueCompletesWhenTheActorStops) {
  troupe::system sys(small_config());
  auto log = std::make_shared<log_queue>();
  auto r = sys.spawn(troupe::otp::coroutine_actor<co_msg>([log](co_context& self) -> coroutine<co_msg> {
    co_await self.receive([&](const note&) { log->push("saved " + std::to_string(self.saved())); });
    co_await self.receive([](const note&) {});  // never comes: the query stays saved
  }));
  auto answer = r.ask<int>([](troupe::ref<int> to) { return query{to}; }, deadline);
  r.tell(note{"count"});
  EXPECT_EQ(log->pop(), "saved 1");
  stop_from_an_actor(sys, r);
  auto result = await(std::move(answer));
  ASSERT_FALSE(result);
  EXPECT_EQ(result.error(), troupe::errc::receiver_dead);
}

// --- cost -------------------------------------------------------------------------------------

std::size_t thread_count() {
  std::size_t n = 0;
  if (DIR* d = opendir("/proc/self/task")) {
    while (auto* e = readdir(d))
      if (e->d_name[0] != '.') ++n;
    closedir(d);
  }
  return n;
}
long resident_bytes() {
  std::ifstream statm("/proc/self/statm");
  long pages = 0, resident = 0;
  statm >> pages >> resident;
  return resident * sysconf(_SC_PAGESIZE);
}

coroutine<co_msg> idle_answerer(co_context& self) {
  for (;;) co_await self.receive([](const query& q) { q.reply_to.tell(1); });
}

TEST(CoroutineActor, ManyWaitingCoroutinesHoldNoThreads) {
  constexpr int n = sanitized ? 2000 : 20000;
  troupe::system sys(small_config());
  auto sum = std::make_shared<std::atomic<int>>(0);
  auto counter = sys.spawn(troupe::receive<int>([sum](int v) { sum->fetch_add(v, std::memory_order_relaxed); }));
  const auto threads_before = thread_count();
  const auto rss_before = resident_bytes();
  std::vector<troupe::ref<co_msg>> actors;
  actors.reserve(n);
  for (int i = 0; i < n; ++i) actors.push_back(sys.spawn(troupe::otp::coroutine_actor(idle_answerer)));
  for (auto& a : actors) a.tell(query{counter});  // each runs its setup, then answers
  ASSERT_TRUE(wait_until([&] { return sum->load(std::memory_order_relaxed) == n; }));
  const auto per_actor = (resident_bytes() - rss_before) / n;
  EXPECT_EQ(thread_count(), threads_before);  // every one is waiting in a receive now
  std::cout << "[ info     ] " << n << " waiting coroutine actors, about " << per_actor
            << " resident bytes each (control block, context, frame, refs held by the test)\n";
  if (!sanitized) {
    EXPECT_LT(per_actor, 2048);
  }
}

}  // namespace
