// event_stream_test.cpp: typed topics, subscribe and publish, dead subscribers dropped.
#include "troupe/otp/event_stream.hpp"

#include <gtest/gtest.h>

#include <memory>
#include <string>
#include <variant>

#include "core/test_support.hpp"
#include "troupe/troupe.hpp"

namespace {

using namespace troupe_test;

struct price_changed {
  std::string symbol;
  int cents;
};
struct trade {
  int shares;
};
using ticker_msg = std::variant<price_changed, trade>;

TEST(EventStream, PublishReachesEverySubscriberOfTheTopicInOrder) {
  troupe::system sys{small_config()};
  troupe::otp::event_stream events;
  const troupe::otp::topic<price_changed> prices{"prices"};
  auto q1 = std::make_shared<blocking_queue<ticker_msg>>();
  auto q2 = std::make_shared<blocking_queue<ticker_msg>>();
  events.subscribe(prices, spawn_probe(sys, q1));
  events.subscribe(prices, spawn_probe(sys, q2));
  EXPECT_EQ(events.publish(prices, price_changed{"ACME", 1}), 2u);
  EXPECT_EQ(events.publish(prices, price_changed{"ACME", 2}), 2u);
  for (auto& q : {q1, q2}) {
    EXPECT_EQ(std::get<price_changed>(q->pop().value()).cents, 1);
    EXPECT_EQ(std::get<price_changed>(q->pop().value()).cents, 2);
  }
}

TEST(EventStream, TopicsAreKeptApartByTypeAndName) {
  troupe::system sys{small_config()};
  troupe::otp::event_stream events;
  auto q = std::make_shared<blocking_queue<ticker_msg>>();
  auto ticker = spawn_probe(sys, q);
  events.subscribe(troupe::otp::topic<trade>{"nyse"}, ticker);
  EXPECT_EQ(events.publish(troupe::otp::topic<trade>{"lse"}, trade{5}), 0u);
  EXPECT_EQ(events.publish(troupe::otp::topic<price_changed>{"nyse"}, price_changed{"X", 1}), 0u);
  EXPECT_EQ(events.publish(troupe::otp::topic<trade>{"nyse"}, trade{7}), 1u);
  EXPECT_EQ(std::get<trade>(q->pop().value()).shares, 7);
  EXPECT_EQ(q->size(), 0u);
}

TEST(EventStream, UnsubscribeStopsDelivery) {
  troupe::system sys{small_config()};
  troupe::otp::event_stream events;
  const troupe::otp::topic<trade> trades{};
  auto q = std::make_shared<blocking_queue<ticker_msg>>();
  auto ticker = spawn_probe(sys, q);
  events.subscribe(trades, ticker);
  events.subscribe(trades, ticker);  // twice is once
  EXPECT_EQ(events.subscriber_count(trades), 1u);
  EXPECT_TRUE(events.unsubscribe(trades, ticker));
  EXPECT_EQ(events.publish(trades, trade{1}), 0u);
}

TEST(EventStream, DropsSubscribersThatHaveStopped) {
  troupe::system sys{small_config()};
  troupe::otp::event_stream events;
  const troupe::otp::topic<trade> trades{};
  auto q = std::make_shared<blocking_queue<ticker_msg>>();
  auto live = spawn_probe(sys, q);
  auto dead = sys.spawn(troupe::receive<trade>([](trade) { return troupe::stopped; }));
  events.subscribe(trades, live);
  events.subscribe(trades, dead);
  auto down = watch_from_outside(sys, dead);
  dead.tell(trade{0});
  ASSERT_TRUE(down->pop().has_value());
  EXPECT_EQ(events.publish(trades, trade{3}), 1u);
  EXPECT_EQ(events.subscriber_count(trades), 1u);
  EXPECT_EQ(sys.dead_letter_count(), 0u);
}

}  // namespace
