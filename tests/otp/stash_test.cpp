// stash_test.cpp: a bounded stash: overflow is a result the actor sees; unstash_all feeds the
// stashed messages, in order, to the next behaviour before any new message.
#include "troupe/otp/stash.hpp"

#include <gtest/gtest.h>

#include <string>
#include <variant>
#include <vector>

#include "core/test_support.hpp"
#include "troupe/troupe.hpp"

namespace {

using namespace troupe_test;
namespace otp = troupe::otp;
using log_ptr = std::shared_ptr<blocking_queue<std::string>>;
using lines = std::vector<std::string>;

struct work {
  std::string label;
};
struct ready {};
struct quit {};
using worker_msg = std::variant<work, ready, quit>;
using buffer_ptr = std::shared_ptr<otp::stash_buffer<worker_msg>>;

std::vector<std::string> take(const log_ptr& log, std::size_t n) {
  std::vector<std::string> out;
  for (std::size_t i = 0; i < n; ++i) {
    auto s = log->pop();
    if (!s) break;
    out.push_back(*s);
  }
  return out;
}

// Handles work: logs "<prefix><label>"; "switch" becomes the same with prefix "after:";
// "stop" stops; "again" is stashed again.
troupe::behavior<worker_msg> active(log_ptr log, buffer_ptr buffer, std::string prefix) {
  return troupe::receive<worker_msg>(
      [=](const work& w) -> troupe::behavior<worker_msg> {
        log->push(prefix + w.label);
        if (w.label == "switch") return active(log, buffer, "after:");
        if (w.label == "stop") return troupe::stopped;
        if (w.label == "again") (void)buffer->stash(work{"again-later"});
        return troupe::same;
      },
      [](ready) {}, [](quit) { return troupe::stopped; });
}

// Stashes work until `ready`; says "full: <label>" for work the stash refused.
troupe::behavior<worker_msg> waiting(log_ptr log, buffer_ptr buffer, bool self_tell_on_ready = false) {
  return troupe::setup<worker_msg>([=](troupe::actor_context<worker_msg>& ctx) {
    return troupe::receive<worker_msg>(
        [=](work&& w) {
          std::string label = w.label;
          if (auto r = buffer->stash(std::move(w)); !r) {
            EXPECT_TRUE(r.error() == otp::errc::stash_full) << r.error().message();
            log->push("full: " + label);
          }
        },
        [=, &ctx](ready) {
          if (self_tell_on_ready) ctx.self().tell(work{"new"});  // in the mailbox before the unstash
          return buffer->unstash_all(ctx, active(log, buffer, ""));
        },
        [](quit) { return troupe::stopped; });
  });
}

struct fixture {
  troupe::system sys{small_config()};
  log_ptr log = std::make_shared<blocking_queue<std::string>>();
};

TEST(Stash, UnstashAllFeedsTheStashedMessagesInOrderBeforeAnyNewMessage) {
  fixture f;
  auto buffer = std::make_shared<otp::stash_buffer<worker_msg>>(10);
  auto a = f.sys.spawn(waiting(f.log, buffer, true));
  a.tell(work{"1"});
  a.tell(work{"2"});
  a.tell(work{"3"});
  a.tell(ready{});
  EXPECT_EQ(take(f.log, 4), (lines{"1", "2", "3", "new"}));
}

TEST(Stash, StashingBeyondCapacityIsAResultTheActorSees) {
  fixture f;
  auto buffer = std::make_shared<otp::stash_buffer<worker_msg>>(2);
  auto a = f.sys.spawn(waiting(f.log, buffer));
  a.tell(work{"1"});
  a.tell(work{"2"});
  a.tell(work{"3"});
  a.tell(ready{});
  EXPECT_EQ(take(f.log, 3), (lines{"full: 3", "1", "2"}));
}

TEST(Stash, UnstashAllFollowsTheBehavioursTheStashedMessagesBecome) {
  fixture f;
  auto buffer = std::make_shared<otp::stash_buffer<worker_msg>>(10);
  auto a = f.sys.spawn(waiting(f.log, buffer));
  a.tell(work{"1"});
  a.tell(work{"switch"});
  a.tell(work{"2"});
  a.tell(ready{});
  a.tell(work{"3"});
  EXPECT_EQ(take(f.log, 4), (lines{"1", "switch", "after:2", "after:3"}));
}

TEST(Stash, AStashedMessageThatStopsTheActorDropsTheRest) {
  fixture f;
  auto buffer = std::make_shared<otp::stash_buffer<worker_msg>>(10);
  auto a = f.sys.spawn(waiting(f.log, buffer));
  auto down = watch_from_outside(f.sys, a);
  a.tell(work{"1"});
  a.tell(work{"stop"});
  a.tell(work{"never"});
  a.tell(ready{});
  auto t = down->pop();
  ASSERT_TRUE(t.has_value());
  EXPECT_EQ(t->reason, troupe::exit_reason{});
  EXPECT_EQ(f.log->drain(), (lines{"1", "stop"}));
}

TEST(Stash, MessagesStashedAgainWhileUnstashingWaitForTheNextUnstash) {
  fixture f;
  auto buffer = std::make_shared<otp::stash_buffer<worker_msg>>(10);
  auto a = f.sys.spawn(waiting(f.log, buffer));
  a.tell(work{"again"});
  a.tell(ready{});
  EXPECT_EQ(take(f.log, 1), (lines{"again"}));
  a.tell(quit{});
  auto down = watch_from_outside(f.sys, a);
  ASSERT_TRUE(down->pop().has_value());
  EXPECT_EQ(buffer->size(), 1u);  // the actor is gone; the buffer is the test's to read now
}

TEST(Stash, TheClassStyleUnstashAllCallsTheFunctionForEachMessageInOrder) {
  otp::stash_buffer<worker_msg> buffer(3);
  EXPECT_TRUE(buffer.empty());
  ASSERT_TRUE(buffer.stash(work{"a"}).has_value());
  ASSERT_TRUE(buffer.stash(worker_msg{work{"b"}}).has_value());
  ASSERT_TRUE(buffer.stash(ready{}).has_value());
  EXPECT_TRUE(buffer.full());
  auto over = buffer.stash(work{"d"});
  ASSERT_FALSE(over.has_value());
  EXPECT_TRUE(over.error() == otp::errc::stash_full);
  std::vector<std::size_t> seen;
  buffer.unstash_all([&](worker_msg&& m) { seen.push_back(m.index()); });
  EXPECT_EQ(seen, (std::vector<std::size_t>{0, 0, 1}));
  EXPECT_TRUE(buffer.empty());
}

}  // namespace
