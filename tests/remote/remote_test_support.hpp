// remote_test_support.hpp: waits with deadlines on what an in-process node reports (node events,
// payloads, log lines), so the remote tests never sleep.
#pragma once

#include <chrono>
#include <condition_variable>
#include <cstdint>
#include <deque>
#include <mutex>
#include <optional>
#include <string>
#include <variant>
#include <vector>

#include "troupe/core/system.hpp"
#include "troupe/remote/node.hpp"

namespace troupe::remote::testing {

/// Lines of text pushed by any thread, awaited by the test thread.
class line_queue {
 public:
  void push(std::string s) {
    std::lock_guard lk(mu_);
    all_.push_back(s);
    q_.push_back(std::move(s));
    cv_.notify_all();
  }
  /// The next line starting with `prefix` within `timeout` (earlier other lines are skipped).
  std::optional<std::string> expect(const std::string& prefix, std::chrono::nanoseconds timeout) {
    std::unique_lock lk(mu_);
    auto deadline = std::chrono::steady_clock::now() + timeout;
    for (;;) {
      while (!q_.empty()) {
        auto s = std::move(q_.front());
        q_.pop_front();
        if (s.rfind(prefix, 0) == 0) return s;
      }
      if (cv_.wait_until(lk, deadline) == std::cv_status::timeout && q_.empty()) return std::nullopt;
    }
  }
  /// True if any line so far contains `text`.
  bool saw(const std::string& text) {
    std::lock_guard lk(mu_);
    for (auto& s : all_)
      if (s.find(text) != std::string::npos) return true;
    return false;
  }
  std::string all() {
    std::lock_guard lk(mu_);
    std::string r;
    for (auto& s : all_) r += s + "\n";
    return r;
  }

 private:
  std::mutex mu_;
  std::condition_variable cv_;
  std::deque<std::string> q_;
  std::vector<std::string> all_;
};

/// How many times slower this build runs the node's own work than a plain one: the sanitizers'
/// documented typical slowdowns (ThreadSanitizer 5-15x, so 8; AddressSanitizer about 2x). A test
/// of a timing claim under load (a busy node is not declared down) divides its load by it, so
/// that the work the node does within one deadline is what it is in a plain build: the claim
/// is about the defaults' margin over that work, not about the sanitizer's overhead.
inline constexpr unsigned sanitizer_slowdown =
#if defined(__SANITIZE_THREAD__)
    8;
#elif defined(__SANITIZE_ADDRESS__)
    2;
#elif defined(__has_feature)
#if __has_feature(thread_sanitizer)
    8;
#elif __has_feature(address_sanitizer)
    2;
#else
    1;
#endif
#else
    1;
#endif

/// A system with one worker (the tests are small).
inline system_config one_worker() {
  system_config c;
  c.worker_threads = 1;
  return c;
}

/// A node named `name` with the cookie the node processes use by default.
inline node_config named(std::string name, std::string cookie = "test-cookie") {
  node_config c;
  c.name = std::move(name);
  c.cookie = std::move(cookie);
  return c;
}

/// A system whose log lines go to `logs`, with one worker (the tests are small).
inline system_config logging_config(line_queue& logs) {
  system_config c;
  c.worker_threads = 1;
  c.logger = [&logs](log_level, std::string_view text) { logs.push("log " + std::string(text)); };
  return c;
}

/// Sends a node's events ("node_up b", "node_down b <reason>", "got b <lane> <size>") to `q`.
inline void watch_node(node& n, line_queue& q) {
  n.add_monitor([&q](std::variant<node_up, node_down> e) {
    if (auto* u = std::get_if<node_up>(&e)) q.push("node_up " + u->node);
    else q.push("node_down " + std::get<node_down>(e).node + " " + std::get<node_down>(e).reason);
  });
  n.on_payload([&q](const std::string& from, std::uint64_t lane, std::string&& p) {
    q.push("got " + from + " " + std::to_string(lane) + " " + std::to_string(p.size()));
  });
}

}  // namespace troupe::remote::testing
