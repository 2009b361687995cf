// node_process.hpp: runs tests/remote/node_main.cpp as a child process for multi-node tests
// (see child_process.hpp for how a test talks to it and waits for its lines).
#pragma once

#include <chrono>
#include <stdexcept>
#include <string>
#include <vector>

#include "child_process.hpp"

namespace troupe::remote::testing {

class node_process : public troupe_test::child_process {
 public:
  /// Runs the node with `args`, and returns once it says where it listens; `prefix` (e.g.
  /// {"ip", "netns", "exec", "ns"}) runs it through another program.
  explicit node_process(std::vector<std::string> args, std::vector<std::string> prefix = {})
      : child_process(command_line(std::move(args), std::move(prefix))) {
    auto line = expect("listening on ", std::chrono::seconds(10));
    if (!line) throw std::runtime_error("node process did not start: " + log());
    address_ = line->substr(13);
  }

  /// "name@127.0.0.1:port", as the node printed it.
  const std::string& address() const { return address_; }
  std::string name() const { return address_.substr(0, address_.find('@')); }

 private:
  static std::vector<std::string> command_line(std::vector<std::string> args, std::vector<std::string> prefix) {
    static const std::string exe = TROUPE_REMOTE_NODE;
    prefix.push_back(exe);
    prefix.insert(prefix.end(), args.begin(), args.end());
    return prefix;
  }

  std::string address_;
};

}  // namespace troupe::remote::testing
