// Failure detection: heartbeats on each connection. A frozen (SIGSTOP) or killed node is
// declared down within 2 s with the defaults; a node that is only busy is not.
#include <gtest/gtest.h>
#include <signal.h>

#include <chrono>

#include "node_process.hpp"
#include "remote_test_support.hpp"
#include "troupe/core/system.hpp"
#include "troupe/remote/node.hpp"

using namespace std::chrono_literals;
using troupe::remote::node;
using troupe::remote::testing::line_queue;
using troupe::remote::testing::node_process;

TEST(FailureDetection, DeclaresAFrozenNodeDownWithinTwoSecondsWithTheDefaults) {
  node_process b({"--raw", "1", "--name", "b"});
  line_queue events, logs;
  troupe::system sys{troupe::remote::testing::logging_config(logs)};
  node a{sys, troupe::remote::testing::named("a", "test-cookie")};
  troupe::remote::testing::watch_node(a, events);
  ASSERT_TRUE(a.connect(b.address()).get());
  ASSERT_TRUE(events.expect("node_up b", 5s));
  b.signal(SIGSTOP);
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
  node_process b({"--raw", "1", "--name", "b"});
  line_queue events, logs;
  troupe::system sys{troupe::remote::testing::logging_config(logs)};
  node a{sys, troupe::remote::testing::named("a", "test-cookie")};
  troupe::remote::testing::watch_node(a, events);
  ASSERT_TRUE(a.connect(b.address()).get());
  ASSERT_TRUE(b.expect("node_up a", 5s));
  b.command("burn 2");  // both cores of a 2-core machine spin in b
  ASSERT_TRUE(b.expect("burning", 5s));
  // Two 64 MiB messages cross at once, and small messages to another lane pass them.
  ASSERT_TRUE(a.send_payload("b", 1, std::string(64u << 20, 'x')));
  b.command("send a 1 " + std::to_string(64u << 20));
  ASSERT_TRUE(a.send_payload("b", 2, std::string(10, 'x')));
  auto small = b.expect("got a ", 20s);
  ASSERT_TRUE(small) << b.log();
  EXPECT_EQ(*small, "got a 2 10") << "the small message waited behind the big one";
  ASSERT_TRUE(b.expect("got a 1 " + std::to_string(64u << 20), 30s)) << b.log() << logs.all();
  ASSERT_TRUE(events.expect("got b 1 " + std::to_string(64u << 20), 30s)) << logs.all();
  EXPECT_FALSE(events.saw("node_down")) << events.all();
  EXPECT_EQ(b.log().find("node_down"), std::string::npos) << b.log();
}
