// Connection actors over real loopback sockets: echo, framing on the wire, limits, demand,
// bounded writes, reset, idle timeout, half-close.
#include "troupe/io/connection.hpp"

#include <gtest/gtest.h>

#include <memory>
#include <string>
#include <variant>

#include "core/test_support.hpp"
#include "io/io_test_support.hpp"
#include "troupe/io/io_service.hpp"
#include "troupe/io/listener.hpp"

namespace {

using namespace std::chrono_literals;
namespace io = troupe::io;
using troupe_test::blocking_queue;

struct go {};  // a poke from the test
using conn_msg = std::variant<io::received, io::closed, go>;
using log_ptr = std::shared_ptr<blocking_queue<std::string>>;

std::string text(const io::closed& c) { return std::string("closed:") + io::to_string(c.why); }

troupe::system_config small() {
  troupe::system_config cfg;
  cfg.worker_threads = 2;
  return cfg;
}

// The io_service first: it must outlive the actors that hold connections.
struct fixture : ::testing::Test {
  io::io_service io{{.threads = 2}};
  troupe::system sys{small()};
  log_ptr log = std::make_shared<blocking_queue<std::string>>();
};

// Echoes every frame with "!" appended; logs what it sees.
troupe::behavior<conn_msg> echo(io::connection c, log_ptr log) {
  c.request();
  return troupe::receive<conn_msg>(
      [c, log](io::received&& r) mutable {
        log->push("recv:" + r.data);
        (void)c.write(r.data + "!");
        c.request();
      },
      [log](const io::closed& cl) {
        log->push(text(cl));
        return troupe::stopped;
      },
      [](go) {});
}

using Connection = fixture;

TEST_F(Connection, EchoesLineFramesThatArriveSplitAndMerged) {
  auto l = io::listen(sys, io, {.connection = {.framing = {io::framing::line, 64}}},
                      [log = log](io::connection c) { return echo(std::move(c), log); });
  ASSERT_TRUE(l.has_value()) << l.error().message();
  io_test::client cl(l->port());
  cl.send("hel");
  cl.send("lo\r\nwor");
  cl.send("ld\nx\n");
  EXPECT_EQ(cl.read(17), "hello!\nworld!\nx!\n");
  EXPECT_EQ(log->pop(), "recv:hello");
  EXPECT_EQ(log->pop(), "recv:world");
  EXPECT_EQ(log->pop(), "recv:x");
}

TEST_F(Connection, AnOversizedFrameClosesOnlyThatConnectionWithAClearReason) {
  auto l = io::listen(sys, io, {.connection = {.framing = {io::framing::line, 16}}},
                      [log = log](io::connection c) { return echo(std::move(c), log); });
  ASSERT_TRUE(l.has_value());
  io_test::client good(l->port());
  io_test::client bad(l->port());
  good.send("one\n");
  EXPECT_EQ(good.read(5), "one!\n");
  EXPECT_EQ(log->pop(), "recv:one");
  bad.send(std::string(100, 'x') + "\n");
  EXPECT_EQ(log->pop(), "closed:frame too large");
  EXPECT_TRUE(bad.wait_closed());
  good.send("two\n");
  EXPECT_EQ(good.read(5), "two!\n");
}

TEST_F(Connection, AnOversizedLengthHeaderClosesTheConnectionBeforeTheBodyArrives) {
  auto l = io::listen(sys, io, {.connection = {.framing = {io::framing::length_prefixed, 1024}}},
                      [log = log](io::connection c) { return echo(std::move(c), log); });
  ASSERT_TRUE(l.has_value());
  io_test::client cl(l->port());
  cl.send(std::string("\x7f\0\0\0", 4));  // 2 GiB announced, nothing sent
  EXPECT_EQ(log->pop(), "closed:frame too large");
  EXPECT_TRUE(cl.wait_closed());
}

TEST_F(Connection, AnActorThatDoesNotAskReadsNothingAndTcpHoldsThePeerBack) {
  auto actors = std::make_shared<blocking_queue<troupe::ref<conn_msg>>>();
  auto l = io::listen(sys, io, {.connection = {.framing = {io::framing::raw, 4096}}},
                      [log = log, actors](io::connection c) {
                        return troupe::setup<conn_msg>([c, log, actors](troupe::actor_context<conn_msg>& ctx) {
                          actors->push(ctx.self());
                          return troupe::receive<conn_msg>(
                              [log](io::received&& r) { log->push("recv:" + std::to_string(r.data.size())); },
                              [log](const io::closed& cl) { log->push(text(cl)); },
                              [c](go) mutable { c.request(); });
                        });
                      });
  ASSERT_TRUE(l.has_value());
  io_test::client cl(l->port());
  auto a = actors->pop();
  ASSERT_TRUE(a.has_value());
  // 256 MiB offered; the kernel's buffers on both sides take a few MiB, and nothing reads them.
  const std::size_t offered = 256u << 20;
  std::size_t taken = cl.flood(offered);
  EXPECT_LT(taken, 64u << 20);
  EXPECT_EQ(log->size(), 0u);
  a->tell(go{});  // one request: exactly one chunk, at most max_frame bytes
  auto got = log->pop();
  ASSERT_TRUE(got.has_value());
  EXPECT_EQ(got->substr(0, 5), "recv:");
  EXPECT_LE(std::stoul(got->substr(5)), 4096u);
  EXPECT_FALSE(log->pop(100ms).has_value());
}

TEST_F(Connection, WritesToAPeerThatDoesNotReadFailWithWriteQueueFull) {
  auto results = std::make_shared<blocking_queue<std::string>>();
  auto l = io::listen(sys, io, {.connection = {.max_write_queue = 256 * 1024}},
                      [results](io::connection c) {
                        c.request();
                        return troupe::receive<conn_msg>(
                            [c, results](io::received&&) mutable {
                              // Write until the queue says no; the peer reads nothing.
                              std::string chunk(64 * 1024, 'y');
                              for (int i = 0; i < 100'000; ++i) {
                                auto r = c.write(chunk);
                                if (!r) {
                                  results->push(r.error() == io::errc::write_queue_full ? "full" : r.error().message());
                                  results->push(c.queued_bytes() <= 256u * 1024 ? "bounded" : "unbounded");
                                  return;
                                }
                              }
                              results->push("never full");
                            },
                            [](const io::closed&) {}, [](go) {});
                      });
  ASSERT_TRUE(l.has_value());
  io_test::client cl(l->port());
  cl.send("start");
  EXPECT_EQ(results->pop(), "full");
  EXPECT_EQ(results->pop(), "bounded");
}

TEST_F(Connection, TheClosePolicyClosesAConnectionWhoseQueueIsFull) {
  auto l = io::listen(sys, io, {.connection = {.max_write_queue = 1024, .on_full = io::overflow_policy::close}},
                      [log = log](io::connection c) {
                        c.request();
                        return troupe::receive<conn_msg>(
                            [c](io::received&&) mutable {
                              // Until the policy closes it: the peer reads nothing, so once the
                              // kernel's buffers are full the queue fills (a fixed count of writes
                              // could all drain into the kernel first).
                              for (int i = 0; i < 1'000'000 && c.is_open(); ++i) (void)c.write(std::string(1000, 'z'));
                            },
                            [log](const io::closed& cl) { log->push(text(cl)); }, [](go) {});
                      });
  ASSERT_TRUE(l.has_value());
  io_test::client cl(l->port());
  cl.send("start");
  EXPECT_EQ(log->pop(), "closed:write queue full");
}

TEST_F(Connection, APeerResetArrivesAsClosedWithReasonReset) {
  auto l = io::listen(sys, io, {}, [log = log](io::connection c) { return echo(std::move(c), log); });
  ASSERT_TRUE(l.has_value());
  io_test::client cl(l->port());
  cl.send("ping");
  EXPECT_EQ(cl.read(5), "ping!");
  EXPECT_EQ(log->pop(), "recv:ping");
  cl.reset();
  EXPECT_EQ(log->pop(), "closed:reset by peer");
}

TEST_F(Connection, AnIdleConnectionIsClosedAfterItsIdleTimeout) {
  auto l = io::listen(sys, io, {.connection = {.idle_timeout = 100ms}},
                      [log = log](io::connection c) { return echo(std::move(c), log); });
  ASSERT_TRUE(l.has_value());
  io_test::client cl(l->port());
  cl.send("a");
  EXPECT_EQ(cl.read(2), "a!");
  EXPECT_EQ(log->pop(), "recv:a");
  EXPECT_EQ(log->pop(), "closed:idle timeout");
  EXPECT_TRUE(cl.wait_closed());
}

TEST_F(Connection, HalfCloseDeliversEndOfInputAndWritingGoesOn) {
  auto l = io::listen(sys, io, {.connection = {.framing = {io::framing::line, 64}}}, [log = log](io::connection c) {
    c.request();
    return troupe::receive<conn_msg>(
        [c, log](io::received&& r) mutable {
          log->push("recv:" + r.data);
          c.request();
        },
        [c, log](const io::closed& cl) mutable {
          log->push(text(cl));
          EXPECT_TRUE(c.write("bye").has_value());  // the peer still reads
          return troupe::stopped;                   // the socket closes after "bye" is sent
        },
        [](go) {});
  });
  ASSERT_TRUE(l.has_value());
  io_test::client cl(l->port());
  cl.send("last words\npartial");
  cl.shutdown_write();
  EXPECT_EQ(log->pop(), "recv:last words");
  EXPECT_EQ(log->pop(), "closed:end of input");
  EXPECT_EQ(cl.read(4), "bye\n");
  EXPECT_TRUE(cl.wait_closed());
}

TEST_F(Connection, AConnectionActorThatStopsClosesItsSocket) {
  auto l = io::listen(sys, io, {}, [](io::connection c) {
    c.request();
    return troupe::receive<conn_msg>([c](io::received&&) { (void)c; return troupe::stopped; },
                                     [](const io::closed&) {}, [](go) {});
  });
  ASSERT_TRUE(l.has_value());
  io_test::client cl(l->port());
  cl.send("bye");
  EXPECT_TRUE(cl.wait_closed());
  EXPECT_TRUE(troupe_test::wait_until([&] { return l->live_connections() == 0; }));
}

TEST_F(Connection, AConnectionActorThatCrashesClosesOnlyItsOwnSocket) {
  auto l = io::listen(sys, io, {.connection = {.framing = {io::framing::line, 64}}}, [log = log](io::connection c) {
    c.request();
    return troupe::receive<conn_msg>(
        [c, log](io::received&& r) mutable {
          if (r.data == "crash") throw std::runtime_error("asked to crash");
          (void)c.write(r.data);
          c.request();
        },
        [](const io::closed&) {}, [](go) {});
  });
  ASSERT_TRUE(l.has_value());
  io_test::client a(l->port());
  io_test::client b(l->port());
  a.send("crash\n");
  EXPECT_TRUE(a.wait_closed());
  b.send("fine\n");
  EXPECT_EQ(b.read(5), "fine\n");
}

}  // namespace
