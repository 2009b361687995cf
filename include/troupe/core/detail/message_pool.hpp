// message_pool.hpp: the allocator behind envelopes and other small per-message blocks.
// Any thread may allocate and free; a block freed on another thread than the one that
// allocated it simply joins the freeing thread's cache. Each thread keeps a free list per size
// class; full or empty caches trade whole batches with a shared depot under a mutex, so in steady
// state a message costs no general-purpose heap allocation. Blocks above the largest class, and
// every block in sanitizer builds (so ASan sees each one), go to operator new.
#pragma once

#include <cstddef>
#include <new>

namespace troupe::detail {

/// Size classes are multiples of 8 bytes up to this many bytes.
inline constexpr std::size_t pool_max_block = 256;

/// Allocates `size` bytes, aligned to 8, from the calling thread's cache.
void* pool_allocate(std::size_t size);
/// Returns a block of `size` bytes (the size it was allocated with) to the calling thread's cache.
void pool_deallocate(void* p, std::size_t size) noexcept;

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
