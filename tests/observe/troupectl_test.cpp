// troupectl against a real web view: the program is run as a child process (popen) and its
// output and exit status are checked. Nothing sleeps: each run returns when the node answered.
#include <gtest/gtest.h>
#include <sys/wait.h>

#include <array>
#include <cstdio>
#include <string>

#include "troupe/observe/web_view.hpp"

namespace {

struct run_result {
  int status = -1;
  std::string out;
};

// Runs troupectl with `args` (stdout and stderr together).
run_result troupectl(const std::string& args) {
  std::string cmd = std::string(TROUPECTL) + " --timeout-ms 5000 " + args + " 2>&1";
  run_result r;
  FILE* p = ::popen(cmd.c_str(), "r");
  if (!p) return r;
  std::array<char, 4096> buf{};
  while (auto n = std::fread(buf.data(), 1, buf.size(), p)) r.out.append(buf.data(), n);
  int st = ::pclose(p);
  r.status = WIFEXITED(st) ? WEXITSTATUS(st) : -1;
  return r;
}

troupe::system_config small() {
  troupe::system_config c;
  c.worker_threads = 2;
  c.blocking_threads = 2;
  c.introspection = true;
  return c;
}

TEST(Troupectl, PrintsStatusTreeAndTopOfANode) {
  troupe::system sys{small()};
  auto view = troupe::observe::web_view::start(sys);
  ASSERT_TRUE(view);
  const auto node = "-n 127.0.0.1:" + std::to_string(view->port()) + " ";
  auto status = troupectl(node + "status");
  EXPECT_EQ(status.status, 0) << status.out;
  EXPECT_NE(status.out.find(" actors, "), std::string::npos) << status.out;
  EXPECT_NE(status.out.find("writes off (no token)"), std::string::npos) << status.out;
  auto tree = troupectl(node + "tree");
  EXPECT_EQ(tree.status, 0) << tree.out;
  auto top = troupectl(node + "top --by memory --limit 3");
  EXPECT_EQ(top.status, 0) << top.out;
  EXPECT_EQ(top.out.rfind("        ID NAME", 0), 0u) << top.out;
  auto json = troupectl(node + "--json top");
  EXPECT_EQ(json.status, 0);
  EXPECT_EQ(json.out.rfind("{\"actors\":", 0), 0u) << json.out;
}

TEST(Troupectl, KillNeedsTheTokenAndSaysWhyItWasRefused) {
  troupe::system sys{small()};
  auto view = troupe::observe::web_view::start(sys, {.token = "t0k"});
  ASSERT_TRUE(view);
  const auto node = "-n 127.0.0.1:" + std::to_string(view->port()) + " ";
  auto refused = troupectl(node + "kill 1");
  EXPECT_EQ(refused.status, 1) << refused.out;
  EXPECT_NE(refused.out.find("403"), std::string::npos) << refused.out;
  auto unknown = troupectl(node + "--token t0k kill 999999999");
  EXPECT_EQ(unknown.status, 1) << unknown.out;
  EXPECT_NE(unknown.out.find("404"), std::string::npos) << unknown.out;
}

TEST(Troupectl, SetsTheLogLevelOfOneSourceOrOfTheWholeNode) {
  troupe::system sys{small()};
  auto view = troupe::observe::web_view::start(sys, {.token = "t0k"});
  ASSERT_TRUE(view);
  const auto node = "-n 127.0.0.1:" + std::to_string(view->port()) + " --token t0k ";
  auto one = troupectl(node + "log-level debug -s '/shop/payments'");
  EXPECT_EQ(one.status, 0) << one.out;
  EXPECT_NE(one.out.find("log level debug for /shop/payments"), std::string::npos) << one.out;
  EXPECT_EQ(sys.logger().level_for("/shop/payments/#3"), troupe::log_level::debug);
  EXPECT_EQ(sys.logger().level(), troupe::log_level::info);
  auto status = troupectl(node + "status");
  EXPECT_NE(status.out.find("log level debug for /shop/payments"), std::string::npos) << status.out;
  auto back = troupectl(node + "log-level default --source /shop/payments");
  EXPECT_EQ(back.status, 0) << back.out;
  EXPECT_TRUE(sys.logger().source_levels().empty());
  auto all = troupectl(node + "log-level warning");
  EXPECT_EQ(all.status, 0) << all.out;
  EXPECT_EQ(sys.logger().level(), troupe::log_level::warning);
  auto no_source = troupectl(node + "log-level default");
  EXPECT_NE(no_source.status, 0) << no_source.out;
}

TEST(Troupectl, RejectsABadCommandLineWithUsage) {
  auto r = troupectl("top --by colour");
  EXPECT_NE(r.status, 0);
  EXPECT_NE(r.out.find("--by"), std::string::npos) << r.out;
  auto level = troupectl("log-level loud");
  EXPECT_NE(level.status, 0);
}

TEST(Troupectl, SaysSoWhenTheNodeCannotBeReached) {
  std::uint16_t port;
  {
    troupe::system sys{small()};
    auto view = troupe::observe::web_view::start(sys);
    ASSERT_TRUE(view);
    port = view->port();
  }  // closed: nothing listens there now
  auto r = troupectl("-n 127.0.0.1:" + std::to_string(port) + " status");
  EXPECT_EQ(r.status, 3) << r.out;
  EXPECT_NE(r.out.find("cannot reach the node"), std::string::npos) << r.out;
}

}  // namespace
