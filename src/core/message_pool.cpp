// message_pool.cpp: per-thread caches of small blocks, trading whole batches with a depot.
// Why not malloc: messages are usually freed on another thread than the one that made them,
// which glibc's per-thread caches handle poorly, and the runtime promises no general-purpose
// allocation per message in steady state. A thread's cache per size class holds up to
// `cache_limit` blocks; beyond that it hands a batch to the depot, and an empty cache takes a
// batch back. New blocks are carved from 2 MiB slabs, handed out in address order. No
// MADV_HUGEPAGE: with the kernel's default "defrag=madvise", huge-page faults compact memory
// synchronously, and on the benchmark host that made backlog-heavy runs swing by 2-3x
// (fjthroughput 0.17-0.58 s with it, 0.26-0.31 s without).
//
// Memory comes back after the pressure passes: `pool_trim` (once a trim interval, from the
// timer threads) finds the slabs all of whose blocks sit free in the depot and returns their
// pages with MADV_DONTNEED, keeping the address range for the next slab the pool needs. It
// returns at most the depot's low-water mark since the previous trim, so a workload that keeps
// draining and refilling the depot keeps its memory instead of faulting it back in every second.
// The hot path pays nothing for this: the counters it needs are updated under the depot's mutex,
// which only batch trades take.
#include <sys/mman.h>

#include <algorithm>
#include <atomic>
#include <cstdint>
#include <cstdio>
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
[[maybe_unused]] constexpr std::size_t cache_limit = 2 * batch_size;  // unused when sanitizers bypass the pool
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

std::size_t blocks_per_slab(std::size_t cls) noexcept { return slab_size / block_size(cls); }

