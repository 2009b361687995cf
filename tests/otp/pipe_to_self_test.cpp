// pipe_to_self_test.cpp: a future or a callback completing elsewhere becomes a message.
#include "troupe/otp/pipe_to_self.hpp"

#include <gtest/gtest.h>

#include <future>
#include <memory>
#include <stdexcept>
#include <string>
#include <thread>
#include <variant>
#include <vector>

#include "core/test_support.hpp"
#include "troupe/troupe.hpp"

namespace {

using namespace troupe_test;

struct looked_up {
  int value = 0;
  std::string failure;  // empty when the lookup succeeded
};
struct cancel {};
using lookup_msg = std::variant<looked_up, cancel>;

// Pipes every future it is given to itself and reports what arrives.
troupe::behavior<lookup_msg> waiting_for(std::shared_ptr<std::vector<std::future<int>>> futures,
                                         std::shared_ptr<blocking_queue<lookup_msg>> out) {
  return troupe::setup<lookup_msg>([=](troupe::actor_context<lookup_msg>& ctx) {
    for (auto& f : *futures)
      troupe::otp::pipe_to_self(ctx, std::move(f), [](std::future<int> done) {
        try {
          return looked_up{done.get(), {}};
        } catch (const std::exception& e) {
          return looked_up{0, e.what()};
        }
      });
    return troupe::receive<lookup_msg>([out](const looked_up& m) { out->push(m); }, [](cancel) { return troupe::stopped; });
  });
}

TEST(PipeToSelf, DeliversAFutureCompletedOnAnotherThreadAsAMessage) {
  troupe::system sys{small_config()};
  std::promise<int> p;
  auto futures = std::make_shared<std::vector<std::future<int>>>();
  futures->push_back(p.get_future());
  auto out = std::make_shared<blocking_queue<lookup_msg>>();
  sys.spawn(waiting_for(futures, out));
  std::thread producer([&] { p.set_value(42); });
  auto m = out->pop();
  producer.join();
  ASSERT_TRUE(m.has_value());
  EXPECT_EQ(std::get<looked_up>(*m).value, 42);
  EXPECT_EQ(std::get<looked_up>(*m).failure, "");
}

TEST(PipeToSelf, HandsTheProducersExceptionToTheMapping) {
  troupe::system sys{small_config()};
  std::promise<int> p;
  auto futures = std::make_shared<std::vector<std::future<int>>>();
  futures->push_back(p.get_future());
  auto out = std::make_shared<blocking_queue<lookup_msg>>();
  sys.spawn(waiting_for(futures, out));
  std::thread producer([&] { p.set_exception(std::make_exception_ptr(std::runtime_error("no such key"))); });
  auto m = out->pop();
  producer.join();
  ASSERT_TRUE(m.has_value());
  EXPECT_EQ(std::get<looked_up>(*m).failure, "no such key");
}

TEST(PipeToSelf, WatchesManyFuturesWithoutAThreadEach) {
  troupe::system sys{small_config()};
  constexpr int n = 200;
  std::vector<std::promise<int>> promises(n);
  auto futures = std::make_shared<std::vector<std::future<int>>>();
  for (auto& p : promises) futures->push_back(p.get_future());
  auto out = std::make_shared<blocking_queue<lookup_msg>>();
  sys.spawn(waiting_for(futures, out));
  std::thread producer([&] {
    for (int i = 0; i < n; ++i) promises[i].set_value(i);
  });
  long sum = 0;
  for (int i = 0; i < n; ++i) {
    auto m = out->pop();
    ASSERT_TRUE(m.has_value());
    sum += std::get<looked_up>(*m).value;
  }
  producer.join();
  EXPECT_EQ(sum, n * (n - 1) / 2);
}

TEST(PipeToSelf, CallbackFormDeliversFromAnyThread) {
  troupe::system sys{small_config()};
  auto out = std::make_shared<blocking_queue<lookup_msg>>();
  auto callbacks = std::make_shared<blocking_queue<std::function<void(int)>>>();
  sys.spawn(troupe::setup<lookup_msg>([=](troupe::actor_context<lookup_msg>& ctx) {
    callbacks->push(troupe::otp::callback_to_self<int>(ctx, [](int v) { return looked_up{v, {}}; }));
    return troupe::receive<lookup_msg>([out](const looked_up& m) { out->push(m); }, [](cancel) {});
  }));
  auto done = callbacks->pop().value();
  std::thread a([&] { done(1); });
  std::thread b([&] { done(2); });
  a.join();
  b.join();
  int sum = 0;
  for (int i = 0; i < 2; ++i) sum += std::get<looked_up>(out->pop().value()).value;
  EXPECT_EQ(sum, 3);
}

}  // namespace
