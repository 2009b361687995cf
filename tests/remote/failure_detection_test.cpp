// Failure detection: heartbeats on each connection. A frozen (SIGSTOP) or killed node is
// declared down within 2 s with the defaults; a node that is only busy is not.
#include <gtest/gtest.h>
#include <signal.h>

#include <chrono>
#include <condition_variable>
#include <mutex>
#include <string>
#include <variant>

#include "counter_protocol.hpp"
#include "node_process.hpp"
#include "remote_test_support.hpp"
#include "troupe/core/system.hpp"
#include "troupe/remote/node.hpp"

using namespace std::chrono_literals;
using troupe::remote::node;
using troupe::remote::testing::line_queue;
using troupe::remote::testing::node_process;

namespace {
// A message whose decoding waits until the test opens the gate (or 10 s pass): a decode as
// slow as the test wants, without timing anything.
struct gate {
  std::mutex mu;
  std::condition_variable cv;
  bool open = false;
  troupe::remote::testing::line_queue* events = nullptr;
};
gate the_gate;

struct slow_blob {
  std::string bytes;
};
}  // namespace

template <>
struct troupe::serial::codec<slow_blob> {
  static constexpr std::string_view schema = "slow_blob/1";
  static void encode(writer& w, const slow_blob& b) { troupe::serial::encode(w, b.bytes); }
  static bool decode(reader& r, slow_blob& b) {
    if (the_gate.events) the_gate.events->push("decoding");
    std::unique_lock lk(the_gate.mu);
    the_gate.cv.wait_for(lk, std::chrono::seconds(10), [] { return the_gate.open; });
    return troupe::serial::decode(r, b.bytes);
  }
};

TEST(FailureDetection, DeclaresAFrozenNodeDownWithinTwoSecondsWithTheDefaults) {
  node_process b({"--raw", "1", "--name", "b"});
  line_queue events, logs;
  troupe::system sys{troupe::remote::testing::logging_config(logs)};
  node a{sys, troupe::remote::testing::named("a", "test-cookie")};
  troupe::remote::testing::watch_node(a, events);
  ASSERT_TRUE(a.connect(b.address()).get());
  ASSERT_TRUE(events.expect("node_up b", 5s));
  ASSERT_TRUE(b.freeze());
  auto t0 = std::chrono::steady_clock::now();
  auto down = events.expect("node_down b", 5s);
  auto took = std::chrono::steady_clock::now() - t0;
  ASSERT_TRUE(down) << logs.all();
  EXPECT_LT(took, 2s);
  EXPECT_NE(down->find("no heartbeat"), std::string::npos) << *down;
  b.signal(SIGCONT);
}

TEST(FailureDetection, DeclaresAKilledNodeDownAtOnce) {
  node_process b({"--raw", "1", "--name", "b"});
  line_queue events, logs;
  troupe::system sys{troupe::remote::testing::logging_config(logs)};
  node a{sys, troupe::remote::testing::named("a", "test-cookie")};
  troupe::remote::testing::watch_node(a, events);
  ASSERT_TRUE(a.connect(b.address()).get());
  ASSERT_TRUE(events.expect("node_up b", 5s));
  auto t0 = std::chrono::steady_clock::now();
  b.kill9();
  ASSERT_TRUE(events.expect("node_down b", 5s)) << logs.all();
  EXPECT_LT(std::chrono::steady_clock::now() - t0, 1s);  // the kernel resets the socket
}

TEST(FailureDetection, ABusyNodeWithA64MiBMessageInFlightIsNotDeclaredDown) {
  // 64 MiB in a plain build; under a sanitizer the node's work on each byte costs
  // sanitizer_slowdown times more, so the message shrinks by that much and the work within one
  // down_after (the defaults') stays what it is in a plain build. Still far over one fragment.
  const std::size_t big = (64u << 20) / troupe::remote::testing::sanitizer_slowdown;
  node_process b({"--raw", "1", "--name", "b"});
  line_queue events, logs;
  troupe::system sys{troupe::remote::testing::logging_config(logs)};
  node a{sys, troupe::remote::testing::named("a", "test-cookie")};
  troupe::remote::testing::watch_node(a, events);
  ASSERT_TRUE(a.connect(b.address()).get());
  ASSERT_TRUE(b.expect("node_up a", 5s));
  b.command("burn 2");  // both cores of a 2-core machine spin in b
  ASSERT_TRUE(b.expect("burning", 5s));
  // Two big messages cross at once, and small messages to another lane pass them.
  ASSERT_TRUE(a.send_payload("b", 1, std::string(big, 'x')));
  b.command("send a 1 " + std::to_string(big));
  ASSERT_TRUE(a.send_payload("b", 2, std::string(10, 'x')));
  auto small = b.expect("got a ", 20s);
  ASSERT_TRUE(small) << b.log();
  EXPECT_EQ(*small, "got a 2 10") << "the small message waited behind the big one";
  ASSERT_TRUE(b.expect("got a 1 " + std::to_string(big), 30s)) << b.log() << logs.all();
  ASSERT_TRUE(events.expect("got b 1 " + std::to_string(big), 30s)) << logs.all();
  EXPECT_FALSE(events.saw("node_down")) << events.all();
  EXPECT_EQ(b.log().find("node_down"), std::string::npos) << b.log();
}

TEST(FailureDetection, ASlowDecodeHoldsUpNeitherHeartbeatsNorTheNodesOtherWork) {
  line_queue events, logs;
  the_gate.events = &events;
  troupe::system sys_a{troupe::remote::testing::logging_config(logs)};
  troupe::system sys_b{troupe::remote::testing::logging_config(logs)};
  auto cfg = [](std::string name) {
    auto c = troupe::remote::testing::named(std::move(name));
    c.heartbeat_interval = 50ms;
    c.down_after = 300ms;
    return c;
  };
  node a{sys_a, cfg("a")}, b{sys_b, cfg("b")};
  a.add_monitor([&events](std::variant<troupe::remote::node_up, troupe::remote::node_down> e) {
    if (std::holds_alternative<troupe::remote::node_down>(e)) events.push("node_down");
  });
  auto sink = sys_b.spawn(troupe::receive<slow_blob>([&events](const slow_blob& m) {
    events.push("blob " + std::to_string(m.bytes.size()));
    return troupe::same;
  }));
  ASSERT_TRUE(b.publish("sink", sink));
  ASSERT_TRUE(b.publish("counter", sys_b.spawn(troupe::remote::testing::counter(0, {}))));
  auto s = a.lookup<slow_blob>("sink", b.address()).get();
  ASSERT_TRUE(s) << s.error().message();
  s->tell(slow_blob{std::string(256 * 1024, 'x')});  // over one fragment: decoded off the node thread
  ASSERT_TRUE(events.expect("decoding", 5s));
  // While it decodes, b's node thread answers a lookup (and so sends heartbeats).
  auto c = a.lookup<troupe::remote::testing::counter_msg>("counter", b.address(), 3s).get();
  EXPECT_TRUE(c) << c.error().message() << logs.all();
  {
    std::lock_guard lk(the_gate.mu);
    the_gate.open = true;
  }
  the_gate.cv.notify_all();
  EXPECT_TRUE(events.expect("blob 262144", 5s)) << events.all();
  EXPECT_FALSE(events.saw("node_down")) << events.all() << logs.all();
  the_gate.events = nullptr;
}
