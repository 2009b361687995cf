// message_pool.cpp: per-thread caches of small blocks, trading whole batches with a depot.
// Why not malloc: messages are usually freed on another thread than the one that made them,
// which glibc's per-thread caches handle poorly, and the runtime promises no general-purpose
// allocation per message in steady state. A thread's cache per size class holds up to
// `cache_limit` blocks; beyond that it hands a batch to the depot, and an empty cache takes a
// batch back. New blocks are carved from 2 MiB slabs, handed out in address order. No
// MADV_HUGEPAGE: with the kernel's default "defrag=madvise", huge-page faults compact memory
// synchronously, and on the benchmark host that made backlog-heavy runs swing by 2-3x
// (fjthroughput 0.17-0.58 s with it, 0.26-0.31 s without). The pool keeps the memory of its
// largest backlog for reuse and does not return it to the system; bounded mailboxes are how a
// user bounds it.
#include <cstdlib>
#include <mutex>
#include <new>
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

constexpr std::size_t granule = 8;  // fine-grained: a backlog of small messages is memory-bound
constexpr std::size_t classes = pool_max_block / granule;
constexpr std::size_t batch_size = 256;
constexpr std::size_t cache_limit = 2 * batch_size;
constexpr std::size_t slab_size = std::size_t{2} << 20;

struct free_block {
  free_block* next;
};

struct batch {
  free_block* head;
  std::size_t count;
};

[[maybe_unused]] std::size_t class_of(std::size_t size) noexcept { return (size + granule - 1) / granule - 1; }
std::size_t block_size(std::size_t cls) noexcept { return (cls + 1) * granule; }

struct depot {
  std::mutex mu;
  std::vector<batch> batches[classes];  // guarded by mu
  std::vector<void*> slabs;             // guarded by mu; kept until exit (see above)

  bool take(std::size_t cls, batch& out) {
    std::lock_guard lock(mu);
    auto& v = batches[cls];
    if (v.empty()) return false;
    out = v.back();
    v.pop_back();
    return true;
  }
  void give(std::size_t cls, batch b) noexcept {
    std::lock_guard lock(mu);
    try {
      batches[cls].push_back(b);
    } catch (...) {
      // No memory for the batch list: these blocks stay unused until exit.
    }
  }
  /// A batch of every block of class `cls` in a fresh slab.
  batch carve(std::size_t cls) {
    void* slab = nullptr;
    if (posix_memalign(&slab, slab_size, slab_size) != 0) throw std::bad_alloc();
    const auto size = block_size(cls);
    auto* base = static_cast<char*>(slab);
    const std::size_t n = slab_size / size;
    // Linked lazily: a block's link is written when the block is handed out or freed, so a
    // slab's pages are touched only as its blocks are used.
    {
      std::lock_guard lock(mu);
      slabs.push_back(slab);
    }
    return {reinterpret_cast<free_block*>(base), n};
  }
};

// Process-wide like malloc's own arenas: it holds free memory, never actor state, so it does
// not couple systems. Never destroyed: thread caches flush into it during thread exit.
depot& the_depot() {
  static depot* d = new depot;
  return *d;
}

struct thread_cache {
  free_block* head[classes] = {};
  std::size_t count[classes] = {};
  // A slab being handed out block by block, so fresh memory is touched in order.
  char* fresh[classes] = {};
  std::size_t fresh_left[classes] = {};

  ~thread_cache() {
    for (std::size_t c = 0; c < classes; ++c) {
      if (head[c] != nullptr) the_depot().give(c, {head[c], count[c]});
      // The rest of a half-used slab: link it up and hand it over too.
      if (fresh_left[c] != 0) {
        const auto size = block_size(c);
        for (std::size_t i = 0; i + 1 < fresh_left[c]; ++i)
          reinterpret_cast<free_block*>(fresh[c] + i * size)->next =
              reinterpret_cast<free_block*>(fresh[c] + (i + 1) * size);
        reinterpret_cast<free_block*>(fresh[c] + (fresh_left[c] - 1) * size)->next = nullptr;
        the_depot().give(c, {reinterpret_cast<free_block*>(fresh[c]), fresh_left[c]});
      }
    }
  }
  void spill(std::size_t cls) noexcept {
    // Hand the older part to the depot; keep the recently freed (cache-warm) blocks.
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
  return ::operator new(size);
#else
  if (size > pool_max_block) return ::operator new(size);
  const auto cls = class_of(size);
  auto& c = cache;
  if (auto* f = c.head[cls]) {
    c.head[cls] = f->next;
    --c.count[cls];
    return f;
  }
  if (c.fresh_left[cls] == 0) {
    batch b;
    if (the_depot().take(cls, b)) {
      c.head[cls] = b.head->next;
      c.count[cls] = b.count - 1;
      return b.head;
    }
    b = the_depot().carve(cls);
    c.fresh[cls] = reinterpret_cast<char*>(b.head);
    c.fresh_left[cls] = b.count;
  }
  void* p = c.fresh[cls];
  c.fresh[cls] += block_size(cls);
  --c.fresh_left[cls];
  return p;
#endif
}

void pool_deallocate(void* p, std::size_t size) noexcept {
#ifdef TROUPE_POOL_PASSTHROUGH
  ::operator delete(p, size);
#else
  if (size > pool_max_block) {
    ::operator delete(p, size);
    return;
  }
  const auto cls = class_of(size);
  auto& c = cache;
  auto* f = static_cast<free_block*>(p);
  f->next = c.head[cls];
  c.head[cls] = f;
  if (++c.count[cls] > cache_limit) c.spill(cls);
#endif
}

}  // namespace troupe::detail