// Maps a slab aligned to its size: the trim finds a block's slab by masking its address, and
// returning a whole aligned slab frees whole pages (huge ones too, where the kernel used them).
char* map_slab() {
  void* p = ::mmap(nullptr, 2 * slab_size, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
  if (p == MAP_FAILED) throw std::bad_alloc();
  const auto start = reinterpret_cast<std::uintptr_t>(p);
  const auto aligned = (start + slab_size - 1) & ~(slab_size - 1);
  if (aligned != start) ::munmap(p, aligned - start);
  const auto end = start + 2 * slab_size;
  if (end != aligned + slab_size) ::munmap(reinterpret_cast<void*>(aligned + slab_size), end - aligned - slab_size);
  // An inbox keeps its push count above bit 48 of the word that points at its newest envelope
  // (inbox.hpp): a kernel that maps user memory above 2^48 without being asked would break it.
  if ((aligned + slab_size) >> 48 != 0) {
    std::fputs("troupe: the kernel mapped memory above 2^48, which troupe's mailboxes cannot address\n", stderr);
    std::abort();
  }
  return reinterpret_cast<char*>(aligned);
}

struct slab_record {
  char* base;
  std::size_t cls;
  bool committed;  // false: its pages went back to the system; it waits in `returned` for reuse
};

struct depot {
  std::mutex mu;
  std::vector<batch> batches[classes];  // guarded by mu
  std::size_t free_bytes = 0;           // guarded by mu: the bytes of the blocks in `batches`
  std::size_t low_water = 0;            // guarded by mu: the least free_bytes since the last trim
  std::vector<slab_record> slabs;       // guarded by mu; mapped until exit
  std::vector<std::size_t> returned;    // guarded by mu: indexes into slabs, free to carve again
  std::size_t committed_bytes = 0;      // guarded by mu
  std::size_t returned_bytes = 0;       // guarded by mu
  std::size_t carved[classes] = {};     // guarded by mu: slabs ever carved for each class
  std::mutex trim_mu;                   // one trim at a time; taken before mu, never after
  // relaxed: it only elects which timer thread trims; the trim itself synchronizes through mu.
  std::atomic<std::int64_t> next_trim_ns{0};

  bool take(std::size_t cls, batch& out) {
    std::lock_guard lock(mu);
    auto& v = batches[cls];
    if (v.empty()) return false;
    out = v.back();
    v.pop_back();
    free_bytes -= out.count * block_size(cls);
    low_water = std::min(low_water, free_bytes);
    return true;
  }
  void give(std::size_t cls, batch b) noexcept {
    std::lock_guard lock(mu);
    try {
      batches[cls].push_back(b);
      free_bytes += b.count * block_size(cls);
    } catch (...) {
      // No memory for the batch list: these blocks stay unused until exit.
    }
  }
  /// A batch of every block of class `cls` in a fresh slab.
  batch carve(std::size_t cls) {
    char* base = nullptr;
    bool backlog = false;
    {
      std::lock_guard lock(mu);
      backlog = carved[cls]++ != 0;
      if (!returned.empty()) {
        auto& s = slabs[returned.back()];
        returned.pop_back();
        s.cls = cls;
        s.committed = true;
        committed_bytes += slab_size;
        base = s.base;
      }
    }
    if (base == nullptr) {
      base = map_slab();
      std::lock_guard lock(mu);
      try {
        slabs.push_back({base, cls, true});
      } catch (...) {
        ::munmap(base, slab_size);
        throw;
      }
      committed_bytes += slab_size;
    }
    // A class's second slab and later ones mean a backlog that will use the whole slab soon:
    // its pages are committed now, in one call, instead of one page fault per 4 KiB as the
    // blocks are first written. On this host the faults were over a third of fjthroughput's CPU
    // time (6,000,000 queued messages, 38,000 faults); one MADV_POPULATE_WRITE is a single
    // kernel entry that zeroes and maps the 512 pages. A class's first slab stays lazy so a
    // program that sends little never commits 2 MiB per message size. A kernel without
    // MADV_POPULATE_WRITE (before 5.14) refuses it, and the pages fault in as before.
#ifdef MADV_POPULATE_WRITE
    if (backlog) (void)::madvise(base, slab_size, MADV_POPULATE_WRITE);
#else
    (void)backlog;
#endif
    // Linked lazily: a block's link is written when the block is handed out or freed, so a
    // slab's pages are touched only as its blocks are used (a returned slab's pages read as
    // zero again until then).
    return {reinterpret_cast<free_block*>(base), blocks_per_slab(cls)};
  }

  std::size_t trim(std::size_t budget) noexcept;
  std::size_t trim_class(std::size_t cls, std::size_t budget);
};

// Process-wide like malloc's own arenas: it holds free memory, never actor state, so it does
// not couple systems. Never destroyed: thread caches flush into it during thread exit.
depot& the_depot() {
  static depot* d = new depot;
  return *d;
}

// Trivially destructible and constant-initialized, so the hot path reaches it with one
// thread-pointer-relative address and no guard: a thread_local with a destructor is checked for
// "constructed yet?" on every access (bench fjcreate: 20 of an allocation's 37 instructions).
// Its blocks go back to the depot at thread exit through `cache_flusher`, which every slow path
// (refill, spill, the first free) makes sure is registered.
struct thread_cache {
  bool flushes_at_exit;
  free_block* head[classes];
  std::size_t count[classes];
  // A slab being handed out block by block, so fresh memory is touched in order.
  char* fresh[classes];
  std::size_t fresh_left[classes];

  void flush() noexcept {
    for (std::size_t c = 0; c < classes; ++c) {
      if (head[c] != nullptr) the_depot().give(c, {head[c], count[c]});
      head[c] = nullptr;
      count[c] = 0;
      // The rest of a half-used slab: link it up and hand it over too.
      if (fresh_left[c] != 0) {
        const auto size = block_size(c);
        for (std::size_t i = 0; i + 1 < fresh_left[c]; ++i)
          reinterpret_cast<free_block*>(fresh[c] + i * size)->next =
              reinterpret_cast<free_block*>(fresh[c] + (i + 1) * size);
        reinterpret_cast<free_block*>(fresh[c] + (fresh_left[c] - 1) * size)->next = nullptr;
        the_depot().give(c, {reinterpret_cast<free_block*>(fresh[c]), fresh_left[c]});
      }
      fresh[c] = nullptr;
      fresh_left[c] = 0;
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

[[maybe_unused]] constinit thread_local thread_cache cache{};

struct cache_flusher {
  ~cache_flusher() { cache.flush(); }
};

[[maybe_unused, gnu::noinline]] void flush_at_exit() noexcept {
  cache.flushes_at_exit = true;
  // Constructed once per thread: registers the destructor that hands the cache back.
  static thread_local cache_flusher flusher;
  (void)flusher;
}

[[maybe_unused, gnu::noinline, gnu::cold]] void after_free(std::size_t cls) noexcept {
  if (!cache.flushes_at_exit) flush_at_exit();
  if (cache.count[cls] > cache_limit) cache.spill(cls);
}

[[maybe_unused, gnu::noinline]] void* refill(std::size_t cls) {
  auto& c = cache;
  if (!c.flushes_at_exit) flush_at_exit();
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
}

}  // namespace

void* pool_allocate(std::size_t size) {
#ifdef TROUPE_POOL_PASSTHROUGH
  return ::operator new(size);
#else
  if (size > pool_max_block) return ::operator new(size);
  const auto cls = class_of(size);
  auto& c = cache;
  if (auto* f = c.head[cls]) [[likely]] {
    c.head[cls] = f->next;
    --c.count[cls];
    return f;
  }
  if (c.fresh_left[cls] != 0) {  // a thread that only allocates (a spawner) carves most blocks
    void* p = c.fresh[cls];
    c.fresh[cls] += block_size(cls);
    --c.fresh_left[cls];
    return p;
  }
  return refill(cls);
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
  if (++c.count[cls] > cache_limit || !c.flushes_at_exit) [[unlikely]] after_free(cls);
#endif
}

#ifndef TROUPE_POOL_PASSTHROUGH
std::size_t depot::trim_class(std::size_t cls, std::size_t budget) {
  const auto size = block_size(cls);
  const auto per_slab = blocks_per_slab(cls);
  constexpr auto release = static_cast<std::size_t>(-1);
  struct tally {
    std::uintptr_t base;
    std::size_t slab;   // index into slabs
    std::size_t count;  // free blocks seen, or `release`
  };
  std::vector<tally> tallies;
  std::vector<batch> taken;
  std::size_t detached = 0;
  {
    std::lock_guard lock(mu);
    for (const auto& b : batches[cls]) detached += b.count;
    if (detached < per_slab) return 0;
    for (std::size_t i = 0; i < slabs.size(); ++i)
      if (slabs[i].committed && slabs[i].cls == cls)
        tallies.push_back({reinterpret_cast<std::uintptr_t>(slabs[i].base), i, 0});
    // Counted outside the lock (a million blocks take milliseconds): meanwhile a thread that needs
    // this class carves a slab or reuses a returned one instead of waiting.
    taken.swap(batches[cls]);
    free_bytes -= detached * size;
  }
  std::sort(tallies.begin(), tallies.end(), [](const tally& a, const tally& b) { return a.base < b.base; });
  tally* last = nullptr;  // neighbours in a free list are mostly neighbours in memory
  auto find = [&](const void* p) -> tally* {
    const auto base = reinterpret_cast<std::uintptr_t>(p) & ~(slab_size - 1);
    if (last != nullptr && last->base == base) return last;
    auto it = std::lower_bound(tallies.begin(), tallies.end(), base,
                               [](const tally& t, std::uintptr_t b) { return t.base < b; });
    if (it == tallies.end() || it->base != base) return nullptr;
    return last = &*it;
  };
  for (const auto& b : taken) {
    auto* f = b.head;
    for (std::size_t i = 0; i < b.count; ++i, f = f->next)
      if (auto* t = find(f)) ++t->count;
  }
  // A slab is wholly free when every block carved from it is here: the rest of a slab still
  // being carved is in no list, so that slab never qualifies.
  std::size_t chosen = 0;
  for (auto& t : tallies)
    if (t.count == per_slab && (chosen + 1) * slab_size <= budget) {
      t.count = release;
      ++chosen;
    }
  // Unlink the chosen slabs' blocks before their pages are dropped (the links live in them).
  // The walk is skipped when it would keep every block or none (a spike's end: all of them go).
  std::size_t kept_blocks = chosen == 0 ? detached : 0;
  std::size_t kept = chosen == 0 ? taken.size() : 0;
  if (chosen != 0 && chosen * per_slab != detached) {
    for (const auto& b : taken) {
      free_block* head = nullptr;
      free_block* tail = nullptr;
      std::size_t n = 0;
      auto* f = b.head;
      for (std::size_t i = 0; i < b.count; ++i) {
        auto* next = f->next;
        auto* t = find(f);
        if (t == nullptr || t->count != release) {
          if (tail == nullptr) head = f;
          else tail->next = f;
          tail = f;
          ++n;
        }
        f = next;
      }
      if (n == 0) continue;
      tail->next = nullptr;
      taken[kept++] = {head, n};
      kept_blocks += n;
    }
  }
  taken.resize(kept);
  std::size_t returned_now = 0;
  for (const auto& t : tallies)
    if (t.count == release && ::madvise(reinterpret_cast<void*>(t.base), slab_size, MADV_DONTNEED) == 0)
      returned_now += slab_size;
  std::lock_guard lock(mu);
  for (const auto& t : tallies) {
    if (t.count != release) continue;
    // Reusable even if madvise failed: carving relinks its blocks lazily either way.
    slabs[t.slab].committed = false;
    try {
      returned.push_back(t.slab);
    } catch (...) {
      // No memory for the list: this slab's address range stays unused until exit.
    }
  }
  committed_bytes -= chosen * slab_size;
  returned_bytes += returned_now;
  try {
    batches[cls].insert(batches[cls].end(), taken.begin(), taken.end());
    free_bytes += kept_blocks * size;
  } catch (...) {
    // No memory for the batch list: these blocks stay unused until exit (as in give).
  }
  low_water = std::min(low_water, free_bytes);
  return returned_now;
}

std::size_t depot::trim(std::size_t budget) noexcept {
  std::size_t done = 0;
  for (std::size_t c = 0; c < classes && done + slab_size <= budget; ++c) {
    try {
      done += trim_class(c, budget - done);
    } catch (...) {
      // No memory for the trim's own bookkeeping: try again at the next interval.
    }
  }
  return done;
}
#endif

pool_stats pool_statistics() noexcept {
#ifdef TROUPE_POOL_PASSTHROUGH
  return {};
#else
  auto& d = the_depot();
  std::lock_guard lock(d.mu);
  return {d.committed_bytes, d.free_bytes, d.returned_bytes};
#endif
}

std::size_t pool_trim() noexcept {
#ifdef TROUPE_POOL_PASSTHROUGH
  return 0;
#else
  auto& d = the_depot();
  std::lock_guard trimming(d.trim_mu);
  std::size_t budget = 0;
  {
    std::lock_guard lock(d.mu);
    budget = d.low_water;
    d.low_water = d.free_bytes;  // opens the next window
  }
  return budget < slab_size ? 0 : d.trim(budget);
#endif
}

std::chrono::steady_clock::time_point pool_maintain(std::chrono::steady_clock::time_point now) noexcept {
  using std::chrono::steady_clock;
  const auto interval = std::chrono::duration_cast<steady_clock::duration>(pool_trim_interval);
#ifdef TROUPE_POOL_PASSTHROUGH
  return now + interval;
#else
  auto& d = the_depot();
  const std::int64_t now_ns = std::chrono::duration_cast<std::chrono::nanoseconds>(now.time_since_epoch()).count();
  auto due = d.next_trim_ns.load(std::memory_order_relaxed);
  auto at = [](std::int64_t ns) {
    return steady_clock::time_point(std::chrono::duration_cast<steady_clock::duration>(std::chrono::nanoseconds(ns)));
  };
  if (now_ns < due) return at(due);
  const auto next = now_ns + std::chrono::duration_cast<std::chrono::nanoseconds>(interval).count();
  // relaxed: see next_trim_ns. The loser of a race returns the winner's schedule.
  if (!d.next_trim_ns.compare_exchange_strong(due, next, std::memory_order_relaxed)) return at(due);
  pool_trim();
  return at(next);
#endif
}

}  // namespace troupe::detail
