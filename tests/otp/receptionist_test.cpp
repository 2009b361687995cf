// receptionist_test.cpp: discovery by typed service key, listings, automatic deregistration.
#include "troupe/otp/receptionist.hpp"

#include <gtest/gtest.h>

#include <memory>
#include <variant>

#include "core/test_support.hpp"
#include "troupe/troupe.hpp"

namespace {

using namespace troupe_test;

struct ping {
  troupe::ref<int> reply_to;
};
struct quit {};
using pinger_msg = std::variant<ping, quit>;

troupe::behavior<pinger_msg> pinger(int n) {
  return troupe::receive<pinger_msg>([n](const ping& p) { p.reply_to.tell(n); }, [](quit) { return troupe::stopped; });
}

const troupe::otp::service_key<pinger_msg> ping_service{"ping"};

TEST(Receptionist, FindsTheServicesRegisteredUnderAKey) {
  troupe::system sys{small_config()};
  troupe::otp::receptionist reception(sys);
  EXPECT_TRUE(reception.find(ping_service).empty());
  auto p = sys.spawn(pinger(7));
  ASSERT_TRUE(reception.register_service(ping_service, p).has_value());
  auto found = reception.find(ping_service);
  ASSERT_EQ(found.size(), 1u);
  EXPECT_EQ(await(found[0].ask<int>([](troupe::ref<int> r) { return ping{r}; }, deadline)).value(), 7);
  EXPECT_TRUE(reception.find(troupe::otp::service_key<int>{"ping"}).empty());  // another protocol
  EXPECT_TRUE(reception.deregister(ping_service, p));
  EXPECT_TRUE(reception.find(ping_service).empty());
}

TEST(Receptionist, SubscribersGetTheCurrentListingThenOneAfterEachChange) {
  troupe::system sys{small_config()};
  troupe::otp::receptionist reception(sys);
  auto p1 = sys.spawn(pinger(1));
  ASSERT_TRUE(reception.register_service(ping_service, p1).has_value());
  auto listings = std::make_shared<blocking_queue<troupe::otp::listing<pinger_msg>>>();
  reception.subscribe(ping_service, spawn_probe(sys, listings));
  auto first = listings->pop();
  ASSERT_TRUE(first.has_value());
  EXPECT_EQ(first->key.id, "ping");
  EXPECT_EQ(first->services, std::vector<troupe::ref<pinger_msg>>{p1});
  auto p2 = sys.spawn(pinger(2));
  ASSERT_TRUE(reception.register_service(ping_service, p2).has_value());
  auto second = listings->pop();
  ASSERT_TRUE(second.has_value());
  EXPECT_EQ(second->services, (std::vector<troupe::ref<pinger_msg>>{p1, p2}));
  p1.tell(quit{});  // deregistered by stopping
  auto third = listings->pop();
  ASSERT_TRUE(third.has_value());
  EXPECT_EQ(third->services, std::vector<troupe::ref<pinger_msg>>{p2});
}

TEST(Receptionist, DropsASubscriberThatHasStopped) {
  troupe::system sys{small_config()};
  troupe::otp::receptionist reception(sys);
  auto listings = std::make_shared<blocking_queue<troupe::otp::listing<pinger_msg>>>();
  auto sub = sys.spawn(troupe::receive<troupe::otp::listing<pinger_msg>>([listings](auto&& l) {
    listings->push(l);
    return troupe::stopped;  // one listing is enough
  }));
  auto down = watch_from_outside(sys, sub);
  reception.subscribe(ping_service, sub);
  ASSERT_TRUE(down->pop().has_value());
  ASSERT_TRUE(reception.register_service(ping_service, sys.spawn(pinger(1))).has_value());
  EXPECT_EQ(sys.dead_letter_count(), 0u);  // the stopped subscriber was not told
  EXPECT_EQ(listings->size(), 1u);
}

}  // namespace
