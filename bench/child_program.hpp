// child_program.hpp: another process a bench program starts beside itself (node b of the remote
// workloads, nodes b and c of the cluster ones), spoken to through its standard input and read
// through its standard output. It ends when its standard input closes; the destructor waits.
#pragma once

#include <spawn.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cstdio>
#include <optional>
#include <string>
#include <vector>

extern char** environ;

namespace troupe_bench {

/// A started program and its pipes.
///
///     child_program b;
///     if (!b.start({"/proc/self/exe", "remote_serve"}) || !b.line_starting("listening on ")) ...
class child_program {
 public:
  child_program() = default;
  child_program(const child_program&) = delete;
  child_program& operator=(const child_program&) = delete;
  ~child_program() {
    if (in_ >= 0) ::close(in_);  // the program exits when its standard input closes
    if (pid_ > 0) ::waitpid(pid_, nullptr, 0);
    if (out_ != nullptr) std::fclose(out_);
  }

  /// Starts `args` (the first found on PATH) with its standard input and output piped to us.
  bool start(std::vector<std::string> args) {
    int to[2], from[2];
    if (::pipe(to) != 0 || ::pipe(from) != 0) return false;
    posix_spawn_file_actions_t fa;
    posix_spawn_file_actions_init(&fa);
    posix_spawn_file_actions_adddup2(&fa, to[0], 0);
    posix_spawn_file_actions_adddup2(&fa, from[1], 1);
    posix_spawn_file_actions_addclose(&fa, to[1]);
    posix_spawn_file_actions_addclose(&fa, from[0]);
    std::vector<char*> argv;
    for (auto& a : args) argv.push_back(a.data());
    argv.push_back(nullptr);
    int rc = ::posix_spawnp(&pid_, argv[0], &fa, nullptr, argv.data(), environ);
    posix_spawn_file_actions_destroy(&fa);
    ::close(to[0]);
    ::close(from[1]);
    in_ = to[1];
    out_ = ::fdopen(from[0], "r");
    if (rc != 0) pid_ = -1;
    return rc == 0 && out_ != nullptr;
  }

  /// The rest of the first line it prints that starts with `prefix` (its line end cut off), or
  /// nothing if it ends first.
  std::optional<std::string> line_starting(const std::string& prefix) {
    char line[512];
    while (out_ != nullptr && std::fgets(line, sizeof line, out_) != nullptr) {
      std::string l(line);
      if (l.rfind(prefix, 0) != 0) continue;
      auto end = l.find_last_not_of("\r\n");
      return end == std::string::npos || end < prefix.size() ? std::string{} : l.substr(prefix.size(), end + 1 - prefix.size());
    }
    return std::nullopt;
  }

 private:
  pid_t pid_ = -1;
  int in_ = -1;
  FILE* out_ = nullptr;
};

}  // namespace troupe_bench
