// Mutual TLS between nodes: node processes and in-process nodes with certificates made at test
// time (io/test_pki.hpp). A pair with certificates from one CA talks; a certificate from another
// CA, or a peer that does not speak TLS, is dropped within 5 s with the reason in the log.
#include <gtest/gtest.h>
#include <stdlib.h>
#include <unistd.h>

#include <chrono>
#include <cstdint>
#include <fstream>
#include <string>
#include <vector>

#include "counter_protocol.hpp"
#include "io/test_pki.hpp"
#include "node_process.hpp"
#include "remote_test_support.hpp"
#include "troupe/core/system.hpp"
#include "troupe/remote/node.hpp"

using namespace std::chrono_literals;
using troupe::remote::node;
using troupe::remote::testing::counter_msg;
using troupe::remote::testing::line_queue;
using troupe::remote::testing::node_process;
namespace t = troupe::remote::testing;

namespace {

/// A CA and its leaf, and another CA (with its own leaf) that the first does not trust. The node
/// processes read their PEMs from files in a directory removed at the end.
struct NodeTls : ::testing::Test {
  troupe_test::test_pki good = troupe_test::make_pki(1);
  troupe_test::test_pki other = troupe_test::make_pki(100);
  std::string dir;

  NodeTls() {
    char tmpl[] = "/tmp/troupe-node-tls-XXXXXX";
    if (::mkdtemp(tmpl) == nullptr) throw std::runtime_error("mkdtemp failed");
    dir = tmpl;
    write("cert.pem", good.leaf_chain);
    write("key.pem", good.leaf_key);
    write("ca.pem", good.ca_cert);
  }
  ~NodeTls() override {
    for (const char* f : {"cert.pem", "key.pem", "ca.pem"}) ::unlink((dir + "/" + f).c_str());
    ::rmdir(dir.c_str());
  }
  void write(const std::string& name, const std::string& text) { std::ofstream(dir + "/" + name) << text; }

  /// Arguments for a node process named `name` with the good certificate.
  std::vector<std::string> tls_process(const std::string& name) {
    return {"--name", name, "--tls-cert", dir + "/cert.pem", "--tls-key", dir + "/key.pem", "--tls-ca", dir + "/ca.pem"};
  }
  /// An in-process node's config with `cert` (and its key), trusting `ca`.
  static troupe::remote::node_config with_tls(std::string name, const troupe_test::test_pki& cert, const std::string& ca) {
    auto cfg = t::named(std::move(name));
    cfg.tls = troupe::remote::node_tls{.certificate = cert.leaf_chain, .private_key = cert.leaf_key, .ca = ca};
    return cfg;
  }
};

}  // namespace

TEST_F(NodeTls, TwoNodesWithCertificatesFromOneCaTalkInBothDirections) {
  node_process b(tls_process("b"));
  line_queue logs;
  troupe::system sys{t::logging_config(logs)};
  node a{sys, with_tls("a", good, good.ca_cert)};
  // a dials b: a is the TLS client, b checks a's certificate.
  auto c = a.lookup<counter_msg>("counter", b.address()).get();
  ASSERT_TRUE(c) << c.error().message() << "\n" << logs.all() << b.log();
  c->tell(t::add{5});
  auto total = c->ask<std::int64_t>([](troupe::ref<std::int64_t> r) { return t::get{r}; }, 5s).get();
  ASSERT_TRUE(total) << total.error().message();
  EXPECT_EQ(*total, 5);
  // Another process dials a: a is the TLS server now.
  node_process d(tls_process("d"));
  d.command("connect " + a.address());
  EXPECT_TRUE(d.expect("connected a", 5s)) << d.log() << logs.all();
}

TEST_F(NodeTls, ANodeWhoseCertificateAnotherCaSignedIsDroppedWithTheReasonLogged) {
  node_process b(tls_process("b"));
  troupe::system sys{t::one_worker()};
  // a trusts b's CA, but its own certificate comes from a CA that b does not trust.
  node a{sys, with_tls("a", other, good.ca_cert)};
  auto start = std::chrono::steady_clock::now();
  auto r = a.connect(b.address()).get();
  ASSERT_FALSE(r);
  EXPECT_EQ(r.error(), troupe::remote::errc::handshake_failed) << r.error().message();
  auto line = b.expect("log remote node 'b': connection to an unnamed peer closed: TLS handshake failed", 5s);
  ASSERT_TRUE(line) << b.log();
  EXPECT_LT(std::chrono::steady_clock::now() - start, 5s);
  EXPECT_NE(line->find("peer certificate"), std::string::npos) << *line;
  EXPECT_FALSE(b.expect("node_up", 100ms)) << b.log();
  // And the other way: b dials a node whose certificate b does not trust.
  b.command("connect " + a.address());
  auto failed = b.expect("connect_failed", 5s);
  ASSERT_TRUE(failed) << b.log();
  EXPECT_NE(failed->find("TLS handshake failed"), std::string::npos) << *failed;
  // b keeps serving a node with a good certificate.
  node c{sys, with_tls("c", good, good.ca_cert)};
  auto ok = c.connect(b.address()).get();
  EXPECT_TRUE(ok) << ok.error().message();
}

TEST_F(NodeTls, APlainTcpNodeAndATlsNodeNeverConnectAndTheReasonIsLogged) {
  node_process b(tls_process("b"));
  line_queue logs;
  troupe::system sys{t::logging_config(logs)};
  node a{sys, t::named("a")};  // same cookie, no TLS
  auto start = std::chrono::steady_clock::now();
  auto r = a.connect(b.address()).get();
  ASSERT_FALSE(r);
  auto line = b.expect("log remote node 'b': connection to an unnamed peer closed: TLS handshake failed", 5s);
  ASSERT_TRUE(line) << b.log();
  EXPECT_LT(std::chrono::steady_clock::now() - start, 5s);
  // The TLS node dialling the plain one: the plain node sees a TLS record where a frame length
  // should be, and closes.
  b.command("connect " + a.address());
  ASSERT_TRUE(b.expect("connect_failed", 5s)) << b.log();
  EXPECT_TRUE(logs.expect("log remote node 'a': connection to an unnamed peer closed: frame of", 5s)) << logs.all();
  EXPECT_TRUE(a.connected_nodes().empty());
}
