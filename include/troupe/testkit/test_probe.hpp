// test_probe.hpp: a stand-in actor that a test hands out and then questions.
// A probe exposes a ref<T>; actors tell it messages, and the test expects them: a value, a
// predicate, several at once, none for a while, or the end of another actor. Under a
// test_system an expectation drives the system (runs actors, advances virtual time up to its
// bound); under a real troupe::system it waits on a condition with a real deadline. A failed
// expectation throws expectation_failed, saying what was expected, what arrived, and when.
// Use a probe from the test's thread only; it must not outlive the system it was made for.
#pragma once

#include <chrono>
#include <concepts>
#include <cstddef>
#include <memory>
#include <mutex>
#include <stdexcept>
#include <string>
#include <utility>
#include <variant>
#include <vector>

#include "troupe/core/system.hpp"
#include "troupe/testkit/detail/describe.hpp"
#include "troupe/testkit/detail/recorder.hpp"
#include "troupe/testkit/test_system.hpp"

namespace troupe::testkit {

/// A failed expectation of a probe (or of another test kit check). Its text says what was
/// expected, what arrived and when; GoogleTest prints it as the test's failure.
///
///     EXPECT_THROW(probe.expect_message(1s), troupe::testkit::expectation_failed);  // nothing came
class expectation_failed : public std::runtime_error {
 public:
  using std::runtime_error::runtime_error;
};

/// How long an expectation waits when not told: virtual time under a test_system (free), a
/// real bound under a real system.
inline constexpr std::chrono::nanoseconds default_within = std::chrono::seconds(3);

/// A ref<T> that records what it is told, and expectations about it.
///
///     troupe::testkit::test_system ts;
///     troupe::testkit::test_probe<greeted> probe{ts};
///     auto greeter = ts.spawn(make_greeter());
///     greeter.tell(greet{"Charles", probe.ref()});
///     probe.expect_message(greeted{"Charles", greeter});
template <class T>
class test_probe {
 public:
  /// A probe driven by a test_system: expectations run its actors and advance its time.
  explicit test_probe(test_system& ts) : test_probe(ts.system(), &ts) {}
  /// A probe of a real system: expectations wait, in real time.
  explicit test_probe(troupe::system& sys) : test_probe(sys, nullptr) {}

  /// The ref to hand to actors. It has an actor_id of its own (and no cell: it cannot be watched).
  const troupe::ref<T>& ref() const noexcept { return ref_; }

  /// Expects a message within `within`, and returns it.
  T expect_message(std::chrono::nanoseconds within = default_within) {
    return expect_message([](const T&) { return true; }, within, "any message");
  }
  /// Expects the next message to equal `value` (for a variant protocol, `value` may be one of
  /// its alternatives), and returns it.
  template <class V>
    requires(!std::predicate<V&, const T&> && !std::convertible_to<V, std::chrono::nanoseconds>)
  T expect_message(const V& value, std::chrono::nanoseconds within = default_within) {
    return expect_message([&](const T& m) { return matches(m, value); }, within, detail::describe(value));
  }
  /// Expects the next message to satisfy `pred`, and returns it. `what` names it in a failure.
  template <class Pred>
    requires std::predicate<Pred&, const T&>
  T expect_message(Pred pred, std::chrono::nanoseconds within = default_within,
                   std::string what = "a message matching the predicate") {
    auto m = next(within, what);
    if (!pred(m.message))
      fail("expected " + what + ", but " + detail::describe(m.message) + " arrived" + at(m.at));
    return std::move(m.message);
  }
  /// Expects the next message to hold the alternative M of the variant T, and returns it.
  template <class M>
  M expect_message_of(std::chrono::nanoseconds within = default_within) {
    auto what = "a " + detail::demangle(typeid(M).name());
    auto m = next(within, what);
    if constexpr (std::is_same_v<M, T>) {
      return std::move(m.message);
    } else {
      if (!std::holds_alternative<M>(m.message))
        fail("expected " + what + ", but " + detail::describe(m.message) + " arrived" + at(m.at));
      return std::get<M>(std::move(m.message));
    }
  }
  /// Expects nothing to arrive for `d` (under a test_system: virtual time advances by `d`).
  void expect_no_message(std::chrono::nanoseconds d) {
    wait([] { return false; }, d);
    std::lock_guard lock(q_->mu);
    if (!q_->items.empty()) {
      auto& r = q_->items.front();
      fail("expected no message for " + detail::describe_duration(d) + ", but " + detail::describe(r.message) +
           " arrived" + at(r.at));
    }
  }
  /// Expects `n` messages within `within` (all of them), and returns them in arrival order.
  std::vector<T> receive_messages(std::size_t n, std::chrono::nanoseconds within = default_within) {
    if (!wait([&] { return size() >= n; }, within)) {
      fail("expected " + std::to_string(n) + " messages within " + detail::describe_duration(within) + ", but " +
           std::to_string(size()) + " arrived" + waited());
    }
    std::vector<T> out;
    std::lock_guard lock(q_->mu);
    for (std::size_t i = 0; i < n; ++i) {
      out.push_back(std::move(q_->items.front().message));
      q_->items.pop_front();
    }
    return out;
  }
  /// Receives messages until one satisfies `pred`, dropping the others; returns that one.
  template <class Pred>
    requires std::predicate<Pred&, const T&>
  T fish_for_message(Pred pred, std::chrono::nanoseconds within = default_within,
                     std::string what = "a message matching the predicate") {
    std::vector<std::string> skipped;
    auto found = [&] {
      std::lock_guard lock(q_->mu);
      while (!q_->items.empty()) {
        if (pred(q_->items.front().message)) return true;
        skipped.push_back(detail::describe(q_->items.front().message));
        q_->items.pop_front();
      }
      return false;
    };
    if (!wait(found, within)) {
      std::string seen;
      for (auto& s : skipped) seen += (seen.empty() ? "" : ", ") + s;
      fail("fished for " + what + " for " + detail::describe_duration(within) + "; " +
           (seen.empty() ? std::string("nothing arrived") : "only " + seen + " arrived") + waited());
    }
    std::lock_guard lock(q_->mu);
    T m = std::move(q_->items.front().message);
    q_->items.pop_front();
    return m;
  }
  /// Expects the actor behind `who` to stop within `within`; returns its `terminated` (with
  /// the reason). Watches it through a small actor spawned in the probe's system.
  template <class Q>
  terminated expect_terminated(const troupe::ref<Q>& who, std::chrono::nanoseconds within = default_within) {
    auto q = std::make_shared<detail::record_queue<terminated>>();
    q->clock = q_->clock;
    auto sink = detail::make_recorder_ref(q, actor_id{});
    sys_->spawn(troupe::setup<terminated>([who, sink](actor_context<terminated>& ctx) {
      ctx.watch(who);
      return troupe::receive<terminated>([sink](const terminated& t) {
        sink.tell(t);
        return troupe::stopped;
      });
    }));
    auto ended = [&] {
      std::lock_guard lock(q->mu);
      return !q->items.empty();
    };
    bool ok = ts_ != nullptr ? ts_->advance_until(ended, within) : wait_on(*q, ended, within);
    if (!ok)
      fail("expected actor #" + std::to_string(who.id().serial) + " to stop within " +
           detail::describe_duration(within) + ", but it is still running" + waited());
    std::lock_guard lock(q->mu);
    return q->items.front().message;
  }

