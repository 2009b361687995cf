// aggregator_test.cpp: ask many, collect with a deadline, answer once.
#include "troupe/otp/aggregator.hpp"

#include <gtest/gtest.h>

#include <algorithm>
#include <memory>
#include <string>
#include <vector>

#include "core/test_support.hpp"
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

TEST(Aggregator, AnswersWithWhatArrivedWhenTheTimeoutPasses) {
  troupe::system sys{small_config()};
  std::vector<troupe::ref<get_quote>> hotels{sys.spawn(hotel("inn", 80)), sys.spawn(silent_hotel())};
  auto offers = std::make_shared<blocking_queue<best_offer>>();
  auto customer = spawn_probe(sys, offers);
  sys.spawn(troupe::otp::aggregator<quote>(
      [=](troupe::ref<quote> r) {
        for (auto& h : hotels) h.tell(get_quote{r});
      },
      hotels.size(), customer, cheapest, 30ms));
  auto offer = offers->pop();
  ASSERT_TRUE(offer.has_value());
  EXPECT_EQ(offer->quotes, 1u);
  EXPECT_EQ(offer->hotel, "inn");
}

}  // namespace
