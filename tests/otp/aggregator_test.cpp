// aggregator_test.cpp: ask many, collect with a deadline, answer once. The deadline is checked
// to the nanosecond in virtual time; the first test runs on real threads.
#include "troupe/otp/aggregator.hpp"

#include <gtest/gtest.h>

#include <algorithm>
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

struct quote {
  std::string hotel;
  int price;
};
struct get_quote {
  troupe::ref<quote> reply_to;
};
struct best_offer {
  std::size_t quotes;
  std::string hotel;
};

troupe::behavior<get_quote> hotel(std::string name, int price) {
  return troupe::receive<get_quote>([=](const get_quote& g) { g.reply_to.tell(quote{name, price}); });
}
troupe::behavior<get_quote> silent_hotel() {
  return troupe::receive<get_quote>([](const get_quote&) {});
}

auto cheapest = [](std::vector<quote> qs) {
  auto best = std::min_element(qs.begin(), qs.end(), [](auto& a, auto& b) { return a.price < b.price; });
  return best_offer{qs.size(), best == qs.end() ? std::string() : best->hotel};
};

TEST(Aggregator, AnswersOnceEveryExpectedReplyHasArrived) {
  troupe::system sys{small_config()};
  std::vector<troupe::ref<get_quote>> hotels{sys.spawn(hotel("ritz", 300)), sys.spawn(hotel("inn", 80)),
                                             sys.spawn(hotel("plaza", 250))};
  auto offers = std::make_shared<blocking_queue<best_offer>>();
  auto customer = spawn_probe(sys, offers);
  auto agg = sys.spawn(troupe::otp::aggregator<quote>(
      [=](troupe::ref<quote> r) {
        for (auto& h : hotels) h.tell(get_quote{r});
      },
      hotels.size(), customer, cheapest, deadline));
  auto down = watch_from_outside(sys, agg);
  auto offer = offers->pop();
  ASSERT_TRUE(offer.has_value());
  EXPECT_EQ(offer->quotes, 3u);
  EXPECT_EQ(offer->hotel, "inn");
  EXPECT_TRUE(down->pop().has_value());  // it stops once it has answered
  EXPECT_EQ(offers->size(), 0u);
}

TEST(Aggregator, AnswersWithWhatArrivedExactlyWhenTheTimeoutPassesInVirtualTime) {
  troupe::testkit::test_system ts;
  std::vector<troupe::ref<get_quote>> hotels{ts.spawn(hotel("inn", 80)), ts.spawn(silent_hotel())};
  troupe::testkit::test_probe<best_offer> customer{ts};
  auto agg = ts.spawn(troupe::otp::aggregator<quote>(
      [=](troupe::ref<quote> r) {
        for (auto& h : hotels) h.tell(get_quote{r});
      },
      hotels.size(), customer.ref(), cheapest, 30ms));
  customer.expect_no_message(30ms - 1ns);  // one reply is missing: it waits, to the nanosecond
  auto offer = customer.expect_message(1ns);
  EXPECT_EQ(offer.quotes, 1u);
  EXPECT_EQ(offer.hotel, "inn");
  customer.expect_terminated(agg, 0ns);  // it stopped with its answer
  customer.expect_no_message(1h);         // and answers once
}

}  // namespace
