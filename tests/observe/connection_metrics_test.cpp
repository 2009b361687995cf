// connection_metrics_test.cpp: open connections per listener, read from real io listeners on
// loopback and exported as one gauge family.
#include "troupe/observe/connection_metrics.hpp"

#include <gtest/gtest.h>

#include <string>
#include <variant>

#include "core/test_support.hpp"
#include "io/echo_connection.hpp"
#include "io/io_test_support.hpp"
#include "troupe/observe/metrics_export.hpp"

namespace {

namespace io = troupe::io;
namespace ob = troupe::observe;
using io_test::conn_msg;

using io_test::echo;

// The value of troupe_connections{listener=name} in one collect(), or -1 if absent.
double exported(const ob::metrics_registry& r, const std::string& name) {
  for (auto& f : r.collect())
    if (f.name == "troupe_connections") {
      EXPECT_EQ(f.type, ob::metric_type::gauge);
      for (auto& p : f.points)
        if (p.labels == ob::labels{{"listener", name}}) return p.value;
    }
  return -1;
}

struct ConnectionMetrics : ::testing::Test {
  // The io_service goes last: the system's connection actors stop first, then the loop.
  io::io_service io{{.threads = 1}};
  troupe::system sys{troupe_test::small_config()};
  ob::metrics_registry registry;
  ob::connection_metrics conns{registry};
};

TEST_F(ConnectionMetrics, CountsTheOpenConnectionsOfEachListener) {
  auto a = io::listen(sys, io, {}, echo);
  auto b = io::listen(sys, io, {}, echo);
  ASSERT_TRUE(a && b);
  conns.add("echo-a", *a);
  conns.add("echo-b", [l = *b] { return l.live_connections(); });
  EXPECT_EQ(exported(registry, "echo-a"), 0);
  {
    io_test::client c1(a->port()), c2(a->port()), c3(b->port());
    c1.send("x");
    c2.send("y");
    c3.send("z");
    EXPECT_EQ(c1.read(1), "x");  // each one answered: accepted, and counted
    EXPECT_EQ(c2.read(1), "y");
    EXPECT_EQ(c3.read(1), "z");
    EXPECT_EQ(exported(registry, "echo-a"), 2);
    EXPECT_EQ(exported(registry, "echo-b"), 1);
    auto read = conns.read();
    ASSERT_EQ(read.size(), 2u);
    EXPECT_EQ(read[0], (ob::listener_count{"echo-a", 2}));
  }
  EXPECT_TRUE(troupe_test::wait_until([&] { return exported(registry, "echo-a") == 0 && exported(registry, "echo-b") == 0; }));
  auto text = ob::to_prometheus_text(registry.collect());
  EXPECT_NE(text.find("troupe_connections{listener=\"echo-a\"} 0"), std::string::npos) << text;
}

TEST_F(ConnectionMetrics, ForgetsARemovedListenerAndCountsAStoppedOneAsZero) {
  auto a = io::listen(sys, io, {}, echo);
  ASSERT_TRUE(a);
  conns.add("echo", *a);
  io_test::client c(a->port());
  c.send("x");
  EXPECT_EQ(c.read(1), "x");
  a->stop();
  EXPECT_TRUE(c.wait_closed());
  EXPECT_TRUE(troupe_test::wait_until([&] { return exported(registry, "echo") == 0; }));
  EXPECT_TRUE(conns.remove("echo"));
  EXPECT_FALSE(conns.remove("echo"));
  EXPECT_EQ(exported(registry, "echo"), -1);
}

TEST(ConnectionMetricsLifetime, UnbindsFromTheRegistryWhenDestroyed) {
  ob::metrics_registry registry;
  {
    ob::connection_metrics conns{registry};
    conns.add("pool", [] { return std::size_t{7}; });
    EXPECT_EQ(exported(registry, "pool"), 7);
  }
  for (auto& f : registry.collect()) EXPECT_NE(f.name, "troupe_connections");
}

}  // namespace
