// Listening, connecting out, and what the listener owns.
#include "troupe/io/listener.hpp"

#include <gtest/gtest.h>

#include <arpa/inet.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <unistd.h>

#include <cstdint>
#include <memory>
#include <string>
#include <variant>

#include "core/test_support.hpp"
#include "io/echo_connection.hpp"
#include "io/dialer.hpp"
#include "io/io_test_support.hpp"
#include "troupe/io/connect.hpp"

namespace {

using namespace std::chrono_literals;
namespace io = troupe::io;
using troupe_test::blocking_queue;

using io_test::conn_msg;

troupe::system_config small() {
  troupe::system_config cfg;
  cfg.worker_threads = 2;
  return cfg;
}

using io_test::echo;

struct fixture : ::testing::Test {
  io::io_service io{{.threads = 2}};
  troupe::system sys{small()};
};
using Listener = fixture;
using Connect = fixture;

TEST_F(Listener, ListeningOnATakenPortIsAnError) {
  auto a = io::listen(sys, io, {}, echo);
  ASSERT_TRUE(a.has_value());
  auto b = io::listen(sys, io, {.port = a->port()}, echo);
  ASSERT_FALSE(b.has_value());
  EXPECT_TRUE(b.error().code() == std::errc::address_in_use) << b.error().message();
}

TEST_F(Listener, AnAddressThatDoesNotParseIsAnError) {
  auto l = io::listen(sys, io, {.address = "not an address"}, echo);
  ASSERT_FALSE(l.has_value());
  EXPECT_TRUE(l.error() == io::errc::bad_address);
}

TEST_F(Listener, StopClosesEveryConnectionAndRefusesNewOnes) {
  auto l = io::listen(sys, io, {}, echo);
  ASSERT_TRUE(l.has_value());
  io_test::client a(l->port());
  io_test::client b(l->port());
  a.send("x");
  b.send("y");
  EXPECT_EQ(a.read(1), "x");
  EXPECT_EQ(b.read(1), "y");
  l->stop();
  EXPECT_TRUE(a.wait_closed());
  EXPECT_TRUE(b.wait_closed());
  EXPECT_TRUE(troupe_test::wait_until([&] { return l->live_connections() == 0; }));
  EXPECT_THROW(io_test::client c(l->port()), std::runtime_error);
}

TEST_F(Listener, AcceptingPausesAtMaxConnectionsAndResumesWhenOneCloses) {
  auto l = io::listen(sys, io, {.max_connections = 1}, echo);
  ASSERT_TRUE(l.has_value());
  auto first = std::make_unique<io_test::client>(l->port());
  first->send("1");
  EXPECT_EQ(first->read(1), "1");
  io_test::client second(l->port());  // completes in the kernel's backlog, not accepted yet
  second.send("2");
  EXPECT_EQ(second.read(1, 100ms), "");
  EXPECT_EQ(l->accepted(), 1u);
  first.reset();
  EXPECT_EQ(second.read(1), "2");
}

// A client actor: connects, sends one line, reports the echo.
using io_test::dialed;
troupe::behavior<io_test::client_msg> dialer(std::shared_ptr<blocking_queue<std::string>> out) {
  return io_test::dialer(out, "hello", [](const troupe::error& e) { return "error:" + e.message(); });
}

TEST_F(Connect, ConnectsOutAndReceivesItsEventsInTheOwningActor) {
  auto l = io::listen(sys, io, {.connection = {.framing = {io::framing::line, 64}}}, echo);
  ASSERT_TRUE(l.has_value());
  auto out = std::make_shared<blocking_queue<std::string>>();
  auto me = sys.spawn(dialer(out));
  io::async_connect(io, "127.0.0.1", l->port(), {.connection = {.framing = {io::framing::line, 64}}}, me,
                    [](troupe::result<io::connection>&& r) { return dialed{std::move(r)}; });
  EXPECT_EQ(out->pop(), "echo:hello");
}

TEST_F(Connect, ARefusedConnectionArrivesAsAnError) {
  // A socket bound but not listening: the kernel refuses connections to its port, and holding it
  // keeps other tests (ctest runs several at once) from taking the port in the meantime.
  int held = ::socket(AF_INET, SOCK_STREAM, 0);
  ASSERT_GE(held, 0);
  sockaddr_in addr{};
  addr.sin_family = AF_INET;
  addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  ASSERT_EQ(::bind(held, reinterpret_cast<sockaddr*>(&addr), sizeof addr), 0);
  socklen_t len = sizeof addr;
  ASSERT_EQ(::getsockname(held, reinterpret_cast<sockaddr*>(&addr), &len), 0);
  const std::uint16_t port = ntohs(addr.sin_port);

  auto out = std::make_shared<blocking_queue<std::string>>();
  auto me = sys.spawn(dialer(out));
  io::async_connect(io, "127.0.0.1", port, {.timeout = 2s}, me,
                    [](troupe::result<io::connection>&& r) { return dialed{std::move(r)}; });
  auto got = out->pop();
  ::close(held);
  ASSERT_TRUE(got.has_value());
  EXPECT_NE(got->find("refused"), std::string::npos) << *got;
}

TEST_F(Connect, AnAddressThatDoesNotParseArrivesAsAnError) {
  auto out = std::make_shared<blocking_queue<std::string>>();
  auto me = sys.spawn(dialer(out));
  io::async_connect(io, "localhost!", 80, {}, me,
                    [](troupe::result<io::connection>&& r) { return dialed{std::move(r)}; });
  auto got = out->pop();
  ASSERT_TRUE(got.has_value());
  EXPECT_NE(got->find("bad address"), std::string::npos) << *got;
}

}  // namespace

namespace {

TEST_F(Connect, GivesUpWithConnectTimeoutWhenThePeerNeverAnswers) {
  // A listening socket that never accepts, its backlog full: Linux drops further SYNs, so a
  // connect neither succeeds nor fails until the timeout.
  int ls = ::socket(AF_INET, SOCK_STREAM, 0);
  sockaddr_in a{};
  a.sin_family = AF_INET;
  a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  ASSERT_EQ(::bind(ls, reinterpret_cast<sockaddr*>(&a), sizeof a), 0);
  ASSERT_EQ(::listen(ls, 0), 0);
  socklen_t len = sizeof a;
  ::getsockname(ls, reinterpret_cast<sockaddr*>(&a), &len);
  std::uint16_t port = ntohs(a.sin_port);
  std::vector<std::unique_ptr<io_test::client>> fill;
  for (int i = 0; i < 1; ++i) fill.push_back(std::make_unique<io_test::client>(port));

  auto out = std::make_shared<blocking_queue<std::string>>();
  auto me = sys.spawn(dialer(out));
  io::async_connect(io, "127.0.0.1", port, {.timeout = 200ms}, me,
                    [](troupe::result<io::connection>&& r) { return dialed{std::move(r)}; });
  auto got = out->pop();
  ::close(ls);
  ASSERT_TRUE(got.has_value());
  EXPECT_NE(got->find("connect timed out"), std::string::npos) << *got;
}

}  // namespace
