// message_pool_test.cpp: the pool behind envelopes: in steady state a message costs no
// general-purpose heap allocation. This file replaces the global operator new/delete to count
// allocations, so it is built into an executable of its own (troupe_core_alloc_tests).
#include "troupe/core/detail/message_pool.hpp"

#include <gtest/gtest.h>

#include <atomic>
#include <condition_variable>
#include <cstring>
#include <mutex>
#include <cstdlib>
#include <new>
#include <variant>

#include "test_support.hpp"
#include "troupe/troupe.hpp"

// --- counting operator new ----------------------------------------------------------------------
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

}  // namespace
