// WebSocket endpoints: messages both ways, demand, limits, close codes, the write bound.
#include "troupe/io/websocket.hpp"

#include <gtest/gtest.h>

#include <algorithm>
#include <cstdio>
#include <memory>
#include <string>
#include <variant>

#include "core/test_support.hpp"
#include "io/http_test_client.hpp"
#include "io/ws_test_client.hpp"
#include "troupe/io/http_listener.hpp"

namespace {

using namespace std::chrono_literals;
namespace io = troupe::io;
using troupe_test::blocking_queue;

struct tick {};
using ws_msg = std::variant<io::ws_received, io::ws_closed, tick>;

struct seen {
  blocking_queue<io::ws_closed> closed;
  blocking_queue<std::string> notes;
};

// Greets with the room's name, echoes every message (text stays text), closes on "close".
troupe::behavior<ws_msg> echo(io::websocket ws, std::shared_ptr<seen> s) {
  (void)ws.send("hello " + ws.upgrade_request().param("room"));
  ws.request();
  return troupe::receive<ws_msg>(
      [ws](io::ws_received&& m) mutable -> troupe::behavior<ws_msg> {
        if (m.text && m.data == "close") {
          ws.close(4001, "asked to");
          return troupe::stopped;
        }
        (void)ws.send(std::move(m.data), m.text);
        ws.request();
        return troupe::same;
      },
      [s](io::ws_closed&& c) {
        s->closed.push(std::move(c));
        return troupe::stopped;
      },
      [](tick) { return troupe::same; });
}

// Offers 64 MiB in 16 KiB messages to a peer that never reads, retrying whatever the queue
// refuses, and reports how much was taken and the most that was ever queued. With
// overflow_policy::close it stops at the first refusal and waits for the ws_closed.
troupe::behavior<ws_msg> flood(io::websocket ws, std::shared_ptr<seen> s, bool close_on_full) {
  return troupe::setup<ws_msg>([ws, s, close_on_full](troupe::actor_context<ws_msg>& ctx) mutable {
    ctx.self().tell(tick{});
    auto attempts = std::make_shared<std::size_t>(0), taken = std::make_shared<std::size_t>(0),
         most = std::make_shared<std::size_t>(0), refused = std::make_shared<std::size_t>(0);
    return troupe::receive<ws_msg>(
        [](io::ws_received&&) {},
        [s](io::ws_closed&& c) {
          s->closed.push(std::move(c));
          return troupe::stopped;
        },
        [=, &ctx](tick) mutable -> troupe::behavior<ws_msg> {
          auto r = ws.send(std::string(16 * 1024, 'x'), false);
          if (r) *taken += 16 * 1024;
          else if (r.error() == io::errc::write_queue_full) ++*refused;
          else return troupe::same;  // closed
          if (!r && close_on_full) return troupe::same;  // the WebSocket closes: wait for ws_closed
          *most = std::max(*most, ws.queued_bytes());
          if (++*attempts < 4096) {
            ctx.self().tell(tick{});
            return troupe::same;
          }
          s->notes.push(std::to_string(*taken) + " " + std::to_string(*most) + " " + std::to_string(*refused));
          return troupe::stopped;
        });
  });
}

troupe::system_config small() {
  troupe::system_config cfg;
  cfg.worker_threads = 2;
  return cfg;
}

struct WebSocket : ::testing::Test {
  io::io_service io{{.threads = 2}};
  troupe::system sys{small()};
  std::shared_ptr<seen> s = std::make_shared<seen>();

