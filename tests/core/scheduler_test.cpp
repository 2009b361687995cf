// scheduler_test.cpp: how actors get threads: fairness under a flood, the blocking pool and its
// late start, idle workers parking, a LIFO slot that a blocked turn cannot keep, a plugged-in
// scheduler's thread hooks, the watchdog that reports a handler holding a worker too long, and a
// spread flood whose receivers start when its turn ends.
#include "troupe/core/scheduler.hpp"

#include <dirent.h>
#include <gtest/gtest.h>

#include <fstream>
#include <mutex>
#include <sstream>
#include <string>
#include <variant>
#include <vector>

#include "test_support.hpp"
#include "troupe/troupe.hpp"

namespace {

using namespace troupe_test;

struct hold {
  std::shared_ptr<gate> entered, release;
};
struct work {};
using flood_msg = std::variant<hold, work>;

TEST(Scheduler, AFloodedActorDoesNotStarveAnother) {
  auto cfg = small_config(1);  // one worker: the two actors must share it
  cfg.messages_per_turn = 16;
  troupe::system sys{cfg};
  constexpr std::size_t flood = 1'000'000;
  auto handled = std::make_shared<std::atomic<std::size_t>>(0);
  auto flooded = sys.spawn(troupe::receive<flood_msg>(
      [](const hold& h) {
        h.entered->open();
        h.release->wait();
      },
      [handled](work) {
        handled->fetch_add(1, std::memory_order_relaxed);  // relaxed: a progress count, read by a peer
      }));
  struct how_far {
    troupe::ref<std::size_t> reply_to;
  };
  auto other = sys.spawn(troupe::receive<how_far>([handled](const how_far& h) {
    h.reply_to.tell(handled->load(std::memory_order_relaxed));
  }));

  // Queue the whole flood while the flooded actor holds the only worker, then ask the other.
  auto entered = std::make_shared<gate>(), release = std::make_shared<gate>();
  flooded.tell(hold{entered, release});
  ASSERT_TRUE(entered->wait());
  for (std::size_t i = 0; i < flood; ++i) flooded.tell(work{});
  auto answer = other.ask<std::size_t>([](troupe::ref<std::size_t> r) { return how_far{r}; }, deadline);
  release->open();

  auto progress = await(std::move(answer));
  ASSERT_TRUE(progress.has_value()) << progress.error().message();
  // The other actor got its turn long before the flood was drained (after about
  // messages_per_turn times a few dozen turns, not after a million messages).
  EXPECT_LT(*progress, flood / 10) << "the flood had " << *progress << " of " << flood << " messages handled";
  EXPECT_TRUE(wait_until([&] { return handled->load() == flood; }));
}

TEST(Scheduler, ABlockingActorRunsOnTheBlockingPool) {
  troupe::system sys{small_config()};
  struct where {
    troupe::ref<std::string> reply_to;
  };
  auto behaviour = [] {
    return troupe::receive<where>([](const where& w) { w.reply_to.tell(current_thread_name()); });
  };
  auto blocking = sys.spawn(behaviour(), {.blocking = true});
  auto normal = sys.spawn(behaviour());
  auto ask_where = [](const troupe::ref<where>& r) {
    return await(r.ask<std::string>([](troupe::ref<std::string> reply) { return where{reply}; }, deadline)).value();
  };
  for (int i = 0; i < 10; ++i) {
    auto b = ask_where(blocking);
    auto n = ask_where(normal);
    EXPECT_EQ(b.rfind("troupe-b", 0), 0u) << b;
    EXPECT_EQ(n.rfind("troupe-w", 0), 0u) << n;
  }
}

TEST(Scheduler, ABlockedBlockingActorDoesNotHoldUpTheWorkers) {
  auto cfg = small_config(1);
  troupe::system sys{cfg};
  struct ping {
    troupe::ref<int> reply_to;
  };
  auto blocker = sys.spawn(troupe::receive<hold>([](const hold& h) {
                             h.entered->open();
                             h.release->wait();
                           }),
                           {.blocking = true});
  auto responsive = sys.spawn(troupe::receive<ping>([](const ping& p) { p.reply_to.tell(1); }));
  auto entered = std::make_shared<gate>(), release = std::make_shared<gate>();
  blocker.tell(hold{entered, release});
  ASSERT_TRUE(entered->wait());
  EXPECT_EQ(await(responsive.ask<int>([](troupe::ref<int> r) { return ping{r}; }, deadline)).value(), 1);
  release->open();
}

// The scheduling state ('R' running, 'S' sleeping, ...) of each thread of this process whose
// name starts with `prefix`.
std::vector<char> thread_states(const std::string& prefix) {
  std::vector<char> states;
  DIR* dir = opendir("/proc/self/task");
  if (dir == nullptr) return states;
  while (auto* entry = readdir(dir)) {
    std::string tid = entry->d_name;
    if (tid == "." || tid == "..") continue;
    std::ifstream comm("/proc/self/task/" + tid + "/comm");
    std::string name;
    std::getline(comm, name);
    if (name.rfind(prefix, 0) != 0) continue;
    std::ifstream stat("/proc/self/task/" + tid + "/stat");
    std::string line;
    std::getline(stat, line);
    auto close = line.rfind(')');  // the name may hold spaces; the state follows the last ')'
    if (close == std::string::npos || close + 2 >= line.size()) continue;
    states.push_back(line[close + 2]);
  }
  closedir(dir);
  return states;
}

TEST(Scheduler, WorkersParkWhenTheSystemIsIdle) {
  auto cfg = small_config(3);
  cfg.blocking_threads = 2;
  troupe::system sys{cfg};
  // Some work first, so that every worker has been awake.
  struct echo {
    troupe::ref<int> reply_to;
  };
  std::vector<troupe::ref<echo>> actors;
  for (int i = 0; i < 20; ++i)
    actors.push_back(sys.spawn(troupe::receive<echo>([](const echo& e) { e.reply_to.tell(1); }), {.blocking = i % 2 == 0}));
  for (int round = 0; round < 10; ++round)
    for (auto& a : actors) EXPECT_EQ(await(a.ask<int>([](troupe::ref<int> r) { return echo{r}; }, deadline)).value(), 1);

  auto all_sleeping = [] {
    auto states = thread_states("troupe-");
    if (states.size() != 5) return false;
    for (char s : states)
      if (s != 'S') return false;
    return true;
  };
  ASSERT_EQ(thread_states("troupe-w").size(), 3u);
  ASSERT_EQ(thread_states("troupe-b").size(), 2u);
  // Parked, not spinning: a spinning worker shows 'R' nearly every time it is sampled, so
  // demand a long run of samples in which every worker sleeps.
  int consecutive = 0;
  ASSERT_TRUE(wait_until([&] {
    consecutive = all_sleeping() ? consecutive + 1 : 0;
    return consecutive >= 200;
  })) << "the workers never all stayed asleep";
}

TEST(Scheduler, ADefaultSystemStartsTheBlockingPoolWithTheFirstBlockingActor) {
  troupe::system sys;  // the defaults, as a user gets them
  struct echo {
    troupe::ref<int> reply_to;
  };
  auto echo_behaviour = [] { return troupe::receive<echo>([](const echo& e) { e.reply_to.tell(1); }); };
  auto ask_echo = [](const troupe::ref<echo>& r) {
    return await(r.ask<int>([](troupe::ref<int> reply) { return echo{reply}; }, deadline)).value();
  };
  auto normal = sys.spawn(echo_behaviour());
  EXPECT_EQ(ask_echo(normal), 1);
  EXPECT_FALSE(thread_states("troupe-w").empty());
  EXPECT_EQ(thread_states("troupe-b").size(), 0u) << "blocking threads before any blocking actor";

  // The spawn starts the pool before it returns (the threads are named as they are created), so
  // counting right after it needs no waiting.
  auto blocking = sys.spawn(echo_behaviour(), {.blocking = true});
  const auto expected = troupe::system_config{}.blocking_threads;
  EXPECT_EQ(thread_states("troupe-b").size(), expected);
  EXPECT_EQ(ask_echo(blocking), 1);
  auto another = sys.spawn(echo_behaviour(), {.blocking = true});
  EXPECT_EQ(ask_echo(another), 1);
  EXPECT_EQ(thread_states("troupe-b").size(), expected) << "a second blocking actor started the pool again";
}

// A scheduler of the test's own, driven by the test thread as the test kit's is, that sees the
// sends of the turns it runs through the public seam (scheduler::thread_hooks): it counts the
// tells queued for actors already scheduled, and while `hold` is set it takes every tell and
// pushes them as one batch when the turn ends, as the work-stealing scheduler does with floods.
class hooked_scheduler final : public troupe::scheduler, troupe::scheduler::thread_hooks {
 public:
  void schedule(troupe::schedulable& actor, schedule_hint) noexcept override {
    std::lock_guard lock(mu_);
    ready_.push_back(&actor);
  }
  void start() override {}
  void stop() noexcept override {}
  void run_while_waiting() override { run_until_idle(); }
  void run_until_idle() {
    set_thread_hooks(this);
    for (;;) {
      troupe::schedulable* c = nullptr;
      {
        std::lock_guard lock(mu_);
        if (ready_.empty()) break;
        c = ready_.front();
        ready_.erase(ready_.begin());
      }
      bool again = c->run_turn(64);
      flush();  // before the actor can run again
      if (again) schedule(*c, schedule_hint::yielded);
    }
    set_thread_hooks(nullptr);
  }

