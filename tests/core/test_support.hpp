// test_support.hpp: what the core tests share: waiting with a deadline, a blocking queue that
// actors can feed, probes and watchers that report to the test thread, and instance counters.
// Nothing here sleeps: every wait is on a condition, bounded by a deadline that turns a hang
// into a failure (never into a pass).
#pragma once

#include <atomic>
#include <chrono>
#include <condition_variable>
#include <cstddef>
#include <deque>
#include <future>
#include <memory>
#include <mutex>
#include <optional>
#include <stdexcept>
#include <string>
#include <thread>
#include <utility>
#include <vector>

#include <pthread.h>

#include "troupe/troupe.hpp"

#if defined(__SANITIZE_THREAD__) || defined(__SANITIZE_ADDRESS__)
#define TROUPE_TEST_SANITIZED 1
#elif defined(__has_feature)
#if __has_feature(thread_sanitizer) || __has_feature(address_sanitizer)
#define TROUPE_TEST_SANITIZED 1
#endif
#endif

namespace troupe_test {

using namespace std::chrono_literals;

#ifdef TROUPE_TEST_SANITIZED
inline constexpr bool sanitized = true;
#else
inline constexpr bool sanitized = false;
#endif

/// How long a test waits for something that should happen "soon" before calling it a hang.
/// Generous on purpose: it bounds failures, it never paces a passing test.
inline constexpr std::chrono::milliseconds deadline = 60s;

/// Polls `pred` until it holds or `timeout` passes; true if it held. For conditions that no one
/// signals (counters, /proc); prefer a gate or a blocking_queue when something can notify.
template <class Pred>
bool wait_until(Pred&& pred, std::chrono::milliseconds timeout = deadline) {
  const auto end = std::chrono::steady_clock::now() + timeout;
  while (!pred()) {
    if (std::chrono::steady_clock::now() > end) return false;
    std::this_thread::yield();
  }
  return true;
}

/// A one-shot event: closed until someone opens it, then open for good.
class gate {
 public:
  void open() {
    {
      std::lock_guard lock(mu_);
      open_ = true;
    }
    cv_.notify_all();
  }
  /// True once open; false if `timeout` passed first.
  bool wait(std::chrono::milliseconds timeout = deadline) {
    std::unique_lock lock(mu_);
    return cv_.wait_for(lock, timeout, [&] { return open_; });
  }
  bool is_open() {
    std::lock_guard lock(mu_);
    return open_;
  }

 private:
  std::mutex mu_;
  std::condition_variable cv_;
  bool open_ = false;  // guarded by mu_
};

/// A thread-safe FIFO that actors push into and the test thread pops from, with a deadline.
template <class T>
class blocking_queue {
 public:
  void push(T v) {
    {
      std::lock_guard lock(mu_);
      items_.push_back(std::move(v));
    }
    cv_.notify_all();
  }
  /// The oldest item, or nullopt if none arrived within `timeout`.
  std::optional<T> pop(std::chrono::milliseconds timeout = deadline) {
    std::unique_lock lock(mu_);
    if (!cv_.wait_for(lock, timeout, [&] { return !items_.empty(); })) return std::nullopt;
    T v = std::move(items_.front());
    items_.pop_front();
    return v;
  }
  /// Every item that has arrived so far, without waiting.
  std::vector<T> drain() {
    std::lock_guard lock(mu_);
    std::vector<T> out(std::make_move_iterator(items_.begin()), std::make_move_iterator(items_.end()));
    items_.clear();
    return out;
  }
  std::size_t size() {
    std::lock_guard lock(mu_);
    return items_.size();
  }

 private:
  std::mutex mu_;
  std::condition_variable cv_;
  std::deque<T> items_;  // guarded by mu_
};

/// The value of `f`, or throws (failing the test) if it is not ready within `timeout`.
template <class T>
T await(std::future<T>&& f, std::chrono::milliseconds timeout = deadline) {
  if (f.wait_for(timeout) != std::future_status::ready) throw std::runtime_error("future not ready before the deadline");
  return f.get();
}

/// An actor of protocol P that pushes every message it receives into `q`.
template <class P>
troupe::ref<P> spawn_probe(troupe::system& sys, std::shared_ptr<blocking_queue<P>> q, troupe::spawn_options opts = {}) {
  return sys.spawn(troupe::receive<P>([q](auto&& m) { q->push(P(std::forward<decltype(m)>(m))); }), std::move(opts));
}

/// Watches `target` from an actor and reports its `terminated` to the returned queue.
template <class Q>
std::shared_ptr<blocking_queue<troupe::terminated>> watch_from_outside(troupe::system& sys, const troupe::ref<Q>& target) {
  auto q = std::make_shared<blocking_queue<troupe::terminated>>();
  sys.spawn(troupe::setup<troupe::terminated>([q, target](troupe::actor_context<troupe::terminated>& ctx) {
    ctx.watch(target);
    return troupe::receive<troupe::terminated>([q](troupe::terminated&& t) {
      q->push(std::move(t));
      return troupe::stopped;
    });
  }));
  return q;
}

/// Counts live instances: every construction (copies and moves too) adds one, every destruction
/// takes one away. Capture one in a behaviour; the count returns to its start once every copy
/// of the behaviour's state is gone.
class tracked {
 public:
  explicit tracked(std::atomic<long>& live) noexcept : live_(&live) { inc(); }
  tracked(const tracked& o) noexcept : live_(o.live_) { inc(); }
  tracked(tracked&& o) noexcept : live_(o.live_) { inc(); }
  tracked& operator=(const tracked&) = delete;
  ~tracked() { live_->fetch_sub(1, std::memory_order_relaxed); }  // relaxed: a count, read after joins/waits

 private:
  void inc() noexcept { live_->fetch_add(1, std::memory_order_relaxed); }
  std::atomic<long>* live_;
};

/// Pushes `label` into `log` when destroyed. Hold it through a shared_ptr in a behaviour: the
/// label is logged when the last copy of that state goes, i.e. when the actor's state is destroyed.
struct destroy_note {
  destroy_note(std::shared_ptr<blocking_queue<std::string>> log, std::string label)
      : log(std::move(log)), label(std::move(label)) {}
  destroy_note(const destroy_note&) = delete;
  destroy_note& operator=(const destroy_note&) = delete;
  ~destroy_note() { log->push(label); }
  std::shared_ptr<blocking_queue<std::string>> log;
  std::string label;
};

/// A system config suited to tests: a few workers whatever the machine, no watchdog noise.
inline troupe::system_config small_config(unsigned workers = 2) {
  troupe::system_config cfg;
  cfg.worker_threads = workers;
  cfg.blocking_threads = 1;
  cfg.long_turn_threshold = std::chrono::milliseconds{0};
  return cfg;
}

/// The name of the calling thread, as the scheduler set it.
inline std::string current_thread_name() {
  char buf[32] = {};
  pthread_getname_np(pthread_self(), buf, sizeof buf);
  return buf;
}

}  // namespace troupe_test
