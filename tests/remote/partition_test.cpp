// Partition: two nodes in network namespaces joined by a veth pair; the test cuts the link and
// heals it, and checks detection and reconnection; with tc netem it delays and drops packets.
// Needs root (ip netns) and the sch_netem module; skips, saying which is missing, otherwise.
#include <gtest/gtest.h>
#include <unistd.h>

#include <chrono>
#include <string>

#include "network_namespaces.hpp"
#include "node_process.hpp"

using namespace std::chrono_literals;
using troupe::remote::testing::node_process;

namespace {
// Two namespaces, a veth pair between them, 10.201.N.1 and .2; removed on destruction.
struct netns_pair {
  troupe_test::network_namespaces ns;
  std::string a = ns.add("a"), b = ns.add("b");
  std::string subnet = "10.201." + std::to_string(::getpid() % 250) + ".";
  bool ok = ns.veth(a, "va", b, "vb") && ns.address(a, "va", subnet + "1/24") && ns.address(b, "vb", subnet + "2/24");

  bool set_link(bool up) { return ns.link(a, "va", up); }
  /// Puts `tc netem <spec>` on what a sends over the link (b's packets are left alone). False if
  /// netem is not available.
  bool netem(const std::string& spec) { return troupe_test::run_quietly("tc -n " + a + " qdisc replace dev va root netem " + spec); }
};
}  // namespace

TEST(Partition, ACutLinkIsDetectedOnBothSidesAndTheNodesReconnectWhenItHeals) {
  if (auto why = troupe_test::network_namespaces::unavailable(); !why.empty()) GTEST_SKIP() << why;
  netns_pair ns;
  ASSERT_TRUE(ns.ok && ns.ns.ok()) << "could not make the namespaces and their link";
  node_process a({"--raw", "1", "--name", "a", "--host", ns.subnet + "1"}, troupe_test::network_namespaces::exec_in(ns.a));
  node_process b({"--raw", "1", "--name", "b", "--host", ns.subnet + "2"}, troupe_test::network_namespaces::exec_in(ns.b));
  a.command("connect " + b.address());
  ASSERT_TRUE(a.expect("connected b", 5s)) << a.log();
  ASSERT_TRUE(b.expect("node_up a", 5s)) << b.log();

  ASSERT_TRUE(ns.set_link(false));
  EXPECT_TRUE(a.expect("node_down b", 5s)) << a.log();
  EXPECT_TRUE(b.expect("node_down a", 5s)) << b.log();

  ASSERT_TRUE(ns.set_link(true));
  // The next message redials (after the backoff) and gets through.
  a.command("send b 1 10");
  EXPECT_TRUE(a.expect("node_up b", 10s)) << a.log();
  EXPECT_TRUE(b.expect("got a 1 10", 10s)) << b.log();
}

TEST(Partition, DelayAndLossOnTheLinkKeepTheNodesUpAndMessagesArriveInOrder) {
  if (auto why = troupe_test::network_namespaces::unavailable(); !why.empty()) GTEST_SKIP() << why;
  netns_pair ns;
  ASSERT_TRUE(ns.ok && ns.ns.ok()) << "could not make the namespaces and their link";
  // 40 ms each way with jitter, 5% of packets lost: TCP resends them, nothing is declared down.
  if (!ns.netem("delay 40ms 10ms loss 5%"))
    GTEST_SKIP() << "tc netem not available here (the kernel has no sch_netem module)";
  node_process a({"--raw", "1", "--name", "a", "--host", ns.subnet + "1"}, troupe_test::network_namespaces::exec_in(ns.a));
  node_process b({"--raw", "1", "--name", "b", "--host", ns.subnet + "2"}, troupe_test::network_namespaces::exec_in(ns.b));
  a.command("connect " + b.address());
  ASSERT_TRUE(a.expect("connected b", 10s)) << a.log();
  for (int i = 1; i <= 30; ++i) a.command("send b 1 " + std::to_string(100 + i));
  for (int i = 1; i <= 30; ++i) ASSERT_TRUE(b.expect("got a 1 " + std::to_string(100 + i), 10s)) << b.log();
  EXPECT_EQ(a.log().find("node_down"), std::string::npos) << a.log();
  EXPECT_EQ(b.log().find("node_down"), std::string::npos) << b.log();
  // All packets lost: as good as a cut link, detected by the heartbeat deadline.
  ASSERT_TRUE(ns.netem("loss 100%"));
  EXPECT_TRUE(a.expect("node_down b", 5s)) << a.log();
  EXPECT_TRUE(b.expect("node_down a", 5s)) << b.log();
}
