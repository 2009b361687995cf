// message_pool_test.cpp: the pool behind envelopes: in steady state a message costs no
// general-purpose heap allocation (a function-style actor that becomes a large behaviour on every
// message included), and memory that stays free for a trim window goes back to the system. This
// file replaces the global operator new/delete to count
// allocations, so it is built into an executable of its own (troupe_core_alloc_tests).
#include "troupe/core/detail/message_pool.hpp"

#include <gtest/gtest.h>

#include <atomic>
#include <condition_variable>
#include <cstring>
#include <mutex>
#include <cstdio>
#include <cstdlib>
#include <new>
#include <thread>
#include <variant>
#include <vector>

#include "test_support.hpp"
#include "troupe/troupe.hpp"

// --- counting operator new ----------------------------------------------------------------------
// g++ 12 sees a `new` inlined into make_unique and the replaced delete's std::free below, and
// warns that they do not match; they do (every replaced new allocates with malloc).
#if defined(__GNUC__) && !defined(__clang__)
#pragma GCC diagnostic ignored "-Wmismatched-new-delete"
#endif
// Sanitizers bring their own allocator (and the pool passes straight through to it there), so the
// replacement and the test exist only in plain builds.
#ifndef TROUPE_TEST_SANITIZED

namespace {
// relaxed: a statistic, read by the test thread after a synchronizing wait.
std::atomic<std::uint64_t> allocations{0};

void* counted_alloc(std::size_t size, std::size_t align) {
  allocations.fetch_add(1, std::memory_order_relaxed);
  if (size == 0) size = 1;
  void* p = nullptr;
  if (align <= alignof(std::max_align_t)) p = std::malloc(size);
  else if (posix_memalign(&p, align, size) != 0) p = nullptr;
  return p;
}
}  // namespace

void* operator new(std::size_t n) {
  if (void* p = counted_alloc(n, 0)) return p;
  throw std::bad_alloc();
}
void* operator new[](std::size_t n) {
  if (void* p = counted_alloc(n, 0)) return p;
  throw std::bad_alloc();
}
void* operator new(std::size_t n, std::align_val_t a) {
  if (void* p = counted_alloc(n, static_cast<std::size_t>(a))) return p;
  throw std::bad_alloc();
}
void* operator new[](std::size_t n, std::align_val_t a) {
  if (void* p = counted_alloc(n, static_cast<std::size_t>(a))) return p;
  throw std::bad_alloc();
}
void* operator new(std::size_t n, const std::nothrow_t&) noexcept { return counted_alloc(n, 0); }
void* operator new[](std::size_t n, const std::nothrow_t&) noexcept { return counted_alloc(n, 0); }
void* operator new(std::size_t n, std::align_val_t a, const std::nothrow_t&) noexcept {
  return counted_alloc(n, static_cast<std::size_t>(a));
}
void* operator new[](std::size_t n, std::align_val_t a, const std::nothrow_t&) noexcept {
  return counted_alloc(n, static_cast<std::size_t>(a));
}
void operator delete(void* p) noexcept { std::free(p); }
void operator delete[](void* p) noexcept { std::free(p); }
void operator delete(void* p, std::size_t) noexcept { std::free(p); }
void operator delete[](void* p, std::size_t) noexcept { std::free(p); }
void operator delete(void* p, std::align_val_t) noexcept { std::free(p); }
void operator delete[](void* p, std::align_val_t) noexcept { std::free(p); }
void operator delete(void* p, std::size_t, std::align_val_t) noexcept { std::free(p); }
void operator delete[](void* p, std::size_t, std::align_val_t) noexcept { std::free(p); }
void operator delete(void* p, const std::nothrow_t&) noexcept { std::free(p); }
void operator delete[](void* p, const std::nothrow_t&) noexcept { std::free(p); }
void operator delete(void* p, std::align_val_t, const std::nothrow_t&) noexcept { std::free(p); }
void operator delete[](void* p, std::align_val_t, const std::nothrow_t&) noexcept { std::free(p); }

#endif  // TROUPE_TEST_SANITIZED

namespace {

using namespace troupe_test;

TEST(MessagePool, ReusesAFreedBlockOnTheSameThread) {
  if constexpr (sanitized) GTEST_SKIP() << "the pool passes through to the sanitizer's allocator";
  void* a = troupe::detail::pool_allocate(40);
  troupe::detail::pool_deallocate(a, 40);
  void* b = troupe::detail::pool_allocate(36);  // the same 40-byte size class
  EXPECT_EQ(a, b);
  troupe::detail::pool_deallocate(b, 36);
}

TEST(MessagePool, BlocksAreAlignedTo8Bytes) {
  std::vector<void*> blocks;
  for (std::size_t size : {1u, 17u, 32u, 33u, 100u, 256u, 257u, 1000u}) {
    void* p = troupe::detail::pool_allocate(size);
    EXPECT_EQ(reinterpret_cast<std::uintptr_t>(p) % 8, 0u) << size;
    std::memset(p, 0xab, size);  // the whole block is usable (ASan checks it)
    troupe::detail::pool_deallocate(p, size);
  }
}

struct ball {
  troupe::ref<ball> reply_to;
  int hits_left;
};

// Counts finished rallies; waiting and notifying allocate nothing.
struct rally_count {
  std::mutex mu;
  std::condition_variable cv;
  int finished = 0;  // guarded by mu

