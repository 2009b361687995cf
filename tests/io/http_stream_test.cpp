// Streamed HTTP answers: chunks with a bounded queue, demand (http_stream_ready), a slow client,
// a client that goes away, a writer that stalls or drops its stream.
#include "troupe/io/http_stream.hpp"

#include <gtest/gtest.h>

#include <poll.h>
#include <sys/socket.h>

#include <algorithm>
#include <atomic>
#include <chrono>
#include <fstream>
#include <memory>
#include <mutex>
#include <string>
#include <thread>
#include <variant>

#include "io/http_test_client.hpp"
#include "troupe/core/system.hpp"
#include "troupe/io/http_listener.hpp"

namespace {

using namespace std::chrono_literals;
namespace io = troupe::io;
using io_test::http_client;
using verb = boost::beast::http::verb;

using stream_msg = std::variant<io::http_call, io::http_stream_ready, io::http_stream_closed>;

// What a writer did, for the test thread to read.
struct tally {
  std::atomic<std::size_t> sent{0};         // bytes write() took
  std::atomic<std::size_t> refused{0};      // writes refused with write_queue_full
  std::atomic<std::size_t> most_queued{0};  // the largest queued_chunks() seen after a write
  std::atomic<bool> finished{false};
  std::atomic<int> closed_why{-1};  // an io::close_reason, once http_stream_closed came
  std::atomic<bool> closed_write_refused{false};  // a write after http_stream_closed got errc::closed
  std::mutex mu;
  io::http_stream kept;  // guarded by mu: the stalling writer's handle
};

std::string piece(std::size_t index, std::size_t size) { return std::string(size, static_cast<char>('a' + index % 26)); }

void note_closed(tally& t, const io::http_stream_closed& c) {
  auto s = c.stream;
  auto w = s.write("too late");
  t.closed_write_refused.store(!w && w.error() == io::errc::closed);
  t.closed_why.store(static_cast<int>(c.why));
}

// Answers with a stream of `total` bytes (0: endless) in pieces of `size`, writing while the
// stream takes them and waiting for http_stream_ready when it does not.
troupe::behavior<stream_msg> producer(std::size_t total, std::size_t size, std::shared_ptr<tally> t) {
  return troupe::setup<stream_msg>([=](troupe::actor_context<stream_msg>& ctx) {
    return troupe::receive<stream_msg>(
        [self = ctx.self()](const io::http_call& c) {
          c.reply_to.tell(io::http_response::stream(200, "application/octet-stream", self));
        },
        [=](const io::http_stream_ready& r) {
          auto s = r.stream;
          while (total == 0 || t->sent.load() < total) {
            auto w = s.write(piece(t->sent.load() / size, size));
            if (!w) {
              if (w.error() == io::errc::write_queue_full) t->refused.fetch_add(1);
              return;  // another ready follows, or the end
            }
            t->sent.fetch_add(size);
            t->most_queued.store(std::max(t->most_queued.load(), s.queued_chunks()));
          }
          t->finished.store(true);  // first: the client may have the whole answer once finish() returns
          s.finish();
        },
        [t](const io::http_stream_closed& c) { note_closed(*t, c); });
  });
}

// Writes one piece, keeps the stream and never writes again.
troupe::behavior<stream_msg> staller(std::shared_ptr<tally> t) {
  return troupe::setup<stream_msg>([t](troupe::actor_context<stream_msg>& ctx) {
    return troupe::receive<stream_msg>(
        [self = ctx.self()](const io::http_call& c) { c.reply_to.tell(io::http_response::stream(200, "text/plain", self)); },
        [t](const io::http_stream_ready& r) {
          std::lock_guard g(t->mu);
          if (t->kept) return;
          t->kept = r.stream;
          (void)t->kept.write("the first and last piece");
        },
        [t](const io::http_stream_closed& c) { note_closed(*t, c); });
  });
}

// Writes one piece and lets go of the stream.
troupe::behavior<stream_msg> dropper() {
  return troupe::setup<stream_msg>([](troupe::actor_context<stream_msg>& ctx) {
    return troupe::receive<stream_msg>(
        [self = ctx.self()](const io::http_call& c) { c.reply_to.tell(io::http_response::stream(200, "text/plain", self)); },
        [](const io::http_stream_ready& r) {
          auto s = r.stream;
          (void)s.write("one piece, then nothing");
        },
        [](const io::http_stream_closed&) {});
  });
}

troupe::system_config small() {
  troupe::system_config cfg;
  cfg.worker_threads = 2;
  return cfg;
}

// The most the kernel may hold of one connection's answer: the server's send buffer at its
// autotuned maximum (tcp_wmem), the client's receive buffer (pinned by the test, or the window
// advertised before the pin) doubled, and 1 MiB for the kernel's rounding. Measured here with
// tcp_wmem at 4 MiB: 4.7 MB ahead at most, of which 512 KiB in the stream's queue.
std::size_t kernel_slack(std::size_t client_rcvbuf) {
  std::size_t wmem_max = 16u << 20;  // if /proc does not say
  std::ifstream in("/proc/sys/net/ipv4/tcp_wmem");
  std::size_t lo = 0, def = 0, hi = 0;
  if (in >> lo >> def >> hi) wmem_max = hi;
  return wmem_max + 4 * std::max<std::size_t>(client_rcvbuf, 128 * 1024) + (1u << 20);
}

template <class F>
bool eventually(F&& condition, std::chrono::milliseconds within = 10s) {
  auto deadline = std::chrono::steady_clock::now() + within;
  while (!condition()) {
    if (std::chrono::steady_clock::now() > deadline) return false;
    std::this_thread::yield();
  }
  return true;
}

// What one recv() gives within `timeout` (empty on a timeout or the end of the connection).
std::string read_some(io_test::client& c, std::chrono::milliseconds timeout) {
  pollfd p{c.fd(), POLLIN, 0};
  if (::poll(&p, 1, static_cast<int>(timeout.count())) <= 0) return {};
  char buf[4096];
  auto got = ::recv(c.fd(), buf, sizeof buf, 0);
  return got > 0 ? std::string(buf, static_cast<std::size_t>(got)) : std::string();
}

struct HttpStream : ::testing::Test {
  io::io_service io{{.threads = 2}};
  troupe::system sys{small()};
  std::shared_ptr<tally> t = std::make_shared<tally>();

