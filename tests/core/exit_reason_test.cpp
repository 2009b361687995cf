// exit_reason_test.cpp: why an actor stopped, and let-it-crash: an exception escaping a handler
// stops that actor only, and whoever watches it learns the exception's type and text.
#include "troupe/core/exit_reason.hpp"

#include <gtest/gtest.h>

#include <string>
#include <variant>

#include "test_support.hpp"
#include "troupe/troupe.hpp"

namespace {

using namespace troupe_test;
using kind = troupe::exit_reason::kind;

TEST(ExitReason, OnlyCrashesCountAsFailures) {
  EXPECT_FALSE((troupe::exit_reason{kind::normal, {}}.is_failure()));
  EXPECT_FALSE((troupe::exit_reason{kind::shutdown, {}}.is_failure()));
  EXPECT_TRUE((troupe::exit_reason{kind::exception, "x"}.is_failure()));
  EXPECT_TRUE((troupe::exit_reason{kind::linked, "x"}.is_failure()));
  EXPECT_TRUE((troupe::exit_reason{kind::killed, {}}.is_failure()));
  EXPECT_FALSE(troupe::exit_reason{}.is_failure());
}

TEST(ExitReason, DescribeGivesTheKindThenTheText) {
  EXPECT_EQ(troupe::exit_reason{}.describe(), "normal");
  EXPECT_EQ((troupe::exit_reason{kind::shutdown, {}}.describe()), "shutdown");
  EXPECT_EQ((troupe::exit_reason{kind::exception, "boom"}.describe()), "exception: boom");
  EXPECT_EQ((troupe::exit_reason{kind::linked, "x"}.describe()), "linked: x");
  EXPECT_EQ((troupe::exit_reason{kind::killed, {}}.describe()), "killed");
}

TEST(ExitReason, IsAPlainValue) {
  troupe::exit_reason a{kind::exception, "boom"};
  auto b = a;
  EXPECT_EQ(a, b);
  b.text = "other";
  EXPECT_NE(a, b);
}

struct crash {
  std::string what;
};
struct crash_unknown {};
struct get {
  troupe::ref<int> reply_to;
};
using fragile_msg = std::variant<crash, crash_unknown, get>;

troupe::behavior<fragile_msg> fragile(int id) {
  return troupe::receive<fragile_msg>(
      [](const crash& c) -> troupe::behavior<fragile_msg> { throw std::invalid_argument(c.what); },
      [](crash_unknown) -> troupe::behavior<fragile_msg> { throw 42; },
      [id](const get& g) { g.reply_to.tell(id); });
}

troupe::result<int> ask_get(const troupe::ref<fragile_msg>& r) {
  return await(r.ask<int>([](troupe::ref<int> reply) { return get{reply}; }, deadline));
}

TEST(ExitReason, AnExceptionEscapingAHandlerStopsOnlyThatActor) {
  troupe::system sys{small_config()};
  auto doomed = sys.spawn(fragile(1));
  auto bystander = sys.spawn(fragile(2));
  auto end = watch_from_outside(sys, doomed);
  doomed.tell(crash{"bad input"});
  auto t = end->pop();
  ASSERT_TRUE(t.has_value());
  EXPECT_EQ(t->who, doomed.id());
  EXPECT_EQ(t->reason.what, kind::exception);
  // The text carries the exception's type and what(): a value that can cross a network.
  EXPECT_NE(t->reason.text.find("std::invalid_argument"), std::string::npos) << t->reason.text;
  EXPECT_NE(t->reason.text.find("bad input"), std::string::npos) << t->reason.text;

  auto r = ask_get(bystander);  // the process and the other actors carry on
  ASSERT_TRUE(r.has_value()) << r.error().message();
  EXPECT_EQ(*r, 2);
  auto gone = ask_get(doomed);
  ASSERT_FALSE(gone.has_value());
  EXPECT_EQ(gone.error(), troupe::errc::receiver_dead);
}

TEST(ExitReason, ACrashIsLoggedEvenWhenNobodyWatches) {
  auto lines = std::make_shared<blocking_queue<std::pair<troupe::log_level, std::string>>>();
  auto cfg = small_config();
  cfg.logger = [lines](troupe::log_level level, std::string_view text) { lines->push({level, std::string(text)}); };
  troupe::system sys{cfg};
  auto doomed = sys.spawn(fragile(1), {.name = "doomed"});
  doomed.tell(crash{"unseen"});
  auto line = lines->pop();
  ASSERT_TRUE(line.has_value());
  EXPECT_EQ(line->first, troupe::log_level::error);
  EXPECT_NE(line->second.find("/doomed: crashed"), std::string::npos) << line->second;
  EXPECT_NE(line->second.find("unseen"), std::string::npos) << line->second;
}

TEST(ExitReason, AnExceptionOfAnyTypeIsCaught) {
  troupe::system sys{small_config()};
  auto doomed = sys.spawn(fragile(1));
  auto end = watch_from_outside(sys, doomed);
  doomed.tell(crash_unknown{});
  auto t = end->pop();
  ASSERT_TRUE(t.has_value());
  EXPECT_EQ(t->reason.what, kind::exception);
  EXPECT_EQ(t->reason.text, "unknown exception");
}

TEST(ExitReason, AnExceptionFromSetupStopsTheActor) {
  troupe::system sys{small_config()};
  auto a = sys.spawn(troupe::setup<get>([](troupe::actor_context<get>&) -> troupe::behavior<get> {
    throw std::runtime_error("no start");
  }));
  auto t = watch_from_outside(sys, a)->pop();
  ASSERT_TRUE(t.has_value());
  EXPECT_EQ(t->reason.what, kind::exception);
  EXPECT_NE(t->reason.text.find("no start"), std::string::npos) << t->reason.text;
}

TEST(ExitReason, AHandlerThatStopsAndThenThrowsReportsTheException) {
  troupe::system sys{small_config()};
  auto a = sys.spawn(troupe::setup<int>([](troupe::actor_context<int>& ctx) {
    return troupe::receive<int>([&ctx](int) {
      ctx.stop();
      throw std::runtime_error("after stop");
    });
  }));
  auto end = watch_from_outside(sys, a);
  a.tell(1);
  auto t = end->pop();
  ASSERT_TRUE(t.has_value());
  EXPECT_EQ(t->reason.what, kind::exception);
  EXPECT_NE(t->reason.text.find("after stop"), std::string::npos) << t->reason.text;
}

TEST(ExitReason, MessagesQueuedBehindACrashGoToDeadLetters) {
  troupe::system sys{small_config()};
  struct hold {
    std::shared_ptr<gate> entered, release;
  };
  struct other {};
  using msg = std::variant<hold, other>;
  auto a = sys.spawn(troupe::receive<msg>(
      [](const hold& h) -> troupe::behavior<msg> {
        h.entered->open();
        h.release->wait();
        throw std::runtime_error("crash with a queue");
      },
      [](other) {}));
  auto end = watch_from_outside(sys, a);
  auto entered = std::make_shared<gate>(), release = std::make_shared<gate>();
  a.tell(hold{entered, release});
  ASSERT_TRUE(entered->wait());
  const auto before = sys.dead_letter_count();
  for (int i = 0; i < 10; ++i) a.tell(other{});
  release->open();
  ASSERT_TRUE(end->pop().has_value());
  EXPECT_EQ(sys.dead_letter_count(), before + 10);
}

}  // namespace
