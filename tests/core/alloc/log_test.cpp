// log_test.cpp: a record below the level costs no allocation, from the logger and from an
// actor. Replaces the global operator new to count allocations, so it runs in a process of its
// own; the count is per thread, so the workers' own allocations do not blur it.
#include "troupe/core/log.hpp"

#include <gtest/gtest.h>

#include <cstdint>
#include <cstdlib>
#include <future>
#include <new>
#include <string>
#include <variant>

#include "troupe/core/system.hpp"

#if defined(__SANITIZE_ADDRESS__) || defined(__SANITIZE_THREAD__)
#define LOG_TEST_SANITIZED 1
#elif defined(__has_feature)  // clang
#if __has_feature(address_sanitizer) || __has_feature(thread_sanitizer)
#define LOG_TEST_SANITIZED 1
#endif
#endif

#ifndef LOG_TEST_SANITIZED
namespace {
thread_local std::uint64_t allocations = 0;
}  // namespace

void* operator new(std::size_t n) {
  ++allocations;
  if (void* p = std::malloc(n == 0 ? 1 : n)) return p;
  throw std::bad_alloc();
}
void* operator new[](std::size_t n) { return operator new(n); }
void operator delete(void* p) noexcept { std::free(p); }
void operator delete[](void* p) noexcept { std::free(p); }
void operator delete(void* p, std::size_t) noexcept { std::free(p); }
void operator delete[](void* p, std::size_t) noexcept { std::free(p); }
#endif

namespace {

using troupe::log_level;

class counting_sink final : public troupe::log_sink {
 public:
  void write(const troupe::log_record&) noexcept override { ++written; }
  int written = 0;
};

TEST(LogCost, ARecordBelowTheLevelAllocatesNothingAndReachesNoSink) {
#ifdef LOG_TEST_SANITIZED
  GTEST_SKIP() << "the sanitizers bring their own allocator";
#else
  auto sink = std::make_shared<counting_sink>();
  troupe::logger lg(sink, log_level::warning);
  const std::string gateway = "acme";
  const auto before = allocations;
  for (int i = 0; i < 1000; ++i)
    lg.log(log_level::debug, "billing", "retrying", {{"attempt", i}, {"gateway", gateway}, {"backoff", std::chrono::milliseconds(i)}});
  EXPECT_EQ(allocations - before, 0u);
  EXPECT_EQ(sink->written, 0);
  lg.log(log_level::warning, "billing", "retrying", {{"attempt", 1}});  // the control: this one is written
  EXPECT_EQ(sink->written, 1);
#endif
}

struct go {
  std::promise<std::uint64_t>* done;
};

TEST(LogCost, AnActorsRecordBelowTheLevelAllocatesNothing) {
#ifdef LOG_TEST_SANITIZED
  GTEST_SKIP() << "the sanitizers bring their own allocator";
#else
  auto sink = std::make_shared<counting_sink>();
  troupe::system_config cfg;
  cfg.worker_threads = 1;
  cfg.log = {.level = log_level::info, .sink = sink};
  troupe::system sys{cfg};
  auto a = sys.spawn(troupe::setup<go>([](troupe::actor_context<go>& ctx) {
    return troupe::receive<go>([&ctx](const go& g) {
      const auto before = allocations;  // on this worker's thread
      for (int i = 0; i < 1000; ++i) ctx.log(log_level::debug, "tick", {{"i", i}});
      g.done->set_value(allocations - before);
    });
  }), {.name = "ticker"});
  std::promise<std::uint64_t> done;
  auto f = done.get_future();
  a.tell(go{&done});
  ASSERT_EQ(f.wait_for(std::chrono::seconds(10)), std::future_status::ready);
  EXPECT_EQ(f.get(), 0u);
  EXPECT_EQ(sink->written, 0);
#endif
}

}  // namespace
