// Handshake: the cookie challenge, wire versions, and peers that misbehave before or after it.
// Each misbehaving peer is dropped with a logged reason and the node keeps serving others.
#include <gtest/gtest.h>

#include <boost/asio/connect.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/read.hpp>
#include <boost/asio/write.hpp>
#include <chrono>

#include "node_process.hpp"
#include "remote_test_support.hpp"
#include "troupe/core/system.hpp"
#include "troupe/remote/node.hpp"

using namespace std::chrono_literals;
using troupe::remote::node;
using troupe::remote::testing::line_queue;
using troupe::remote::testing::node_process;
namespace asio = boost::asio;

namespace {
// A raw TCP client of node `n`, for peers that do not speak the protocol.
asio::ip::tcp::socket raw_client(asio::io_context& io, const node& n) {
  auto a = n.address();
  auto port = static_cast<unsigned short>(std::stoi(a.substr(a.rfind(':') + 1)));
  asio::ip::tcp::socket s(io);
  s.connect({asio::ip::make_address("127.0.0.1"), port});
  return s;
}
// Reads until the node closes the connection; true if it did within `timeout`.
bool closed_within(asio::io_context& io, asio::ip::tcp::socket& s, std::chrono::nanoseconds timeout) {
  bool closed = false;
  char buf[512];
  std::function<void()> read = [&] {
    s.async_read_some(asio::buffer(buf), [&](boost::system::error_code ec, std::size_t) {
      if (ec) closed = true;
      else read();
    });
  };
  read();
  io.restart();
  io.run_for(timeout);
  return closed;
}
// Checks the node still serves a well-behaved peer.
void still_serves(node& n) {
  node_process good({"--name", "good"});
  auto r = n.connect(good.address()).get();
  EXPECT_TRUE(r) << r.error().message();
}
}  // namespace

TEST(Handshake, ConnectsWhenBothNodesShareTheCookie) {
  node_process b({"--name", "b", "--cookie", "shared"});
  troupe::system sys{troupe::remote::testing::one_worker()};
  node a{sys, troupe::remote::testing::named("a", "shared")};
  auto r = a.connect(b.address()).get();
  ASSERT_TRUE(r) << r.error().message();
}

TEST(Handshake, ANodeWithAnotherCookieIsRefusedWithAReasonOnBothSides) {
  node_process b({"--name", "b", "--cookie", "right"});
  line_queue logs;
  troupe::system sys{troupe::remote::testing::logging_config(logs)};
  node a{sys, troupe::remote::testing::named("a", "wrong")};
  auto r = a.connect(b.address()).get();
  ASSERT_FALSE(r);
  EXPECT_EQ(r.error(), troupe::remote::errc::handshake_failed) << r.error().message();
  EXPECT_TRUE(logs.expect("log remote node 'a': connection to node 'b' closed: node 'b' failed the cookie challenge", 5s))
      << logs.all();
  EXPECT_FALSE(b.expect("node_up", 200ms));
}

TEST(Handshake, ANodeDiallingWithAnotherCookieIsNeverConnected) {
  // Here the process dials us with the wrong cookie: it finds our proof wrong and gives up.
  line_queue logs;
  troupe::system sys{troupe::remote::testing::logging_config(logs)};
  node a{sys, troupe::remote::testing::named("a", "right")};
  node_process b({"--name", "b", "--cookie", "wrong"});
  b.command("connect " + a.address());
  auto failed = b.expect("connect_failed", 5s);
  ASSERT_TRUE(failed) << b.log();
  // The dialer sees our proof is wrong for its cookie first, and gives up; either side's
  // reason names the cookie challenge.
  EXPECT_NE(failed->find("cookie"), std::string::npos) << *failed;
  EXPECT_TRUE(a.connected_nodes().empty());
}