  void finish() {
    {
      std::lock_guard lock(mu);
      ++finished;
    }
    cv.notify_all();
  }
  bool wait_for(int n) {
    std::unique_lock lock(mu);
    return cv.wait_for(lock, deadline, [&] { return finished >= n; });
  }
};

TEST(MessagePool, SteadyStateMessagingMakesNoHeapAllocations) {
#ifdef TROUPE_TEST_SANITIZED
  GTEST_SKIP() << "sanitizer builds send every message block to the sanitizer's allocator";
#else
  troupe::system sys{small_config()};
  auto rallies = std::make_shared<rally_count>();
  // Two actors hit a ball back and forth; whoever gets it with no hits left ends the rally.
  auto player = [rallies] {
    return troupe::setup<ball>([rallies](troupe::actor_context<ball>& ctx) {
      return troupe::receive<ball>([rallies, &ctx](const ball& b) {
        if (b.hits_left == 0) rallies->finish();
        else b.reply_to.tell(ball{ctx.self(), b.hits_left - 1});
      });
    });
  };
  auto a = sys.spawn(player());
  auto b = sys.spawn(player());

  // Warm up: pools, run queues and per-thread caches grow to their working size.
  a.tell(ball{b, 2 * 20'000});
  ASSERT_TRUE(rallies->wait_for(1));

  constexpr int round_trips = 100'000;
  const auto before = allocations.load(std::memory_order_relaxed);
  a.tell(ball{b, 2 * round_trips});
  ASSERT_TRUE(rallies->wait_for(2));
  const auto made = allocations.load(std::memory_order_relaxed) - before;
  // A few for the first send from this thread and the scheduler's bookkeeping; none per message.
  EXPECT_LT(made, 100u) << made << " heap allocations for " << 2 * round_trips << " messages";
#endif
}

// --- memory that comes back ----------------------------------------------------------------------

std::size_t resident_bytes() {
  std::FILE* f = std::fopen("/proc/self/statm", "r");
  if (f == nullptr) return 0;
  unsigned long size = 0, resident = 0;
  const bool read = std::fscanf(f, "%lu %lu", &size, &resident) == 2;
  std::fclose(f);
  return read ? resident * 4096 : 0;
}

constexpr std::size_t burst_block = 192;
constexpr std::size_t burst_bytes = std::size_t{64} << 20;

// Allocates a 64 MiB burst of blocks, touches every byte, frees them all.
void burst(std::vector<void*>& blocks) {
  blocks.resize(burst_bytes / burst_block);
  for (auto& p : blocks) {
    p = troupe::detail::pool_allocate(burst_block);
    std::memset(p, 0x5a, burst_block);
  }
  for (auto* p : blocks) troupe::detail::pool_deallocate(p, burst_block);
}

// Returns what earlier work left free, so the windows below start from a settled pool.
void settle() {
  troupe::detail::pool_trim();
  troupe::detail::pool_trim();
}

TEST(MessagePool, ReturnsSlabsThatStayedFreeForAWholeTrimWindow) {
  if constexpr (sanitized) GTEST_SKIP() << "the pool passes through to the sanitizer's allocator";
  std::vector<void*> blocks;
  blocks.reserve(burst_bytes / burst_block);
  settle();
  const auto before = troupe::detail::pool_statistics();
  burst(blocks);
  const auto held = troupe::detail::pool_statistics();
  const auto rss_held = resident_bytes();
  EXPECT_GE(held.committed_bytes, before.committed_bytes + burst_bytes * 3 / 4);

  // The burst's memory was in use during this window, so the window's end keeps it...
  const auto first = troupe::detail::pool_trim();
  EXPECT_LT(first, burst_bytes / 4);
  // ...and it stayed free throughout the next one, whose end returns it.
  const auto second = troupe::detail::pool_trim();
  EXPECT_GE(second, burst_bytes * 3 / 4);
  const auto after = troupe::detail::pool_statistics();
  EXPECT_EQ(after.returned_bytes - held.returned_bytes, first + second);
  EXPECT_LE(after.committed_bytes + second, held.committed_bytes);
  EXPECT_LE(resident_bytes() + burst_bytes / 2, rss_held) << "the kernel took the pages back";

  // The returned address ranges serve the next burst (carved again, no new mapping needed).
  burst(blocks);
  EXPECT_LE(troupe::detail::pool_statistics().committed_bytes, held.committed_bytes);
}

TEST(MessagePool, KeepsTheMemoryASteadyWorkloadKeepsReusing) {
  if constexpr (sanitized) GTEST_SKIP() << "the pool passes through to the sanitizer's allocator";
  std::vector<void*> blocks;
  blocks.reserve(burst_bytes / burst_block);
  burst(blocks);  // the working set, now free in the pool
  troupe::detail::pool_trim();
  const auto warm = troupe::detail::pool_statistics();
  // A burst in every window: the depot drains each time, so nothing stayed free throughout one.
  for (int round = 0; round < 3; ++round) {
    burst(blocks);
    EXPECT_EQ(troupe::detail::pool_trim(), 0u) << "round " << round;
  }
  const auto steady = troupe::detail::pool_statistics();
  EXPECT_EQ(steady.returned_bytes, warm.returned_bytes);
  EXPECT_EQ(steady.committed_bytes, warm.committed_bytes) << "each burst reused the same slabs";
  // Once the bursts stop, the end of the first quiet window gives the memory back.
  EXPECT_GE(troupe::detail::pool_trim(), burst_bytes * 3 / 4);
}

// --- a function-style actor that keeps its state in its behaviour --------------------------------

struct rally;
struct feed {
  long amount;
};
struct report {};
using creature_msg = std::variant<rally, feed, report>;
struct rally {
  troupe::ref<creature_msg> reply_to;
  int hits_left;
};

// Three handlers, each capturing two refs and two numbers: 96 bytes of handlers, too many for the
// behaviour's inline buffer, rebuilt on every rally.
troupe::behavior<creature_msg> creature(troupe::ref<long> keeper, troupe::ref<creature_msg> self, long health,
                                        long hits) {
  return troupe::receive<creature_msg>(
      [=](const rally& r) -> troupe::behavior<creature_msg> {
        if (r.hits_left == 0) {
          keeper.tell(health + hits);
          return troupe::same;
        }
        r.reply_to.tell(rally{self, r.hits_left - 1});
        return creature(keeper, self, health - 1, hits + 1);
      },
      [=](const feed& f) { return creature(keeper, self, health + f.amount, hits); },
      [=](const report&) { keeper.tell(health + hits + (self ? 0 : 1)); });
}

TEST(MessagePool, AFunctionStyleActorThatBecomesALargeBehaviourMakesNoHeapAllocations) {
#ifdef TROUPE_TEST_SANITIZED
  GTEST_SKIP() << "sanitizer builds send every pooled block to the sanitizer's allocator";
#else
  troupe::system sys{small_config()};
  auto rallies = std::make_shared<rally_count>();
  auto keeper = sys.spawn(troupe::receive<long>([rallies](long) { rallies->finish(); }));
  auto spawn_creature = [&] {
    return sys.spawn(troupe::setup<creature_msg>([keeper](troupe::actor_context<creature_msg>& ctx) {
      return creature(keeper, ctx.self(), 1'000'000, 0);
    }));
  };
  auto a = spawn_creature();
  auto b = spawn_creature();

  a.tell(rally{b, 2 * 20'000});  // warm-up
  ASSERT_TRUE(rallies->wait_for(1));

  constexpr int round_trips = 100'000;
  const auto before = allocations.load(std::memory_order_relaxed);
  a.tell(rally{b, 2 * round_trips});
  ASSERT_TRUE(rallies->wait_for(2));
  const auto made = allocations.load(std::memory_order_relaxed) - before;
  EXPECT_LT(made, 100u) << made << " heap allocations for " << 2 * round_trips << " becomes";
#endif
}

TEST(MessagePool, AThreadThatOnlyFreesGivesItsBlocksBackWhenItExits) {
  if constexpr (sanitized) GTEST_SKIP() << "the pool passes through to the sanitizer's allocator";
  // A thread's cache has no destructor of its own (so reaching it costs no guard): its first
  // free registers the hand-back at exit. Here it frees fewer blocks than a spill, never allocates.
  // Last in the file: the blocks it leaves in the depot would skew the trim windows above.
  constexpr std::size_t size = 200;
  constexpr std::size_t n = 100;
  std::vector<void*> blocks;
  for (std::size_t i = 0; i < n; ++i) blocks.push_back(troupe::detail::pool_allocate(size));
  const auto before = troupe::detail::pool_statistics().depot_free_bytes;
  std::thread([&] {
    for (auto* p : blocks) troupe::detail::pool_deallocate(p, size);
  }).join();
  EXPECT_GE(troupe::detail::pool_statistics().depot_free_bytes, before + n * size);
}

}  // namespace
