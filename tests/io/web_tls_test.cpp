// https and wss: the HTTP listener over the io layer's TLS, checked with Beast's TLS clients.
#include <gtest/gtest.h>

#include <chrono>
#include <memory>
#include <string>
#include <thread>
#include <variant>

#include "core/test_support.hpp"
#include "io/io_test_support.hpp"
#include "io/tls_web_client.hpp"
#include "troupe/core/system.hpp"
#include "troupe/io/http_listener.hpp"

namespace {

using namespace std::chrono_literals;
namespace io = troupe::io;
using verb = boost::beast::http::verb;

using web_msg = std::variant<io::http_call>;
using ws_msg = std::variant<io::ws_received, io::ws_closed>;

troupe::behavior<web_msg> rooms() {
  return troupe::receive<web_msg>([](const io::http_call& c) {
    c.reply_to.tell(io::http_response::text(200, "room " + c.request.param("name")));
  });
}

troupe::behavior<ws_msg> echo(io::websocket ws, std::shared_ptr<troupe_test::blocking_queue<io::ws_closed>> closed) {
  (void)ws.send("hello " + ws.upgrade_request().param("room"));
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

troupe::system_config small() {
  troupe::system_config cfg;
  cfg.worker_threads = 2;
  return cfg;
}

// Waits (with a deadline) until `f()` holds.
template <class F>
bool eventually(F f, std::chrono::milliseconds limit = 10s) {
  auto end = std::chrono::steady_clock::now() + limit;
  while (!f()) {
    if (std::chrono::steady_clock::now() > end) return false;
    std::this_thread::yield();
  }
  return true;
}

struct WebTls : ::testing::Test {
  io_test::test_pki pki = io_test::make_pki(1);
  io::io_service io{{.threads = 2}};
  troupe::system sys{small()};
  std::shared_ptr<troupe_test::blocking_queue<io::ws_closed>> closed =
      std::make_shared<troupe_test::blocking_queue<io::ws_closed>>();

  io::http_listener serve(io::http_options o = {}) {
    auto server = io::tls_context::server(pki.leaf_chain, pki.leaf_key);
    EXPECT_TRUE(server.has_value()) << server.error().message();
    o.tls = *server;
    io::http_routes r;
    r.get("/rooms/:name", sys.spawn(rooms()));
    r.upgrade("/ws/:room", sys, [c = closed](io::websocket ws) { return echo(std::move(ws), c); });
    auto l = io::http_listen(io, std::move(o), std::move(r));
    EXPECT_TRUE(l.has_value()) << l.error().message();
    return *l;
  }
};

TEST_F(WebTls, AnHttpsRequestReachesItsActorAndTheConnectionStaysOpenForTheNext) {
  auto l = serve();
  io_test::https_client c(l.port(), pki.ca_cert);
  ASSERT_TRUE(c.ok()) << c.error().message();
  for (const char* room : {"lobby", "kitchen"}) {
    auto r = c.request(verb::get, std::string("/rooms/") + room);
    ASSERT_TRUE(r.has_value()) << c.error().message();
    EXPECT_EQ(r->status, 200);
    EXPECT_EQ(r->body, std::string("room ") + room);
    EXPECT_TRUE(r->keep_alive);
  }
  EXPECT_EQ(l.live_connections(), 1u);
  EXPECT_EQ(l.tls_failures(), 0u);
}

TEST_F(WebTls, AWssEndpointEchoesOverTlsAndHearsThePeersCloseCode) {
  auto l = serve();
  io_test::wss_client c(l.port(), "/ws/lobby", pki.ca_cert);
  ASSERT_TRUE(c.ok()) << c.error().message();
  EXPECT_EQ(c.read(), std::optional<std::string>("hello lobby"));
  ASSERT_TRUE(c.send("over tls"));
  EXPECT_EQ(c.read(), std::optional<std::string>("over tls"));
  ASSERT_TRUE(c.close(4000));
  auto got = closed->pop();
  ASSERT_TRUE(got.has_value());
  EXPECT_EQ(got->code, 4000);
  EXPECT_EQ(got->why, io::close_reason::end_of_input);
}

// Beast reports a close frame without a code as 0; the actor gets 1005, as on plain ws.
TEST_F(WebTls, AWssCloseWithoutACodeReachesTheActorAs1005) {
  auto l = serve();
  io_test::wss_client c(l.port(), "/ws/lobby", pki.ca_cert);
  ASSERT_TRUE(c.ok()) << c.error().message();
  EXPECT_EQ(c.read(), std::optional<std::string>("hello lobby"));
  ASSERT_TRUE(c.close(0));  // close_code::none: an empty close payload
  auto got = closed->pop();
  ASSERT_TRUE(got.has_value());
  EXPECT_EQ(got->code, 1005);
  EXPECT_EQ(got->why, io::close_reason::end_of_input);
}

TEST_F(WebTls, PlainHttpToAnHttpsPortIsClosedAndCountedAndTheServerKeepsServing) {
  auto l = serve();
  io_test::client raw(l.port());
  raw.send("GET /rooms/lobby HTTP/1.1\r\nHost: x\r\n\r\n");
  EXPECT_TRUE(raw.wait_closed());
  EXPECT_TRUE(eventually([&] { return l.tls_failures() == 1; }));
  io_test::https_client c(l.port(), pki.ca_cert);
  ASSERT_TRUE(c.ok()) << c.error().message();
  EXPECT_EQ(c.request(verb::get, "/rooms/a")->status, 200);
}

TEST_F(WebTls, AClientThatTrustsAnotherCaRefusesTheServer) {
  auto l = serve();
  auto other = io_test::make_pki(10);
  io_test::https_client c(l.port(), other.ca_cert);
  EXPECT_FALSE(c.ok());
  EXPECT_TRUE(eventually([&] { return l.tls_failures() == 1; }));
}

TEST_F(WebTls, AHandshakeNeverStartedIsClosedAtTheRequestDeadline) {
  auto l = serve({.request_timeout = 200ms});
  io_test::client silent(l.port());
  auto start = std::chrono::steady_clock::now();
  EXPECT_TRUE(silent.wait_closed(10s));
  EXPECT_GE(std::chrono::steady_clock::now() - start, 150ms);
  EXPECT_TRUE(eventually([&] { return l.tls_failures() == 1; }));
}

}  // namespace
