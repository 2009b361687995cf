// state_machine_test.cpp: gen_statem: per-state handlers, enter, the three timeouts, postpone,
// inserted events, stop. Timeouts that must not fire are checked against a later timer of the
// same machine (a fence): timers fire in deadline order, so the fence proves the earlier one
// was cancelled, without sleeping. The tests named "...InVirtualTime" run under the test kit's
// test_system and check the exact deadline: nothing a nanosecond early, everything on time.
#include "troupe/otp/state_machine.hpp"

#include <gtest/gtest.h>

#include <functional>
#include <string>
#include <variant>
#include <vector>

#include "core/test_support.hpp"
#include "troupe/otp/call.hpp"
#include "troupe/testkit/test_system.hpp"
#include "troupe/troupe.hpp"

namespace {

using namespace troupe_test;
using namespace std::chrono_literals;
namespace otp = troupe::otp;
using log_ptr = std::shared_ptr<blocking_queue<std::string>>;

struct red {};
struct green {};
struct blue {
  int shade = 0;
  friend bool operator==(const blue&, const blue&) = default;
};
using light = std::variant<red, green, blue>;

class scripted;
struct step {  // an event that runs `act` in the handler, to request actions
  std::string label;
  std::function<void(scripted&)> act;
};
struct fired {  // what the timeouts deliver
  std::string label;
};
struct which {  // a call: the current state's name
  otp::reply_to<std::string> reply_to;
};
using script_msg = std::variant<step, fired, which>;

std::string name_of(const red&) { return "red"; }
std::string name_of(const green&) { return "green"; }
std::string name_of(const blue&) { return "blue"; }

// A machine whose events say what to do; it logs "<state>:<label>" for each event it handles
// and "enter <state>" for each enter.
class scripted : public otp::state_machine<script_msg, light> {
 public:
  scripted(log_ptr log, std::function<void(scripted&)> on_enter_red = {})
      : state_machine(red{}), log_(std::move(log)), on_enter_red_(std::move(on_enter_red)) {}

  using state_machine::cancel_state_timeout;
  using state_machine::cancel_timeout;
  using state_machine::context;
  using state_machine::event_timeout;
  using state_machine::next_event;
  using state_machine::postpone;
  using state_machine::start_timeout;
  using state_machine::state_timeout;
  using state_machine::stop;
  using state_machine::transition;

  template <class S>
  void on(S& s, step& e) {
    log_->push(name_of(s) + ":" + e.label);
    if (e.act) e.act(*this);
  }
  template <class S>
  void on(S& s, const fired& f) {
    log_->push(name_of(s) + ":" + f.label);
  }
  template <class S>
  void on(S& s, const which& w) {
    w.reply_to.reply(name_of(s));
  }
  void enter(red&) {
    log_->push("enter red");
    if (on_enter_red_) on_enter_red_(*this);
  }
  void enter(green&) { log_->push("enter green"); }
  void enter(blue& b) { log_->push("enter blue " + std::to_string(b.shade)); }
  void terminate(const troupe::exit_reason& r) override { log_->push("terminate " + r.describe()); }

