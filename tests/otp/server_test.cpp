// server_test.cpp: gen_server as a class: init, calls (now and later), casts, info, terminate.
#include "troupe/otp/server.hpp"

#include <gtest/gtest.h>

#include <string>
#include <variant>
#include <vector>

#include "core/test_support.hpp"
#include "troupe/troupe.hpp"

namespace {

using namespace troupe_test;
namespace otp = troupe::otp;
using log_ptr = std::shared_ptr<blocking_queue<std::string>>;

struct deposit {  // cast
  long cents;
};
struct balance {  // call, answered at once
  otp::reply_to<long> reply_to;
};
struct wait_for {  // call, answered later, when the balance reaches `cents`
  long cents;
  otp::reply_to<long> reply_to;
};
struct tick {};  // info: a timer message
struct boom {};
struct boom_on_call {  // a call whose handler throws
  otp::reply_to<long> reply_to;
};
struct boom_on_call_by_value {  // the same, with the handler taking the message by value
  otp::reply_to<long> reply_to;
};
struct quit {};
using account_msg =
    std::variant<deposit, balance, wait_for, tick, troupe::terminated, boom, boom_on_call, boom_on_call_by_value, quit>;

class account : public otp::server<account_msg> {
 public:
  account(log_ptr log, long cents) : log_(std::move(log)), cents_(cents) {}
  void init() override {
    log_->push("init " + std::to_string(cents_));
    context().start_timer("tick", tick{}, std::chrono::milliseconds{1});
  }
  void on(const deposit& d) {
    cents_ += d.cents;
    auto still = std::move(waiting_);
    for (auto& w : still) {
      if (cents_ >= w.cents) w.reply_to.reply(cents_);
      else waiting_.push_back(std::move(w));
    }
  }
  void on(const balance& b) { b.reply_to.reply(cents_); }
  void on(wait_for&& w) {
    if (cents_ >= w.cents) w.reply_to.reply(cents_);
    else waiting_.push_back(std::move(w));
  }
  void on(tick) { log_->push("tick"); }
  void on(const troupe::terminated& t) { log_->push("down " + t.reason.describe()); }
  void on(boom) { throw std::runtime_error("boom"); }
  void on(const boom_on_call&) { throw std::runtime_error("boom"); }
  void on(boom_on_call_by_value) { throw std::runtime_error("boom"); }
  troupe::stopped_tag on(quit) { return troupe::stopped; }
  void terminate(const troupe::exit_reason& r) override { log_->push("terminate " + r.describe()); }

