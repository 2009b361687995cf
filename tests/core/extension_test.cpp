// extension_test.cpp: the public seams behaviours are built on (core/extension.hpp): async_ask
// hands its outcome to a function exactly once, and tell_self_past_bound reaches an actor's own
// full bounded mailbox. Virtual time and a seeded order (test_system): no sleeps, exact deadlines.
#include "troupe/core/extension.hpp"

#include <gtest/gtest.h>

#include <chrono>
#include <memory>
#include <variant>
#include <vector>

#include "troupe/testkit/test_system.hpp"
#include "troupe/troupe.hpp"

namespace {

using namespace std::chrono_literals;

struct get {
  troupe::ref<int> reply_to;
};
auto make_get = [](troupe::ref<int> r) { return get{r}; };

troupe::behavior<get> answering(int value) {
  return troupe::receive<get>([value](const get& g) { g.reply_to.tell(value); });
}
// Never replies, but keeps every reply_to: a request whose reply_to is dropped completes at once
// with request_dropped, so only a kept one can reach its deadline.
troupe::behavior<get> hoarding(std::shared_ptr<std::vector<troupe::ref<int>>> kept) {
  return troupe::receive<get>([kept](const get& g) { kept->push_back(g.reply_to); });
}

TEST(Extension, AsyncAskHandsTheReplyToTheFunctionExactlyOnce) {
  troupe::testkit::test_system ts;
  auto s = ts.spawn(answering(7));
  std::vector<troupe::result<int>> outcomes;
  troupe::async_ask<int>(s, make_get, 1s, [&](troupe::result<int>&& r) { outcomes.push_back(std::move(r)); });
  EXPECT_TRUE(outcomes.empty());  // nothing runs until the test lets it
  ts.run_until_idle();
  ASSERT_EQ(outcomes.size(), 1u);
  EXPECT_EQ(outcomes[0].value(), 7);
  ts.advance(2s);  // past the deadline: the completed ask does not complete again
  EXPECT_EQ(outcomes.size(), 1u);
}

TEST(Extension, AsyncAskHandsATimeoutToTheFunctionAtTheDeadline) {
  troupe::testkit::test_system ts;
  auto s = ts.spawn(hoarding(std::make_shared<std::vector<troupe::ref<int>>>()));
  std::vector<troupe::result<int>> outcomes;
  troupe::async_ask<int>(s, make_get, 50ms, [&](troupe::result<int>&& r) { outcomes.push_back(std::move(r)); });
  ts.advance(50ms - 1ns);
  EXPECT_TRUE(outcomes.empty());
  ts.advance(1ns);
  ASSERT_EQ(outcomes.size(), 1u);
  ASSERT_FALSE(outcomes[0].has_value());
  EXPECT_EQ(outcomes[0].error(), troupe::errc::timeout) << outcomes[0].error().message();
}

struct go {};
struct filler {};
struct notice {};
using self_msg = std::variant<go, filler, notice>;

struct self_counts {
  troupe::result<void> plain_tell_while_full;
  int fillers = 0;
  int notices = 0;
};

// On `go`, fills its own bounded mailbox, then owes itself a notice.
troupe::behavior<self_msg> owing(self_counts& counts) {
  return troupe::setup<self_msg>([&counts](troupe::actor_context<self_msg>& ctx) {
    return troupe::receive<self_msg>(
        [&](const go&) {
          while (ctx.self().try_tell(filler{})) {
          }
          counts.plain_tell_while_full = ctx.self().try_tell(notice{});  // the control: refused
          troupe::tell_self_past_bound(ctx, notice{});
        },
        [&](const filler&) { ++counts.fillers; }, [&](const notice&) { ++counts.notices; });
  });
}

TEST(Extension, TellSelfPastBoundReachesTheActorsOwnFullMailbox) {
  troupe::testkit::test_system ts;
  self_counts counts;
  auto a = ts.spawn(owing(counts), {.mailbox = {.capacity = 4}});
  a.tell(go{});
  ts.run_until_idle();
  ASSERT_FALSE(counts.plain_tell_while_full.has_value());
  EXPECT_EQ(counts.plain_tell_while_full.error(), troupe::errc::mailbox_full);
  EXPECT_EQ(counts.fillers, 4);
  EXPECT_EQ(counts.notices, 1);
}

}  // namespace
