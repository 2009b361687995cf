// inbox.hpp: the lock-free multi-producer, single-consumer queue under every mailbox.
// Any thread pushes with one CAS; only the worker running the actor drains. The head word also
// says whether the actor is idle ("blocked"), so the one push that finds it idle learns that it
// must schedule the actor, and no other does; "closed" means the actor has terminated and the
// pusher keeps its envelope (it goes to dead letters). Order: each producer's pushes are drained
// in the order pushed (the LIFO stack is reversed on drain), which gives FIFO per sender.
#pragma once

#include <atomic>
#include <cstdint>

#include "troupe/core/detail/envelope.hpp"

namespace troupe::detail {

class inbox {
 public:
  enum class push_result { queued, woke, closed };

  /// Pushes `e`. Returns `woke` to exactly the producer that found the actor idle.
  push_result push(envelope* e) noexcept {
    auto h = head_.load(std::memory_order_relaxed);
    for (;;) {
      if (h == closed_word) {
        // acquire: pairs with close(), so the caller sees the terminated actor's exit reason.
        (void)head_.load(std::memory_order_acquire);
        return push_result::closed;
      }
      e->next = is_marker(h) ? nullptr : reinterpret_cast<envelope*>(h);
      // release: publishes *e to the consumer's acquire exchange in drain(); acquire (on
      // success from `blocked`): the actor's last turn happens-before the schedule we will do.
      if (head_.compare_exchange_weak(h, reinterpret_cast<std::uintptr_t>(e),
                                      std::memory_order_acq_rel, std::memory_order_relaxed))
        return h == blocked_word ? push_result::woke : push_result::queued;
    }
  }

  /// Takes every pushed envelope, oldest first. Consumer only.
  envelope* drain() noexcept { return reversed(drain_newest_first()); }

  /// Takes every pushed envelope, newest first (the caller reverses it, in the same pass as
  /// whatever else it does with the list). Consumer only; never reopens a closed inbox.
  std::uintptr_t drain_newest_first() noexcept {
    // relaxed: only the consumer closes, so a closed inbox stays closed under our feet.
    if (head_.load(std::memory_order_relaxed) == closed_word) return closed_word;
    // acquire: pairs with the release in push(), so the envelopes' contents are visible.
    return head_.exchange(empty_word, std::memory_order_acquire);
  }
  /// The first envelope of a list from drain_newest_first(), or nullptr.
  static envelope* first_of(std::uintptr_t h) noexcept {
    return is_marker(h) ? nullptr : reinterpret_cast<envelope*>(h);
  }

  /// Marks the actor idle if nothing was pushed since the last drain. Consumer only.
  bool try_block() noexcept {
    auto expected = empty_word;
    // release: this turn's writes happen-before the turn a later push schedules.
    return head_.compare_exchange_strong(expected, blocked_word, std::memory_order_acq_rel,
                                         std::memory_order_relaxed);
  }

  /// Marks the actor runnable without a message (its first turn). Returns true if it was idle.
  bool try_unblock() noexcept {
    auto expected = blocked_word;
    return head_.compare_exchange_strong(expected, empty_word, std::memory_order_acq_rel,
                                         std::memory_order_relaxed);
  }

  /// Closes the inbox for good and returns what was still in it, oldest first. Consumer only.
  envelope* close() noexcept {
    // acquire: as in drain(); release: the actor's final state (its exit reason) is visible to
    // any pusher that finds the inbox closed. After this every push fails.
    return reversed(head_.exchange(closed_word, std::memory_order_acq_rel));
  }

  bool closed() const noexcept { return head_.load(std::memory_order_acquire) == closed_word; }

 private:
  static constexpr std::uintptr_t empty_word = 0;    // running or scheduled, nothing pushed
  static constexpr std::uintptr_t blocked_word = 1;  // idle: the next push must schedule
  static constexpr std::uintptr_t closed_word = 2;   // terminated: pushes fail
  static bool is_marker(std::uintptr_t h) noexcept { return h <= closed_word; }
  static envelope* reversed(std::uintptr_t h) noexcept {
    if (is_marker(h)) return nullptr;
    envelope* fifo = nullptr;
    for (auto* e = reinterpret_cast<envelope*>(h); e != nullptr;) {
      auto* next = e->next;
      e->next = fifo;
      fifo = e;
      e = next;
    }
    return fifo;
  }

  std::atomic<std::uintptr_t> head_{blocked_word};
};

}  // namespace troupe::detail
