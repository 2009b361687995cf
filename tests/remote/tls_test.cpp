// Mutual TLS between nodes: node processes and in-process nodes with certificates made at test
// time (io/test_pki.hpp). A pair whose certificates come from one CA and name them talks; a
// certificate from another CA, one that names another node, or a peer that does not speak TLS is
// dropped within 5 s with the reason in the log of both sides; with name checks off
// (node_tls::verify_node_names = false) any certificate from the CA will do.
#include <gtest/gtest.h>
#include <stdlib.h>
#include <unistd.h>

#include <algorithm>
#include <chrono>
#include <cstdint>
#include <fstream>
#include <stdexcept>
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

/// A CA, and another CA that the first does not trust; each node gets a leaf of its own. The
/// node processes read their PEMs from files in a directory removed at the end.
struct NodeTls : ::testing::Test {
  troupe_test::test_pki good = troupe_test::make_pki(1);
  troupe_test::test_pki other = troupe_test::make_pki(100);
  std::string dir;
  std::vector<std::string> files;
  long serial = 1000;

  NodeTls() {
    char tmpl[] = "/tmp/troupe-node-tls-XXXXXX";
    if (::mkdtemp(tmpl) == nullptr) throw std::runtime_error("mkdtemp failed");
    dir = tmpl;
    write("ca.pem", good.ca_cert);
  }
  ~NodeTls() override {
    for (const auto& f : files) ::unlink((dir + "/" + f).c_str());
    ::rmdir(dir.c_str());
  }
  void write(const std::string& name, const std::string& text) {
    std::ofstream(dir + "/" + name) << text;
    if (std::find(files.begin(), files.end(), name) == files.end()) files.push_back(name);
  }

  /// A leaf from `ca` for `certified` (its one subjectAltName DNS entry and its CN).
  troupe_test::test_leaf leaf(const troupe_test::test_pki& ca, const std::string& certified) {
    return troupe_test::make_leaf(ca, {certified}, certified, ++serial);
  }
  /// Arguments for a node process named `name` with `cert` from the good CA, checking names
  /// unless `verify` is false.
  std::vector<std::string> tls_process(const std::string& name, const troupe_test::test_leaf& cert, bool verify = true) {
    write(name + "-cert.pem", cert.chain);
    write(name + "-key.pem", cert.key);
    std::vector<std::string> args{"--name",   name, "--tls-cert", dir + "/" + name + "-cert.pem", "--tls-key",
                                  dir + "/" + name + "-key.pem", "--tls-ca", dir + "/ca.pem"};
    if (!verify) args.insert(args.end(), {"--tls-verify-names", "0"});
    return args;
  }
  /// A node process named `name` whose certificate (from the good CA) names it.
  std::vector<std::string> tls_process(const std::string& name) { return tls_process(name, leaf(good, name)); }
  /// An in-process node's config with `cert` (and its key), trusting `ca`.
  static troupe::remote::node_config with_tls(std::string name, const troupe_test::test_leaf& cert, const std::string& ca,
                                              bool verify = true) {
    auto cfg = t::named(std::move(name));
    cfg.tls = troupe::remote::node_tls{
        .certificate = cert.chain, .private_key = cert.key, .ca = ca, .verify_node_names = verify};
    return cfg;
  }
};

}  // namespace

TEST_F(NodeTls, TwoNodesWhoseCertificatesNameThemTalkInBothDirections) {
  node_process b(tls_process("b"));
  line_queue logs;
  troupe::system sys{t::logging_config(logs)};
  node a{sys, with_tls("a", leaf(good, "a"), good.ca_cert)};
  // a dials b: a is the TLS client, b checks a's certificate.
  auto c = a.lookup<counter_msg>("counter", b.address()).get();
  ASSERT_TRUE(c) << c.error().message() << "\n" << logs.all() << b.log();
  c->tell(t::add{5});
  auto total = c->ask<std::int64_t>([](troupe::ref<std::int64_t> r) { return t::get{r}; }, 5s).get();
  ASSERT_TRUE(total) << total.error().message();
  EXPECT_EQ(*total, 5);
  // Another process dials a: a is the TLS server now. d's certificate has no subjectAltName:
  // its common name names it.
  node_process d(tls_process("d", troupe_test::make_leaf(good, {}, "d", ++serial)));
  d.command("connect " + a.address());
  EXPECT_TRUE(d.expect("connected a", 5s)) << d.log() << logs.all();
}

TEST_F(NodeTls, ANodeWhoseCertificateAnotherCaSignedIsDroppedWithTheReasonLogged) {
  node_process b(tls_process("b"));
  troupe::system sys{t::one_worker()};
  // a trusts b's CA, but its own certificate comes from a CA that b does not trust.
  node a{sys, with_tls("a", leaf(other, "a"), good.ca_cert)};
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
  node c{sys, with_tls("c", leaf(good, "c"), good.ca_cert)};
  auto ok = c.connect(b.address()).get();
  EXPECT_TRUE(ok) << ok.error().message();
}

