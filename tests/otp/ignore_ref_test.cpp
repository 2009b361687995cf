// ignore_ref_test.cpp: a reply nobody wants goes nowhere, silently.
#include "troupe/otp/ignore_ref.hpp"

#include <gtest/gtest.h>

#include <memory>
#include <variant>

#include "core/test_support.hpp"
#include "troupe/troupe.hpp"

namespace {

using namespace troupe_test;

struct add_and_report {
  int n;
  troupe::ref<int> reply_to;
};
struct get {
  troupe::ref<int> reply_to;
};
using counter_msg = std::variant<add_and_report, get>;

troupe::behavior<counter_msg> counter(int total) {
  return troupe::receive<counter_msg>(
      [=](const add_and_report& a) {
        a.reply_to.tell(total + a.n);
        return counter(total + a.n);
      },
      [=](const get& g) { g.reply_to.tell(total); });
}

TEST(IgnoreRef, DropsRepliesWithoutDeadLetters) {
  troupe::system sys{small_config()};
  auto c = sys.spawn(counter(0));
  auto nobody = troupe::otp::ignore_ref<int>();
  for (int i = 0; i < 100; ++i) c.tell(add_and_report{1, nobody});
  auto total = await(c.ask<int>([](troupe::ref<int> r) { return get{r}; }, deadline));
  EXPECT_EQ(total.value(), 100);  // every request was handled, and every reply dropped
  EXPECT_EQ(sys.dead_letter_count(), 0u);
}

TEST(IgnoreRef, BelongsToNoSystemAndMayOutliveThemAll) {
  auto nobody = troupe::otp::ignore_ref<int>();
  {
    troupe::system sys{small_config()};
    auto c = sys.spawn(counter(0));
    c.tell(add_and_report{1, nobody});
  }
  nobody.tell(5);  // still fine: nothing to reach
  EXPECT_TRUE(static_cast<bool>(nobody));
}

}  // namespace