  io::http_listener serve(io::websocket_options o = {}) {
    io::http_routes r;
    r.upgrade("/ws/:room", sys, [s = s](io::websocket ws) { return echo(std::move(ws), s); }, o);
    r.upgrade("/flood", sys, [s = s, c = o.on_full == io::overflow_policy::close](io::websocket ws) {
      return flood(std::move(ws), s, c);
    }, o);
    auto l = io::http_listen(io, {}, std::move(r));
    EXPECT_TRUE(l.has_value()) << l.error().message();
    return *l;
  }
};

TEST_F(WebSocket, AnActorPerConnectionEchoesTextAndBinaryMessages) {
  auto l = serve();
  io_test::ws_client c(l.port(), "/ws/lobby");
  ASSERT_TRUE(c.ok()) << c.error().message();
  auto hello = c.read();
  ASSERT_TRUE(hello.has_value());
  EXPECT_EQ(hello->data, "hello lobby");
  ASSERT_TRUE(c.send("ping me"));
  auto t = c.read();
  ASSERT_TRUE(t.has_value());
  EXPECT_EQ(t->data, "ping me");
  EXPECT_TRUE(t->text);
  std::string bin("\x00\x01\xff", 3);
  ASSERT_TRUE(c.send(bin, false));
  auto b = c.read();
  ASSERT_TRUE(b.has_value());
  EXPECT_EQ(b->data, bin);
  EXPECT_FALSE(b->text);
  EXPECT_EQ(l.live_connections(), 1u);
}

// An idle WebSocket waits for a frame header before it sizes a buffer (websocket.cpp): an empty
// message, whole once its header is read, must still reach the actor, and the next one too.
TEST_F(WebSocket, EmptyMessagesReachTheActorAndTheNextMessageFollows) {
  auto l = serve();
  io_test::ws_client c(l.port(), "/ws/lobby");
  ASSERT_TRUE(c.ok()) << c.error().message();
  ASSERT_TRUE(c.read().has_value());  // hello
  ASSERT_TRUE(c.send(""));
  auto t = c.read();
  ASSERT_TRUE(t.has_value());
  EXPECT_EQ(t->data, "");
  EXPECT_TRUE(t->text);
  ASSERT_TRUE(c.send("", false));
  auto b = c.read();
  ASSERT_TRUE(b.has_value());
  EXPECT_EQ(b->data, "");
  EXPECT_FALSE(b->text);
  ASSERT_TRUE(c.send("after"));
  auto a = c.read();
  ASSERT_TRUE(a.has_value());
  EXPECT_EQ(a->data, "after");
}

TEST_F(WebSocket, APlainGetOfAWebSocketRouteGets426) {
  auto l = serve();
  io_test::http_client c(l.port());
  auto r = c.request(boost::beast::http::verb::get, "/ws/lobby");
  ASSERT_TRUE(r.has_value());
  EXPECT_EQ(r->status, 426);
}

TEST_F(WebSocket, AMessageOverTheLimitClosesWith1009) {
  auto l = serve({.max_message = 1024});
  io_test::ws_client c(l.port(), "/ws/a");
  ASSERT_TRUE(c.ok());
  ASSERT_TRUE(c.read().has_value());
  (void)c.send(std::string(4096, 'x'));
  EXPECT_FALSE(c.read().has_value());
  EXPECT_EQ(c.reason().code, 1009);
  auto got = s->closed.pop();
  ASSERT_TRUE(got.has_value());
  EXPECT_EQ(got->code, 1009);
  EXPECT_EQ(got->why, io::close_reason::frame_too_large);
  io_test::ws_client other(l.port(), "/ws/b");  // the server keeps serving
  ASSERT_TRUE(other.ok());
  EXPECT_EQ(other.read()->data, "hello b");
}

TEST_F(WebSocket, InvalidUtf8InATextMessageClosesWith1007) {
  auto l = serve();
  io_test::ws_client c(l.port(), "/ws/a");
  ASSERT_TRUE(c.ok());
  ASSERT_TRUE(c.read().has_value());
  (void)c.send(std::string("bad \xff\xfe utf-8"), true);
  EXPECT_FALSE(c.read().has_value());
  EXPECT_EQ(c.reason().code, 1007);
  auto got = s->closed.pop();
  ASSERT_TRUE(got.has_value());
  EXPECT_EQ(got->code, 1007);
}

TEST_F(WebSocket, ThePeersCloseCodeAndReasonReachTheActor) {
  auto l = serve();
  io_test::ws_client c(l.port(), "/ws/a");
  ASSERT_TRUE(c.ok());
  ASSERT_TRUE(c.read().has_value());
  EXPECT_TRUE(c.close(4000, "bye now"));
  auto got = s->closed.pop();
  ASSERT_TRUE(got.has_value());
  EXPECT_EQ(got->code, 4000);
  EXPECT_EQ(got->reason, "bye now");
  EXPECT_EQ(got->why, io::close_reason::end_of_input);
}

TEST_F(WebSocket, TheActorClosesWithACodeAndReason) {
  auto l = serve();
  io_test::ws_client c(l.port(), "/ws/a");
  ASSERT_TRUE(c.ok());
  ASSERT_TRUE(c.read().has_value());
  ASSERT_TRUE(c.send("close"));
  EXPECT_FALSE(c.read().has_value());
  EXPECT_EQ(c.error(), io_test::ws::error::closed) << c.error().message();
  EXPECT_EQ(c.reason().code, 4001);
  EXPECT_EQ(std::string(c.reason().reason.c_str()), "asked to");
  EXPECT_FALSE(s->closed.pop(200ms).has_value());  // it closed it itself: no ws_closed
}

TEST_F(WebSocket, APeerThatNeverReadsHitsTheWriteBoundNotMemory) {
  auto l = serve({.max_write_queue = 64 * 1024});
  io_test::client raw(l.port());
  raw.send(
      "GET /flood HTTP/1.1\r\nHost: 127.0.0.1\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n"
      "Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\nSec-WebSocket-Version: 13\r\n\r\n");
  auto head = raw.read(12, 10s);
  ASSERT_EQ(head, "HTTP/1.1 101");
  // And never read again: the kernel's buffers fill, then the queue, then send() refuses.
  auto note = s->notes.pop(30s);
  ASSERT_TRUE(note.has_value());
  std::size_t taken = 0, most = 0, refused = 0;
  ASSERT_EQ(std::sscanf(note->c_str(), "%zu %zu %zu", &taken, &most, &refused), 3);
  EXPECT_GT(refused, 0u);
  EXPECT_LE(most, 64u * 1024 + 16 * 1024);   // the queue's bound (plus the message that crossed it)
  EXPECT_LT(taken, 32u * 1024 * 1024);       // of 64 MiB offered: socket buffers and the queue only
}

TEST_F(WebSocket, APeerThatStaysSilentIsPingedThenClosedAfterTheIdleTimeout) {
  auto l = serve({.idle_timeout = 400ms});
  io_test::ws_client c(l.port(), "/ws/a");
  ASSERT_TRUE(c.ok());
  ASSERT_TRUE(c.read().has_value());
  // The client reads nothing more, so it answers no ping; the actor has asked for a message.
  auto start = std::chrono::steady_clock::now();
  auto got = s->closed.pop(10s);
  ASSERT_TRUE(got.has_value());
  EXPECT_EQ(got->why, io::close_reason::idle_timeout);
  EXPECT_EQ(got->code, 1006);
  EXPECT_GE(std::chrono::steady_clock::now() - start, 150ms);
}

TEST_F(WebSocket, APeerThatNeverReadsIsClosedWhenThePolicyIsClose) {
  auto l = serve({.max_write_queue = 64 * 1024, .on_full = io::overflow_policy::close});
  io_test::client raw(l.port());
  raw.send(
      "GET /flood HTTP/1.1\r\nHost: 127.0.0.1\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n"
      "Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\nSec-WebSocket-Version: 13\r\n\r\n");
  ASSERT_EQ(raw.read(12, 10s), "HTTP/1.1 101");
  auto got = s->closed.pop(30s);
  ASSERT_TRUE(got.has_value());
  EXPECT_EQ(got->code, 1008);
  EXPECT_EQ(got->why, io::close_reason::write_queue_full);
}

}  // namespace