  /// Messages that arrived and were not yet expected.
  std::size_t size() const {
    std::lock_guard lock(q_->mu);
    return q_->items.size();
  }

 private:
  test_probe(troupe::system& sys, test_system* ts)
      : sys_(&sys), ts_(ts), q_(std::make_shared<detail::record_queue<T>>()) {
    if (ts_ != nullptr) q_->clock = [ts] { return ts->now(); };
    else q_->clock = [] { return timer_service::clock::now(); };
    origin_ = q_->clock();
    ref_ = detail::make_recorder_ref(q_, troupe::new_actor_id(sys));
  }

  template <class V>
  static bool matches(const T& m, const V& value) {
    if constexpr (std::equality_comparable_with<T, V>) {
      return m == value;
    } else {
      static_assert(detail::is_variant<T>::value && std::equality_comparable<V>,
                    "troupe: expect_message(value) needs a value comparable with ==, or an alternative of "
                    "the probe's variant that is; otherwise pass a predicate");
      return std::holds_alternative<V>(m) && std::get<V>(m) == value;
    }
  }

  detail::recorded<T> next(std::chrono::nanoseconds within, const std::string& what) {
    if (!wait([&] { return size() != 0; }, within))
      fail("expected " + what + " within " + detail::describe_duration(within) + ", but nothing arrived" + waited());
    std::lock_guard lock(q_->mu);
    auto r = std::move(q_->items.front());
    q_->items.pop_front();
    return r;
  }

  template <class Ready>
  bool wait(Ready ready, std::chrono::nanoseconds within) {
    if (ts_ != nullptr) return ts_->advance_until(ready, within);
    return wait_on(*q_, ready, within);
  }
  // On a real system: a condition with a deadline; the recorder notifies on each message.
  template <class U, class Ready>
  static bool wait_on(detail::record_queue<U>& q, Ready& ready, std::chrono::nanoseconds within) {
    const auto deadline = std::chrono::steady_clock::now() + within;
    for (;;) {
      std::uint64_t seen = 0;
      {
        std::lock_guard lock(q.mu);
        seen = q.pushes;
      }
      if (ready()) return true;  // `ready` takes the lock itself
      std::unique_lock lock(q.mu);
      // A message that arrived while `ready` ran is seen through `pushes`: no lost wake-up.
      if (!q.cv.wait_until(lock, deadline, [&] { return q.pushes != seen; })) {
        lock.unlock();
        return ready();
      }
    }
  }

  std::string at(detail::time_point t) const {
    return " at " + detail::describe_duration(t - origin_) + " after the probe was made" + seed_note();
  }
  std::string waited() const {
    return " (waited until " + detail::describe_duration(q_->clock() - origin_) + " after the probe was made)" +
           seed_note();
  }
  std::string seed_note() const {
    return ts_ != nullptr ? "; seed " + std::to_string(ts_->seed()) + " (TROUPE_TEST_SEED replays it)" : "";
  }
  [[noreturn]] static void fail(const std::string& text) { throw expectation_failed("test_probe: " + text); }

  troupe::system* sys_;
  test_system* ts_;  // null under a real system
  std::shared_ptr<detail::record_queue<T>> q_;
  detail::time_point origin_;
  troupe::ref<T> ref_;
};

}  // namespace troupe::testkit
