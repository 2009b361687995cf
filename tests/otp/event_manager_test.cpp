// event_manager_test.cpp: gen_event: handlers added, removed and swapped at runtime; notify,
// sync_notify, call; a handler that throws is removed, the manager lives on, its adder is told.
#include "troupe/otp/event_manager.hpp"

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
using lines = std::vector<std::string>;

// Logs "<name>:<event>"; throws on the event "bad <name>"; counts what it saw.
class recorder : public otp::event_handler<std::string> {
 public:
  recorder(log_ptr log, std::string name, int seen = 0) : log_(std::move(log)), name_(std::move(name)), seen_(seen) {}
  ~recorder() override { log_->push(name_ + " gone"); }
  void handle_event(const std::string& e) override {
    if (e == "bad " + name_) throw std::runtime_error(name_ + " cannot take it");
    ++seen_;
    log_->push(name_ + ":" + e);
  }
  int seen() const { return seen_; }
  log_ptr log() const { return log_; }

 private:
  log_ptr log_;
  std::string name_;
  int seen_;
};

class other_handler : public otp::event_handler<std::string> {
 public:
  void handle_event(const std::string&) override {}
};

std::vector<std::string> take(const log_ptr& log, std::size_t n) {
  std::vector<std::string> out;
  for (std::size_t i = 0; i < n; ++i) {
    auto s = log->pop();
    if (!s) break;
    out.push_back(*s);
  }
  return out;
}

struct fixture {
  troupe::system sys{small_config()};
  log_ptr log = std::make_shared<blocking_queue<std::string>>();
  otp::event_manager<std::string> mgr = otp::event_manager<std::string>::start(sys);
  std::shared_ptr<blocking_queue<otp::handler_removed>> removed = std::make_shared<blocking_queue<otp::handler_removed>>();
  troupe::ref<otp::handler_removed> adder = spawn_probe<otp::handler_removed>(sys, removed);
};

TEST(EventManager, NotifyHandsEachEventToEveryHandlerInTheOrderAdded) {
  fixture f;
  ASSERT_TRUE(await(f.mgr.add_handler<recorder>("a", f.log, std::string("a"))).has_value());  // by type
  ASSERT_TRUE(await(f.mgr.add_handler("b", std::make_unique<recorder>(f.log, "b"))).has_value());  // by instance
  f.mgr.notify("1");
  f.mgr.notify("2");
  EXPECT_EQ(take(f.log, 4), (lines{"a:1", "b:1", "a:2", "b:2"}));
  EXPECT_EQ(await(f.mgr.which_handlers()).value(), (lines{"a", "b"}));
}

TEST(EventManager, AddingUnderATakenIdFailsWithHandlerExists) {
  fixture f;
  ASSERT_TRUE(await(f.mgr.add_handler<recorder>("a", f.log, std::string("a"))).has_value());
  auto r = await(f.mgr.add_handler<recorder>("a", f.log, std::string("again")));
  ASSERT_FALSE(r.has_value());
  EXPECT_TRUE(r.error() == otp::errc::handler_exists) << r.error().message();
  EXPECT_EQ(f.log->pop(), "again gone");  // the refused handler is destroyed
}

TEST(EventManager, SyncNotifyCompletesOnceEveryHandlerHasHandledTheEvent) {
  fixture f;
  ASSERT_TRUE(await(f.mgr.add_handler<recorder>("a", f.log, std::string("a"))).has_value());
  ASSERT_TRUE(await(f.mgr.add_handler<recorder>("b", f.log, std::string("b"))).has_value());
  ASSERT_TRUE(await(f.mgr.sync_notify("x")).has_value());
  EXPECT_EQ(f.log->drain(), (lines{"a:x", "b:x"}));  // without waiting: both are already there
}

TEST(EventManager, RemoveDestroysTheHandlerAndTellsItsAdderNormal) {
  fixture f;
  ASSERT_TRUE(await(f.mgr.add_sup_handler("a", std::make_unique<recorder>(f.log, "a"), f.adder)).has_value());
  ASSERT_TRUE(await(f.mgr.remove_handler("a")).has_value());
  EXPECT_EQ(f.log->drain(), (lines{"a gone"}));
  auto told = f.removed->pop();
  ASSERT_TRUE(told.has_value());
  EXPECT_EQ(told->id, "a");
  EXPECT_EQ(told->reason, troupe::exit_reason{});
  auto again = await(f.mgr.remove_handler("a"));
  ASSERT_FALSE(again.has_value());
  EXPECT_TRUE(again.error() == otp::errc::no_such_handler);
}

TEST(EventManager, AHandlerThatThrowsIsRemovedTheManagerLivesOnAndItsAdderIsTold) {
  fixture f;
  ASSERT_TRUE(await(f.mgr.add_sup_handler("a", std::make_unique<recorder>(f.log, "a"), f.adder)).has_value());
  ASSERT_TRUE(await(f.mgr.add_handler<recorder>("b", f.log, std::string("b"))).has_value());
  f.mgr.notify("bad a");
  f.mgr.notify("good");
  EXPECT_EQ(take(f.log, 3), (lines{"a gone", "b:bad a", "b:good"}));  // b still gets the event
  auto told = f.removed->pop();
  ASSERT_TRUE(told.has_value());
  EXPECT_EQ(told->id, "a");
  EXPECT_EQ(told->reason.what, troupe::exit_reason::kind::exception);
  EXPECT_NE(told->reason.text.find("a cannot take it"), std::string::npos);
  EXPECT_EQ(await(f.mgr.which_handlers()).value(), (lines{"b"}));
}

