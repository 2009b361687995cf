// cluster_test_support.hpp: three node processes of one cluster, started one after the other
// (each waits until it has joined), for the grain and node-loss tests.
#pragma once

#include <gtest/gtest.h>

#include <chrono>
#include <memory>
#include <string>
#include <vector>

#include "cluster/cluster_process.hpp"

namespace troupe::cluster::testing {

class ClusterTest : public ::testing::TestWithParam<store_kind> {
 protected:
  /// Starts nodes a, b, c (extra options for each, and `own` options for each in turn) and waits
  /// until each sees all three up.
  void start(std::vector<std::string> extra = {}, std::vector<std::vector<std::string>> own = {}) {
    auto test = std::string(::testing::UnitTest::GetInstance()->current_test_info()->name());
    for (auto& c : test)
      if (c == '/') c = '-';
    cluster_ = test + "-" + std::to_string(::getpid()) + "-" +
               std::to_string(std::chrono::steady_clock::now().time_since_epoch().count() % 1000000007);
    store_ = store_arg(GetParam(), test);
    auto& store = store_;
    for (const char* n : {"a", "b", "c"}) {
      std::vector<std::string> args{"--name", n, "--cluster", cluster_, "--store", store};
      args.insert(args.end(), extra.begin(), extra.end());
      if (nodes_.size() < own.size()) args.insert(args.end(), own[nodes_.size()].begin(), own[nodes_.size()].end());
      nodes_.push_back(std::make_unique<cluster_process>(args));
    }
    for (auto& p : nodes_)
      for (const char* n : {"a", "b", "c"})
        ASSERT_TRUE(p->wait_for(std::string("member_up ") + n, std::chrono::seconds(10)))
            << p->name() << " never saw " << n << " up\n" << logs();
  }
  cluster_process& node(std::size_t i) { return *nodes_.at(i); }
  /// Runs `call <id> <key> <n>` on node i and returns the reply's total, or the error line.
  std::string call(std::size_t i, const std::string& key, long n, std::chrono::nanoseconds wait = std::chrono::seconds(5)) {
    auto id = std::to_string(++ids_);
    node(i).command("call " + id + " " + key + " " + std::to_string(n));
    return answer(i, id, wait);
  }
  /// The answer to request `id` on node i: the total, "error ...", or "none" at the deadline.
  std::string answer(std::size_t i, const std::string& id, std::chrono::nanoseconds wait) {
    auto deadline = std::chrono::steady_clock::now() + wait;
    for (;;) {
      if (auto r = node(i).wait_for("reply " + id + " ", std::chrono::milliseconds(10))) return r->substr(7 + id.size());
      if (auto e = node(i).wait_for("error " + id + " ", std::chrono::milliseconds(10))) return *e;
      if (std::chrono::steady_clock::now() > deadline) return "none";
    }
  }
  std::size_t activations(const std::string& key) {
    std::size_t n = 0;
    for (auto& p : nodes_)
      if (p) n += p->count("activated " + key);
    return n;
  }
  std::string logs() {
    std::string s;
    for (auto& p : nodes_)
      if (p) s += p->log();
    return s;
  }
  std::string next_id() { return std::to_string(++ids_); }

  void TearDown() override {
    nodes_.clear();  // kills the nodes first
    remove_store(store_);
  }

  std::string cluster_, store_;
  std::vector<std::unique_ptr<cluster_process>> nodes_;
  int ids_ = 0;
};

}  // namespace troupe::cluster::testing
