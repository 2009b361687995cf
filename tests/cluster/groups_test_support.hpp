// groups_test_support.hpp: what the cluster's group and receptionist tests share: asking a node
// for a group's (or a key's) members until they are what the test expects, with a deadline, and
// starting a fourth node late.
#pragma once

#include <gtest/gtest.h>

#include <chrono>
#include <memory>
#include <string>
#include <vector>

#include "cluster/cluster_test_support.hpp"

namespace troupe::cluster::testing {

class GroupsTest : public ClusterTest {
 protected:
  /// Runs `<cmd> <id> <group>` (pg_members or svc_find) on node i until it answers `expect`
  /// (the members' names, sorted, comma-separated) or `within` has passed; returns the last answer.
  std::string until(std::size_t i, const std::string& cmd, const std::string& group, const std::string& expect,
                    std::chrono::nanoseconds within = std::chrono::seconds(5)) {
    auto deadline = std::chrono::steady_clock::now() + within;
    std::string last = "none";
    do {
      auto id = next_id();
      auto prefix = cmd + " " + id + " ";
      node(i).command(cmd + " " + id + " " + group);
      auto line = node(i).wait_for(prefix, std::chrono::seconds(10));
      last = line ? line->substr(prefix.size()) : "none";
      if (last == expect) return last;
    } while (std::chrono::steady_clock::now() < deadline);
    return last;
  }
  /// Runs `line` on node i and waits for its acknowledgement `ack`.
  void run(std::size_t i, const std::string& line, const std::string& ack) {
    node(i).command(line);
    ASSERT_TRUE(node(i).wait_for(ack, std::chrono::seconds(5))) << line << "\n" << logs();
  }
  /// Starts node "d" in the cluster of a, b and c, and waits until it sees all four up.
  void start_late_node() {
    nodes_.push_back(std::make_unique<cluster_process>(std::vector<std::string>{"--name", "d", "--cluster", cluster_, "--store", store_}));
    for (const char* n : {"a", "b", "c", "d"})
      ASSERT_TRUE(nodes_.back()->wait_for(std::string("member_up ") + n, std::chrono::seconds(10))) << logs();
  }
};

}  // namespace troupe::cluster::testing