TEST(Handshake, AcceptsANodeSpeakingThePreviousWireVersion) {
  node_process old({"--raw", "1", "--name", "old", "--speak-version", std::to_string(troupe::remote::wire_version - 1)});
  line_queue logs;
  troupe::system sys{troupe::remote::testing::logging_config(logs)};
  node a{sys, troupe::remote::testing::named("a", "test-cookie")};
  // Both directions: the old node dials us, and we dial it.
  old.command("connect " + a.address());
  ASSERT_TRUE(old.expect("connected a", 5s)) << old.log();
  EXPECT_TRUE(logs.expect("log remote node 'a': node 'old' up (wire version " +
                              std::to_string(troupe::remote::wire_version - 1) + ")", 5s)) << logs.all();
  ASSERT_TRUE(a.send_payload("old", 1, "ab"));
  EXPECT_TRUE(old.expect("got a 1 2", 5s)) << old.log();
}

TEST(Handshake, RefusesANodeThatSpeaksNoCommonWireVersion) {
  node_process future({"--name", "future", "--speak-version", std::to_string(troupe::remote::wire_version + 5)});
  line_queue logs;
  troupe::system sys{troupe::remote::testing::logging_config(logs)};
  node a{sys, troupe::remote::testing::named("a", "test-cookie")};
  auto r = a.connect(future.address()).get();
  ASSERT_FALSE(r);
  EXPECT_EQ(r.error(), troupe::remote::errc::wrong_version) << r.error().message();
  future.command("connect " + a.address());
  auto failed = future.expect("connect_failed", 5s);
  ASSERT_TRUE(failed) << future.log();
  EXPECT_NE(failed->find("wire version"), std::string::npos) << *failed;
  EXPECT_TRUE(logs.expect("log remote node 'a': connection to node 'future' closed: refused: wire versions", 5s))
      << logs.all();
}

TEST(Handshake, DropsAPeerThatSendsNothingWithinTheHandshakeTimeout) {
  line_queue logs;
  troupe::system sys{troupe::remote::testing::logging_config(logs)};
  auto cfg = troupe::remote::testing::named("a");
  cfg.handshake_timeout = 300ms;
  node a{sys, cfg};
  asio::io_context io;
  auto s = raw_client(io, a);
  auto t0 = std::chrono::steady_clock::now();
  EXPECT_TRUE(closed_within(io, s, 5s));
  EXPECT_LT(std::chrono::steady_clock::now() - t0, 3s);
  EXPECT_TRUE(logs.expect("log remote node 'a': connection to an unnamed peer closed: no handshake within 300 ms", 5s))
      << logs.all();
  still_serves(a);
}

TEST(Handshake, TheDefaultHandshakeTimeoutDropsASilentPeerWithinFiveSeconds) {
  EXPECT_LE(troupe::remote::node_config{}.handshake_timeout, 5s);
}

TEST(Handshake, ClosesAConnectionWhoseFirstFrameIsOversizedBeforeAllocatingIt) {
  line_queue logs;
  troupe::system sys{troupe::remote::testing::logging_config(logs)};
  node a{sys, troupe::remote::testing::named("a")};
  asio::io_context io;
  auto s = raw_client(io, a);
  // An HTTP request read as a frame: its length field is "GET " = 0x47455420 bytes.
  asio::write(s, asio::buffer(std::string("GET / HTTP/1.1\r\nHost: x\r\n\r\n")));
  EXPECT_TRUE(closed_within(io, s, 5s));
  EXPECT_TRUE(logs.expect("log remote node 'a': connection to an unnamed peer closed: frame of 1195725856 bytes outside 1..512", 5s))
      << logs.all();
  still_serves(a);
}

TEST(Handshake, ClosesAConnectionThatSendsAGarbageHello) {
  line_queue logs;
  troupe::system sys{troupe::remote::testing::logging_config(logs)};
  node a{sys, troupe::remote::testing::named("a")};
  asio::io_context io;
  auto s = raw_client(io, a);
  const unsigned char frame[] = {0, 0, 0, 4, 1, 0, 1, 0};  // a hello cut short in its versions
  asio::write(s, asio::buffer(frame));
  EXPECT_TRUE(closed_within(io, s, 5s));
  EXPECT_TRUE(logs.expect("log remote node 'a': connection to an unnamed peer closed: malformed hello", 5s)) << logs.all();
  still_serves(a);
}