  io::http_listener serve(io::http_routes r, io::http_options o = {}) {
    auto l = io::http_listen(io, std::move(o), std::move(r));
    EXPECT_TRUE(l.has_value()) << l.error().message();
    return *l;
  }
};

TEST_F(HttpStream, StreamsAnAnswerInChunksAndKeepsTheConnection) {
  io::http_routes r;
  r.get("/count", sys.spawn(producer(3000, 1000, t)));
  auto l = serve(std::move(r));
  http_client c(l.port());
  auto a = c.request(verb::get, "/count");
  ASSERT_TRUE(a.has_value());
  EXPECT_EQ(a->status, 200);
  EXPECT_EQ(a->transfer_encoding, "chunked");
  EXPECT_EQ(a->content_length, "");
  EXPECT_EQ(a->content_type, "application/octet-stream");
  EXPECT_EQ(a->body, piece(0, 1000) + piece(1, 1000) + piece(2, 1000));
  EXPECT_TRUE(a->keep_alive);
  EXPECT_TRUE(t->finished.load());
  EXPECT_EQ(t->closed_why.load(), -1);  // finish() ends it without a closed
  // The connection serves the next request.
  auto again = c.request(verb::get, "/count");  // the producer has sent its 3000: an empty stream
  ASSERT_TRUE(again.has_value());
  EXPECT_EQ(again->status, 200);
  EXPECT_EQ(again->body, "");
}

TEST_F(HttpStream, AHeadRequestGetsTheHeadAndTheWriterIsToldThereIsNoBody) {
  io::http_routes r;
  r.get("/count", sys.spawn(producer(3000, 1000, t)));
  auto l = serve(std::move(r));
  http_client c(l.port());
  auto h = c.request(verb::head, "/count");
  ASSERT_TRUE(h.has_value());
  EXPECT_EQ(h->status, 200);
  EXPECT_EQ(h->transfer_encoding, "chunked");
  EXPECT_EQ(h->body, "");
  ASSERT_TRUE(eventually([&] { return t->closed_why.load() != -1; }));
  EXPECT_EQ(t->closed_why.load(), static_cast<int>(io::close_reason::end_of_input));
  EXPECT_EQ(t->sent.load(), 0u);
  auto g = c.request(verb::get, "/count");  // nothing of a body went after the head
  ASSERT_TRUE(g.has_value());
  EXPECT_EQ(g->body.size(), 3000u);
}

TEST_F(HttpStream, AnHttp10ClientGetsTheBytesAndTheEndOfTheConnection) {
  io::http_routes r;
  r.get("/count", sys.spawn(producer(3000, 1000, t)));
  auto l = serve(std::move(r));
  http_client c(l.port());
  c.raw().send("GET /count HTTP/1.0\r\nHost: x\r\n\r\n");
  auto a = c.read_reply();  // a body without a length ends with the connection
  ASSERT_TRUE(a.has_value());
  EXPECT_EQ(a->status, 200);
  EXPECT_EQ(a->transfer_encoding, "");
  EXPECT_EQ(a->body, piece(0, 1000) + piece(1, 1000) + piece(2, 1000));
  EXPECT_FALSE(a->keep_alive);
  EXPECT_TRUE(c.raw().wait_closed());
}

TEST_F(HttpStream, ASlowClientHoldsALargeStreamWithinItsBound) {
  constexpr std::size_t piece_size = 64 * 1024, rcvbuf = 64 * 1024;
  const std::size_t slack = kernel_slack(rcvbuf) + 8 * piece_size;
  const std::size_t total = std::max<std::size_t>(10u << 20, slack + (4u << 20));  // 10 MiB, 4 MiB past the bound
  io::http_routes r;
  r.get("/big", sys.spawn(producer(total, piece_size, t)));
  auto l = serve(std::move(r), {.max_stream_chunks = 8});
  io_test::client c(l.port());
  int size = static_cast<int>(rcvbuf);
  ASSERT_EQ(::setsockopt(c.fd(), SOL_SOCKET, SO_RCVBUF, &size, sizeof size), 0);
  c.send(io_test::http_bytes(verb::get, "/big"));

  // The client reads nothing: the writer must be refused, holding what it wrote to the bound.
  ASSERT_TRUE(eventually([&] { return t->refused.load() > 0; })) << "sent " << t->sent.load();
  EXPECT_LE(t->sent.load(), slack);

  // Now the client reads, a little at a time; the writer never runs ahead by more than the bound.
  boost::beast::http::response_parser<boost::beast::http::string_body> p;
  p.body_limit(boost::none);
  std::size_t received = 0, most_ahead = 0;
  std::string pending;  // received, not yet taken by the parser (it takes a chunk's size line whole)
  auto deadline = std::chrono::steady_clock::now() + 60s;
  while (!p.is_done() && std::chrono::steady_clock::now() < deadline) {
    auto got = read_some(c, 10s);
    if (got.empty()) break;
    received += got.size();
    auto sent = t->sent.load();
    if (sent > received) most_ahead = std::max(most_ahead, sent - received);
    pending += got;
    while (!pending.empty() && !p.is_done()) {
      boost::system::error_code ec;
      auto used = p.put(boost::asio::buffer(pending), ec);
      pending.erase(0, used);
      if (ec == boost::beast::http::error::need_more) break;
      ASSERT_FALSE(ec) << ec.message();
    }
  }
  ASSERT_TRUE(p.is_done()) << "received " << received << " of about " << total;
  EXPECT_LE(most_ahead, slack);
  EXPECT_LE(t->most_queued.load(), 8u);
  EXPECT_GT(t->refused.load(), 0u);
  const auto& body = p.get().body();
  ASSERT_EQ(body.size(), total);
  for (std::size_t i = 0; i < total; i += piece_size)
    ASSERT_EQ(body[i], piece(i / piece_size, 1)[0]) << "piece " << i / piece_size;
  EXPECT_TRUE(t->finished.load());
}

TEST_F(HttpStream, AClientThatGoesAwayMidStreamEndsItWithAnErrorForTheWriter) {
  io::http_routes r;
  r.get("/endless", sys.spawn(producer(0, 16 * 1024, t)));
  auto l = serve(std::move(r));
  {
    io_test::client c(l.port());
    c.send(io_test::http_bytes(verb::get, "/endless"));
    ASSERT_GE(c.read(100 * 1024).size(), 100u * 1024);  // it streams
    c.reset();
  }
  ASSERT_TRUE(eventually([&] { return t->closed_why.load() != -1; }));
  EXPECT_EQ(t->closed_why.load(), static_cast<int>(io::close_reason::reset));
  EXPECT_TRUE(t->closed_write_refused.load());
  EXPECT_TRUE(eventually([&] { return l.live_connections() == 0; }));
}

TEST_F(HttpStream, AWriterThatQueuesNothingInTimeIsCutOffAtTheRoutesDeadline) {
  io::http_routes r;
  r.get("/stall", sys.spawn(staller(t)), {.handler_timeout = 200ms});
  auto l = serve(std::move(r));
  http_client c(l.port());
  auto start = std::chrono::steady_clock::now();
  c.raw().send(io_test::http_bytes(verb::get, "/stall"));
  EXPECT_FALSE(c.read_reply(10s).has_value());  // cut short: no complete answer
  EXPECT_GE(std::chrono::steady_clock::now() - start, 200ms);
  ASSERT_TRUE(eventually([&] { return t->closed_why.load() != -1; }));
  EXPECT_EQ(t->closed_why.load(), static_cast<int>(io::close_reason::idle_timeout));
  EXPECT_TRUE(t->closed_write_refused.load());
}

TEST_F(HttpStream, AStreamItsWriterLetsGoOfIsCutShortNotLeftHanging) {
  io::http_routes r;
  r.get("/drop", sys.spawn(dropper()), {.handler_timeout = 60s});
  auto l = serve(std::move(r));
  http_client c(l.port());
  c.raw().send(io_test::http_bytes(verb::get, "/drop"));
  // Long before the route's deadline: the last handle went without finish().
  EXPECT_FALSE(c.read_reply(20s).has_value());
  EXPECT_TRUE(eventually([&] { return l.live_connections() == 0; }));
}

}  // namespace
