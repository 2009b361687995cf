// Plain ws on the wire, byte by byte: fragments, control frames between them, extended lengths,
// and the close frames of protocol errors, from a raw socket (websocket_own.cpp's framing).
#include "troupe/io/websocket.hpp"

#include <gtest/gtest.h>

#include <cstdint>
#include <memory>
#include <optional>
#include <string>
#include <variant>

#include "core/test_support.hpp"
#include "io/io_test_support.hpp"
#include "troupe/io/http_listener.hpp"

namespace {

using namespace std::chrono_literals;
namespace io = troupe::io;
using ws_msg = std::variant<io::ws_received, io::ws_closed>;
using closed_queue = troupe_test::blocking_queue<io::ws_closed>;

troupe::behavior<ws_msg> echo(io::websocket ws, std::shared_ptr<closed_queue> closed) {
  (void)ws.send("hi");
  ws.request();
  return troupe::receive<ws_msg>(
      [ws](io::ws_received&& m) mutable {
        (void)ws.send(std::move(m.data), m.text);
        ws.request();
      },
      [closed](io::ws_closed&& c) {
        closed->push(std::move(c));
        return troupe::stopped;
      });
}

// A client frame: masked, as RFC 6455 requires of clients (unless `masked` is false).
std::string frame(std::uint8_t first, const std::string& payload, bool masked = true) {
  const std::uint8_t mask[4] = {0x11, 0x22, 0x33, 0x44};
  std::string f(1, static_cast<char>(first));
  const auto n = payload.size();
  const char m = masked ? static_cast<char>(0x80) : 0;
  if (n < 126) {
    f += static_cast<char>(m | static_cast<char>(n));
  } else {
    f += static_cast<char>(m | 126);
    f += static_cast<char>(n >> 8);
    f += static_cast<char>(n & 0xFF);
  }
  if (!masked) return f + payload;
  f.append(reinterpret_cast<const char*>(mask), 4);
  for (std::size_t i = 0; i < n; ++i) f += static_cast<char>(payload[i] ^ static_cast<char>(mask[i & 3]));
  return f;
}

std::string close_payload(std::uint16_t code, const std::string& reason = {}) {
  return std::string{static_cast<char>(code >> 8), static_cast<char>(code & 0xFF)} + reason;
}

struct WebSocketFrames : ::testing::Test {
  io::io_service io{{.threads = 1}};
  troupe::system sys{[] {
    troupe::system_config cfg;
    cfg.worker_threads = 2;
    return cfg;
  }()};
  std::shared_ptr<closed_queue> closed = std::make_shared<closed_queue>();
  io::websocket_options opts{};
  std::optional<io::http_listener> l;

