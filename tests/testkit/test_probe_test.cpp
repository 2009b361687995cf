// Tests of test_probe: expectations under the test system (virtual time) and a real system.
#include "troupe/testkit/test_probe.hpp"

#include <gtest/gtest.h>

#include <string>
#include <variant>
#include <vector>

namespace {

using namespace std::chrono_literals;
using troupe::testkit::expectation_failed;
using troupe::testkit::test_probe;
using troupe::testkit::test_system;

struct hello {
  std::string who;
  friend bool operator==(const hello&, const hello&) = default;
};
struct bye {};
using greeting = std::variant<hello, bye>;

struct send_later {
  greeting what;
  std::chrono::nanoseconds after;
};

// Sends each message to `to` after the given delay, through a timer.
troupe::behavior<send_later> relay(troupe::ref<greeting> to) {
  return troupe::setup<send_later>([to](troupe::actor_context<send_later>& ctx) {
    return troupe::receive<send_later>([to, &ctx, n = 0](const send_later& s) mutable {
      if (s.after == 0ns) std::visit([&](const auto& m) { to.tell(m); }, s.what);
      else ctx.start_timer("t" + std::to_string(n++), send_later{s.what, 0ns}, s.after);
    });
  });
}

TEST(TestProbe, ExpectMessageReturnsTheMessageThatArrived) {
  test_system ts;
  test_probe<greeting> probe{ts};
  auto r = ts.spawn(relay(probe.ref()));
  r.tell(send_later{hello{"ann"}, 0ns});
  auto m = probe.expect_message();
  EXPECT_EQ(std::get<hello>(m).who, "ann");
}

TEST(TestProbe, ExpectMessageComparesWithAnAlternativeOfTheVariant) {
  test_system ts;
  test_probe<greeting> probe{ts};
  auto r = ts.spawn(relay(probe.ref()));
  r.tell(send_later{hello{"ann"}, 0ns});
  r.tell(send_later{hello{"bob"}, 0ns});
  probe.expect_message(hello{"ann"});
  EXPECT_THROW(probe.expect_message(hello{"ann"}), expectation_failed);
}

TEST(TestProbe, ExpectMessageWaitsInVirtualTimeUpToItsBound) {
  test_system ts;
  test_probe<greeting> probe{ts};
  auto r = ts.spawn(relay(probe.ref()));
  r.tell(send_later{bye{}, 5min});
  probe.expect_message_of<bye>(6min);
  EXPECT_EQ(ts.elapsed(), 5min);  // time stops where the message arrived
}

TEST(TestProbe, AFailedExpectationSaysWhatWasExpectedWhatArrivedAndWhen) {
  test_system ts{99};
  test_probe<greeting> probe{ts};
  auto r = ts.spawn(relay(probe.ref()));
  r.tell(send_later{bye{}, 2s});
  try {
    probe.expect_message(hello{"ann"});
    FAIL() << "the expectation passed";
  } catch (const expectation_failed& e) {
    std::string text = e.what();
    EXPECT_NE(text.find("hello"), std::string::npos) << text;
    EXPECT_NE(text.find("bye"), std::string::npos) << text;
    EXPECT_NE(text.find("2.000 s"), std::string::npos) << text;
    EXPECT_NE(text.find("seed 99"), std::string::npos) << text;
  }
}

TEST(TestProbe, ExpectMessageFailsWhenNothingArrivesWithinTheBound) {
  test_system ts;
  test_probe<greeting> probe{ts};
  auto r = ts.spawn(relay(probe.ref()));
  r.tell(send_later{bye{}, 10s});
  try {
    probe.expect_message(9s);
    FAIL() << "the expectation passed";
  } catch (const expectation_failed& e) {
    EXPECT_NE(std::string(e.what()).find("nothing arrived"), std::string::npos) << e.what();
  }
  EXPECT_EQ(ts.elapsed(), 9s);
}

TEST(TestProbe, ExpectMessageAcceptsAPredicate) {
  test_system ts;
  test_probe<greeting> probe{ts};
  auto r = ts.spawn(relay(probe.ref()));
  r.tell(send_later{hello{"carol"}, 0ns});
  auto m = probe.expect_message([](const greeting& g) { return std::holds_alternative<hello>(g); });
  EXPECT_EQ(std::get<hello>(m).who, "carol");
}

TEST(TestProbe, ExpectNoMessageFailsWhenOneArrivesInTheWindow) {
  test_system ts;
  test_probe<greeting> probe{ts};
  auto r = ts.spawn(relay(probe.ref()));
  r.tell(send_later{bye{}, 3s});
  probe.expect_no_message(2s);
  EXPECT_THROW(probe.expect_no_message(2s), expectation_failed);
}

TEST(TestProbe, ReceiveMessagesReturnsThemInArrivalOrder) {
  test_system ts;
  test_probe<greeting> probe{ts};
  auto r = ts.spawn(relay(probe.ref()));
  r.tell(send_later{hello{"late"}, 2s});
  r.tell(send_later{hello{"early"}, 1s});
  auto ms = probe.receive_messages(2);
  ASSERT_EQ(ms.size(), 2u);
  EXPECT_EQ(std::get<hello>(ms[0]).who, "early");
  EXPECT_EQ(std::get<hello>(ms[1]).who, "late");
  EXPECT_THROW(probe.receive_messages(1, 1s), expectation_failed);
}

TEST(TestProbe, FishForMessageSkipsTheOthers) {
  test_system ts;
  test_probe<greeting> probe{ts};
  auto r = ts.spawn(relay(probe.ref()));
  for (auto* who : {"a", "b", "c"}) r.tell(send_later{hello{who}, 1s});
  r.tell(send_later{bye{}, 2s});
  probe.fish_for_message([](const greeting& g) { return std::holds_alternative<bye>(g); });
  EXPECT_EQ(probe.size(), 0u);
}

TEST(TestProbe, ExpectTerminatedReportsTheReason) {
  test_system ts;
  test_probe<greeting> probe{ts};
  auto doomed = ts.spawn(troupe::receive<bye>([](bye) -> void { throw std::runtime_error("bad"); }));
  doomed.tell(bye{});
  auto t = probe.expect_terminated(doomed);
  EXPECT_EQ(t.who, doomed.id());
  EXPECT_TRUE(t.reason.is_failure());
  auto alive = ts.spawn(troupe::receive<bye>([](bye) {}));
  EXPECT_THROW(probe.expect_terminated(alive, 1s), expectation_failed);
}

TEST(TestProbe, WorksWithARealSystem) {
  troupe::system_config cfg;
  cfg.worker_threads = 2;
  troupe::system sys{cfg};
  test_probe<greeting> probe{sys};
  auto r = sys.spawn(relay(probe.ref()));
  r.tell(send_later{hello{"real"}, 0ns});
  r.tell(send_later{bye{}, 1ms});
  probe.expect_message(hello{"real"}, 60s);
  probe.expect_message_of<bye>(60s);
  auto stopper = sys.spawn(troupe::receive<bye>([](bye) { return troupe::stopped; }));
  stopper.tell(bye{});
  EXPECT_EQ(probe.expect_terminated(stopper, 60s).who, stopper.id());
}

}  // namespace
