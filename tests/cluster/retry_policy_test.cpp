// retry_policy_test.cpp: ask_idempotent on one node, without a cluster: a request dropped twice
// is answered at the third try, tries stop at `attempts` with an error that says so, failures
// the policy does not retry end the ask at once. (A node killed mid-call: node_loss_test.cpp.)
#include <gtest/gtest.h>

#include <atomic>
#include <chrono>
#include <future>
#include <memory>
#include <mutex>
#include <string>
#include <vector>

#include "troupe/cluster/errc.hpp"
#include "troupe/cluster/retry_policy.hpp"
#include "troupe/core/behavior.hpp"
#include "troupe/core/system.hpp"
#include "troupe/remote/errc.hpp"

namespace {

using namespace std::chrono_literals;

struct ping {
  troupe::ref<int> reply_to;
};

struct RetryPolicy : ::testing::Test {
  troupe::system sys;
  std::shared_ptr<std::atomic<int>> received = std::make_shared<std::atomic<int>>(0);
  // Drops (never answers) the first `drops` pings, answers the rest with their number.
  troupe::ref<ping> dropping(int drops) {
    return sys.spawn(troupe::receive<ping>([received = received, drops](const ping& p) {
      int n = ++*received;  // the actor's own turn: one at a time
      if (n > drops) p.reply_to.tell(n);
      return troupe::same;
    }));
  }
  std::vector<std::size_t> retries;  // the try numbers on_retry heard
  std::mutex mu;
  troupe::cluster::retry_policy policy(std::size_t attempts) {
    return {.attempts = attempts, .backoff = 1ms, .max_backoff = 8ms, .retry_on = {},
            .on_retry = [this](const troupe::error& e, std::size_t next) {
              EXPECT_EQ(e, troupe::errc::request_dropped) << e.message();
              std::lock_guard lk(mu);
              retries.push_back(next);
            }};
  }
};

TEST_F(RetryPolicy, ARequestDroppedTwiceIsAnsweredAtTheThirdTry) {
  auto f = troupe::cluster::ask_idempotent<int>(dropping(2), [](troupe::ref<int> r) { return ping{r}; }, 5s, policy(5));
  ASSERT_EQ(f.wait_for(10s), std::future_status::ready);
  auto r = f.get();
  ASSERT_TRUE(r) << r.error().message();
  EXPECT_EQ(*r, 3);
  std::lock_guard lk(mu);
  EXPECT_EQ(retries, (std::vector<std::size_t>{2, 3}));
}

TEST_F(RetryPolicy, TriesStopAtAttemptsWithTheLastFailureAndHowManyTriesWereMade) {
  auto f = troupe::cluster::ask_idempotent<int>(dropping(100), [](troupe::ref<int> r) { return ping{r}; }, 5s, policy(3));
  ASSERT_EQ(f.wait_for(10s), std::future_status::ready);
  auto r = f.get();
  ASSERT_FALSE(r);
  EXPECT_EQ(r.error(), troupe::errc::request_dropped);
  EXPECT_EQ(r.error().context().rfind("after 3 attempts: ", 0), 0u) << r.error().message();
  EXPECT_EQ(received->load(), 3);
}

TEST_F(RetryPolicy, AFailureThePolicyDoesNotRetryEndsTheAskAtOnce) {
  auto p = policy(5);
  p.retry_on = [](const troupe::error& e) { return e == troupe::errc::timeout; };
  auto f = troupe::cluster::ask_idempotent<int>(dropping(100), [](troupe::ref<int> r) { return ping{r}; }, 5s, p);
  ASSERT_EQ(f.wait_for(10s), std::future_status::ready);
  auto r = f.get();
  ASSERT_FALSE(r);
  EXPECT_EQ(r.error(), troupe::errc::request_dropped);
  EXPECT_EQ(r.error().message().find("attempts"), std::string::npos) << r.error().message();
  EXPECT_EQ(received->load(), 1);
}

TEST_F(RetryPolicy, TheDefaultRetriesWhatANewActivationMayCureAndNothingElse) {
  using troupe::cluster::transient_failure;
  EXPECT_TRUE(transient_failure(troupe::error{troupe::remote::errc::node_down, "node 'c' went down"}));
  EXPECT_TRUE(transient_failure(troupe::error{troupe::errc::timeout, "no reply"}));
  EXPECT_TRUE(transient_failure(troupe::error{troupe::errc::request_dropped, "dropped"}));
  EXPECT_TRUE(transient_failure(troupe::error{troupe::errc::receiver_dead, "stopped before it replied"}));
  EXPECT_FALSE(transient_failure(troupe::error{troupe::errc::mailbox_full, "full"}));
  EXPECT_FALSE(transient_failure(troupe::error{troupe::errc::system_stopped, "stopped"}));
  EXPECT_FALSE(transient_failure(troupe::error{troupe::cluster::errc::not_a_member, "voted out"}));
}

TEST_F(RetryPolicy, AnEmptyRefIsAUsageError) {
  EXPECT_THROW(troupe::cluster::ask_idempotent<int>(troupe::ref<ping>{}, [](troupe::ref<int> r) { return ping{r}; }, 1s),
               troupe::usage_error);
}

}  // namespace
