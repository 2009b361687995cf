// handoff_link_test.cpp: a call that reaches a member after it has left (it was on the wire while
// the member handed its shards off) is sent back to its caller and answered there, not dropped.
// The leaving member had only ever received calls from the caller, never sent it anything, and
// once it has left it can no longer look up the caller's service: it must have done so while
// handing off. Three nodes in this process; the late call is sent to the left member's service
// over the wire, as the caller's service would have sent it.
#include <unistd.h>

#include <gtest/gtest.h>

#include <chrono>
#include <cstdint>
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
#include "troupe/cluster/sharding.hpp"
#include "troupe/core/extension.hpp"
#include "troupe/core/system.hpp"
#include "troupe/remote/node.hpp"

namespace {

namespace tc = troupe::cluster;
using tc::testing::add;
using tc::testing::device_msg;
using namespace std::chrono_literals;
using clock_type = std::chrono::steady_clock;
using shard_message = tc::detail::shard_msg<device_msg>;
using service_msg = tc::detail::grain_service_msg<shard_message>;

struct log_lines {
  std::mutex mu;
  std::string text;  // guarded by mu
  void add(std::string_view line) {
    std::lock_guard lk(mu);
    text.append(line).append("\n");
  }
  std::string all() {
    std::lock_guard lk(mu);
    return text;
  }
};

// An entity that answers each add with its n (no state: the test only asks whether it answers).
troupe::behavior<device_msg> echo(const std::string&) {
  return troupe::receive<device_msg>([](const auto& m) {
    if constexpr (std::is_same_v<std::decay_t<decltype(m)>, add>) m.reply_to.tell(m.n);
    return troupe::same;
  });
}

struct member_node {
  member_node(const std::string& name, const std::string& path, std::shared_ptr<log_lines> logs) : log(std::move(logs)) {
    troupe::system_config sc;
    sc.logger = [l = log, name](troupe::log_level, std::string_view text) { l->add(name + "| " + std::string(text)); };
    sys = std::make_unique<troupe::system>(sc);
    node = std::make_unique<troupe::remote::node>(*sys, troupe::remote::node_config{.name = name, .cookie = "handoff"});
    c = tc::cluster::join(*sys, *node, tc::membership_store::open_sqlite(path).value(),
                          {.name = "handoff", .heartbeat_interval = 50ms})
            .value();
    region.emplace(tc::shard_region<device_msg>::start(*c, {.type = "echo", .make = echo, .shards = 8}));
  }
  ~member_node() {
    region.reset();
    c.reset();
    node.reset();
    sys.reset();
  }
  std::shared_ptr<log_lines> log;
  std::unique_ptr<troupe::system> sys;
  std::unique_ptr<troupe::remote::node> node;
  std::unique_ptr<tc::cluster> c;
  std::optional<tc::shard_region<device_msg>> region;
};

TEST(ShardHandOff, ACallThatReachesAMemberAfterItLeftIsSentBackToItsCallerAndAnswered) {
  auto path = "/tmp/troupe-cluster-" + std::to_string(::getpid()) + "-handoff.db";
  tc::testing::remove_store("sqlite:" + path);
  {
    auto logs = std::make_shared<log_lines>();
    member_node a("a", path, logs), b("b", path, logs), c("c", path, logs);
    for (auto deadline = clock_type::now() + 10s;
         a.c->members().size() < 3 || b.c->members().size() < 3 || c.c->members().size() < 3;) {
      ASSERT_LT(clock_type::now(), deadline) << "the three nodes never saw each other\n" << logs->all();
      std::this_thread::sleep_for(5ms);  // polling a condition with a deadline
    }
    // An entity whose shard is on c: a calls it there (c only ever receives from a).
    std::string id, key, c_address;
    for (auto& m : a.c->members())
      if (m.node == "c") c_address = m.address;
    for (int k = 0; id.empty(); ++k) {
      auto shard = std::to_string(a.region->shard_of("e" + std::to_string(k)));
      if (tc::hash_placement{}.choose("shard.echo", shard, {"a", "b", "c"}, "a") == "c") id = "e" + std::to_string(k), key = shard;
    }
    auto first = a.region->entity(id).ask<std::int64_t>([](troupe::ref<std::int64_t> r) { return add{1, r}; }, 10s).get();
    ASSERT_TRUE(first.has_value()) << first.error().message() << "\n" << logs->all();
    auto c_service = a.node->lookup<service_msg>(tc::detail::grain_service_name("shard.echo"), c_address, 5s).get();
    ASSERT_TRUE(c_service.has_value()) << c_service.error().message();

    c.c->leave();  // hands the shard off to a or b, then leaves; c's system and node stay up

    // The late call: on the wire from a's service to c's when c left.
    auto late = troupe::make_function_ref<device_msg>(*a.sys, "a late call", [svc = *c_service, id, key](device_msg&& m) {
      svc.tell(tc::detail::grain_call<shard_message>{key, shard_message{tc::detail::shard_envelope<device_msg>{id, std::move(m)}}, "a", 0});
    });
    auto answer = late.ask<std::int64_t>([](troupe::ref<std::int64_t> r) { return add{2, r}; }, 5s).get();
    ASSERT_TRUE(answer.has_value()) << answer.error().message() << "\n" << logs->all();
    EXPECT_EQ(*answer, 2);
  }
  tc::testing::remove_store("sqlite:" + path);
}

}  // namespace
