// spin_mutex.hpp: a lock for critical sections of a few instructions that several threads hit
// at a high rate (the injection queue, the list of top-level actors). Internal to troupe.
// Why not std::mutex: when a thread spawning a million actors meets a worker retiring them,
// glibc's mutex puts the loser to sleep in the kernel, and the futex round trips cost more than
// the work they guard. This lock spins briefly, then yields its time slice (a holder may have
// been preempted: two cores serve three threads in `fjcreate`). BasicLockable, so it works with
// std::lock_guard, std::unique_lock and std::condition_variable_any.
#pragma once

#include <atomic>
#include <thread>

namespace troupe::detail {

class spin_mutex {
 public:
  void lock() noexcept {
    // acquire: pairs with the release in unlock(); the guarded data is then ours.
    while (locked_.exchange(true, std::memory_order_acquire)) {
      // relaxed: only a hint to try the exchange again; it does the ordering.
      for (unsigned spins = 0; locked_.load(std::memory_order_relaxed); ++spins) {
        if (spins < 64) {
#if defined(__x86_64__) || defined(__i386__)
          __builtin_ia32_pause();
#endif
        } else {
          std::this_thread::yield();
        }
      }
    }
  }
  bool try_lock() noexcept { return !locked_.exchange(true, std::memory_order_acquire); }
  void unlock() noexcept { locked_.store(false, std::memory_order_release); }

 private:
  std::atomic<bool> locked_{false};
};

}  // namespace troupe::detail
