// interaction_patterns_test.cpp: the patterns core already provides, each shown working as
// docs/patterns.md describes it: fire-and-forget, request-response, ask between two actors,
// ask from outside, a per-session child, and scheduling messages to self with keyed timers.
#include <gtest/gtest.h>

#include <memory>
#include <string>
#include <variant>

#include "core/test_support.hpp"
#include "troupe/troupe.hpp"

namespace {

using namespace troupe_test;
using namespace std::chrono_literals;

// --- fire-and-forget and request-response ---------------------------------------------------
struct log_line {
  std::string text;
};
struct greet {
  std::string whom;
  troupe::ref<std::string> reply_to;
};
troupe::behavior<greet> greeter() {
  return troupe::receive<greet>([](const greet& g) { g.reply_to.tell("hello, " + g.whom); });
}

TEST(InteractionPatterns, FireAndForgetDeliversInTheOrderSent) {
  troupe::system sys{small_config()};
  auto lines = std::make_shared<blocking_queue<std::string>>();
  auto logger = sys.spawn(troupe::receive<log_line>([lines](const log_line& l) { lines->push(l.text); }));
  logger.tell(log_line{"one"});
  logger.tell(log_line{"two"});
  EXPECT_EQ(lines->pop(), "one");
  EXPECT_EQ(lines->pop(), "two");
}

TEST(InteractionPatterns, RequestResponseRepliesToTheRefInTheRequest) {
  troupe::system sys{small_config()};
  auto replies = std::make_shared<blocking_queue<std::string>>();
  auto me = sys.spawn(troupe::receive<std::string>([replies](const std::string& s) { replies->push(s); }));
  sys.spawn(greeter()).tell(greet{"ada", me});
  EXPECT_EQ(replies->pop(), "hello, ada");
}

// --- ask from outside and between actors -----------------------------------------------------
TEST(InteractionPatterns, AskFromOutsideCompletesAFuture) {
  troupe::system sys{small_config()};
  auto g = sys.spawn(greeter());
  std::future<troupe::result<std::string>> answer =
      g.ask<std::string>([](troupe::ref<std::string> r) { return greet{"bob", r}; }, 1s);
  EXPECT_EQ(await(std::move(answer)).value(), "hello, bob");
}

struct introduce {
  std::string whom;
};
struct greeted {
  troupe::result<std::string> text;  // the greeting, or why there is none
};
using host_msg = std::variant<introduce, greeted>;

troupe::behavior<host_msg> host(troupe::ref<greet> greeter, std::shared_ptr<blocking_queue<std::string>> out) {
  return troupe::setup<host_msg>([=](troupe::actor_context<host_msg>& ctx) {
    return troupe::receive<host_msg>(
        [=, &ctx](const introduce& i) {
          ctx.ask<std::string>(
              greeter, [whom = i.whom](troupe::ref<std::string> r) { return greet{whom, r}; }, 1s,
              [](troupe::result<std::string>&& r) { return greeted{std::move(r)}; });
        },
        [=](const greeted& g) { out->push(g.text ? *g.text : "failed: " + g.text.error().message()); });
  });
}

TEST(InteractionPatterns, AskBetweenActorsMapsTheReplyIntoTheAskersProtocol) {
  troupe::system sys{small_config()};
  auto out = std::make_shared<blocking_queue<std::string>>();
  auto h = sys.spawn(host(sys.spawn(greeter()), out));
  h.tell(introduce{"cy"});
  EXPECT_EQ(out->pop(), "hello, cy");
}

TEST(InteractionPatterns, AskBetweenActorsMapsADeadReceiverIntoAnError) {
  troupe::system sys{small_config()};
  auto out = std::make_shared<blocking_queue<std::string>>();
  auto g = sys.spawn(troupe::receive<greet>([](const greet&) { return troupe::stopped; }));
  auto h = sys.spawn(host(g, out));
  h.tell(introduce{"dee"});
  auto text = out->pop();
  ASSERT_TRUE(text.has_value());
  EXPECT_EQ(text->rfind("failed: ", 0), 0u) << *text;
}

// --- a per-session child -----------------------------------------------------------------------
// A front actor handles each request with a child made for that one session; the child holds
// the session's state, answers, and stops. The front stays free for the next request.
struct checkout_cart {
  std::string user;
  troupe::ref<std::string> reply_to;
};
struct price_found {
  int cents;
};

troupe::behavior<price_found> session(checkout_cart request) {
  return troupe::receive<price_found>([request](const price_found& p) {
    request.reply_to.tell(request.user + " pays " + std::to_string(p.cents));
    return troupe::stopped;
  });
}

troupe::behavior<checkout_cart> shop(std::shared_ptr<std::atomic<int>> sessions_started) {
  return troupe::setup<checkout_cart>([=](troupe::actor_context<checkout_cart>& ctx) {
    return troupe::receive<checkout_cart>([=, &ctx](const checkout_cart& c) {
      sessions_started->fetch_add(1);
      auto child = ctx.spawn(session(c));
      child.tell(price_found{static_cast<int>(c.user.size()) * 10});  // in life: the pricing service answers it
    });
  });
}

TEST(InteractionPatterns, PerSessionChildHandlesOneRequestAndStops) {
  troupe::system sys{small_config()};
  auto started = std::make_shared<std::atomic<int>>(0);
  auto s = sys.spawn(shop(started));
  auto a = s.ask<std::string>([](troupe::ref<std::string> r) { return checkout_cart{"ann", r}; }, deadline);
  auto b = s.ask<std::string>([](troupe::ref<std::string> r) { return checkout_cart{"bo", r}; }, deadline);
  EXPECT_EQ(await(std::move(a)).value(), "ann pays 30");
  EXPECT_EQ(await(std::move(b)).value(), "bo pays 20");
  EXPECT_EQ(started->load(), 2);
}

// --- scheduling messages to self ----------------------------------------------------------------
struct tick {};
struct give_up {};
using poller_msg = std::variant<tick, give_up>;

TEST(InteractionPatterns, KeyedTimersScheduleMessagesToSelf) {
  troupe::system sys{small_config()};
  auto ticks = std::make_shared<blocking_queue<int>>();
  sys.spawn(troupe::setup<poller_msg>([=](troupe::actor_context<poller_msg>& ctx) {
    ctx.start_timer("poll", tick{}, 1ms, troupe::timer_mode::fixed_delay);
    auto count = std::make_shared<int>(0);
    return troupe::receive<poller_msg>(
        [=, &ctx](tick) {
          ticks->push(++*count);
          if (*count == 3) ctx.start_timer("poll", give_up{}, 1ms);  // same key: replaces the periodic one
        },
        [=](give_up) {
          ticks->push(-1);
          return troupe::stopped;
        });
  }));
  EXPECT_EQ(ticks->pop(), 1);
  EXPECT_EQ(ticks->pop(), 2);
  EXPECT_EQ(ticks->pop(), 3);
  EXPECT_EQ(ticks->pop(), -1);
}

}  // namespace
