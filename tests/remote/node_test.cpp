// Nodes: listening, connecting, one connection per pair, sending, reconnecting; with real peer
// processes where the other node matters.
#include "troupe/remote/node.hpp"

#include <gtest/gtest.h>

#include <signal.h>

#include <boost/asio/ip/tcp.hpp>
#include <thread>

#include "node_process.hpp"
#include "remote_test_support.hpp"
#include "troupe/core/system.hpp"

using namespace std::chrono_literals;
using troupe::remote::node;
using troupe::remote::node_config;
using troupe::remote::testing::line_queue;
using troupe::remote::testing::node_process;

TEST(Node, ListensOnAFreeLoopbackPortWithoutConfiguration) {
  troupe::system sys{troupe::remote::testing::one_worker()};
  node a{sys};
  node b{sys};
  EXPECT_EQ(a.address().rfind(a.name() + "@127.0.0.1:", 0), 0u) << a.address();
  EXPECT_NE(a.address().substr(a.address().find(':')), ":0");
  EXPECT_NE(a.address().substr(a.address().find(':')), b.address().substr(b.address().find(':')));
}

TEST(Node, ConnectRejectsAnAddressThatIsNotNameAtHostPort) {
  troupe::system sys{troupe::remote::testing::one_worker()};
  node a{sys, troupe::remote::testing::named("a")};
  for (const char* bad : {"127.0.0.1:7000", "b@127.0.0.1", "b@nowhere:7000", "b@127.0.0.1:99999", "@127.0.0.1:1"}) {
    auto r = a.connect(bad).get();
    ASSERT_FALSE(r) << bad;
    EXPECT_EQ(r.error(), troupe::remote::errc::bad_address) << bad;
  }
}

TEST(Node, ConnectsToANodeProcessAndBothSeeNodeUp) {
  node_process b({"--raw", "1", "--name", "b"});
  line_queue events, logs;
  troupe::system sys{troupe::remote::testing::logging_config(logs)};
  node a{sys, troupe::remote::testing::named("a", "test-cookie")};
  troupe::remote::testing::watch_node(a, events);
  auto r = a.connect(b.address()).get();
  ASSERT_TRUE(r) << r.error().message();
  EXPECT_EQ(*r, "b");
  EXPECT_TRUE(events.expect("node_up b", 5s));
  EXPECT_TRUE(b.expect("node_up a", 5s)) << b.log();
  EXPECT_EQ(a.connected_nodes(), std::vector<std::string>{"b"});
}

TEST(Node, ConnectToANodeThatIsNotThereFailsWithNodeDown) {
  // A port we hold bound but not listening: nothing can take it while the test runs.
  boost::asio::io_context io;
  boost::asio::ip::tcp::socket held(io);
  held.open(boost::asio::ip::tcp::v4());
  held.bind({boost::asio::ip::make_address("127.0.0.1"), 0});
  troupe::system sys{troupe::remote::testing::one_worker()};
  node a{sys, troupe::remote::testing::named("a")};
  auto r = a.connect("b@127.0.0.1:" + std::to_string(held.local_endpoint().port())).get();
  ASSERT_FALSE(r);
  EXPECT_EQ(r.error(), troupe::remote::errc::node_down) << r.error().message();
}

TEST(Node, DeliversMessagesOnOneLaneInOrderAndDialsOnFirstUse) {
  node_process b({"--raw", "1", "--name", "b"});
  line_queue events, logs;
  troupe::system sys{troupe::remote::testing::logging_config(logs)};
  node a{sys, troupe::remote::testing::named("a", "test-cookie")};
  troupe::remote::testing::watch_node(a, events);
  // Only the address is known: the first send dials.
  ASSERT_TRUE(a.connect(b.address()).get());
  for (std::size_t n = 1; n <= 5; ++n) ASSERT_TRUE(a.send_payload("b", 7, std::string(n, 'x')));
  for (std::size_t n = 1; n <= 5; ++n) {
    auto got = b.expect("got a 7 ", 5s);
    ASSERT_TRUE(got) << b.log();
    EXPECT_EQ(*got, "got a 7 " + std::to_string(n));
  }
  // An echo comes back over the same connection.
  b.command("echo a 3 10");
  EXPECT_TRUE(events.expect("got b 3 10", 5s)) << logs.all();
}