TEST(EventManager, CallReachesOneHandlerAndCompletesWithItsAnswer) {
  fixture f;
  ASSERT_TRUE(await(f.mgr.add_handler<recorder>("a", f.log, std::string("a"))).has_value());
  ASSERT_TRUE(await(f.mgr.add_handler<recorder>("b", f.log, std::string("b"), 10)).has_value());
  f.mgr.notify("1");
  auto seen = await(f.mgr.call<recorder>("b", [](recorder& r) { return r.seen(); }));
  ASSERT_TRUE(seen.has_value()) << seen.error().message();
  EXPECT_EQ(*seen, 11);
  auto none = await(f.mgr.call<recorder>("c", [](recorder& r) { return r.seen(); }));
  EXPECT_TRUE(!none.has_value() && none.error() == otp::errc::no_such_handler);
  auto wrong = await(f.mgr.call<other_handler>("a", [](other_handler&) {}));
  EXPECT_TRUE(!wrong.has_value() && wrong.error() == otp::errc::no_such_handler);
}

TEST(EventManager, ACallThatThrowsRemovesTheHandlerAndFailsWithHandlerFailed) {
  fixture f;
  ASSERT_TRUE(await(f.mgr.add_sup_handler("a", std::make_unique<recorder>(f.log, "a"), f.adder)).has_value());
  auto r = await(f.mgr.call<recorder>("a", [](recorder&) -> int { throw std::runtime_error("no"); }));
  ASSERT_FALSE(r.has_value());
  EXPECT_TRUE(r.error() == otp::errc::handler_failed) << r.error().message();
  auto told = f.removed->pop();
  ASSERT_TRUE(told.has_value());
  EXPECT_EQ(told->reason.what, troupe::exit_reason::kind::exception);
  EXPECT_TRUE(await(f.mgr.which_handlers()).value().empty());
}

TEST(EventManager, SwapReplacesAHandlerInPlaceWithStateFromTheOldOne) {
  fixture f;
  ASSERT_TRUE(await(f.mgr.add_sup_handler("a", std::make_unique<recorder>(f.log, "a"), f.adder)).has_value());
  ASSERT_TRUE(await(f.mgr.add_handler<recorder>("z", f.log, std::string("z"))).has_value());
  f.mgr.notify("1");
  auto swapped = await(f.mgr.swap_handler<recorder>("a", "a2", [](recorder& old) {
    return std::make_unique<recorder>(old.log(), "a2", old.seen());  // OTP: terminate's result feeds init
  }));
  ASSERT_TRUE(swapped.has_value()) << swapped.error().message();
  f.mgr.notify("2");
  EXPECT_EQ(take(f.log, 5), (lines{"a:1", "z:1", "a gone", "a2:2", "z:2"}));
  EXPECT_EQ(await(f.mgr.call<recorder>("a2", [](recorder& r) { return r.seen(); })).value(), 2);
  auto told = f.removed->pop();
  ASSERT_TRUE(told.has_value());
  EXPECT_EQ(told->id, "a");
  EXPECT_EQ(told->replaced_by, "a2");
  // The new handler inherits the supervisor.
  ASSERT_TRUE(await(f.mgr.remove_handler("a2")).has_value());
  auto told2 = f.removed->pop();
  ASSERT_TRUE(told2.has_value());
  EXPECT_EQ(told2->id, "a2");
}

TEST(EventManager, SupervisorsAreToldWhenTheManagerStops) {
  fixture f;
  ASSERT_TRUE(await(f.mgr.add_sup_handler("a", std::make_unique<recorder>(f.log, "a"), f.adder)).has_value());
  auto down = watch_from_outside(f.sys, f.mgr.actor());
  f.sys.spawn(troupe::setup<int>([m = f.mgr.actor()](troupe::actor_context<int>& ctx) {
    ctx.stop(m);
    return troupe::behavior<int>(troupe::stopped);
  }));
  ASSERT_TRUE(down->pop().has_value());
  auto told = f.removed->pop();
  ASSERT_TRUE(told.has_value());
  EXPECT_EQ(told->id, "a");
  EXPECT_EQ(f.log->drain(), (lines{"a gone"}));
}

TEST(EventManager, CallsToAStoppedManagerFailWithReceiverDead) {
  fixture f;
  auto down = watch_from_outside(f.sys, f.mgr.actor());
  f.sys.spawn(troupe::setup<int>([m = f.mgr.actor()](troupe::actor_context<int>& ctx) {
    ctx.stop(m);
    return troupe::behavior<int>(troupe::stopped);
  }));
  ASSERT_TRUE(down->pop().has_value());
  auto r = await(f.mgr.sync_notify("x"));
  EXPECT_TRUE(!r.has_value() && r.error() == troupe::errc::receiver_dead);
}

}  // namespace
