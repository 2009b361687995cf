// grain_reroute_test.cpp: calls the directory keeps sending to a node that cannot take them (two
// nodes in this process; placement names the one that does not serve the type) are dropped after
// max_hops re-routes, their asks failing with request_dropped, and logged once, not once per
// call; the next idle check says how many more there were and re-arms the line. Redirects sent
// back to a caller's node that cannot be reached are dropped and logged the same way.
#include <unistd.h>

#include <gtest/gtest.h>

#include <any>
#include <chrono>
#include <cstdint>
#include <future>
#include <memory>
#include <mutex>
#include <string>
#include <string_view>
#include <thread>
#include <vector>

#include "cluster/cluster_process.hpp"
#include "cluster/device_grain.hpp"
#include "cluster/in_process_nodes.hpp"
#include "troupe/cluster/cluster.hpp"
#include "troupe/cluster/membership_store.hpp"
#include "troupe/cluster/placement.hpp"
#include "troupe/core/extension.hpp"
#include "troupe/core/system.hpp"
#include "troupe/remote/node.hpp"

namespace {

namespace tc = troupe::cluster;
using tc::testing::add;
using tc::testing::always_on;
using tc::testing::device_msg;
using tc::testing::in_process_node;
using namespace std::chrono_literals;
using clock_type = std::chrono::steady_clock;

TEST(GrainReroutes, CallsDroppedAfterTooManyReroutesAreLoggedOncePerIncidentNotOncePerCall) {
  auto path = "/tmp/troupe-cluster-" + std::to_string(::getpid()) + "-reroute.db";
  tc::testing::remove_store("sqlite:" + path);
  {
    // a serves "device" but places every grain on b, which never registers it: each call goes
    // to b, finds no service there, asks the directory again, and so on until max_hops.
    in_process_node a("a", path, {.name = "reroute", .placement = std::make_shared<always_on>("b")});
    in_process_node b("b", path, {.name = "reroute"});
    a.c->register_grain<device_msg>("device", [](const std::string&) {
      return troupe::receive<device_msg>([](const auto&) { return troupe::same; });
    });
    for (auto deadline = clock_type::now() + 10s; a.c->members().size() < 2 || b.c->members().size() < 2;) {
      ASSERT_LT(clock_type::now(), deadline) << "the two nodes never saw each other\n" << a.log->all();
      std::this_thread::sleep_for(5ms);  // polling a condition with a deadline
    }
    constexpr int calls = 20;
    auto burst = [&](const std::string& prefix) {
      std::vector<std::future<troupe::result<std::int64_t>>> asks;
      for (int k = 0; k < calls; ++k)
        asks.push_back(a.c->grain<device_msg>("device", prefix + std::to_string(k))
                           .ask<std::int64_t>([](troupe::ref<std::int64_t> r) { return add{1, r}; }, 10s));
      for (auto& f : asks) {
        auto r = f.get();
        ASSERT_FALSE(r.has_value());
        EXPECT_EQ(r.error(), troupe::errc::request_dropped) << r.error().message();
        EXPECT_NE(r.error().message().find("re-routes"), std::string::npos) << r.error().message();
      }
    };
    const std::string dropped = "a call was dropped after 5 re-routes";
    const std::string summary = "19 more call(s) dropped after too many re-routes";
    burst("k");
    EXPECT_EQ(a.log->count(dropped), 1u) << a.log->all();
    EXPECT_EQ(a.log->count(summary), 0u) << a.log->all();

    // The next idle check (every 30 s with the default idle timeout: told here at once) says how
    // many were not logged, and a later incident is logged again, once.
    a.service<device_msg>("device").tell(tc::detail::grain_idle_tick{});
    for (auto deadline = clock_type::now() + 5s; a.log->count(summary) == 0;) {
      ASSERT_LT(clock_type::now(), deadline) << "no summary\n" << a.log->all();
      std::this_thread::sleep_for(1ms);
    }
    burst("m");
    EXPECT_EQ(a.log->count(dropped), 2u) << a.log->all();
    EXPECT_EQ(a.log->count(summary), 1u) << a.log->all();
  }
  tc::testing::remove_store("sqlite:" + path);
}

TEST(GrainReroutes, RedirectsDroppedToAnUnreachableCallerAreLoggedOncePerIncidentNotOncePerCall) {
  auto path = "/tmp/troupe-cluster-" + std::to_string(::getpid()) + "-redirect.db";
  tc::testing::remove_store("sqlite:" + path);
  {
    // Debug lines on a: "grain device/<k> is held by 'b'" is its last line for each call it
    // re-routes, written after the redirect is on its way (the order this test relies on).
    in_process_node a("a", path, {.name = "redirect", .placement = std::make_shared<always_on>("b")},
                      std::make_shared<tc::testing::log_lines>(), troupe::log_level::debug);
    in_process_node b("b", path, {.name = "redirect"});
    a.c->register_grain<device_msg>("device", tc::testing::echo);
    b.c->register_grain<device_msg>("device", tc::testing::echo);
    ASSERT_TRUE(tc::testing::all_see({&a, &b}, 2)) << "the two nodes never saw each other\n" << a.log->all();

    // Twenty grains active on b, called from a.
    constexpr int calls = 20;
    std::vector<std::future<troupe::result<std::int64_t>>> asks;
    for (int k = 0; k < calls; ++k)
      asks.push_back(a.c->grain<device_msg>("device", "k" + std::to_string(k))
                         .ask<std::int64_t>([](troupe::ref<std::int64_t> r) { return add{1, r}; }, 10s));
    for (auto& f : asks) ASSERT_TRUE(f.get().has_value());
    const std::string held = "is held by 'b'";
    ASSERT_EQ(a.log->count(held), static_cast<std::size_t>(calls)) << a.log->all();

    // Calls for them reach a from node "ghost" (their node went down with them on the wire, and
    // is in no member list any more): a finds b holding each and sends each back to ghost, which
    // it cannot look up, so every redirect is dropped.
    auto service = a.service<device_msg>("device");
    auto ignored = troupe::make_function_ref<std::int64_t>([](std::int64_t&&) {});
    for (int k = 0; k < calls; ++k)
      service.tell(tc::detail::grain_call<device_msg>{"k" + std::to_string(k), device_msg{add{1, ignored}}, "ghost", 0});
    ASSERT_TRUE(tc::testing::wait_until([&] { return a.log->count(held) == 2 * calls; })) << a.log->all();
    const std::string dropped = "a redirect to unreachable node 'ghost' was dropped";
    const std::string summary = "19 more redirect(s) to unreachable nodes dropped";
    // The idle tick comes after every redirect was dropped: each was sent before its "held" line.
    service.tell(tc::detail::grain_idle_tick{});
    ASSERT_TRUE(tc::testing::wait_until([&] { return a.log->count(summary) == 1; }))
        << a.log->count(dropped) << " lines for the dropped redirects\n" << a.log->all();
    EXPECT_EQ(a.log->count(dropped), 1u) << a.log->all();
  }
  tc::testing::remove_store("sqlite:" + path);
}

}  // namespace