 private:
  log_ptr log_;
  long cents_;
  std::vector<wait_for> waiting_;
};

// Pops until `want` or the deadline; true if it came.
bool saw(const log_ptr& log, const std::string& want) {
  while (auto s = log->pop())
    if (*s == want) return true;
  return false;
}

TEST(Server, InitRunsBeforeTheFirstMessageWithTheContextAvailable) {
  troupe::system sys{small_config()};
  auto log = std::make_shared<blocking_queue<std::string>>();
  auto a = sys.spawn(otp::server_of<account>(log, 10L));
  EXPECT_EQ(await(otp::call(a, balance{})).value(), 10);
  EXPECT_EQ(log->pop(), "init 10");
}

TEST(Server, CastsAndCallsFromOneSenderAreHandledInOrder) {
  troupe::system sys{small_config()};
  auto log = std::make_shared<blocking_queue<std::string>>();
  auto a = sys.spawn(otp::server_of<account>(log, 0L));
  for (int i = 0; i < 100; ++i) a.tell(deposit{1});
  EXPECT_EQ(await(otp::call(a, balance{})).value(), 100);
}

TEST(Server, ACallKeptByTheServerIsAnsweredFromALaterMessage) {
  troupe::system sys{small_config()};
  auto log = std::make_shared<blocking_queue<std::string>>();
  auto a = sys.spawn(otp::server_of<account>(log, 0L));
  auto f = otp::call(a, wait_for{50, {}});
  EXPECT_EQ(await(otp::call(a, balance{})).value(), 0);  // the server is not blocked by the kept call
  a.tell(deposit{30});
  a.tell(deposit{30});
  EXPECT_EQ(await(std::move(f)).value(), 60);
}

TEST(Server, InfoMessagesFromTimersAndWatchesReachTheServer) {
  troupe::system sys{small_config()};
  auto log = std::make_shared<blocking_queue<std::string>>();
  auto watched = sys.spawn(troupe::receive<quit>([](quit) { return troupe::stopped; }));
  auto a = sys.spawn(otp::server_of<account>(log, 0L));
  EXPECT_TRUE(saw(log, "tick"));
  // watch from inside: a server's context is an actor's context.
  class watcher : public otp::server<std::variant<troupe::terminated>> {
   public:
    watcher(troupe::ref<quit> w, log_ptr log) : w_(std::move(w)), log_(std::move(log)) {}
    void init() override { context().watch(w_); }
    void on(const troupe::terminated& t) { log_->push("down " + t.reason.describe()); }

   private:
    troupe::ref<quit> w_;
    log_ptr log_;
  };
  auto log2 = std::make_shared<blocking_queue<std::string>>();
  sys.spawn(otp::server_of<watcher>(watched, log2));
  watched.tell(quit{});
  EXPECT_TRUE(saw(log2, "down normal"));
}

TEST(Server, TerminateRunsWithReasonNormalWhenAHandlerStops) {
  troupe::system sys{small_config()};
  auto log = std::make_shared<blocking_queue<std::string>>();
  auto a = sys.spawn(otp::server_of<account>(log, 0L));
  a.tell(quit{});
  EXPECT_TRUE(saw(log, "terminate normal"));
}

TEST(Server, TerminateRunsWithTheExceptionWhenAHandlerThrows) {
  troupe::system sys{small_config()};
  auto log = std::make_shared<blocking_queue<std::string>>();
  auto a = sys.spawn(otp::server_of<account>(log, 0L));
  auto down = watch_from_outside(sys, a);
  a.tell(boom{});
  auto t = down->pop();
  ASSERT_TRUE(t.has_value());
  EXPECT_TRUE(t->reason.is_failure());
  EXPECT_TRUE(saw(log, "terminate " + t->reason.describe()));
}

TEST(Server, TerminateRunsWhenTheSystemShutsDown) {
  auto log = std::make_shared<blocking_queue<std::string>>();
  {
    troupe::system sys{small_config()};
    auto a = sys.spawn(otp::server_of<account>(log, 0L));
    EXPECT_EQ(await(otp::call(a, balance{})).value(), 0);
  }
  EXPECT_TRUE(saw(log, "terminate shutdown"));
}

TEST(Server, ACallerKeptByACrashingServerSeesReceiverDead) {
  troupe::system sys{small_config()};
  auto log = std::make_shared<blocking_queue<std::string>>();
  auto a = sys.spawn(otp::server_of<account>(log, 0L));
  auto f = otp::call(a, wait_for{1000, {}}, troupe::infinity);
  EXPECT_EQ(await(otp::call(a, balance{})).value(), 0);  // the wait_for is now kept
  a.tell(boom{});
  auto r = await(std::move(f));
  ASSERT_FALSE(r.has_value());
  EXPECT_TRUE(r.error() == troupe::errc::receiver_dead) << r.error().message();
}

// OTP: a gen_server that exits while handling a call makes the call exit too; the caller is
// not told the request was dropped, which is for a server that lives on.
TEST(Server, ACallerWhoseCallCrashesTheServerSeesReceiverDead) {
  troupe::system sys{small_config()};
  auto log = std::make_shared<blocking_queue<std::string>>();
  auto a = sys.spawn(otp::server_of<account>(log, 0L));
  auto r = await(otp::call(a, boom_on_call{}, troupe::infinity));
  ASSERT_FALSE(r.has_value());
  EXPECT_TRUE(r.error() == troupe::errc::receiver_dead) << r.error().message();
}

TEST(Server, ACallerWhoseCallCrashesTheServerSeesReceiverDeadWhenTheHandlerTakesItByValue) {
  troupe::system sys{small_config()};
  auto log = std::make_shared<blocking_queue<std::string>>();
  auto a = sys.spawn(otp::server_of<account>(log, 0L));
  auto r = await(otp::call(a, boom_on_call_by_value{}, troupe::infinity));
  ASSERT_FALSE(r.has_value());
  EXPECT_TRUE(r.error() == troupe::errc::receiver_dead) << r.error().message();
}

class failing_init : public otp::server<std::variant<quit>> {
 public:
  explicit failing_init(log_ptr log) : log_(std::move(log)) {}
  void init() override { throw std::runtime_error("no database"); }
  void on(quit) {}
  void terminate(const troupe::exit_reason&) override { log_->push("terminate"); }

 private:
  log_ptr log_;
};

TEST(Server, AnInitThatThrowsStopsTheServerWithThatReasonAndSkipsTerminate) {
  troupe::system sys{small_config()};
  auto log = std::make_shared<blocking_queue<std::string>>();
  auto s = sys.spawn(otp::server_of<failing_init>(log));
  auto down = watch_from_outside(sys, s);
  auto t = down->pop();
  ASSERT_TRUE(t.has_value());
  EXPECT_NE(t->reason.text.find("no database"), std::string::npos) << t->reason.describe();
  EXPECT_EQ(log->size(), 0u);
}

}  // namespace
