// The io_service: what its end does to the connections still open on its loops.
#include "troupe/io/io_service.hpp"

#include <gtest/gtest.h>

#include <memory>
#include <optional>
#include <string>
#include <variant>
#include <vector>

#include "core/test_support.hpp"
#include "io/http_test_client.hpp"
#include "io/ws_test_client.hpp"
#include "troupe/core/system.hpp"
#include "troupe/io/http_listener.hpp"
#include "troupe/io/listener.hpp"

namespace {

namespace io = troupe::io;
using verb = boost::beast::http::verb;

using web_msg = std::variant<io::http_call>;
using ws_msg = std::variant<io::ws_received, io::ws_closed>;
using conn_msg = std::variant<io::received, io::closed>;

troupe::behavior<web_msg> hello() {
  return troupe::receive<web_msg>([](const io::http_call& c) { c.reply_to.tell(io::http_response::text(200, "hi")); });
}

troupe::behavior<ws_msg> greet(io::websocket ws) {
  (void)ws.send("hi");
  return troupe::receive<ws_msg>([](io::ws_received&&) {}, [](io::ws_closed&&) { return troupe::stopped; });
}

troupe::behavior<conn_msg> quiet(io::connection c) {
  c.request();
  return troupe::receive<conn_msg>([](io::received&&) {}, [](const io::closed&) { return troupe::stopped; });
}

troupe::system_config small() {
  troupe::system_config cfg;
  cfg.worker_threads = 2;
  return cfg;
}

// Every loop but the listeners' home loop holds sessions waiting for their next request when the
// io_service ends. Their end told the home loop, which the io_service had already freed
// (AddressSanitizer: heap-use-after-free in ~http_session); a listener kept alive by such a
// session only had its acceptor closed on a freed loop. The clients stay open until after the
// io_service is gone, so no session can end early, while the loops still run. Under the asan
// preset (CI runs the io label there) the test fails on any such touch.
TEST(IoService, EndingWithConnectionsOpenOnEveryLoopTouchesNoLoopItFreed) {
  constexpr int per_kind = 8;
  std::vector<std::unique_ptr<io_test::http_client>> http;
  std::vector<std::unique_ptr<io_test::ws_client>> ws;
  std::vector<std::unique_ptr<io_test::client>> tcp;
  {
    io::io_service io{{.threads = 4}};
    troupe::system sys{small()};
    io::http_routes r;
    r.get("/hi", sys.spawn(hello()));
    r.upgrade("/ws", sys, [](io::websocket w) { return greet(std::move(w)); });
    auto web = io::http_listen(io, {}, std::move(r));
    ASSERT_TRUE(web.has_value()) << web.error().message();
    auto raw = io::listen(sys, io, {}, quiet);
    ASSERT_TRUE(raw.has_value()) << raw.error().message();
    for (int i = 0; i < per_kind; ++i) {
      http.push_back(std::make_unique<io_test::http_client>(web->port()));
      auto got = http.back()->request(verb::get, "/hi");
      ASSERT_TRUE(got.has_value());
      EXPECT_EQ(got->status, 200);
      ws.push_back(std::make_unique<io_test::ws_client>(web->port(), "/ws"));
      ASSERT_TRUE(ws.back()->ok());
      ASSERT_TRUE(ws.back()->read().has_value());
      tcp.push_back(std::make_unique<io_test::client>(raw->port()));
    }
    EXPECT_EQ(web->live_connections(), 2u * per_kind);
  }  // the listeners' handles, the system, then the io_service end here, in that order
}

// The system outlives the io_service here, as the observe layer's web view does (its pages hold
// WebSockets; its io_service is its own): the actors' handles, a request's reply address and a
// listener are used and dropped after the loops are freed. A handle's send or close used to post
// to its freed loop (ThreadSanitizer: heap-use-after-free in ~websocket); now every such post
// goes through the service's gate, which outlives it. Sends say errc::closed; the sockets close
// when the last handle goes. Under the asan and tsan presets any touch of a freed loop fails.
TEST(IoService, HandlesThatOutliveItReachNoLoopItFreed) {
  troupe::system sys{small()};
  troupe_test::blocking_queue<io::websocket> sockets;
  troupe_test::blocking_queue<io::connection> connections;
  troupe_test::blocking_queue<io::http_call> calls;
  std::optional<io::listener> raw;
  std::optional<io::http_listener> web;
  std::unique_ptr<io_test::ws_client> ws;
  std::unique_ptr<io_test::client> tcp, http;
  std::optional<io::websocket> w;
  std::optional<io::connection> c;
  std::optional<io::http_call> call;
  {
    io::io_service io{{.threads = 2}};
    io::http_routes r;
    r.get("/later", sys.spawn(troupe::receive<web_msg>([&calls](const io::http_call& c) { calls.push(c); })));
    r.upgrade("/ws", sys, [&sockets](io::websocket w) {
      sockets.push(w);
      return greet(std::move(w));
    });
    auto l = io::http_listen(io, {}, std::move(r));
    ASSERT_TRUE(l.has_value()) << l.error().message();
    web.emplace(std::move(*l));
    auto t = io::listen(sys, io, {}, [&connections](io::connection c) {
      connections.push(c);
      return quiet(std::move(c));
    });
    ASSERT_TRUE(t.has_value()) << t.error().message();
    raw.emplace(std::move(*t));

    ws = std::make_unique<io_test::ws_client>(web->port(), "/ws");
    ASSERT_TRUE(ws->ok());
    ASSERT_TRUE(ws->read().has_value());
    tcp = std::make_unique<io_test::client>(raw->port());
    http = std::make_unique<io_test::client>(web->port());
    http->send("GET /later HTTP/1.1\r\nHost: localhost\r\n\r\n");
    w = sockets.pop();
    c = connections.pop();
    call = calls.pop();
    ASSERT_TRUE(w && c && call);
    EXPECT_TRUE(w->is_open());
    EXPECT_TRUE(c->is_open());
  }  // the io_service ends; the system, its actors and the handles above live on
  EXPECT_FALSE(w->is_open());
  EXPECT_FALSE(c->is_open());
  auto sent = w->send("late");
  ASSERT_FALSE(sent.has_value());
  EXPECT_EQ(sent.error(), io::errc::closed);
  auto written = c->write("late");
  ASSERT_FALSE(written.has_value());
  EXPECT_EQ(written.error(), io::errc::closed);
  w->request();
  c->request();
  w->close(1001, "late");
  call->reply_to.tell(io::http_response::text(200, "too late"));
  web->stop();
  raw.reset();
  web.reset();
  w.reset();
  c.reset();
  call.reset();
  sys.shutdown();  // the actors drop their handles: the last copies, which close the sockets
  EXPECT_TRUE(tcp->wait_closed());
  EXPECT_TRUE(http->wait_closed());
}

}  // namespace
