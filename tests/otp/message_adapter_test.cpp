// message_adapter_test.cpp: another protocol's messages, converted into the owner's.
#include "troupe/otp/message_adapter.hpp"

#include <gtest/gtest.h>

#include <memory>
#include <string>
#include <variant>

#include "core/test_support.hpp"
#include "troupe/troupe.hpp"

namespace {

using namespace troupe_test;

// A service that speaks its own reply type.
struct price {
  int cents;
};
struct quote_request {
  std::string symbol;
  troupe::ref<price> reply_to;
};

troupe::behavior<quote_request> exchange() {
  return troupe::receive<quote_request>([](const quote_request& q) {
    q.reply_to.tell(price{static_cast<int>(q.symbol.size()) * 100});
  });
}

// The client's own protocol: it learns prices as got_price messages.
struct got_price {
  int cents;
};
struct ask_quote {
  std::string symbol;
};
using client_msg = std::variant<ask_quote, got_price>;

troupe::behavior<client_msg> client(troupe::ref<quote_request> service, std::shared_ptr<blocking_queue<int>> out) {
  return troupe::setup<client_msg>([=](troupe::actor_context<client_msg>& ctx) {
    auto prices = troupe::otp::message_adapter<price>(ctx, [](price p) { return got_price{p.cents}; });
    return troupe::receive<client_msg>(
        [=](const ask_quote& a) { service.tell(quote_request{a.symbol, prices}); },
        [=](const got_price& g) { out->push(g.cents); });
  });
}

TEST(MessageAdapter, TurnsAnotherProtocolsRepliesIntoTheOwnersMessages) {
  troupe::system sys{small_config()};
  auto out = std::make_shared<blocking_queue<int>>();
  auto c = sys.spawn(client(sys.spawn(exchange()), out));
  c.tell(ask_quote{"ACME"});
  c.tell(ask_quote{"XY"});
  EXPECT_EQ(out->pop(), 400);
  EXPECT_EQ(out->pop(), 200);
}

TEST(MessageAdapter, KeepsTheOrderOfOneSendersMessages) {
  troupe::system sys{small_config()};
  auto out = std::make_shared<blocking_queue<int>>();
  auto adapter_out = std::make_shared<blocking_queue<troupe::ref<price>>>();
  auto c = sys.spawn(troupe::setup<client_msg>([=](troupe::actor_context<client_msg>& ctx) {
    adapter_out->push(troupe::otp::message_adapter<price>(ctx, [](price p) { return got_price{p.cents}; }));
    return troupe::receive<client_msg>([](const ask_quote&) {}, [=](const got_price& g) { out->push(g.cents); });
  }));
  auto adapter = adapter_out->pop().value();
  for (int i = 0; i < 1000; ++i) adapter.tell(price{i});
  for (int i = 0; i < 1000; ++i) ASSERT_EQ(out->pop(), i);
  EXPECT_EQ(adapter.id(), c.id());  // an adapter is addressed as its owner
}

TEST(MessageAdapter, SendsToDeadLettersOnceItsOwnerHasStopped) {
  troupe::system sys{small_config()};
  auto adapter_out = std::make_shared<blocking_queue<troupe::ref<price>>>();
  auto c = sys.spawn(troupe::setup<client_msg>([=](troupe::actor_context<client_msg>& ctx) {
    adapter_out->push(troupe::otp::message_adapter<price>(ctx, [](price p) { return got_price{p.cents}; }));
    return troupe::receive<client_msg>([](const ask_quote&) { return troupe::stopped; }, [](const got_price&) {});
  }));
  auto adapter = adapter_out->pop().value();
  auto down = watch_from_outside(sys, c);
  c.tell(ask_quote{});
  ASSERT_TRUE(down->pop().has_value());
  adapter.tell(price{1});
  EXPECT_TRUE(wait_until([&] { return sys.dead_letter_count() == 1; }));
}

TEST(MessageAdapter, CrashesItsOwnerWhenTheConversionThrows) {
  troupe::system sys{small_config()};
  auto adapter_out = std::make_shared<blocking_queue<troupe::ref<price>>>();
  auto c = sys.spawn(troupe::setup<client_msg>([=](troupe::actor_context<client_msg>& ctx) {
    adapter_out->push(troupe::otp::message_adapter<price>(ctx, [](price p) -> got_price {
      if (p.cents < 0) throw std::invalid_argument("negative price");
      return got_price{p.cents};
    }));
    return troupe::receive<client_msg>([](const ask_quote&) {}, [](const got_price&) {});
  }));
  auto down = watch_from_outside(sys, c);
  adapter_out->pop().value().tell(price{-1});  // the sender is not hurt
  auto t = down->pop();
  ASSERT_TRUE(t.has_value());
  EXPECT_TRUE(t->reason.is_failure());
  EXPECT_NE(t->reason.text.find("negative price"), std::string::npos);
}

}  // namespace
