// cluster_process.hpp: runs tests/cluster/cluster_node_main.cpp as a child process. Every line the
// node prints is kept, so a test can wait (with a deadline) for any line, in any order, and count
// lines afterwards ("activated k" on every node); nothing is consumed by waiting for another line.
#pragma once

#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <sys/wait.h>
#include <unistd.h>

#include <gtest/gtest.h>

#include <chrono>
#include <cstdlib>
#include <fstream>
#include <functional>
#include <optional>
#include <stdexcept>
#include <string>
#include <vector>

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

class cluster_process {
 public:
  explicit cluster_process(std::vector<std::string> args) {
    int in[2], out[2];
    if (::pipe2(in, O_CLOEXEC) != 0 || ::pipe2(out, O_CLOEXEC) != 0) throw std::runtime_error("pipe failed");
    pid_ = ::fork();
    if (pid_ < 0) throw std::runtime_error("fork failed");
    if (pid_ == 0) {
      ::dup2(in[0], 0);
      ::dup2(out[1], 1);
      std::string exe = TROUPE_CLUSTER_NODE;
      std::vector<char*> argv{exe.data()};
      for (auto& a : args) argv.push_back(a.data());
      argv.push_back(nullptr);
      ::execv(argv[0], argv.data());
      ::_exit(127);
    }
    ::close(in[0]);
    ::close(out[1]);
    to_ = in[1];
    from_ = out[0];
    auto line = wait_for("listening on ", std::chrono::seconds(20));
    if (!line) throw std::runtime_error("cluster node did not start: " + log());
    address_ = line->substr(13);
    name_ = address_.substr(0, address_.find('@'));
  }
  ~cluster_process() {
    if (pid_ > 0) {
      ::kill(pid_, SIGKILL);
      ::waitpid(pid_, nullptr, 0);
    }
    ::close(to_);
    ::close(from_);
  }
  cluster_process(const cluster_process&) = delete;
  cluster_process& operator=(const cluster_process&) = delete;

  const std::string& name() const { return name_; }
  void command(const std::string& line) {
    std::string l = line + "\n";
    if (::write(to_, l.data(), l.size()) != static_cast<ssize_t>(l.size())) throw std::runtime_error("write to node failed");
  }
  /// The first line (ever printed) starting with `prefix`, waiting up to `timeout` for it.
  std::optional<std::string> wait_for(const std::string& prefix, std::chrono::nanoseconds timeout) {
    auto deadline = std::chrono::steady_clock::now() + timeout;
    for (;;) {
      for (auto& l : lines_)
        if (l.rfind(prefix, 0) == 0) return l;
      if (!read_some(deadline)) return std::nullopt;
    }
  }
  /// The first line containing `text`, waiting up to `timeout` for it.
  std::optional<std::string> wait_containing(const std::string& text, std::chrono::nanoseconds timeout) {
    auto deadline = std::chrono::steady_clock::now() + timeout;
    for (;;) {
      for (auto& l : lines_)
        if (l.find(text) != std::string::npos) return l;
      if (!read_some(deadline)) return std::nullopt;
    }
  }
  /// Lines printed so far that start with `prefix` (reads what is waiting first).
  std::size_t count(const std::string& prefix) {
    while (read_some(std::chrono::steady_clock::now())) {
    }
    std::size_t n = 0;
    for (auto& l : lines_)
      if (l.rfind(prefix, 0) == 0) ++n;
    return n;
  }
  std::string log() const {
    std::string s;
    for (auto& l : lines_) s += name_ + "| " + l + "\n";
    return s;
  }
  void signal(int sig) { ::kill(pid_, sig); }
  void kill9() {
    ::kill(pid_, SIGKILL);
    ::waitpid(pid_, nullptr, 0);
    pid_ = -1;
  }

 private:
  // Reads what arrives before `deadline`; false once the deadline passed or the process ended.
  bool read_some(std::chrono::steady_clock::time_point deadline) {
    auto left = std::chrono::duration_cast<std::chrono::milliseconds>(deadline - std::chrono::steady_clock::now());
    pollfd p{from_, POLLIN, 0};
    if (::poll(&p, 1, static_cast<int>(std::max<long>(0, left.count()))) <= 0) return false;
    char chunk[4096];
    auto n = ::read(from_, chunk, sizeof chunk);
    if (n <= 0) return false;
    buf_.append(chunk, static_cast<std::size_t>(n));
    for (auto nl = buf_.find('\n'); nl != std::string::npos; nl = buf_.find('\n')) {
      lines_.push_back(buf_.substr(0, nl));
      buf_.erase(0, nl + 1);
    }
    return true;
  }

  pid_t pid_ = -1;
  int to_ = -1, from_ = -1;
  std::string buf_, address_, name_;
  std::vector<std::string> lines_;
};

}  // namespace troupe::cluster::testing