TEST(Node, SendingToAnUnknownNodeFailsWithNodeDown) {
  troupe::system sys{troupe::remote::testing::one_worker()};
  node a{sys, troupe::remote::testing::named("a")};
  auto r = a.send_payload("nobody", 1, {1, 2, 3});
  ASSERT_FALSE(r);
  EXPECT_EQ(r.error(), troupe::remote::errc::node_down);
}

TEST(Node, RefusesAMessageOverMaxMessageAndSaysWhenTheSendQueueIsFull) {
  node_process b({"--raw", "1", "--name", "b"});
  b.signal(SIGSTOP);  // it accepts TCP (the kernel does) but never answers the handshake
  troupe::system sys{troupe::remote::testing::one_worker()};
  auto cfg = troupe::remote::testing::named("a");
  cfg.max_message = 1000;
  cfg.send_queue_bytes = 1500;
  node a{sys, cfg};
  auto pending = a.connect(b.address());
  auto big = a.send_payload("b", 1, std::string(1001, 'x'));
  ASSERT_FALSE(big);
  EXPECT_EQ(big.error(), troupe::remote::errc::message_too_large);
  ASSERT_TRUE(a.send_payload("b", 1, std::string(1000, 'x')));
  auto full = a.send_payload("b", 1, std::string(600, 'x'));
  ASSERT_FALSE(full);
  EXPECT_EQ(full.error(), troupe::remote::errc::send_queue_full) << full.error().message();
  a.stop();
  EXPECT_EQ(pending.get().error(), troupe::remote::errc::stopped);
  auto after = a.send_payload("b", 1, std::string(10, 'x'));
  ASSERT_FALSE(after);
  EXPECT_EQ(after.error(), troupe::remote::errc::stopped);
}

TEST(Node, SimultaneousConnectsLeaveOneConnectionPerPair) {
  // Two nodes in one process dial each other at the same time, many times over; each round
  // must end with exactly one connection, both sides up, and messages flowing both ways.
  for (int round = 0; round < 10; ++round) {
    line_queue ea, eb, logs;
    troupe::system sys{troupe::remote::testing::logging_config(logs)};
    node a{sys, troupe::remote::testing::named("a", "c")};
    node b{sys, troupe::remote::testing::named("b", "c")};
    troupe::remote::testing::watch_node(a, ea);
    troupe::remote::testing::watch_node(b, eb);
    auto fa = a.connect(b.address());
    auto fb = b.connect(a.address());
    auto ra = fa.get(), rb = fb.get();
    ASSERT_TRUE(ra) << ra.error().message() << logs.all();
    ASSERT_TRUE(rb) << rb.error().message() << logs.all();
    ASSERT_TRUE(a.send_payload("b", 1, "1"));
    ASSERT_TRUE(b.send_payload("a", 1, "2"));
    ASSERT_TRUE(ea.expect("got b 1 1", 5s)) << logs.all();
    ASSERT_TRUE(eb.expect("got a 1 1", 5s)) << logs.all();
    EXPECT_FALSE(ea.saw("node_down")) << ea.all() << logs.all();
    EXPECT_FALSE(eb.saw("node_down")) << eb.all() << logs.all();
    EXPECT_EQ(a.connected_nodes().size(), 1u);
    EXPECT_EQ(b.connected_nodes().size(), 1u);
  }
}

TEST(Node, RedialsANodeThatRestartedOnTheSameAddress) {
  line_queue events, logs;
  troupe::system sys{troupe::remote::testing::logging_config(logs)};
  node a{sys, troupe::remote::testing::named("a", "test-cookie")};
  troupe::remote::testing::watch_node(a, events);
  std::string port;
  {
    node_process b({"--raw", "1", "--name", "b"});
    port = b.address().substr(b.address().rfind(':') + 1);
    ASSERT_TRUE(a.connect(b.address()).get());
    ASSERT_TRUE(events.expect("node_up b", 5s));
    b.kill9();
    ASSERT_TRUE(events.expect("node_down b", 5s)) << logs.all();
  }
  node_process b2({"--raw", "1", "--name", "b", "--port", port});
  // The next send dials again (after the backoff) and arrives.
  ASSERT_TRUE(a.send_payload("b", 1, std::string(3, 'x')));
  EXPECT_TRUE(events.expect("node_up b", 5s)) << logs.all();
  EXPECT_TRUE(b2.expect("got a 1 3", 5s)) << b2.log();
}
