// message_pool.hpp: the allocator behind envelopes and other small per-message blocks.
// Any thread may allocate and free; a block freed on another thread than the one that
// allocated it simply joins the freeing thread's cache. Each thread keeps a free list per size
// class; full or empty caches trade whole batches with a shared depot under a mutex, so in steady
// state a message costs no general-purpose heap allocation. Blocks above the largest class, and
// every block in sanitizer builds (so ASan sees each one), go to operator new. Memory that stays
// free for a whole trim interval goes back to the system, a whole 2 MiB slab at a time
// (`pool_maintain`, called by every system's timer thread).
#pragma once

#include <chrono>
#include <cstddef>
#include <new>

namespace troupe::detail {

/// Size classes are multiples of 8 bytes up to this many bytes.
inline constexpr std::size_t pool_max_block = 256;

/// Allocates `size` bytes, aligned to 8, from the calling thread's cache.
void* pool_allocate(std::size_t size);
/// Returns a block of `size` bytes (the size it was allocated with) to the calling thread's cache.
void pool_deallocate(void* p, std::size_t size) noexcept;

/// How long a free slab must stay unused before `pool_maintain` returns it to the system.
inline constexpr std::chrono::milliseconds pool_trim_interval{1000};

/// What the pool holds, for tests and monitoring (a snapshot; other threads move on).
///
///     auto before = troupe::detail::pool_statistics().returned_bytes;
struct pool_stats {
  std::size_t committed_bytes = 0;  ///< slabs whose memory the pool holds (in use or free)
  std::size_t depot_free_bytes = 0;  ///< free blocks in the shared depot (not in thread caches)
  std::size_t returned_bytes = 0;   ///< returned to the system since the process started
};
/// A snapshot of the pool's counters.
pool_stats pool_statistics() noexcept;

/// One step of the trim policy: returns to the system the slabs that are wholly free in the depot,
/// at most as many bytes as the depot held free at every moment since the previous step (its
/// low-water mark), so memory a steady workload keeps reusing stays. Returns the bytes returned.
/// Called by `pool_maintain`; tests call it directly to trim deterministically.
///
///     troupe::detail::pool_trim();  // opens a window
///     troupe::detail::pool_trim();  // returns what stayed free throughout it
std::size_t pool_trim() noexcept;

/// Runs `pool_trim` if a trim interval has passed since the last one in this process, and returns
/// when to call again. Every system's timer thread calls it; several systems share one schedule.
///
///     auto next = troupe::detail::pool_maintain(std::chrono::steady_clock::now());
std::chrono::steady_clock::time_point pool_maintain(std::chrono::steady_clock::time_point now) noexcept;

/// Constructs a T in pooled memory (over-aligned types go to operator new).
template <class T, class... Args>
T* pool_new(Args&&... args) {
  if constexpr (alignof(T) > 8) {
    return new T(static_cast<Args&&>(args)...);
  } else {
    void* p = pool_allocate(sizeof(T));
    try {
      return ::new (p) T(static_cast<Args&&>(args)...);
    } catch (...) {
      pool_deallocate(p, sizeof(T));
      throw;
    }
  }
}

/// Destroys a T made by pool_new.
template <class T>
void pool_delete(T* p) noexcept {
  if constexpr (alignof(T) > 8) {
    delete p;
  } else {
    p->~T();
    pool_deallocate(p, sizeof(T));
  }
}

}  // namespace troupe::detail
