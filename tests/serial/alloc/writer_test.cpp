// writer_test.cpp: encoding into a reused buffer allocates nothing. Replaces the global
// operator new to count allocations, so it runs in a process of its own.
#include "troupe/serial/writer.hpp"

#include <gtest/gtest.h>

#include <atomic>
#include <cstdint>
#include <cstdlib>
#include <new>
#include <string>
#include <variant>
#include <vector>

#include "troupe/serial/registry.hpp"

#if defined(__SANITIZE_ADDRESS__) || defined(__SANITIZE_THREAD__)
#define SERIAL_TEST_SANITIZED 1
#elif defined(__has_feature)  // clang
#if __has_feature(address_sanitizer) || __has_feature(thread_sanitizer)
#define SERIAL_TEST_SANITIZED 1
#endif
#endif

#ifndef SERIAL_TEST_SANITIZED
namespace {
// relaxed: a statistic read by the same thread that allocates.
std::atomic<std::uint64_t> allocations{0};
}  // namespace

void* operator new(std::size_t n) {
  allocations.fetch_add(1, std::memory_order_relaxed);
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
struct trade {
  std::uint64_t id = 0;
  std::string symbol;
  std::int64_t price = 0;
  std::uint32_t quantity = 0;
  std::vector<std::int32_t> fills;
  std::string note;
  double fee = 0;
};
struct ack {
  std::uint64_t id = 0;
};
using trade_msg = std::variant<trade, ack>;
}  // namespace

TEST(Writer, EncodesIntoAReusedBufferWithoutAllocating) {
#ifdef SERIAL_TEST_SANITIZED
  GTEST_SKIP() << "the sanitizers bring their own allocator";
#else
  troupe::serial::registry reg;
  ASSERT_TRUE(reg.add<trade_msg>());
  const trade t{42, "ACME", 123456, 100, {1, 2, 3, 4, 5, 6, 7, 8}, std::string(56, 'n'), 0.5};
  std::string buf;
  troupe::serial::writer w{buf};
  ASSERT_TRUE(reg.encode<trade_msg>(t, w));  // grows the buffer once
  const std::size_t size = buf.size();
  EXPECT_GE(size, 90u);
  EXPECT_LE(size, 110u);  // a message of about 100 bytes

  const auto before = allocations.load(std::memory_order_relaxed);
  for (int i = 0; i < 1000; ++i) {
    buf.clear();
    if (!reg.encode<trade_msg>(t, w)) FAIL();
  }
  EXPECT_EQ(allocations.load(std::memory_order_relaxed) - before, 0u);
  EXPECT_EQ(buf.size(), size);
#endif
}
