// The memory store's test hooks: injected write failures reach the writer as errc results.
#include "troupe/persistence/memory_storage.hpp"

#include <gtest/gtest.h>

#include "journal_fixture.hpp"

namespace {

using namespace troupe_test;
using persistence::errc;

TEST(MemoryStorage, FailsTheNextWritesWithTheInjectedErrorThenRecovers) {
  auto mem = std::make_shared<persistence::memory_storage>();
  auto j = persistence::journal::start(mem);
  mem->fail_next_writes(1, {errc::storage_full, "disk full (injected)"});
  auto w = [&](std::uint64_t seq) {
    return await<void>([&](auto d) { j->async_write({"a", seq, {event_of("a", seq, "x")}}, std::move(d)); });
  };
  auto r = w(1);
  ASSERT_FALSE(r);
  EXPECT_EQ(r.error(), errc::storage_full);
  EXPECT_TRUE(w(1));
}

TEST(MemoryStorage, RefusesRequestsBeyondItsJournalsQueueBound) {
  // A journal whose thread is busy in a completion cannot take more than max_pending requests.
  auto mem = std::make_shared<persistence::memory_storage>();
  auto j = persistence::journal::start(mem, {.max_pending = 4});
  std::promise<void> release;
  auto released = release.get_future().share();
  std::promise<void> entered;
  j->async_highest_sequence_nr("a", [&, released](troupe::result<std::uint64_t>) {
    entered.set_value();
    released.wait();
  });
  entered.get_future().wait();
  std::vector<troupe::error> refused;
  for (int i = 0; i < 6; ++i)
    j->async_highest_sequence_nr("a", [&](troupe::result<std::uint64_t> r) {
      if (!r) refused.push_back(r.error());
    });
  ASSERT_EQ(refused.size(), 2u);  // refused on this thread, at once
  EXPECT_EQ(refused[0], errc::overloaded);
  release.set_value();
}

}  // namespace