 private:
  log_ptr log_;
  std::function<void(scripted&)> on_enter_red_;
};

step go(std::string label, light to) {
  return {std::move(label), [to](scripted& m) { m.transition(to); }};
}

// The next n log lines (each within the deadline).
std::vector<std::string> take(const log_ptr& log, std::size_t n) {
  std::vector<std::string> out;
  for (std::size_t i = 0; i < n; ++i) {
    auto s = log->pop();
    if (!s) break;
    out.push_back(*s);
  }
  return out;
}
using lines = std::vector<std::string>;

struct fixture {
  troupe::system sys{small_config()};
  log_ptr log = std::make_shared<blocking_queue<std::string>>();
  troupe::ref<script_msg> m;
  explicit fixture(std::function<void(scripted&)> on_enter_red = {})
      : m(sys.spawn(otp::state_machine_of<scripted>(log, std::move(on_enter_red)))) {}
};

TEST(StateMachine, EachEventGoesToTheHandlerOfTheCurrentState) {
  fixture f;
  f.m.tell(go("a", green{}));
  f.m.tell(step{"b", {}});
  EXPECT_EQ(take(f.log, 4), (lines{"enter red", "red:a", "enter green", "green:b"}));
  EXPECT_EQ(await(otp::call(f.m, which{})).value(), "green");
}

TEST(StateMachine, EnterRunsForTheFirstStateAndOnEachChangeButNotForTheSameState) {
  fixture f;
  f.m.tell(go("a", red{}));                // same state: no enter
  f.m.tell(go("b", blue{1}));              // change
  f.m.tell(go("c", blue{1}));              // equal value: no change
  f.m.tell(go("d", blue{2}));              // same alternative, another value: a change
  EXPECT_EQ(take(f.log, 7), (lines{"enter red", "red:a", "red:b", "enter blue 1", "blue:c", "blue:d", "enter blue 2"}));
}

TEST(StateMachine, AStateTimeoutDeliversItsEventWhenTheStateLastsLongEnough) {
  fixture f;
  f.m.tell(step{"arm", [](scripted& m) { m.state_timeout(2ms, fired{"state timeout"}); }});
  EXPECT_EQ(take(f.log, 3), (lines{"enter red", "red:arm", "red:state timeout"}));
}

TEST(StateMachine, AStateTimeoutSetOnATransitionBelongsToTheNewState) {
  fixture f;
  f.m.tell(step{"go", [](scripted& m) {
                  m.transition(green{});
                  m.state_timeout(2ms, fired{"state timeout"});
                }});
  EXPECT_EQ(take(f.log, 4), (lines{"enter red", "red:go", "enter green", "green:state timeout"}));
}

TEST(StateMachine, AStateChangeCancelsTheStateTimeout) {
  fixture f;
  f.m.tell(step{"arm", [](scripted& m) {
                  m.state_timeout(2ms, fired{"state timeout"});
                  m.start_timeout("fence", 40ms, fired{"fence"});
                  m.context().self().tell(go("leave", green{}));  // queued ahead of any timeout
                }});
  EXPECT_EQ(take(f.log, 5), (lines{"enter red", "red:arm", "red:leave", "enter green", "green:fence"}));
}

TEST(StateMachine, AnEventTimeoutDeliversItsEventWhenNoEventArrives) {
  fixture f;
  f.m.tell(step{"arm", [](scripted& m) { m.event_timeout(2ms, fired{"event timeout"}); }});
  EXPECT_EQ(take(f.log, 3), (lines{"enter red", "red:arm", "red:event timeout"}));
}

TEST(StateMachine, AnyEventCancelsTheEventTimeout) {
  fixture f;
  f.m.tell(step{"arm", [](scripted& m) {
                  m.event_timeout(2ms, fired{"event timeout"});
                  m.start_timeout("fence", 40ms, fired{"fence"});
                  // Queued before the handler returns, so it is the next event whatever the timing.
                  m.context().self().tell(step{"other", {}});
                }});
  EXPECT_EQ(take(f.log, 4), (lines{"enter red", "red:arm", "red:other", "red:fence"}));
}

TEST(StateMachine, AnInsertedEventCancelsTheEventTimeoutAtOnce) {
  fixture f;
  f.m.tell(step{"arm", [](scripted& m) {
                  m.event_timeout(2ms, fired{"event timeout"});
                  m.next_event(step{"inserted", {}});
                  m.start_timeout("fence", 40ms, fired{"fence"});
                }});
  EXPECT_EQ(take(f.log, 4), (lines{"enter red", "red:arm", "red:inserted", "red:fence"}));
}

TEST(StateMachine, GenericTimeoutsSurviveStateChangesAndEventsAndFireByName) {
  fixture f;
  f.m.tell(step{"arm", [](scripted& m) {
                  m.start_timeout("a", 2ms, fired{"a"});
                  m.start_timeout("b", 4ms, fired{"b"});
                  m.transition(green{});
                  m.context().self().tell(step{"x", {}});  // queued ahead of the timeouts
                }});
  auto got = take(f.log, 6);
  EXPECT_EQ(got, (lines{"enter red", "red:arm", "enter green", "green:x", "green:a", "green:b"}));
}

TEST(StateMachine, AGenericTimeoutCanBeCancelledOrReplacedByName) {
  fixture f;
  f.m.tell(step{"arm", [](scripted& m) {
                  m.start_timeout("cancelled", 2ms, fired{"cancelled"});
                  m.start_timeout("replaced", 2ms, fired{"replaced first"});
                  m.start_timeout("replaced", 20ms, fired{"replaced second"});
                  m.start_timeout("fence", 40ms, fired{"fence"});
                  EXPECT_TRUE(m.cancel_timeout("cancelled"));
                  EXPECT_FALSE(m.cancel_timeout("never started"));
                }});
  EXPECT_EQ(take(f.log, 4), (lines{"enter red", "red:arm", "red:replaced second", "red:fence"}));
}

TEST(StateMachine, PostponedEventsAreRetriedInOrderAfterTheNextStateChange) {
  fixture f;
  auto later = [](scripted& m) {
    if (std::holds_alternative<red>(m.state())) m.postpone();
  };
  f.m.tell(step{"p1", later});
  f.m.tell(step{"p2", later});
  f.m.tell(go("same", red{}));  // not a state change: nothing is retried
  f.m.tell(go("change", green{}));
  f.m.tell(step{"after", {}});
  EXPECT_EQ(take(f.log, 9),
            (lines{"enter red", "red:p1", "red:p2", "red:same", "red:change", "enter green", "green:p1", "green:p2", "green:after"}));
}

TEST(StateMachine, InsertedEventsAreHandledBeforeQueuedMessagesAndPostponedOnes) {
  fixture f;
  f.m.tell(step{"p", [](scripted& m) {
                  if (std::holds_alternative<red>(m.state())) m.postpone();
                }});
  f.m.tell(step{"go", [](scripted& m) {
                  m.next_event(step{"n1", {}});
                  m.next_event(step{"n2", {}});
                  m.transition(green{});
                }});
  f.m.tell(step{"queued", {}});
  EXPECT_EQ(take(f.log, 8), (lines{"enter red", "red:p", "red:go", "enter green", "green:n1", "green:n2", "green:p", "green:queued"}));
}

TEST(StateMachine, EnterMaySetTheStateTimeoutOfTheStateItEnters) {
  fixture f([](scripted& m) { m.state_timeout(2ms, fired{"from enter"}); });
  EXPECT_EQ(take(f.log, 2), (lines{"enter red", "red:from enter"}));
}

TEST(StateMachine, ATransitionInsideEnterCrashesTheMachine) {
  troupe::system sys{small_config()};
  auto log = std::make_shared<blocking_queue<std::string>>();
  auto m = sys.spawn(otp::state_machine_of<scripted>(log, [](scripted& s) { s.transition(green{}); }));
  auto down = watch_from_outside(sys, m);
  auto t = down->pop();
  ASSERT_TRUE(t.has_value());
  EXPECT_NE(t->reason.text.find("inside enter()"), std::string::npos) << t->reason.describe();
  EXPECT_EQ(log->drain(), (lines{"enter red"}));  // a failed start runs no terminate (OTP's init)
}

TEST(StateMachine, StopEndsTheMachineDropsQueuedEventsAndRunsTerminate) {
  fixture f;
  auto down = watch_from_outside(f.sys, f.m);
  f.m.tell(step{"stop", [](scripted& m) {
                  m.next_event(step{"never", {}});
                  m.stop();
                }});
  ASSERT_TRUE(down->pop().has_value());
  EXPECT_EQ(take(f.log, 3), (lines{"enter red", "red:stop", "terminate normal"}));
}

// --- virtual time: the exact deadlines -------------------------------------------------------------

struct virtual_fixture {
  troupe::testkit::test_system ts;
  log_ptr log = std::make_shared<blocking_queue<std::string>>();
  troupe::ref<script_msg> m;
  virtual_fixture() : m(ts.spawn(otp::state_machine_of<scripted>(log))) { ts.run_until_idle(); }
  // What the machine logged since the last call (everything runs on the test's thread).
  lines logged() { return log->drain(); }
  void run(step s) {
    m.tell(std::move(s));
    ts.run_until_idle();
  }
};

TEST(StateMachine, AStateTimeoutFiresExactlyAtItsDeadlineInVirtualTime) {
  virtual_fixture f;
  f.run(step{"arm", [](scripted& m) { m.state_timeout(5s, fired{"state timeout"}); }});
  EXPECT_EQ(f.logged(), (lines{"enter red", "red:arm"}));
  f.ts.advance(5s - 1ns);
  EXPECT_EQ(f.logged(), lines{});  // not a nanosecond early
  f.ts.advance(1ns);
  EXPECT_EQ(f.logged(), (lines{"red:state timeout"}));
  f.ts.advance(1h);
  EXPECT_EQ(f.logged(), lines{});  // once
}

TEST(StateMachine, AStateTimeoutSurvivesEventsButNotAStateChangeInVirtualTime) {
  virtual_fixture f;
  f.run(step{"arm", [](scripted& m) { m.state_timeout(5s, fired{"state timeout"}); }});
  f.ts.advance(3s);
  f.run(step{"same state", {}});  // an event that keeps the state does not restart it
  f.ts.advance(2s);
  EXPECT_EQ(f.logged(), (lines{"enter red", "red:arm", "red:same state", "red:state timeout"}));
  f.run(step{"again", [](scripted& m) { m.state_timeout(5s, fired{"state timeout"}); }});
  f.ts.advance(5s - 1ns);
  f.run(go("leave", green{}));  // a nanosecond before the deadline: cancelled
  f.ts.advance(1h);
  EXPECT_EQ(f.logged(), (lines{"red:again", "red:leave", "enter green"}));
}

TEST(StateMachine, AnEventTimeoutFiresExactlyAtItsDeadlineAndAnyEventCancelsItInVirtualTime) {
  virtual_fixture f;
  f.run(step{"arm", [](scripted& m) { m.event_timeout(2s, fired{"event timeout"}); }});
  f.ts.advance(2s - 1ns);
  f.run(step{"other", {}});  // any event, a nanosecond before the deadline, cancels it
  f.ts.advance(1h);
  EXPECT_EQ(f.logged(), (lines{"enter red", "red:arm", "red:other"}));
  f.run(step{"rearm", [](scripted& m) { m.event_timeout(2s, fired{"event timeout"}); }});
  f.ts.advance(2s - 1ns);
  EXPECT_EQ(f.logged(), (lines{"red:rearm"}));
  f.ts.advance(1ns);
  EXPECT_EQ(f.logged(), (lines{"red:event timeout"}));
}

// The race a real clock cannot stage: the event timeout's timer has fired (its message is in
// the mailbox) but an event queued before it reaches the machine first. The stale timeout must
// be discarded, not delivered after the event that cancelled it.
TEST(StateMachine, AnEventTimeoutThatFiredBehindAnEventIsDiscardedInVirtualTime) {
  virtual_fixture f;
  f.run(step{"arm", [](scripted& m) { m.event_timeout(2s, fired{"event timeout"}); }});
  f.m.tell(step{"racer", {}});                 // queued, not yet handled
  f.ts.clock().set_time(f.ts.now() + 2s);      // the deadline passes...
  ASSERT_TRUE(f.ts.clock().fire_next_due());   // ...and the timer fires behind the racer
  f.ts.run_until_idle();
  f.ts.advance(1h);
  EXPECT_EQ(f.logged(), (lines{"enter red", "red:arm", "red:racer"}));
}

TEST(StateMachine, ANamedTimeoutFiresExactlyAtItsDeadlineAcrossStateChangesInVirtualTime) {
  virtual_fixture f;
  f.run(step{"arm", [](scripted& m) {
               m.start_timeout("a", 3s, fired{"a"});
               m.start_timeout("b", 7s, fired{"b"});
             }});
  f.run(go("change", green{}));  // neither a state change nor an event cancels a named timeout
  f.ts.advance(3s - 1ns);
  EXPECT_EQ(f.logged(), (lines{"enter red", "red:arm", "red:change", "enter green"}));
  f.ts.advance(1ns);
  EXPECT_EQ(f.logged(), (lines{"green:a"}));
  f.run(step{"cancel b", [](scripted& m) { EXPECT_TRUE(m.cancel_timeout("b")); }});
  f.ts.advance(1h);
  EXPECT_EQ(f.logged(), (lines{"green:cancel b"}));
}

TEST(StateMachine, RestartingANamedTimeoutMovesItsDeadlineInVirtualTime) {
  virtual_fixture f;
  f.run(step{"arm", [](scripted& m) { m.start_timeout("t", 3s, fired{"first"}); }});
  f.ts.advance(2s);
  f.run(step{"rearm", [](scripted& m) { m.start_timeout("t", 3s, fired{"second"}); }});
  f.ts.advance(3s - 1ns);  // past the first deadline, a nanosecond short of the second
  EXPECT_EQ(f.logged(), (lines{"enter red", "red:arm", "red:rearm"}));
  f.ts.advance(1ns);
  EXPECT_EQ(f.logged(), (lines{"red:second"}));
  EXPECT_EQ(f.ts.elapsed(), 5s);
}

TEST(StateMachine, AnEventThatIsACallIsAnsweredThroughItsReplyHandle) {
  fixture f;
  f.m.tell(go("go", blue{3}));
  EXPECT_EQ(await(otp::call(f.m, which{})).value(), "blue");
}

}  // namespace
