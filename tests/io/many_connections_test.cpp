// Many connections at once: each its own actor, all echoing concurrently (run under TSan too).
#include "troupe/io/listener.hpp"

#include <gtest/gtest.h>

#include <memory>
#include <string>
#include <variant>
#include <vector>

#include "core/test_support.hpp"
#include "io/echo_connection.hpp"
#include "io/io_test_support.hpp"

namespace {

namespace io = troupe::io;
using io_test::conn_msg;

using io_test::echo;

TEST(ManyConnections, AThousandConnectionsEachWithItsActorEchoConcurrently) {
  io::io_service io{{.threads = 2}};
  troupe::system_config cfg;
  cfg.worker_threads = 2;
  troupe::system sys{cfg};
  auto l = io::listen(sys, io, {.connection = {.framing = {io::framing::line, 64}}}, echo);
  ASSERT_TRUE(l.has_value());
  constexpr int n = 1000;
  std::vector<std::unique_ptr<io_test::client>> clients;
  clients.reserve(n);
  for (int i = 0; i < n; ++i) clients.push_back(std::make_unique<io_test::client>(l->port()));
  for (int round = 0; round < 2; ++round)
    for (int i = 0; i < n; ++i) clients[i]->send("c" + std::to_string(i) + "r" + std::to_string(round) + "\n");
  for (int i = 0; i < n; ++i) {
    std::string want = "c" + std::to_string(i) + "r0\nc" + std::to_string(i) + "r1\n";
    ASSERT_EQ(clients[i]->read(want.size()), want) << "client " << i;
  }
  EXPECT_EQ(l->live_connections(), static_cast<std::size_t>(n));
  clients.clear();
  EXPECT_TRUE(troupe_test::wait_until([&] { return l->live_connections() == 0; }));
}

}  // namespace
