// handoff_link_test.cpp: a call that reaches a member after it has left (it was on the wire while
// the member handed its shards off) is sent back to its caller and answered there, not dropped.
// The leaving member had only ever received calls from the caller, never sent it anything, and
// once it has left it can no longer look up the caller's service: it must have done so while
// handing off. Three nodes in this process; the late call is sent to the left member's service
// over the wire, as the caller's service would have sent it. And calls beyond a full hand-off
// buffer go to dead letters with one log line per incident, not one per call.
#include <unistd.h>

#include <gtest/gtest.h>

#include <atomic>
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
#include "cluster/in_process_nodes.hpp"
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

// A node of the test's cluster with a region of echo entities.
struct member_node : tc::testing::in_process_node {
  member_node(const std::string& name, const std::string& path, std::shared_ptr<tc::testing::log_lines> logs)
      : in_process_node(name, path, {.name = "handoff", .heartbeat_interval = 50ms}, std::move(logs)) {
    region.emplace(tc::shard_region<device_msg>::start(*c, {.type = "echo", .make = tc::testing::echo, .shards = 8}));
  }
  ~member_node() { region.reset(); }  // before the cluster
  std::optional<tc::shard_region<device_msg>> region;
};

TEST(ShardHandOff, ACallThatReachesAMemberAfterItLeftIsSentBackToItsCallerAndAnswered) {
  auto path = "/tmp/troupe-cluster-" + std::to_string(::getpid()) + "-handoff.db";
  tc::testing::remove_store("sqlite:" + path);
  {
    auto logs = std::make_shared<tc::testing::log_lines>();
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

TEST(ShardHandOff, CallsBeyondAFullHandOffBufferAreLoggedOncePerIncidentNotOncePerCall) {
  auto path = "/tmp/troupe-cluster-" + std::to_string(::getpid()) + "-handoff-full.db";
  tc::testing::remove_store("sqlite:" + path);
  {
    // a alone runs the shard of entity `id`; when b joins, allocation moves that shard to b and
    // a hands it off. The entity ignores the stop message, so the hand-off lasts its timeout
    // (10 s, past the test's end): of the calls a makes meanwhile, two wait in the buffer and
    // the rest go to dead letters. a's debug lines say when the hand-off starts.
    auto logs = std::make_shared<tc::testing::log_lines>();
    tc::testing::in_process_node a("a", path, {.name = "handoff-full", .heartbeat_interval = 50ms}, logs,
                                   troupe::log_level::debug);
    const tc::sharded_entity<device_msg> spec{.type = "stubborn", .make = tc::testing::echo,
                                              .stop_message = device_msg{tc::testing::hold{}}, .shards = 8,
                                              .handoff_buffer = 2, .handoff_timeout = 10s};
    auto region = tc::shard_region<device_msg>::start(*a.c, spec);
    std::string id, shard;
    for (int k = 0; id.empty(); ++k) {
      shard = std::to_string(region.shard_of("e" + std::to_string(k)));
      if (tc::hash_placement{}.choose("shard.stubborn", shard, {"a", "b"}, "a") == "b") id = "e" + std::to_string(k);
    }
    auto first = region.entity(id).ask<std::int64_t>([](troupe::ref<std::int64_t> r) { return add{1, r}; }, 10s).get();
    ASSERT_TRUE(first.has_value()) << first.error().message() << "\n" << logs->all();
    auto refused = std::make_shared<std::atomic<int>>(0);
    a.sys->subscribe_dead_letters(a.sys->spawn(troupe::receive<troupe::dead_letter>([refused](const troupe::dead_letter& d) {
      if (d.reason == troupe::dead_letter_reason::mailbox_full) refused->fetch_add(1);
      return troupe::same;
    })));

    tc::testing::in_process_node b("b", path, {.name = "handoff-full", .heartbeat_interval = 50ms}, logs);
    ASSERT_TRUE(tc::testing::wait_until([&] { return logs->count("shard.stubborn/" + shard + ": handing off to 'b'") == 1; }))
        << logs->all();
    constexpr int calls = 20;
    auto ignored = troupe::make_function_ref<std::int64_t>([](std::int64_t&&) {});
    for (int n = 0; n < calls; ++n) region.entity(id).tell(add{n, ignored});
    ASSERT_TRUE(tc::testing::wait_until([&] { return refused->load() == calls - 2; }))
        << refused->load() << " of " << calls - 2 << " calls to dead letters\n" << logs->all();
    const std::string full = "the hand-off buffer is full (2 calls)";
    const std::string summary = "17 more call(s) went to dead letters: a hand-off buffer was full";
    EXPECT_EQ(logs->count(full), 1u) << logs->all();
    // The next idle check (told here at once) says how many were not logged.
    a.service<tc::detail::shard_msg<device_msg>>("shard.stubborn").tell(tc::detail::grain_idle_tick{});
    EXPECT_TRUE(tc::testing::wait_until([&] { return logs->count(summary) == 1; })) << logs->all();
  }
  tc::testing::remove_store("sqlite:" + path);
}

}  // namespace
