// The examples of docs/testing.md, compiled and run; the page quotes them line for line
// (docs.testing_quotes_compiled_code checks it).
#include "troupe/testkit/test_probe.hpp"

#include <gtest/gtest.h>

#include <string>
#include <variant>

#include "troupe/testkit/test_system.hpp"

namespace {

using namespace std::chrono_literals;

// --- the greeter of Akka's quick start, and its test ------------------------------------------

struct greet;
struct greeted {
  std::string whom;
  troupe::ref<greet> reply_to;
  friend bool operator==(const greeted&, const greeted&) = default;
};
struct greet {
  std::string whom;
  troupe::ref<greeted> reply_to;
};

troupe::behavior<greet> greeter() {
  return troupe::setup<greet>([](troupe::actor_context<greet>& ctx) {
    return troupe::receive<greet>([&ctx](const greet& g) { g.reply_to.tell(greeted{g.whom, ctx.self()}); });
  });
}

TEST(TestingGuide, TheGreeterRepliesGreeted) {
  troupe::testkit::test_system ts;
  troupe::testkit::test_probe<greeted> probe{ts};
  auto greeter_ref = ts.spawn(greeter());
  greeter_ref.tell(greet{"Santa", probe.ref()});
  probe.expect_message(greeted{"Santa", greeter_ref});
}

TEST(TestingGuide, TheSameTestRunsOnARealSystem) {
  troupe::system sys;
  troupe::testkit::test_probe<greeted> probe{sys};
  auto greeter_ref = sys.spawn(greeter());
  greeter_ref.tell(greet{"Santa", probe.ref()});
  probe.expect_message(greeted{"Santa", greeter_ref}, 10s);
}

// --- a timeout in virtual time ----------------------------------------------------------------

struct touch {};
struct idle_timeout {};
using session_msg = std::variant<touch, idle_timeout>;

// Stops after `idle_after` without a touch.
troupe::behavior<session_msg> session(std::chrono::nanoseconds idle_after) {
  return troupe::setup<session_msg>([idle_after](troupe::actor_context<session_msg>& ctx) {
    ctx.start_timer("idle", idle_timeout{}, idle_after);
    return troupe::receive<session_msg>(
        [&ctx, idle_after](touch) { ctx.start_timer("idle", idle_timeout{}, idle_after); },
        [](idle_timeout) { return troupe::stopped; });
  });
}

TEST(TestingGuide, ASessionStopsAfterFiveIdleMinutesAndNotBefore) {
  troupe::testkit::test_system ts;
  troupe::testkit::test_probe<troupe::terminated> probe{ts};
  auto s = ts.spawn(session(5min));
  ts.advance(4min);
  s.tell(touch{});  // four minutes in: the idle timer starts again
  auto t = probe.expect_terminated(s, 1h);
  EXPECT_EQ(ts.elapsed(), 9min);  // five idle minutes after the touch, not a tick earlier
  EXPECT_EQ(t.reason.what, troupe::exit_reason::kind::normal);
}

}  // namespace
