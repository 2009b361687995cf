// Events by tag as a demand-driven stream: never more than asked for, in offset order, and
// new events found by polling once caught up.
#include "troupe/persistence/tag_stream.hpp"

#include <gtest/gtest.h>

#include "core/test_support.hpp"
#include "journal_fixture.hpp"

namespace {

using namespace troupe_test;
using namespace std::chrono_literals;

TEST(TagStream, SendsNoMoreThanTheDemandInOffsetOrderAndPollsForNewEvents) {
  auto mem = std::make_shared<persistence::memory_storage>();
  auto j = persistence::journal::start(mem);
  auto put = [&](const std::string& id, std::uint64_t seq, const std::string& text, std::vector<std::string> tags) {
    std::vector<persistence::write_request> ws{{id, seq, {event_of(id, seq, text, std::move(tags))}}};
    ASSERT_TRUE(mem->write(ws)[0]);
  };
  for (std::uint64_t i = 1; i <= 5; ++i) {
    put("a", i, "a" + std::to_string(i), {"t"});
    put("b", i, "b" + std::to_string(i), {});
  }
  troupe::system sys{small_config()};
  auto got = std::make_shared<blocking_queue<persistence::tagged_events>>();
  auto consumer = sys.spawn(troupe::receive<persistence::tagged_events>(
      [got](persistence::tagged_events&& e) { got->push(std::move(e)); }));
  auto stream = sys.spawn(persistence::tag_stream({.journal = j, .tag = "t", .consumer = consumer, .poll_interval = 1ms}));
  stream.tell(persistence::demand{3});
  std::vector<std::string> seen;
  std::uint64_t last = 0;
  auto take = [&](std::size_t want) {
    while (seen.size() < want) {
      auto page = got->pop();
      ASSERT_TRUE(page) << "no events within the deadline";
      for (auto& e : page->events) {
        EXPECT_GT(e.offset, last);
        last = e.offset;
        seen.push_back(e.payload);
      }
    }
  };
  take(3);
  EXPECT_EQ(seen, (std::vector<std::string>{"a1", "a2", "a3"}));
  stream.tell(persistence::demand{10});
  take(5);
  put("a", 6, "a6", {"t"});  // after the stream caught up: found by polling
  take(6);
  EXPECT_EQ(seen, (std::vector<std::string>{"a1", "a2", "a3", "a4", "a5", "a6"}));
  EXPECT_FALSE(got->pop(0ms)) << "nothing more than what was there";
}

}  // namespace
