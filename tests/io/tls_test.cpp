// TLS: a verified echo, and handshakes that must fail without reaching an actor.
#include "troupe/io/tls.hpp"

#include <gtest/gtest.h>

#include <memory>
#include <string>
#include <variant>

#include "core/test_support.hpp"
#include "io/echo_connection.hpp"
#include "io/dialer.hpp"
#include "io/io_test_support.hpp"
#include "troupe/io/connect.hpp"
#include "troupe/io/listener.hpp"

namespace {

using namespace std::chrono_literals;
namespace io = troupe::io;
using troupe_test::blocking_queue;

using io_test::conn_msg;
using io_test::client_msg;
using io_test::dialed;

troupe::system_config small() {
  troupe::system_config cfg;
  cfg.worker_threads = 2;
  return cfg;
}

using io_test::echo;

troupe::behavior<client_msg> dialer(std::shared_ptr<blocking_queue<std::string>> out) {
  return io_test::dialer(out, "secret", [](const troupe::error& e) {
    return e == io::errc::tls_handshake_failed ? "handshake failed" : e.message();
  });
}

struct Tls : ::testing::Test {
  io::io_service io{{.threads = 2}};
  troupe::system sys{small()};
  io_test::test_pki pki = io_test::make_pki(1);
  std::shared_ptr<blocking_queue<std::string>> out = std::make_shared<blocking_queue<std::string>>();

  troupe::result<io::listener> serve() {
    auto server = io::tls_context::server(pki.leaf_chain, pki.leaf_key);
    EXPECT_TRUE(server.has_value()) << server.error().message();
    return io::listen(sys, io,
                      {.connection = {.framing = {io::framing::line, 64}}, .tls = *server, .handshake_timeout = 2s},
                      echo);
  }
  void dial(std::uint16_t port, const io::tls_context& ctx, std::string host) {
    auto me = sys.spawn(dialer(out));
    io::async_connect(io, "127.0.0.1", port,
                      {.connection = {.framing = {io::framing::line, 64}}, .tls = ctx, .tls_host = std::move(host)}, me,
                      [](troupe::result<io::connection>&& r) { return dialed{std::move(r)}; });
  }
};

TEST_F(Tls, EchoesOverAVerifiedConnection) {
  auto l = serve();
  ASSERT_TRUE(l.has_value());
  auto client = io::tls_context::client(pki.ca_cert);
  ASSERT_TRUE(client.has_value());
  dial(l->port(), *client, "localhost");
  EXPECT_EQ(out->pop(), "echo:secret");
}

TEST_F(Tls, AClientThatDoesNotTrustTheServersCaFailsTheHandshake) {
  auto l = serve();
  ASSERT_TRUE(l.has_value());
  auto other = io_test::make_pki(10);
  auto client = io::tls_context::client(other.ca_cert);
  ASSERT_TRUE(client.has_value());
  dial(l->port(), *client, "localhost");
  EXPECT_EQ(out->pop(), "handshake failed");
  EXPECT_TRUE(troupe_test::wait_until([&] { return l->tls_failures() == 1; }));
  EXPECT_TRUE(troupe_test::wait_until([&] { return l->live_connections() == 0; }));
}

TEST_F(Tls, AClientExpectingAnotherHostNameFailsTheHandshake) {
  auto l = serve();
  ASSERT_TRUE(l.has_value());
  auto client = io::tls_context::client(pki.ca_cert);
  ASSERT_TRUE(client.has_value());
  dial(l->port(), *client, "example.org");
  EXPECT_EQ(out->pop(), "handshake failed");
}

TEST_F(Tls, APlainTextClientIsCountedAndClosedWithoutReachingAnActor) {
  auto l = serve();
  ASSERT_TRUE(l.has_value());
  io_test::client plain(l->port());
  plain.send("GET / HTTP/1.0\r\n\r\n");
  EXPECT_TRUE(plain.wait_closed());
  EXPECT_TRUE(troupe_test::wait_until([&] { return l->tls_failures() == 1; }));
}

TEST_F(Tls, AKeyThatDoesNotParseIsAnError) {
  auto server = io::tls_context::server(pki.leaf_chain, "not a key");
  EXPECT_FALSE(server.has_value());
}

}  // namespace