TEST_F(NodeTls, ANodeWhoseCertificateNamesAnotherNodeIsRefusedBothWaysWithTheReasonLoggedOnBothSides) {
  node_process b(tls_process("b"));
  line_queue logs;
  troupe::system sys{t::logging_config(logs)};
  // An impostor: a certificate from the right CA for node "c", used by a node that calls itself
  // "a" (and checks no names itself, or it would not start).
  node a{sys, with_tls("a", leaf(good, "c"), good.ca_cert, false)};
  // a dials b: b reads a's hello, which claims "a", and refuses it.
  auto start = std::chrono::steady_clock::now();
  auto r = a.connect(b.address()).get();
  ASSERT_FALSE(r);
  EXPECT_EQ(r.error(), troupe::remote::errc::handshake_failed) << r.error().message();
  const std::string why = "a peer claims to be node 'a', but its certificate names 'c'";
  EXPECT_NE(r.error().message().find(why), std::string::npos) << r.error().message();
  EXPECT_TRUE(b.expect("log remote node 'b': connection to node 'a' closed: refused: " + why, 5s)) << b.log();
  EXPECT_TRUE(logs.expect("log remote node 'a': connection to node 'b' closed: refused by peer: " + why, 5s)) << logs.all();
  EXPECT_LT(std::chrono::steady_clock::now() - start, 5s);
  // b dials a: b checks a's certificate before it sends its hello, and leaves.
  b.command("connect " + a.address());
  const std::string left = "node 'b' dialled node 'a', but the certificate of the node it reached names 'c'";
  auto failed = b.expect("connect_failed", 5s);
  ASSERT_TRUE(failed) << b.log();
  EXPECT_NE(failed->find(left), std::string::npos) << *failed;
  EXPECT_TRUE(logs.expect("log remote node 'a': connection to an unnamed peer closed: refused by peer: " + left, 5s))
      << logs.all();
  EXPECT_FALSE(b.expect("node_up", 100ms)) << b.log();
  EXPECT_TRUE(a.connected_nodes().empty());
  // b keeps serving a node whose certificate names it.
  node c{sys, with_tls("c", leaf(good, "c"), good.ca_cert)};
  auto ok = c.connect(b.address()).get();
  EXPECT_TRUE(ok) << ok.error().message();
}

TEST_F(NodeTls, ADiallerThatReachesAnotherNodeThanTheOneInTheAddressLeaves) {
  // c is a rightful node; a dials "b" at c's host and port (a stale address, say).
  node_process c(tls_process("c"));
  troupe::system sys{t::one_worker()};
  node a{sys, with_tls("a", leaf(good, "a"), good.ca_cert)};
  auto wrong = "b" + c.address().substr(c.address().find('@'));
  auto r = a.connect(wrong).get();
  ASSERT_FALSE(r);
  EXPECT_EQ(r.error(), troupe::remote::errc::handshake_failed) << r.error().message();
  EXPECT_NE(r.error().message().find("node 'a' dialled node 'b', but the certificate of the node it reached names 'c'"),
            std::string::npos)
      << r.error().message();
  EXPECT_TRUE(c.expect("log remote node 'c': connection to an unnamed peer closed: refused by peer: node 'a' dialled", 5s))
      << c.log();
  // The right address works.
  auto ok = a.connect(c.address()).get();
  EXPECT_TRUE(ok) << ok.error().message() << "\n" << c.log();
}

TEST_F(NodeTls, WithNameChecksOffAnyCertificateFromTheCaIsANode) {
  // Both certificates name "localhost", neither node.
  auto localhost = troupe_test::test_leaf{good.leaf_chain, good.leaf_key};
  node_process b(tls_process("b", localhost, false));
  line_queue logs;
  troupe::system sys{t::logging_config(logs)};
  node a{sys, with_tls("a", localhost, good.ca_cert, false)};
  auto r = a.connect(b.address()).get();
  ASSERT_TRUE(r) << r.error().message() << "\n" << b.log();
  EXPECT_EQ(*r, "b");
  node_process d(tls_process("d", localhost, false));
  d.command("connect " + a.address());
  EXPECT_TRUE(d.expect("connected a", 5s)) << d.log() << logs.all();
  // CA-only trust is still trust in the CA.
  node e{sys, with_tls("e", leaf(other, "e"), good.ca_cert, false)};
  auto refused = e.connect(b.address()).get();
  ASSERT_FALSE(refused);
  EXPECT_EQ(refused.error(), troupe::remote::errc::handshake_failed) << refused.error().message();
}

TEST_F(NodeTls, ANodeWhoseOwnCertificateDoesNotNameItDoesNotStart) {
  troupe::system sys{t::one_worker()};
  try {
    node a{sys, with_tls("a", leaf(good, "c"), good.ca_cert)};
    ADD_FAILURE() << "node 'a' started with a certificate for 'c'";
  } catch (const std::invalid_argument& e) {
    EXPECT_NE(std::string(e.what()).find("node 'a': its TLS certificate names 'c'"), std::string::npos) << e.what();
  }
  // Turned off, the same node starts.
  node a{sys, with_tls("a", leaf(good, "c"), good.ca_cert, false)};
  EXPECT_EQ(a.name(), "a");
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
