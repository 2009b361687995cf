// node_process.hpp: runs tests/remote/node_main.cpp as a child process for multi-node tests.
// The test talks to it through its stdin and reads its stdout line by line with a deadline, so
// a test waits for what the node says ("listening on ...", "node_up a"), never for a fixed time.
#pragma once

#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <sys/wait.h>
#include <unistd.h>

#include <chrono>
#include <fstream>
#include <iterator>
#include <optional>
#include <stdexcept>
#include <string>
#include <thread>
#include <vector>

namespace troupe::remote::testing {

class node_process {
 public:
  /// Runs the node with `args`; `prefix` (e.g. {"ip", "netns", "exec", "ns"}) runs it through
  /// another program.
  explicit node_process(std::vector<std::string> args, std::vector<std::string> prefix = {}) {
    int in[2], out[2];
    if (::pipe2(in, O_CLOEXEC) != 0 || ::pipe2(out, O_CLOEXEC) != 0) throw std::runtime_error("pipe failed");
    pid_ = ::fork();
    if (pid_ < 0) throw std::runtime_error("fork failed");
    if (pid_ == 0) {
      ::dup2(in[0], 0);
      ::dup2(out[1], 1);
      std::vector<char*> argv;
      std::string exe = TROUPE_REMOTE_NODE;
      for (auto& p : prefix) argv.push_back(p.data());
      argv.push_back(exe.data());
      for (auto& a : args) argv.push_back(a.data());
      argv.push_back(nullptr);
      ::execvp(argv[0], argv.data());
      ::_exit(127);
    }
    ::close(in[0]);
    ::close(out[1]);
    to_ = in[1];
    from_ = out[0];
    auto line = expect("listening on ", std::chrono::seconds(10));
    if (!line) throw std::runtime_error("node process did not start: " + log_);
    address_ = line->substr(13);
  }
  ~node_process() {
    if (pid_ > 0) {
      ::kill(pid_, SIGKILL);
      ::waitpid(pid_, nullptr, 0);
    }
    ::close(to_);
    ::close(from_);
  }
  node_process(const node_process&) = delete;
  node_process& operator=(const node_process&) = delete;

  /// "name@127.0.0.1:port", as the node printed it.
  const std::string& address() const { return address_; }
  std::string name() const { return address_.substr(0, address_.find('@')); }
  /// Sends one command line.
  void command(const std::string& line) {
    std::string l = line + "\n";
    if (::write(to_, l.data(), l.size()) != static_cast<ssize_t>(l.size())) throw std::runtime_error("write to node failed");
  }
  /// The next line starting with `prefix` within `timeout` (other lines are kept in log()).
  std::optional<std::string> expect(const std::string& prefix, std::chrono::nanoseconds timeout) {
    auto deadline = std::chrono::steady_clock::now() + timeout;
    for (;;) {
      auto nl = buf_.find('\n');
      while (nl != std::string::npos) {
        std::string line = buf_.substr(0, nl);
        buf_.erase(0, nl + 1);
        log_ += line + "\n";
        if (line.rfind(prefix, 0) == 0) return line;
        nl = buf_.find('\n');
      }
      auto left = std::chrono::duration_cast<std::chrono::milliseconds>(deadline - std::chrono::steady_clock::now());
      if (left.count() <= 0) return std::nullopt;
      pollfd p{from_, POLLIN, 0};
      if (::poll(&p, 1, static_cast<int>(left.count())) <= 0) continue;
      char chunk[4096];
      auto n = ::read(from_, chunk, sizeof chunk);
      if (n <= 0) return std::nullopt;  // the process ended
      buf_.append(chunk, static_cast<std::size_t>(n));
    }
  }
  /// Everything the process printed so far, for failure messages.
  const std::string& log() const { return log_; }
  void signal(int sig) { ::kill(pid_, sig); }
  /// SIGSTOP, and returns once the kernel shows the process stopped (state T in /proc), at most
  /// 5 s: kill() only queues the signal, and a process running on another core may still answer
  /// a message or two before it stops. True if it stopped in time.
  bool freeze() {
    ::kill(pid_, SIGSTOP);
    const auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(5);
    const std::string path = "/proc/" + std::to_string(pid_) + "/stat";
    while (std::chrono::steady_clock::now() < deadline) {
      std::ifstream f(path);
      std::string stat((std::istreambuf_iterator<char>(f)), std::istreambuf_iterator<char>());
      auto close = stat.rfind(')');  // the state follows the command name, which may hold spaces
      if (close != std::string::npos && close + 2 < stat.size() && stat[close + 2] == 'T') return true;
      std::this_thread::yield();
    }
    return false;
  }
  /// kill -9 and reap.
  void kill9() {
    ::kill(pid_, SIGKILL);
    ::waitpid(pid_, nullptr, 0);
    pid_ = -1;
  }

 private:
  pid_t pid_ = -1;
  int to_ = -1, from_ = -1;
  std::string buf_, log_, address_;
};

}  // namespace troupe::remote::testing
