// grain_route_test.cpp: what a node remembers of the grains it calls that another node holds
// (key -> holder, to route without the directory) is forgotten once a key has not been called
// from it for the idle timeout, so a node that calls many distinct keys once does not keep a
// route for each; the next call of a forgotten key asks the directory again and is answered.
// Two nodes in this process.
#include <unistd.h>

#include <gtest/gtest.h>

#include <chrono>
#include <cstdint>
#include <future>
#include <memory>
#include <string>
#include <vector>

#include "cluster/cluster_process.hpp"
#include "cluster/device_grain.hpp"
#include "cluster/in_process_nodes.hpp"
#include "troupe/cluster/cluster.hpp"

namespace {

namespace tc = troupe::cluster;
using tc::testing::add;
using tc::testing::always_on;
using tc::testing::device_msg;
using tc::testing::in_process_node;
using namespace std::chrono_literals;

TEST(GrainRoutes, AKeyHeldElsewhereIsForgottenOnceNotCalledForTheIdleTimeAndItsNextCallIsAnswered) {
  auto path = "/tmp/troupe-cluster-" + std::to_string(::getpid()) + "-routes.db";
  tc::testing::remove_store("sqlite:" + path);
  {
    // a places every grain on b and forgets routes unused for 100 ms (checked every 25 ms); b
    // keeps its grains active (the default idle time, 10 min). a's debug lines say when it asked
    // the directory ("is held by 'b'") and how many routes it forgot.
    in_process_node a("a", path, {.name = "routes", .idle_timeout = 100ms, .placement = std::make_shared<always_on>("b")},
                      std::make_shared<tc::testing::log_lines>(), troupe::log_level::debug);
    in_process_node b("b", path, {.name = "routes"});
    a.c->register_grain<device_msg>("device", tc::testing::echo);
    b.c->register_grain<device_msg>("device", tc::testing::echo);
    ASSERT_TRUE(tc::testing::all_see({&a, &b}, 2)) << "the two nodes never saw each other\n" << a.log->all();

    constexpr int keys = 20;
    auto call_all = [&](std::int64_t n) {
      std::vector<std::future<troupe::result<std::int64_t>>> asks;
      for (int k = 0; k < keys; ++k)
        asks.push_back(a.c->grain<device_msg>("device", "k" + std::to_string(k))
                           .ask<std::int64_t>([n](troupe::ref<std::int64_t> r) { return add{n, r}; }, 5s));
      for (auto& f : asks) {
        auto r = f.get();
        ASSERT_TRUE(r.has_value()) << r.error().message() << "\n" << a.log->all();
        EXPECT_EQ(*r, n);
      }
    };
    const std::string asked_directory = "is held by 'b'";
    const std::string forgot = "forgot the holders of ";
    call_all(1);
    ASSERT_EQ(a.log->count(asked_directory), static_cast<std::size_t>(keys)) << a.log->all();

    // Nobody calls them: a forgets every route within the idle time and a check.
    EXPECT_TRUE(tc::testing::wait_until([&] { return a.log->sum_after(forgot) == keys; }, 5s))
        << a.log->sum_after(forgot) << " of " << keys << " routes forgotten\n" << a.log->all();

    // Each key's next call asks the directory again, which names b, where the grain still is.
    call_all(2);
    EXPECT_EQ(a.log->count(asked_directory), static_cast<std::size_t>(2 * keys)) << a.log->all();
  }
  tc::testing::remove_store("sqlite:" + path);
}

}  // namespace
