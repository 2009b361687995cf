// cluster_process.hpp: runs tests/cluster/cluster_node_main.cpp as a child process. Every line the
// node prints is kept, so a test can wait (with a deadline) for any line, in any order, and count
// lines afterwards ("activated k" on every node); nothing is consumed by waiting for another line.
// Also the stores a test's nodes share.
#pragma once

#include <unistd.h>

#include <gtest/gtest.h>

#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <stdexcept>
#include <string>
#include <vector>

#include "remote/child_process.hpp"

namespace troupe::cluster::testing {

/// Which store the nodes of a test share.
enum class store_kind { sqlite, postgres };

inline void PrintTo(store_kind k, std::ostream* os) { *os << (k == store_kind::sqlite ? "sqlite" : "postgres"); }

/// Names the parameterized tests' instances: .../sqlite, .../postgres.
inline std::string store_name(const ::testing::TestParamInfo<store_kind>& i) {
  return i.param == store_kind::sqlite ? "sqlite" : "postgres";
}

/// Removes a SQLite store made by store_arg (and its WAL files); nothing for PostgreSQL.
inline void remove_store(const std::string& arg) {
  if (arg.rfind("sqlite:", 0) != 0) return;
  auto path = arg.substr(7);
  std::remove(path.c_str());
  std::remove((path + "-wal").c_str());
  std::remove((path + "-shm").c_str());
}

/// The --store argument of a node: a fresh SQLite file, or the test PostgreSQL server.
inline std::string store_arg(store_kind k, const std::string& test_name) {
  if (k == store_kind::sqlite) {
    auto path = "/tmp/troupe-cluster-" + std::to_string(::getpid()) + "-" + test_name + ".db";
    std::remove(path.c_str());
    std::remove((path + "-wal").c_str());
    std::remove((path + "-shm").c_str());
    return "sqlite:" + path;
  }
  const char* f = std::getenv("TROUPE_PG_CONNINFO_FILE");
  if (!f) throw std::runtime_error("TROUPE_PG_CONNINFO_FILE is not set: run through ctest (fixture PostgresCluster.Start)");
  return std::string("pgfile:") + f;
}

/// A cluster node (tests/cluster/cluster_node_main.cpp) in a child process; its lines stay
/// readable in any order (wait_for, count), see child_process.hpp.
class cluster_process : public troupe_test::child_process {
 public:
  /// Runs the node with `args`, and returns once it says where it listens; `prefix` (e.g.
  /// network_namespaces::exec_in(ns)) runs it through another program.
  explicit cluster_process(std::vector<std::string> args, std::vector<std::string> prefix = {})
      : child_process(command_line(std::move(args), std::move(prefix))) {
    auto line = wait_for("listening on ", std::chrono::seconds(20));
    if (!line) throw std::runtime_error("cluster node did not start: " + log());
    address_ = line->substr(13);
    name_ = address_.substr(0, address_.find('@'));
  }

  const std::string& name() const { return name_; }
  /// Every line so far, each after the node's name, for failure messages of several nodes.
  std::string log() const {
    std::string s, all = child_process::log();
    for (std::size_t at = 0, nl; (nl = all.find('\n', at)) != std::string::npos; at = nl + 1)
      s += name_ + "| " + all.substr(at, nl + 1 - at);
    return s;
  }

 private:
  static std::vector<std::string> command_line(std::vector<std::string> args, std::vector<std::string> prefix) {
    static const std::string exe = TROUPE_CLUSTER_NODE;
    prefix.push_back(exe);
    prefix.insert(prefix.end(), args.begin(), args.end());
    return prefix;
  }

  std::string address_, name_;
};

}  // namespace troupe::cluster::testing
