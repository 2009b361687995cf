// behavior_test_kit.hpp: one behaviour, run message by message, and what it did.
// The kit spawns the behaviour in its own test_system and records the actor's effects through
// the runtime's actor_observer: children spawned, timers started and cancelled, behaviours
// returned, the stop. Messages it sends are seen by handing it test_inbox refs. The actor's code
// is unchanged. Unlike Akka's, children are real actors and run too (deterministically). Use a
// kit from one thread, the test's.
#pragma once

#include <chrono>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <unordered_map>
#include <utility>
#include <variant>
#include <vector>

#include "troupe/core/actor_context.hpp"
#include "troupe/core/actor_observer.hpp"
#include "troupe/testkit/detail/describe.hpp"
#include "troupe/testkit/test_probe.hpp"
#include "troupe/testkit/test_system.hpp"

namespace troupe::testkit {

/// What an actor did to the runtime while it handled a message (or ran its setup).
///
///     if (auto s = troupe::testkit::find_effect<troupe::testkit::effects::stopped>(fx))
///       EXPECT_FALSE(s->reason.is_failure());
namespace effects {
/// It spawned a child.
struct spawned {
  actor_id child;
  std::string name;      ///< empty if unnamed
  std::string protocol;  ///< the child's protocol type, demangled
};
/// It started a keyed timer.
struct timer_started {
  std::string key;
  std::chrono::nanoseconds delay;
  timer_mode mode;
};
/// It cancelled a running timer (or replaced it with another under the same key).
struct timer_cancelled {
  std::string key;
};
/// A handler returned a new behaviour (not `same`).
struct became {};
/// It terminated.
struct stopped {
  exit_reason reason;
};
}  // namespace effects

/// One effect of the actor under test.
///
///     for (const auto& e : kit.run(tick{}))
///       if (std::holds_alternative<troupe::testkit::effects::became>(e)) ++behaviour_changes;
using effect = std::variant<effects::spawned, effects::timer_started, effects::timer_cancelled, effects::became,
                            effects::stopped>;

/// The first effect of type E in `fx`, if any.
///
///     auto t = troupe::testkit::find_effect<troupe::testkit::effects::timer_started>(fx);
template <class E>
std::optional<E> find_effect(const std::vector<effect>& fx) {
  for (auto& f : fx)
    if (auto* e = std::get_if<E>(&f)) return *e;
  return std::nullopt;
}

/// Runs one behaviour, message by message, and reports its effects.
///
///     troupe::testkit::behavior_test_kit<session_msg> kit{session()};
///     auto fx = kit.run(login{"ann"});                      // effects of handling login
///     auto t = troupe::testkit::find_effect<troupe::testkit::effects::timer_started>(fx);
///     EXPECT_EQ(t->key, "idle");
///     EXPECT_TRUE(kit.is_alive());
template <class P>
class behavior_test_kit {
 public:
  /// Spawns `b` in a fresh test_system and runs its setup; its effects wait in take_effects().
  explicit behavior_test_kit(behavior<P> b, spawn_options opts = {}, std::uint64_t seed = seed_from_environment())
      : observer_(std::make_shared<observer>()),
        ts_(test_system_options{.seed = seed, .messages_per_turn = 1, .observer = observer_}) {
    ref_ = ts_.spawn(std::move(b), std::move(opts));
    observer_->watch(ref_.id().serial);
    ts_.run_until_idle();
  }

  /// The actor under test.
  const troupe::ref<P>& ref() const noexcept { return ref_; }
  /// Tells the actor `m` and runs the system until idle; returns the actor's effects since the
  /// last call (setup's included, the first time).
  template <class M>
    requires accepts<P, M>
  std::vector<effect> run(M&& m) {
    ref_.tell(std::forward<M>(m));
    ts_.run_until_idle();
    return take_effects();
  }
  /// The effects recorded since the last run() or take_effects().
  std::vector<effect> take_effects() { return observer_->take(); }
  /// False once the actor has terminated.
  bool is_alive() const { return !observer_->has_stopped(); }
  /// A ref to a child the actor spawned, typed by its protocol Q.
  /// @throws expectation_failed if `s` is not a child of this actor or does not speak Q.
  template <class Q>
  troupe::ref<Q> child(const effects::spawned& s) const {
    return *observer_->template child_speaking<Q>(s.child.serial).template as<Q>();
  }
  /// The test system the actor lives in: advance() it to fire the actor's timers.
  test_system& system() noexcept { return ts_; }

 private:
  class observer final : public actor_observer {
   public:
    void watch(std::uint64_t serial) {
      std::lock_guard lock(mu_);
      serial_ = serial;
    }
    std::vector<effect> take() {
      std::lock_guard lock(mu_);
      return std::exchange(effects_, {});
    }
    bool has_stopped() const {
      std::lock_guard lock(mu_);
      return stopped_;
    }
    template <class Q>
    any_ref child_speaking(std::uint64_t serial) const {
      std::lock_guard lock(mu_);
      auto it = children_.find(serial);
      if (it == children_.end())
        throw expectation_failed("behavior_test_kit: actor #" + std::to_string(serial) + " is not a child of the actor under test");
      if (!it->second.template speaks<Q>())
        throw expectation_failed("behavior_test_kit: child #" + std::to_string(serial) + " speaks " +
                                 detail::demangle(it->second.protocol().name()) + ", not " + detail::demangle(typeid(Q).name()));
      return it->second;
    }

    void spawned(const observed_actor* parent, const observed_actor& child) override {
      std::lock_guard lock(mu_);
      if (parent == nullptr || parent->id().serial != serial_) return;
      effects_.push_back(effects::spawned{child.id(), child.name(), detail::demangle(child.protocol().name())});
      children_.emplace(child.id().serial, child.handle());
    }
    void timer_started(const observed_actor& a, std::string_view key, std::chrono::nanoseconds delay,
                       timer_mode mode) override {
      record(a, effects::timer_started{std::string(key), delay, mode});
    }
    void timer_cancelled(const observed_actor& a, std::string_view key) override {
      record(a, effects::timer_cancelled{std::string(key)});
    }
    void became(const observed_actor& a) override { record(a, effects::became{}); }
    void stopped(const observed_actor& a, const exit_reason& reason) override {
      std::lock_guard lock(mu_);
      if (a.id().serial != serial_) return;
      stopped_ = true;
      effects_.push_back(effects::stopped{reason});
    }

   private:
    void record(const observed_actor& a, effect e) {
      std::lock_guard lock(mu_);
      if (a.id().serial == serial_) effects_.push_back(std::move(e));
    }

    mutable std::mutex mu_;
    std::uint64_t serial_ = 0;  // guarded by mu_: the actor under test
    std::vector<effect> effects_;  // guarded by mu_
    bool stopped_ = false;         // guarded by mu_
    std::unordered_map<std::uint64_t, any_ref> children_;  // guarded by mu_
  };

  std::shared_ptr<observer> observer_;
  test_system ts_;
  troupe::ref<P> ref_;
};

}  // namespace troupe::testkit
