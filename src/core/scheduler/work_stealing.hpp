// work_stealing.hpp: the default scheduler: one worker per core, stealing when idle.
// Each worker has a LIFO slot for the actor it just woke (a conversation stays on one core,
// where a hop costs a few nanoseconds instead of a cache-line trip), a bounded local FIFO queue
// that other workers steal half of when they run dry, and a shared injection queue for work
// from other threads and overflow. Workers that find nothing park on a futex; nothing spins
// while the system is idle. Fairness without preemption: a turn is bounded by the message
// budget, an actor that used its budget goes behind the others, and the LIFO slot yields to
// the queue after a few consecutive uses. Through its thread hooks (scheduler::thread_hooks) a
// worker sees each send of the turn it runs: a flood moves the LIFO slot where others can steal
// it, and a long run of tells to one actor is pushed in batches. A turn that sends to many
// actors in turn (a spread flood) keeps the actors it wakes until it ends, so they do not run on
// another core while it still writes their messages (docs/architecture.md says why).
// An actor that waits in a LIFO slot behind a turn that lasts over 50 us may be stolen, so a
// turn that blocks cannot hold the actor it woke.
#pragma once

#include <atomic>
#include <chrono>
#include <cstdint>
#include <deque>
#include <memory>
#include <mutex>
#include <string>
#include <thread>
#include <vector>

#include "troupe/core/spin_mutex.hpp"
#include "troupe/core/scheduler.hpp"

namespace troupe::detail {

class cell;
struct envelope;

/// A worker's bounded run queue: the owner pushes at the tail; the owner and thieves take from
/// the head. Single producer, multiple consumers, lock-free (Tokio's design, simplified).
class local_queue {
 public:
  static constexpr std::uint32_t capacity = 256;

  /// Owner only. False when full.
  bool push(cell* c) noexcept {
    auto t = tail_.load(std::memory_order_relaxed);           // relaxed: only we write tail
    auto h = head_.load(std::memory_order_acquire);           // acquire: slots freed by takers
    if (t - h >= capacity) return false;
    slots_[t % capacity].store(c, std::memory_order_relaxed);
    tail_.store(t + 1, std::memory_order_release);            // release: publishes the slot
    return true;
  }
  /// Owner or thief: takes the oldest entry.
  cell* pop() noexcept {
    auto h = head_.load(std::memory_order_acquire);
    for (;;) {
      auto t = tail_.load(std::memory_order_acquire);         // acquire: pairs with push
      if (h == t) return nullptr;
      cell* c = slots_[h % capacity].load(std::memory_order_relaxed);
      // acq_rel: claims the slot; the owner's later push sees head moved (acquire above).
      if (head_.compare_exchange_weak(h, h + 1, std::memory_order_acq_rel, std::memory_order_acquire))
        return c;
    }
  }
  /// Thief: moves about half of this queue into `into` (whose owner is the caller) and returns
  /// one more entry to run now, or nullptr.
  cell* steal_into(local_queue& into) noexcept;
  /// Owner: moves half the entries out, for overflow to the injection queue.
  std::uint32_t take_half(cell** out) noexcept;
  bool empty() const noexcept {
    return head_.load(std::memory_order_acquire) == tail_.load(std::memory_order_acquire);
  }
  std::uint32_t size() const noexcept {
    return tail_.load(std::memory_order_acquire) - head_.load(std::memory_order_acquire);
  }

 private:
  alignas(64) std::atomic<std::uint32_t> head_{0};
  alignas(64) std::atomic<std::uint32_t> tail_{0};
  std::atomic<cell*> slots_[capacity] = {};
};

class work_stealing_scheduler final : public scheduler {
 public:
  work_stealing_scheduler(unsigned threads, unsigned budget, std::string thread_name);
  ~work_stealing_scheduler() override;

  void schedule(schedulable& actor, schedule_hint hint) noexcept override;
  void start() override;
  void stop() noexcept override;
  bool owns_current_thread() const noexcept override;
  void check_long_turns(std::chrono::nanoseconds threshold,
                        const std::function<void(std::uint64_t, std::chrono::nanoseconds)>& report) override;
  std::vector<worker_stats> worker_statistics() const override;


 private:
  // Each worker is its thread's scheduler::thread_hooks: the runtime tells it about every send.
  struct worker;
  bool worker_idle_but_for_this_turn(const worker& w) const noexcept;
  void run(worker& w);
  cell* next_local(worker& w) noexcept;
  cell* search(worker& w) noexcept;
  cell* steal_lifo(worker& w) noexcept;
  cell* pop_injected() noexcept;
  void inject(cell* c) noexcept;
  void push_local(worker& w, cell* c) noexcept;
  void notify_one() noexcept;
  void park(worker& w);
  bool has_work() const noexcept;
  void flush_lifo(worker& w) noexcept;
  static void flush_batch(worker& w) noexcept;

  const unsigned budget_;
  const std::string thread_name_;
  std::vector<std::unique_ptr<worker>> workers_;

  spin_mutex inject_mu_;
  std::deque<cell*> injected_;                    // guarded by inject_mu_
  std::atomic<std::size_t> injected_size_{0};    // mirrors injected_.size() for lock-free peeks

  std::mutex idle_mu_;
  std::vector<worker*> idle_;                     // guarded by idle_mu_: parked workers
  std::atomic<unsigned> sleeping_{0};
  std::atomic<unsigned> searching_{0};
  std::atomic<bool> stopping_{false};
  bool started_ = false;
};

}  // namespace troupe::detail