  // Upgrades a raw client and reads the actor's greeting (an unmasked server text frame "hi").
  std::unique_ptr<io_test::client> connect() {
    if (!l) {
      io::http_routes r;
      r.upgrade("/ws", sys, [c = closed](io::websocket ws) { return echo(std::move(ws), c); }, opts);
      auto got = io::http_listen(io, {}, std::move(r));
      EXPECT_TRUE(got.has_value()) << got.error().message();
      l = std::move(*got);
    }
    auto c = std::make_unique<io_test::client>(l->port());
    c->send(
        "GET /ws HTTP/1.1\r\nHost: 127.0.0.1\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n"
        "Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\nSec-WebSocket-Version: 13\r\n\r\n");
    std::string head;
    while (head.find("\r\n\r\n") == std::string::npos) {
      auto b = c->read(1);
      if (b.empty()) break;
      head += b;
    }
    EXPECT_EQ(head.substr(0, 12), "HTTP/1.1 101");
    EXPECT_EQ(c->read(4), std::string("\x81\x02hi", 4));
    return c;
  }
};

TEST_F(WebSocketFrames, AFragmentedMessageIsReassembledAndAPingBetweenItsFragmentsIsAnswered) {
  auto c = connect();
  c->send(frame(0x01, "hel") + frame(0x89, "p1") + frame(0x80, "lo"));
  EXPECT_EQ(c->read(4), std::string("\x8A\x02p1", 4));  // the pong, with the ping's payload
  EXPECT_EQ(c->read(7), std::string("\x81\x05hello", 7));
}

TEST_F(WebSocketFrames, AMessageOver125BytesComesBackWithA16BitLength) {
  auto c = connect();
  std::string big(300, 'b');
  c->send(frame(0x82, big));
  EXPECT_EQ(c->read(4), std::string("\x82\x7E\x01\x2C", 4));
  EXPECT_EQ(c->read(300), big);
}

TEST_F(WebSocketFrames, AnUnmaskedClientFrameIsClosedWith1002AndTheServerKeepsServing) {
  auto c = connect();
  c->send(frame(0x81, "no mask", false));
  auto head = c->read(4);
  ASSERT_EQ(head.size(), 4u);
  EXPECT_EQ(static_cast<std::uint8_t>(head[0]), 0x88);  // a close frame
  EXPECT_EQ(head.substr(2, 2), close_payload(1002));
  auto got = closed->pop(10s);
  ASSERT_TRUE(got.has_value());
  EXPECT_EQ(got->code, 1002);
  EXPECT_EQ(got->why, io::close_reason::error);
  EXPECT_TRUE(c->wait_closed());  // the server ends its side after the close frame
  auto other = connect();         // and serves the next one
  other->send(frame(0x81, "still here"));
  EXPECT_EQ(other->read(12), std::string("\x81\x0Astill here", 12));
}

TEST_F(WebSocketFrames, AContinuationOutsideAMessageIsAProtocolError) {
  auto c = connect();
  c->send(frame(0x80, "orphan"));
  auto head = c->read(4);
  ASSERT_EQ(head.size(), 4u);
  EXPECT_EQ(head.substr(2, 2), close_payload(1002));
  auto got = closed->pop(10s);
  ASSERT_TRUE(got.has_value());
  EXPECT_EQ(got->code, 1002);
}

TEST_F(WebSocketFrames, APeerCloseWithACodeNoEndpointMaySendIsAProtocolError) {
  auto c = connect();
  c->send(frame(0x88, close_payload(1005)));
  auto head = c->read(4);
  ASSERT_EQ(head.size(), 4u);
  EXPECT_EQ(head.substr(2, 2), close_payload(1002));
}

TEST_F(WebSocketFrames, APeerCloseIsEchoedWithItsCodeAndAnEmptyOneReachesTheActorAs1005) {
  auto c = connect();
  c->send(frame(0x88, close_payload(4000, "bye")));
  EXPECT_EQ(c->read(4), std::string("\x88\x02", 2) + close_payload(4000));
  auto got = closed->pop(10s);
  ASSERT_TRUE(got.has_value());
  EXPECT_EQ(got->code, 4000);
  EXPECT_EQ(got->reason, "bye");
  EXPECT_EQ(got->why, io::close_reason::end_of_input);
  EXPECT_TRUE(c->wait_closed());

  auto d = connect();
  d->send(frame(0x88, ""));
  EXPECT_EQ(d->read(2), std::string("\x88\x00", 2));
  auto none = closed->pop(10s);
  ASSERT_TRUE(none.has_value());
  EXPECT_EQ(none->code, 1005);
}

// The timer runs on the server alone: the client only has to answer the first ping within half
// the idle timeout (1 s), which it does as soon as it reads it.
TEST_F(WebSocketFrames, ASilentPeerIsPingedAPongKeepsItOpenAndNoAnswerClosesIt) {
  opts.idle_timeout = 2s;
  auto c = connect();
  EXPECT_EQ(c->read(2, 10s), std::string("\x89\x00", 2));  // after 1 s of silence
  c->send(frame(0x8A, ""));
  // Heard: the next tick only rearms; the one after pings again, where an unanswered first
  // ping would have closed the connection.
  EXPECT_EQ(c->read(2, 10s), std::string("\x89\x00", 2));
  auto got = closed->pop(10s);  // this one stays unanswered
  ASSERT_TRUE(got.has_value());
  EXPECT_EQ(got->code, 1006);
  EXPECT_EQ(got->why, io::close_reason::idle_timeout);
  EXPECT_TRUE(c->wait_closed());
}

}  // namespace
