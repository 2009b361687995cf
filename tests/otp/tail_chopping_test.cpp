// tail_chopping_test.cpp: ask one, then the next after a delay, take the first answer. The
// delays and the final timeout are checked to the nanosecond in virtual time.
#include "troupe/otp/tail_chopping.hpp"

#include <gtest/gtest.h>

#include <atomic>
#include <memory>
#include <string>
#include <vector>

#include "core/test_support.hpp"
#include "troupe/testkit/test_probe.hpp"
#include "troupe/testkit/test_system.hpp"
#include "troupe/troupe.hpp"

namespace {

using namespace troupe_test;
using namespace std::chrono_literals;

struct read {
  troupe::ref<std::string> reply_to;
};

troupe::behavior<read> replica(std::string value) {
  return troupe::receive<read>([value](const read& r) { r.reply_to.tell(value); });
}
troupe::behavior<read> stalled_replica() {
  return troupe::receive<read>([](const read&) {});
}

struct run {
  troupe::system sys{small_config()};
  std::shared_ptr<blocking_queue<troupe::result<std::string>>> answers =
      std::make_shared<blocking_queue<troupe::result<std::string>>>();
  std::shared_ptr<std::atomic<int>> sent = std::make_shared<std::atomic<int>>(0);

  void start(std::vector<troupe::ref<read>> replicas, std::chrono::milliseconds next_after, std::chrono::milliseconds final_timeout) {
    auto customer = spawn_probe(sys, answers);
    sys.spawn(troupe::otp::tail_chopping<std::string>(
        [replicas, sent = sent](std::size_t i, troupe::ref<std::string> r) {
          if (i >= replicas.size()) return false;
          sent->fetch_add(1);
          replicas[i].tell(read{r});
          return true;
        },
        next_after, final_timeout, customer));
  }
};

TEST(TailChopping, AsksOnlyTheFirstTargetWhenItAnswersInTime) {
  run t;
  t.start({t.sys.spawn(replica("fast")), t.sys.spawn(replica("spare"))}, deadline, deadline);
  auto a = t.answers->pop();
  ASSERT_TRUE(a.has_value());
  EXPECT_EQ(a->value(), "fast");
  EXPECT_EQ(t.sent->load(), 1);
}

TEST(TailChopping, AsksTheNextTargetAfterTheDelayAndTakesTheFirstAnswer) {
  run t;
  t.start({t.sys.spawn(stalled_replica()), t.sys.spawn(replica("second"))}, 5ms, deadline);
  auto a = t.answers->pop();
  ASSERT_TRUE(a.has_value());
  EXPECT_EQ(a->value(), "second");
  EXPECT_EQ(t.sent->load(), 2);
}

TEST(TailChopping, FailsWithTimeoutWhenNoTargetAnswersInTime) {
  run t;
  t.start({t.sys.spawn(stalled_replica()), t.sys.spawn(stalled_replica())}, 1ms, 30ms);
  auto a = t.answers->pop();
  ASSERT_TRUE(a.has_value());
  ASSERT_FALSE(a->has_value());
  EXPECT_TRUE(a->error() == troupe::errc::timeout);
  EXPECT_EQ(t.sent->load(), 2);  // every target was tried, and no more
}

// --- virtual time ---------------------------------------------------------------------------------

struct virtual_run {
  troupe::testkit::test_system ts;
  troupe::testkit::test_probe<troupe::result<std::string>> customer{ts};
  std::shared_ptr<int> sent = std::make_shared<int>(0);  // only the test's thread runs actors

  void start(std::vector<troupe::ref<read>> replicas, std::chrono::nanoseconds next_after,
             std::chrono::nanoseconds final_timeout) {
    ts.spawn(troupe::otp::tail_chopping<std::string>(
        [replicas, sent = sent](std::size_t i, troupe::ref<std::string> r) {
          if (i >= replicas.size()) return false;
          ++*sent;
          replicas[i].tell(read{r});
          return true;
        },
        next_after, final_timeout, customer.ref()));
    ts.run_until_idle();
  }
};

TEST(TailChopping, AsksEachNextTargetExactlyOneDelayAfterThePreviousInVirtualTime) {
  virtual_run t;
  t.start({t.ts.spawn(stalled_replica()), t.ts.spawn(stalled_replica()), t.ts.spawn(stalled_replica())}, 5ms, 1s);
  EXPECT_EQ(*t.sent, 1);
  t.ts.advance(5ms - 1ns);
  EXPECT_EQ(*t.sent, 1);  // not a nanosecond early
  t.ts.advance(1ns);
  EXPECT_EQ(*t.sent, 2);
  t.ts.advance(5ms - 1ns);
  EXPECT_EQ(*t.sent, 2);
  t.ts.advance(1ns);
  EXPECT_EQ(*t.sent, 3);
  t.ts.advance(1h);
  EXPECT_EQ(*t.sent, 3);  // no target left: no more attempts
}

TEST(TailChopping, TheSecondTargetsAnswerArrivesOneDelayAfterTheStartInVirtualTime) {
  virtual_run t;
  t.start({t.ts.spawn(stalled_replica()), t.ts.spawn(replica("second"))}, 5ms, 1s);
  t.customer.expect_no_message(5ms - 1ns);
  EXPECT_EQ(t.customer.expect_message(1ns).value(), "second");
  t.customer.expect_no_message(1h);  // one answer only, and the final timeout says nothing
}

TEST(TailChopping, FailsWithTimeoutExactlyAtTheFinalTimeoutCountedFromTheStartInVirtualTime) {
  virtual_run t;
  t.start({t.ts.spawn(stalled_replica()), t.ts.spawn(stalled_replica())}, 1ms, 30ms);
  t.customer.expect_no_message(30ms - 1ns);
  auto a = t.customer.expect_message(1ns);
  ASSERT_FALSE(a.has_value());
  EXPECT_TRUE(a.error() == troupe::errc::timeout);
  EXPECT_EQ(*t.sent, 2);
}

}  // namespace
