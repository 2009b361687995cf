// TLS: a verified echo, mutual TLS (a server that demands a client certificate from its CA),
// the names of the peer's certificate, and handshakes that must fail without reaching an actor.
#include "troupe/io/tls.hpp"

#include <gtest/gtest.h>

#include <memory>
#include <string>
#include <variant>
#include <vector>

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

std::string joined(const std::vector<std::string>& names) {
  std::string s;
  for (const auto& n : names) s += (s.empty() ? "" : ",") + n;
  return s;
}

/// Connects, says whom the server's certificate names ("server names:a,b") and what came back.
troupe::behavior<client_msg> dialer(std::shared_ptr<blocking_queue<std::string>> out) {
  return io_test::dialer(
      out, "secret",
      [](const troupe::error& e) { return e == io::errc::tls_handshake_failed ? "handshake failed" : e.message(); },
      [out](const io::connection& c) { out->push("server names:" + joined(c.peer_names())); });
}

struct Tls : ::testing::Test {
  io::io_service io{{.threads = 2}};
  troupe::system sys{small()};
  io_test::test_pki pki = io_test::make_pki(1);
  std::shared_ptr<blocking_queue<std::string>> out = std::make_shared<blocking_queue<std::string>>();
  // What the server's certificate check let through: the names of each accepted client's
  // certificate, one line per connection handed to an actor.
  std::shared_ptr<blocking_queue<std::string>> accepted = std::make_shared<blocking_queue<std::string>>();

  /// A TLS echo server; with `client_ca`, it demands a client certificate from that CA.
  troupe::result<io::listener> serve(const std::string& client_ca = {}) {
    auto server = io::tls_context::server(pki.leaf_chain, pki.leaf_key, client_ca);
    EXPECT_TRUE(server.has_value()) << server.error().message();
    return io::listen(sys, io,
                      {.connection = {.framing = {io::framing::line, 64}}, .tls = *server, .handshake_timeout = 2s},
                      [accepted = accepted](io::connection c) {
                        accepted->push("client names:" + joined(c.peer_names()));
                        return echo(c);
                      });
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
  EXPECT_EQ(out->pop(), "server names:localhost");
  EXPECT_EQ(out->pop(), "echo:secret");
  // A server context without a client CA asks for no certificate: it knows no client name.
  EXPECT_EQ(accepted->pop(), "client names:");
}

TEST_F(Tls, AServerWithAClientCaAcceptsAClientCertifiedByItAndSeesTheClientsNames) {
  auto l = serve(pki.ca_cert);
  ASSERT_TRUE(l.has_value());
  // subjectAltName DNS entries are the names; the common name beside them is not one.
  auto leaf = io_test::make_leaf(pki, {"billing", "billing.internal"}, "not-a-name", 5);
  auto client = io::tls_context::client(pki.ca_cert, leaf.chain, leaf.key);
  ASSERT_TRUE(client.has_value()) << client.error().message();
  dial(l->port(), *client, "localhost");
  EXPECT_EQ(out->pop(), "server names:localhost");
  EXPECT_EQ(out->pop(), "echo:secret");
  EXPECT_EQ(accepted->pop(), "client names:billing,billing.internal");
  EXPECT_EQ(l->tls_failures(), 0u);
}

TEST_F(Tls, ACertificateWithoutSubjectAltNameIsNamedByItsCommonName) {
  auto l = serve(pki.ca_cert);
  ASSERT_TRUE(l.has_value());
  auto leaf = io_test::make_leaf(pki, {}, "reports", 6);
  auto client = io::tls_context::client(pki.ca_cert, leaf.chain, leaf.key);
  ASSERT_TRUE(client.has_value()) << client.error().message();
  dial(l->port(), *client, "localhost");
  EXPECT_EQ(out->pop(), "server names:localhost");
  EXPECT_EQ(out->pop(), "echo:secret");
  EXPECT_EQ(accepted->pop(), "client names:reports");
}

/// A client the mutual-TLS server refuses never reaches an actor: the listener counts a failed
/// handshake. The client sees its connect fail, or (TLS 1.3: its handshake ends before the server
/// has checked its certificate) its connection closed before any echo.
void expect_refused(Tls& t, const io::listener& l) {
  auto first = t.out->pop();
  ASSERT_TRUE(first.has_value());
  if (first->rfind("server names:", 0) == 0) first = t.out->pop();
  ASSERT_TRUE(first.has_value());
  EXPECT_TRUE(*first == "handshake failed" || first->rfind("closed:", 0) == 0) << *first;
  EXPECT_TRUE(troupe_test::wait_until([&] { return l.tls_failures() == 1; }));
  EXPECT_TRUE(troupe_test::wait_until([&] { return l.live_connections() == 0; }));
  // The failure was counted in the handler that would otherwise have handed the connection over.
  EXPECT_EQ(t.accepted->size(), 0u);
}

TEST_F(Tls, AServerWithAClientCaRefusesAClientWithoutACertificate) {
  auto l = serve(pki.ca_cert);
  ASSERT_TRUE(l.has_value());
  auto client = io::tls_context::client(pki.ca_cert);
  ASSERT_TRUE(client.has_value());
  dial(l->port(), *client, "localhost");
  expect_refused(*this, *l);
}

TEST_F(Tls, AServerWithAClientCaRefusesAClientCertifiedByAnotherCa) {
  auto l = serve(pki.ca_cert);
  ASSERT_TRUE(l.has_value());
  auto other = io_test::make_pki(10);
  // The client trusts the server; only its own certificate is from elsewhere.
  auto client = io::tls_context::client(pki.ca_cert, other.leaf_chain, other.leaf_key);
  ASSERT_TRUE(client.has_value());
  dial(l->port(), *client, "localhost");
  expect_refused(*this, *l);
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
