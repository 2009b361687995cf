// flow_control_test.cpp: demand-based flow: the consumer grants, the producer never sends past
// the grant, and a fast producer with a slow consumer keeps the consumer's mailbox bounded.
#include "troupe/otp/flow_control.hpp"

#include <gtest/gtest.h>

#include <algorithm>
#include <atomic>
#include <memory>
#include <optional>
#include <variant>

#include "core/test_support.hpp"
#include "troupe/troupe.hpp"

namespace {

using namespace troupe_test;
namespace otp = troupe::otp;

struct work_item {
  int n;
};
struct connect {
  troupe::ref<otp::demand> producer;
};
using consumer_msg = std::variant<connect, work_item>;

// Deliberately slow: a dependent chain of multiplications the optimizer cannot skip.
std::uint64_t slow_work(int n) {
  std::uint64_t h = static_cast<std::uint64_t>(n);
  for (int i = 0; i < 20'000; ++i) h = h * 6364136223846793005ULL + 1442695040888963407ULL;
  return h;
}

struct consumer_report {
  std::size_t max_mailbox = 0;
  std::size_t max_outstanding = 0;
  int received = 0;
  int out_of_order = 0;
  std::uint64_t checksum = 0;
};

// A slow consumer. With a producer (connect), it grants `window` and re-grants as it works; it
// records the longest mailbox it saw and the most items outstanding.
troupe::behavior<consumer_msg> slow_consumer(int total, std::size_t window, std::shared_ptr<consumer_report> rep,
                                             std::shared_ptr<gate> done) {
  return troupe::setup<consumer_msg>([=](troupe::actor_context<consumer_msg>& ctx) {
    auto in = std::make_shared<std::optional<otp::demand_consumer<otp::demand>>>();
    return troupe::receive<consumer_msg>(
        [in, window](const connect& c) {
          in->emplace(c.producer, window);
          (*in)->start();
        },
        [=, &ctx](const work_item& w) {
          rep->max_mailbox = std::max(rep->max_mailbox, ctx.mailbox_length().value_or(0));
          if (*in) rep->max_outstanding = std::max(rep->max_outstanding, (*in)->outstanding());
          if (w.n != rep->received) ++rep->out_of_order;
          rep->checksum += slow_work(w.n);
          ++rep->received;
          if (*in) (*in)->handled();
          if (rep->received == total) done->open();
        });
  });
}

// A fast producer: whenever demand arrives it sends everything the demand allows at once.
troupe::behavior<otp::demand> fast_producer(troupe::ref<consumer_msg> sink, int total) {
  return troupe::setup<otp::demand>([=](troupe::actor_context<otp::demand>&) {
    auto out = std::make_shared<otp::demand_producer<consumer_msg>>(sink);
    auto next = std::make_shared<int>(0);
    return troupe::receive<otp::demand>([=](const otp::demand& d) {
      out->grant(d);
      while (*next < total && out->send(work_item{*next})) ++*next;
    });
  });
}

TEST(FlowControl, AFastProducerAndASlowConsumerKeepTheMailboxBounded) {
  troupe::system sys{small_config()};
  constexpr int total = sanitized ? 500 : 2'000;
  constexpr std::size_t window = 16;
  auto rep = std::make_shared<consumer_report>();
  auto done = std::make_shared<gate>();
  auto consumer = sys.spawn(slow_consumer(total, window, rep, done), {.mailbox = {.counted = true}});
  auto producer = sys.spawn(fast_producer(consumer, total));
  consumer.tell(connect{producer});
  ASSERT_TRUE(done->wait());
  EXPECT_EQ(rep->received, total);
  EXPECT_EQ(rep->out_of_order, 0);
  EXPECT_LE(rep->max_mailbox, window);
  EXPECT_LE(rep->max_outstanding, window);
  EXPECT_GT(rep->max_outstanding, 0u);
}

// The same producer and consumer without demand: the mailbox grows far past the window. This is
// the mailbox explosion the flow control above prevents (and shows that test can fail).
TEST(FlowControl, WithoutDemandTheSameFastProducerFloodsTheSlowConsumer) {
  troupe::system sys{small_config()};
  constexpr int total = sanitized ? 500 : 2'000;
  constexpr std::size_t window = 16;
  auto rep = std::make_shared<consumer_report>();
  auto done = std::make_shared<gate>();
  auto consumer = sys.spawn(slow_consumer(total, window, rep, done), {.mailbox = {.counted = true}});
  auto producer = sys.spawn(fast_producer(consumer, total));
  producer.tell(otp::demand{static_cast<std::size_t>(total)});  // "unlimited": no consumer grants
  ASSERT_TRUE(done->wait());
  EXPECT_EQ(rep->received, total);
  EXPECT_GT(rep->max_mailbox, 4 * window);
}

TEST(FlowControl, TheProducerNeverSendsPastItsCredit) {
  troupe::system sys{small_config()};
  auto got = std::make_shared<blocking_queue<int>>();
  auto sink = sys.spawn(troupe::receive<int>([got](int n) { got->push(n); }));
  otp::demand_producer<int> out{sink};
  EXPECT_FALSE(out.send(0));  // no credit before a grant
  out.grant(otp::demand{2});
  EXPECT_TRUE(out.send(1));
  EXPECT_TRUE(out.send(2));
  EXPECT_FALSE(out.send(3));
  EXPECT_EQ(out.credit(), 0u);
  EXPECT_EQ(out.sent(), 2u);
  EXPECT_EQ(got->pop(), std::optional<int>{1});
  EXPECT_EQ(got->pop(), std::optional<int>{2});
  EXPECT_EQ(got->pop(100ms), std::nullopt);
}

TEST(FlowControl, TheConsumerGrantsItsWindowThenRegrantsInBatches) {
  troupe::system sys{small_config()};
  auto grants = std::make_shared<blocking_queue<otp::demand>>();
  auto producer = spawn_probe<otp::demand>(sys, grants);
  otp::demand_consumer<otp::demand> in{producer, 8};  // batch: half the window
  in.start();
  ASSERT_EQ(grants->pop()->n, 8u);
  in.handled(3);
  EXPECT_EQ(in.outstanding(), 5u);
  in.handled();
  EXPECT_EQ(in.outstanding(), 8u);  // 4 handled: regranted
  ASSERT_EQ(grants->pop()->n, 4u);
  EXPECT_EQ(grants->size(), 0u);
  EXPECT_THROW((otp::demand_consumer<otp::demand>{producer, 0}), troupe::usage_error);
}

}  // namespace
