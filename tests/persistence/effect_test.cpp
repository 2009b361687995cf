// Effects as plain values: the events they carry and their `then` parts, which the runners run
// in the order they were added, whatever their captures (kept inline or boxed when large).
#include "troupe/persistence/effect.hpp"

#include <gtest/gtest.h>

#include <array>
#include <string>
#include <utility>
#include <vector>

namespace {

namespace persistence = troupe::persistence;
using fx = persistence::effect<std::string, int>;

TEST(Effect, CarriesOneEventOrSeveralInOrder) {
  auto one = fx::persist(std::string("a"));
  ASSERT_EQ(one.events().size(), 1u);
  EXPECT_EQ(one.events()[0], "a");
  auto many = fx::persist_async(std::vector<std::string>{"a", "b", "c"});
  ASSERT_EQ(many.events().size(), 3u);
  EXPECT_EQ(many.events()[2], "c");
  EXPECT_EQ(many.what(), fx::kind::persist_async);
  EXPECT_TRUE(fx::none().events().empty());
  // Moved, as the runners keep an effect in flight: the event moves with it.
  auto moved = std::move(one);
  ASSERT_EQ(moved.events().size(), 1u);
  EXPECT_EQ(moved.events()[0], "a");
}

TEST(Effect, RunsEveryThenPartInOrderWhateverItsCaptureAfterBeingMoved) {
  std::vector<std::string> seen;
  std::array<long, 16> large{};  // 128 bytes: beyond the inline buffer, boxed
  large[15] = 7;
  std::string text(100, 'x');   // a capture that owns memory, moved with the effect
  auto e = fx::persist(std::string("ev"))
               .then([&seen](const int& s) { seen.push_back("small " + std::to_string(s)); })
               .then([&seen, large](const int& s) { seen.push_back("large " + std::to_string(s + large[15])); })
               .then([&seen, text](const int&) { seen.push_back("text " + std::to_string(text.size())); })
               .then_stop();
  std::vector<fx> kept;
  kept.push_back(std::move(e));
  kept.reserve(64);  // relocates the effect and its parts again
  fx back = std::move(kept.back());
  back.run_after(1);
  EXPECT_EQ(seen, (std::vector<std::string>{"small 1", "large 8", "text 100"}));
  EXPECT_TRUE(back.stops());
  fx::none().run_after(1);  // no parts: nothing runs
  EXPECT_EQ(seen.size(), 3u);
}

}  // namespace
