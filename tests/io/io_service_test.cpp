// The io_service: what its end does to the connections still open on its loops.
#include "troupe/io/io_service.hpp"

#include <gtest/gtest.h>

#include <memory>
#include <string>
#include <variant>
#include <vector>

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

}  // namespace
