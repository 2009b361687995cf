// actor_observer_test.cpp: the optional hook that sees actors' spawns, timers, new behaviours
// and stops, on a real multi-threaded system; an observer that throws fails the spawn it was told of
// and leaves nothing of that actor behind.
#include "troupe/core/actor_observer.hpp"

#include <gtest/gtest.h>

#include <algorithm>
#include <atomic>
#include <mutex>
#include <stdexcept>
#include <string>
#include <vector>

#include "test_support.hpp"
#include "troupe/troupe.hpp"

namespace {

using namespace troupe_test;

class recording_observer final : public troupe::actor_observer {
 public:
  void spawned(const troupe::observed_actor* parent, const troupe::observed_actor& child) override {
    add(parent == nullptr ? "spawned top-level" : "spawned child");
    // The public view gives a typed ref back, and refuses a wrong protocol.
    if (child.ref_as<int>().has_value() && !child.ref_as<std::string>().has_value()) add("ref_as");
  }
  void timer_started(const troupe::observed_actor&, std::string_view key, std::chrono::nanoseconds, troupe::timer_mode) override {
    add("timer " + std::string(key));
  }
  void timer_cancelled(const troupe::observed_actor&, std::string_view key) override { add("cancel " + std::string(key)); }
  void became(const troupe::observed_actor&) override { add("became"); }
  void stopped(const troupe::observed_actor&, const troupe::exit_reason& r) override {
    add(r.is_failure() ? "stopped failed" : "stopped");
  }
  std::vector<std::string> events() {
    std::lock_guard lock(mu_);
    return events_;
  }

 private:
  void add(std::string e) {
    std::lock_guard lock(mu_);
    events_.push_back(std::move(e));
  }
  std::mutex mu_;
  std::vector<std::string> events_;  // guarded by mu_
};

troupe::behavior<int> counting(int n) {
  return troupe::receive<int>([n](int m) {
    if (m < 0) return troupe::behavior<int>(troupe::stopped);
    return counting(n + m);
  });
}

// Keeps what an observer is told past the call, as a test kit does with the children it sees.
class handle_keeper final : public troupe::actor_observer {
 public:
  void spawned(const troupe::observed_actor*, const troupe::observed_actor& child) override {
    std::lock_guard lock(mu_);
    handles_.push_back(child.handle());
  }
  std::vector<troupe::any_ref> handles() {
    std::lock_guard lock(mu_);
    return handles_;
  }

 private:
  std::mutex mu_;
  std::vector<troupe::any_ref> handles_;  // guarded by mu_
};

TEST(ActorObserver, AHandleKeptPastTheCallGivesBackTheActorUnderItsOwnProtocolOnly) {
  auto keeper = std::make_shared<handle_keeper>();
  auto cfg = small_config();
  cfg.observer = keeper;
  troupe::system sys{cfg};
  auto c = sys.spawn(counting(0));  // the observer is told inside spawn, on this thread
  auto handles = keeper->handles();
  ASSERT_EQ(handles.size(), 1u);
  EXPECT_EQ(handles[0].id(), c.id());
  EXPECT_TRUE(handles[0].speaks<int>());
  auto typed = handles[0].as<int>();
  ASSERT_TRUE(typed.has_value());
  EXPECT_EQ(*typed, c);
  auto wrong = handles[0].as<std::string>();
  ASSERT_FALSE(wrong.has_value());
  EXPECT_EQ(wrong.error().code(), troupe::errc::wrong_protocol);
  auto end = watch_from_outside(sys, c);
  c.tell(-1);
  ASSERT_TRUE(end->pop().has_value());
  EXPECT_TRUE(handles[0].has_stopped());  // the handle outlived the actor, as a ref does
}

TEST(ActorObserver, SeesSpawnsTimersNewBehavioursAndStops) {
  auto observer = std::make_shared<recording_observer>();
  auto cfg = small_config();
  cfg.observer = observer;
  troupe::system sys{cfg};
  auto parent = sys.spawn(troupe::setup<int>([](troupe::actor_context<int>& ctx) {
    ctx.spawn(counting(0));
    ctx.start_timer("t", 1, std::chrono::hours(1));
    ctx.cancel_timer("t");
    return counting(0);
  }));
  auto end = watch_from_outside(sys, parent);
  parent.tell(1);
  parent.tell(-1);
  ASSERT_TRUE(end->pop().has_value());
  auto events = observer->events();
  auto has = [&](const std::string& e) { return std::find(events.begin(), events.end(), e) != events.end(); };
  EXPECT_TRUE(has("spawned top-level"));
  EXPECT_TRUE(has("spawned child"));
  EXPECT_TRUE(has("ref_as"));
  EXPECT_TRUE(has("timer t"));
  EXPECT_TRUE(has("cancel t"));
  EXPECT_TRUE(has("became"));
  // The child and the parent (and, perhaps already, the watcher that reported the parent's end).
  EXPECT_GE(std::count(events.begin(), events.end(), "stopped"), 2);
}

// Throws from spawned() while armed: what a faulty observer does.
class refusing_observer final : public troupe::actor_observer {
 public:
  void spawned(const troupe::observed_actor*, const troupe::observed_actor&) override {
    if (armed.exchange(false)) throw std::runtime_error("observer refused");
  }
  std::atomic<bool> armed{false};
};

TEST(ActorObserver, AThrowingObserverFailsATopLevelSpawnAndLeavesNeitherTheActorNorItsName) {
  auto observer = std::make_shared<refusing_observer>();
  auto cfg = small_config();
  cfg.observer = observer;
  troupe::system sys{cfg};
  observer->armed = true;
  EXPECT_THROW(sys.spawn(counting(0), {.name = "refused"}), std::runtime_error);
  EXPECT_FALSE(sys.lookup<int>("refused").has_value());
  auto again = sys.spawn(counting(0), {.name = "refused"});  // the name is free again
  EXPECT_EQ(*sys.lookup<int>("refused"), again);
  sys.shutdown();  // before the fix: shutdown stopped the freed actor still listed (ASan)
  EXPECT_TRUE(troupe::any_ref(again).has_stopped());
}

TEST(ActorObserver, AThrowingObserverFailsAChildSpawnAndItsParentStillStops) {
  auto observer = std::make_shared<refusing_observer>();
  auto cfg = small_config();
  cfg.observer = observer;
  troupe::system sys{cfg};
  auto refused = std::make_shared<blocking_queue<bool>>();
  auto parent = sys.spawn(troupe::setup<int>([observer, refused](troupe::actor_context<int>& ctx) {
    return troupe::receive<int>([observer, refused, &ctx](int n) {
      if (n < 0) return troupe::behavior<int>(troupe::stopped);
      observer->armed = true;
      try {
        ctx.spawn(counting(0));
        refused->push(false);
      } catch (const std::runtime_error&) {
        refused->push(true);
      }
      return troupe::behavior<int>(troupe::same);
    });
  }));
  auto end = watch_from_outside(sys, parent);
  parent.tell(1);
  ASSERT_EQ(refused->pop(), std::optional<bool>(true));
  parent.tell(-1);
  // Before the fix the parent waited for the end of a child that never was (or reached it freed).
  EXPECT_TRUE(end->pop().has_value());
}

}  // namespace