  bool hold_send(troupe::schedulable& target, troupe::held_message* m) noexcept override {
    if (!hold) return false;
    if (held_for_ != &target) {
      flush();
      target.retain();  // the sender's ref may be gone before the batch goes out
      held_for_ = &target;
      first_ = m;
    } else {
      last_->set_next(m);
    }
    m->set_next(nullptr);
    last_ = m;
    ++held;
    return true;
  }
  void flush_sends_to(troupe::schedulable& target) noexcept override {
    if (held_for_ == &target) flush();
  }
  void queued_send() noexcept override { ++queued; }
  bool idle_but_for_this_turn() const noexcept override { return false; }

  bool hold = false;
  int held = 0, batches = 0, queued = 0;  // the test thread's, like everything here

 private:
  void flush() noexcept {
    auto* target = std::exchange(held_for_, nullptr);
    if (target == nullptr) return;
    troupe::push_batch(*target, first_, last_);
    ++batches;
    target->release_ref();
  }

  std::mutex mu_;
  std::vector<troupe::schedulable*> ready_;  // guarded by mu_
  troupe::schedulable* held_for_ = nullptr;
  troupe::held_message* first_ = nullptr;
  troupe::held_message* last_ = nullptr;
};

TEST(Scheduler, APluggedInSchedulerSeesTheSendsOfItsTurnsThroughThreadHooks) {
  auto sched = std::make_shared<hooked_scheduler>();
  auto cfg = small_config();
  cfg.scheduler = sched;
  troupe::system sys{cfg};
  auto got = std::make_shared<std::vector<int>>();  // written on the test thread only
  auto sink = sys.spawn(troupe::receive<int>([got](int n) { got->push_back(n); }));
  struct burst {
    troupe::ref<int> to;
  };
  auto source = sys.spawn(troupe::receive<burst>([](const burst& b) {
    for (int i = 0; i < 5; ++i) b.to.tell(i);
  }));

  // Pushed one by one: the first tell wakes the sink, the other four find it scheduled.
  source.tell(burst{sink});
  sched->run_until_idle();
  EXPECT_EQ(sched->queued, 4);
  EXPECT_EQ(sched->held, 0);

  // Held by the hooks and pushed as one batch at the end of the turn, in order.
  sched->hold = true;
  source.tell(burst{sink});
  sched->run_until_idle();
  EXPECT_EQ(sched->held, 5);
  EXPECT_EQ(sched->batches, 1);
  EXPECT_EQ(*got, (std::vector<int>{0, 1, 2, 3, 4, 0, 1, 2, 3, 4}));
  // The test thread has no hooks: its tells are pushed at once, never offered.
  sink.tell(9);
  EXPECT_EQ(sched->held, 5);
  sched->run_until_idle();
  EXPECT_EQ(got->back(), 9);
}

TEST(Scheduler, TheWatchdogReportsAHandlerThatHoldsAWorkerTooLong) {
  struct log_sink {
    std::mutex mu;
    std::vector<std::pair<troupe::log_level, std::string>> lines;  // guarded by mu
    gate warned;
  };
  auto sink = std::make_shared<log_sink>();
  auto cfg = small_config(2);
  cfg.long_turn_threshold = std::chrono::milliseconds{50};
  cfg.logger = [sink](troupe::log_level level, std::string_view text) {
    {
      std::lock_guard lock(sink->mu);
      sink->lines.emplace_back(level, std::string(text));
    }
    if (text.find("'sloth'") != std::string_view::npos) sink->warned.open();
  };
  troupe::system sys{cfg};
  auto entered = std::make_shared<gate>(), release = std::make_shared<gate>();
  auto sloth = sys.spawn(troupe::receive<hold>([](const hold& h) {
                           h.entered->open();
                           h.release->wait();  // released only once the warning is out
                         }),
                         {.name = "sloth"});
  sloth.tell(hold{entered, release});
  ASSERT_TRUE(entered->wait());
  const bool warned = sink->warned.wait();
  release->open();
  ASSERT_TRUE(warned) << "no long-turn warning naming the actor";
  std::lock_guard lock(sink->mu);
  bool found = false;
  for (auto& [level, text] : sink->lines) {
    if (text.find("'sloth'") == std::string::npos) continue;
    found = true;
    EXPECT_EQ(level, troupe::log_level::warning);
    EXPECT_NE(text.find("held a worker thread"), std::string::npos) << text;
    EXPECT_NE(text.find("#" + std::to_string(sloth.id().serial)), std::string::npos) << text;
  }
  EXPECT_TRUE(found);
}

TEST(Scheduler, ATurnThatBlocksDoesNotHoldTheActorItWoke) {
  auto cfg = small_config(2);
  cfg.long_turn_threshold = std::chrono::milliseconds{20};  // its samples wake a parked thief
  cfg.logger = [](troupe::log_level, std::string_view) {};  // the long turn is the point here
  troupe::system sys{cfg};
  using open_msg = std::shared_ptr<gate>;
  struct wake_and_wait {
    troupe::ref<open_msg> other;
    std::shared_ptr<gate> opened, done;
  };
  auto opener = sys.spawn(troupe::receive<open_msg>([](const open_msg& g) { g->open(); }));
  auto waiter = sys.spawn(troupe::receive<wake_and_wait>([](const wake_and_wait& m) {
    m.other.tell(m.opened);                // wakes the idle opener into this worker's LIFO slot
    if (m.opened->wait()) m.done->open();  // and blocks until it has run on the other worker
  }));
  auto started = std::make_shared<gate>();
  opener.tell(started);  // the opener has run once and is idle again when the waiter wakes it
  ASSERT_TRUE(started->wait());
  auto opened = std::make_shared<gate>(), done = std::make_shared<gate>();
  waiter.tell(wake_and_wait{opener, opened, done});
  EXPECT_TRUE(done->wait()) << "the woken actor waited behind the blocked turn";
}

// A turn that sends round-robin to many actors (a spread flood) keeps the actors it wakes until
// it ends: run beside it, on the other worker, they would pull the cache lines of its messages
// back and forth (fjthroughput ran twice as long on two workers as on one). Then they all run.
TEST(Scheduler, ASpreadFloodStartsTheActorsItWakesWhenItsTurnEnds) {
  troupe::system sys{small_config(2)};
  constexpr int receivers = 4;
  auto ran = std::make_shared<std::atomic<int>>(0);
  std::vector<troupe::ref<int>> sinks, woken;
  for (int i = 0; i < 8; ++i) sinks.push_back(sys.spawn(troupe::receive<int>([](int) {})));
  for (int i = 0; i < receivers; ++i)
    woken.push_back(sys.spawn(troupe::receive<int>([ran](int) { ran->fetch_add(1); })));
  auto during = std::make_shared<std::atomic<int>>(-1);
  auto flooder = sys.spawn(troupe::receive<int>([=](int) {
    for (int i = 0; i < 256; ++i) sinks[static_cast<std::size_t>(i) % sinks.size()].tell(i);  // round-robin
    for (auto& r : woken) r.tell(1);  // each idle: woken now, after the 256th send
    // Give the other worker every chance to run them now: it may not.
    auto until = std::chrono::steady_clock::now() + std::chrono::milliseconds{100};
    while (ran->load() == 0 && std::chrono::steady_clock::now() < until) std::this_thread::yield();
    during->store(ran->load());
  }));
  // The receivers are idle (they have run once and wait) before the flood wakes them.
  for (auto& r : woken) r.tell(0);
  ASSERT_TRUE(wait_until([&] { return ran->load() == receivers; }));
  ran->store(0);
  flooder.tell(0);
  ASSERT_TRUE(wait_until([&] { return during->load() >= 0; }));
  EXPECT_EQ(during->load(), 0) << "a receiver ran on the other worker while the flood's turn still ran";
  EXPECT_TRUE(wait_until([&] { return ran->load() == receivers; }));
}

}  // namespace
