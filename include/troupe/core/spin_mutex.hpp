// spin_mutex.hpp: a lock for critical sections of a few instructions that several threads hit
// at a high rate (the injection queue, the list of top-level actors, a connection's sink), one
// byte in size where a std::mutex takes forty (it sits in every connection's state). Any thread
// may lock it; a holder must not block or run long, or the others burn their time slices.
// Why not std::mutex: when a thread spawning a million actors meets a worker retiring them,
// glibc's mutex puts the loser to sleep in the kernel, and the futex round trips cost more than
// the work they guard. This lock spins briefly, then yields its time slice (a holder may have
// been preempted: two cores serve three threads in `fjcreate`). BasicLockable, so it works with
// std::lock_guard, std::unique_lock and std::condition_variable_any.
#pragma once

#include <atomic>
#include <thread>

namespace troupe {

/// A one-byte BasicLockable lock that spins briefly, then yields: for a few instructions under
/// contention, never for I/O or a wait. Not fair, not recursive.
///
///     troupe::spin_mutex mu;
///     std::unique_ptr<sink> sink_;                        // guarded by mu
///     { std::lock_guard g(mu); if (sink_) sink_->deliver(m); }
class spin_mutex {
 public:
  /// Takes the lock, spinning then yielding until it is free.
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
  /// Takes the lock if it is free; never waits.
  bool try_lock() noexcept { return !locked_.exchange(true, std::memory_order_acquire); }
  /// Releases the lock; only its holder may call it.
  void unlock() noexcept { locked_.store(false, std::memory_order_release); }

 private:
  std::atomic<bool> locked_{false};
};

}  // namespace troupe
