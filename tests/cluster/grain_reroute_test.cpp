// grain_reroute_test.cpp: calls the directory keeps sending to a node that cannot take them (two
// nodes in this process; placement names the one that does not serve the type) are dropped after
// max_hops re-routes, their asks failing with request_dropped, and logged once, not once per
// call; the next idle check says how many more there were and re-arms the line.
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
#include "troupe/cluster/cluster.hpp"
#include "troupe/cluster/membership_store.hpp"
#include "troupe/cluster/placement.hpp"
#include "troupe/core/system.hpp"
#include "troupe/remote/node.hpp"

namespace {

namespace tc = troupe::cluster;
using tc::testing::add;
using tc::testing::device_msg;
using namespace std::chrono_literals;
using clock_type = std::chrono::steady_clock;

struct log_lines {
  std::mutex mu;
  std::vector<std::string> lines;  // guarded by mu
  void add(std::string_view text) {
    std::lock_guard lk(mu);
    lines.emplace_back(text);
  }
  std::size_t count(std::string_view needle) {
    std::lock_guard lk(mu);
    std::size_t n = 0;
    for (auto& l : lines) n += l.find(needle) != std::string::npos ? 1 : 0;
    return n;
  }
  std::string all() {
    std::lock_guard lk(mu);
    std::string s;
    for (auto& l : lines) s += l + "\n";
    return s;
  }
};

// Places every grain on `node` (when it is up).
struct always_on final : tc::placement {
  explicit always_on(std::string n) : node(std::move(n)) {}
  std::string choose(const std::string&, const std::string&, const std::vector<std::string>& up,
                     const std::string&) override {
    for (auto& u : up)
      if (u == node) return u;
    return up.front();
  }
  std::string node;
};

struct member_node {
  member_node(const std::string& name, const std::string& path, std::shared_ptr<tc::placement> place) {
    troupe::system_config sc;
    sc.logger = [l = log](troupe::log_level, std::string_view text) { l->add(text); };
    sys = std::make_unique<troupe::system>(sc);
    node = std::make_unique<troupe::remote::node>(*sys, troupe::remote::node_config{.name = name, .cookie = "reroute"});
    c = tc::cluster::join(*sys, *node, tc::membership_store::open_sqlite(path).value(),
                          {.name = "reroute", .placement = std::move(place)})
            .value();
  }
  ~member_node() {
    c.reset();
    node.reset();
    sys.reset();
  }
  std::shared_ptr<log_lines> log = std::make_shared<log_lines>();
  std::unique_ptr<troupe::system> sys;
  std::unique_ptr<troupe::remote::node> node;
  std::unique_ptr<tc::cluster> c;
};

TEST(GrainReroutes, CallsDroppedAfterTooManyReroutesAreLoggedOncePerIncidentNotOncePerCall) {
  auto path = "/tmp/troupe-cluster-" + std::to_string(::getpid()) + "-reroute.db";
  tc::testing::remove_store("sqlite:" + path);
  {
    // a serves "device" but places every grain on b, which never registers it: each call goes
    // to b, finds no service there, asks the directory again, and so on until max_hops.
    member_node a("a", path, std::make_shared<always_on>("b"));
    member_node b("b", path, nullptr);
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
    auto& core = tc::detail::cluster_access::core(*a.c);
    troupe::ref<tc::detail::grain_service_msg<device_msg>> service;
    {
      std::lock_guard lk(core.types_mu);
      service = std::any_cast<troupe::ref<tc::detail::grain_service_msg<device_msg>>>(core.types.at("device").service);
    }
    service.tell(tc::detail::grain_idle_tick{});
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

}  // namespace
