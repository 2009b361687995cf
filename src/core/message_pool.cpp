// message_pool.cpp: per-thread caches of small blocks, trading whole batches with a depot.
// Why not malloc: messages are usually freed on another thread than the one that made them,
// which glibc's per-thread caches handle poorly, and the runtime promises no general-purpose
// allocation per message in steady state. A thread's cache per size class holds up to
// `cache_limit` blocks; beyond that it hands a batch to the depot, and an empty cache takes a
// batch back. The depot keeps a bounded number of batches and frees the rest, so a burst does
// not pin its memory forever.
#include <cstdlib>
#include <mutex>
#include <vector>

#include "troupe/core/detail/message_pool.hpp"

#if defined(__SANITIZE_ADDRESS__) || defined(__SANITIZE_THREAD__)
#define TROUPE_POOL_PASSTHROUGH 1
#elif defined(__has_feature)
#if __has_feature(address_sanitizer) || __has_feature(thread_sanitizer)
#define TROUPE_POOL_PASSTHROUGH 1
#endif
#endif

namespace troupe::detail {

namespace {

constexpr std::size_t granule = 32;
constexpr std::size_t classes = pool_max_block / granule;
constexpr std::size_t batch_size = 256;
constexpr std::size_t cache_limit = 2 * batch_size;
constexpr std::size_t depot_limit = 64;  // batches kept per class

struct free_block {
  free_block* next;
};

struct batch {
  free_block* head;
  std::size_t count;
};

std::size_t class_of(std::size_t size) noexcept { return (size + granule - 1) / granule - 1; }
std::size_t block_size(std::size_t cls) noexcept { return (cls + 1) * granule; }

void* fresh_block(std::size_t cls) { return ::operator new(block_size(cls), std::align_val_t{16}); }
void free_block_memory(void* p, std::size_t cls) noexcept {
  ::operator delete(p, block_size(cls), std::align_val_t{16});
}

struct depot {
  std::mutex mu;
  std::vector<batch> batches[classes];  // guarded by mu

  bool take(std::size_t cls, batch& out) {
    std::lock_guard lock(mu);
    auto& v = batches[cls];
    if (v.empty()) return false;
    out = v.back();
    v.pop_back();
    return true;
  }
  void give(std::size_t cls, batch b) noexcept {
    {
      std::lock_guard lock(mu);
      auto& v = batches[cls];
      if (v.size() < depot_limit) {
        try {
          v.push_back(b);
          return;
        } catch (...) {
          // fall through: free the batch instead
        }
      }
    }
    for (auto* f = b.head; f != nullptr;) {
      auto* next = f->next;
      free_block_memory(f, cls);
      f = next;
    }
  }
};

// Process-wide like malloc's own arenas: it holds free memory, never actor state, so it does
// not couple systems. Leaked on purpose: thread caches may flush into it during static
// destruction.
depot& the_depot() {
  static depot* d = new depot;
  return *d;
}

struct thread_cache {
  free_block* head[classes] = {};
  std::size_t count[classes] = {};

  ~thread_cache() {
    for (std::size_t c = 0; c < classes; ++c)
      if (head[c] != nullptr) the_depot().give(c, {head[c], count[c]});
  }
  void spill(std::size_t cls) noexcept {
    // Hand the older half to the depot; keep the recently freed (cache-warm) blocks.
    free_block* keep = head[cls];
    for (std::size_t i = 1; i < batch_size; ++i) keep = keep->next;
    batch b{keep->next, count[cls] - batch_size};
    keep->next = nullptr;
    count[cls] = batch_size;
    the_depot().give(cls, b);
  }
};

thread_local thread_cache cache;

}  // namespace

void* pool_allocate(std::size_t size) {
#ifdef TROUPE_POOL_PASSTHROUGH
  return ::operator new(size, std::align_val_t{16});
#else
  if (size > pool_max_block) return ::operator new(size, std::align_val_t{16});
  auto cls = class_of(size);
  auto& c = cache;
  if (auto* f = c.head[cls]) {
    c.head[cls] = f->next;
    --c.count[cls];
    return f;
  }
  batch b;
  if (the_depot().take(cls, b)) {
    c.head[cls] = b.head->next;
    c.count[cls] = b.count - 1;
    return b.head;
  }
  return fresh_block(cls);
#endif
}

void pool_deallocate(void* p, std::size_t size) noexcept {
#ifdef TROUPE_POOL_PASSTHROUGH
  ::operator delete(p, std::align_val_t{16});
  (void)size;
#else
  if (size > pool_max_block) {
    ::operator delete(p, std::align_val_t{16});
    return;
  }
  auto cls = class_of(size);
  auto& c = cache;
  auto* f = static_cast<free_block*>(p);
  f->next = c.head[cls];
  c.head[cls] = f;
  if (++c.count[cls] > cache_limit) c.spill(cls);
#endif
}

}  // namespace troupe::detail
