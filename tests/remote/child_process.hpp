// child_process.hpp: a program run as a child process by a multi-node test (a remote node, a
// cluster node). The test writes command lines to its stdin and waits, with a deadline, for the
// lines it prints, so a test waits for what a node says ("listening on ...", "node_up a"), never
// for a fixed time. Every line is kept: expect() takes lines in order, wait_for() looks at all.
#pragma once

#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <chrono>
#include <fstream>
#include <iterator>
#include <optional>
#include <stdexcept>
#include <string>
#include <thread>
#include <vector>

namespace troupe_test {

class child_process {
 public:
  /// Runs `argv` (argv[0] found on PATH, as execvp does) with pipes on its stdin and stdout.
  explicit child_process(std::vector<std::string> argv) {
    int in[2], out[2];
    if (::pipe2(in, O_CLOEXEC) != 0 || ::pipe2(out, O_CLOEXEC) != 0) throw std::runtime_error("pipe failed");
    pid_ = ::fork();
    if (pid_ < 0) throw std::runtime_error("fork failed");
    if (pid_ == 0) {
      ::dup2(in[0], 0);
      ::dup2(out[1], 1);
      std::vector<char*> args;
      for (auto& a : argv) args.push_back(a.data());
      args.push_back(nullptr);
      ::execvp(args[0], args.data());
      ::_exit(127);
    }
    ::close(in[0]);
    ::close(out[1]);
    to_ = in[1];
    from_ = out[0];
  }
  ~child_process() {
    if (pid_ > 0) {
      ::kill(pid_, SIGKILL);
      ::waitpid(pid_, nullptr, 0);
    }
    ::close(to_);
    ::close(from_);
  }
  child_process(const child_process&) = delete;
  child_process& operator=(const child_process&) = delete;

  /// Sends one command line.
  void command(const std::string& line) {
    std::string l = line + "\n";
    if (::write(to_, l.data(), l.size()) != static_cast<ssize_t>(l.size())) throw std::runtime_error("write to child failed");
  }
  /// The next line not taken yet that starts with `prefix`, within `timeout`; it and the lines
  /// before it are taken (a later expect() looks only after it).
  std::optional<std::string> expect(const std::string& prefix, std::chrono::nanoseconds timeout) {
    auto deadline = std::chrono::steady_clock::now() + timeout;
    for (;;) {
      for (; taken_ < lines_.size(); ++taken_)
        if (lines_[taken_].rfind(prefix, 0) == 0) return lines_[taken_++];
      if (!read_some(deadline)) return std::nullopt;
    }
  }
  /// The first line ever printed that starts with `prefix`, waiting up to `timeout` for it.
  std::optional<std::string> wait_for(const std::string& prefix, std::chrono::nanoseconds timeout) {
    return wait_until([&](const std::string& l) { return l.rfind(prefix, 0) == 0; }, timeout);
  }
  /// The first line ever printed that contains `text`, waiting up to `timeout` for it.
  std::optional<std::string> wait_containing(const std::string& text, std::chrono::nanoseconds timeout) {
    return wait_until([&](const std::string& l) { return l.find(text) != std::string::npos; }, timeout);
  }
  /// Lines printed so far that start with `prefix` (reads what is waiting first).
  std::size_t count(const std::string& prefix) {
    while (read_some(std::chrono::steady_clock::now())) {
    }
    return static_cast<std::size_t>(
        std::count_if(lines_.begin(), lines_.end(), [&](const std::string& l) { return l.rfind(prefix, 0) == 0; }));
  }
  /// Waits up to `timeout` for more output; false if none came (or the process ended). For a
  /// test that watches several processes: it waits on one without spinning.
  bool wait_output(std::chrono::nanoseconds timeout) { return read_some(std::chrono::steady_clock::now() + timeout); }
  /// Every line printed so far, for failure messages.
  std::string log() const {
    std::string s;
    for (auto& l : lines_) s += l + "\n";
    return s;
  }

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
  template <class Match>
  std::optional<std::string> wait_until(Match match, std::chrono::nanoseconds timeout) {
    auto deadline = std::chrono::steady_clock::now() + timeout;
    for (std::size_t seen = 0;;) {
      for (; seen < lines_.size(); ++seen)
        if (match(lines_[seen])) return lines_[seen];
      if (!read_some(deadline)) return std::nullopt;
    }
  }
  // Reads what arrives before `deadline`; false once the deadline passed or the process ended.
  bool read_some(std::chrono::steady_clock::time_point deadline) {
    auto left = std::chrono::duration_cast<std::chrono::milliseconds>(deadline - std::chrono::steady_clock::now());
    pollfd p{from_, POLLIN, 0};
    if (::poll(&p, 1, static_cast<int>(std::max<long>(0, left.count()))) <= 0) return false;
    char chunk[4096];
    auto n = ::read(from_, chunk, sizeof chunk);
    if (n <= 0) return false;  // the process ended
    buf_.append(chunk, static_cast<std::size_t>(n));
    for (auto nl = buf_.find('\n'); nl != std::string::npos; nl = buf_.find('\n')) {
      lines_.push_back(buf_.substr(0, nl));
      buf_.erase(0, nl + 1);
    }
    return true;
  }

  pid_t pid_ = -1;
  int to_ = -1, from_ = -1;
  std::string buf_;
  std::vector<std::string> lines_;
  std::size_t taken_ = 0;  // lines before it were passed by expect()
};

}  // namespace troupe_test
