// connections: hold C concurrent TCP connections on loopback, an actor each, all echoing.
// The servers run in processes of their own (troupe-echo, or with --erlang=1 the Erlang peer in
// erlang/echo.erl), so that their resident memory is theirs alone; troupe-load (a separate
// process too) opens the C connections from 127.0.0.x source addresses, echoes once on each,
// and says CONNECTED; the resident sets of the servers are read then (RSS growth / C is
// bytes_per_connection, user space only: socket buffers are kernel memory); then it runs
// --seconds of echoes at --rate per second and reports latency.
//
// Flags: --c=<connections> (100000) --rate=<echoes/s> (20000) --seconds=<s> (10) --size=<bytes> (32)
//        --procs=<server processes> (0: as many as the file limit needs, ~18,000 connections each)
//        --erlang=1 (measure the Erlang peer instead)
//        --connect-timeout=<s> (60) how long troupe-load may take to open and echo on every
//        connection; a million on two cores needs several minutes
// extra: bytes_per_connection, echoes_per_s, p50_us, p99_us, p999_us, server_procs, errors.
// ok=1 when every one of the C connections was held and echoed, with no error.
//
// websockets: the same harness, flags and figures with WebSockets: the servers are
// troupe-web-echo (an upgrade route, an actor per WebSocket) or erlang/ws_echo.erl, and
// troupe-load --ws=1 opens each connection with an upgrade and echoes one binary frame at a time.
#include <fcntl.h>
#include <netinet/in.h>
#include <poll.h>
#include <signal.h>
#include <spawn.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

#include <chrono>
#include <cstdio>
#include <cstring>
#include <filesystem>
#include <string>
#include <vector>

#include "program_flags.hpp"
#include "workload.hpp"

extern char** environ;

namespace troupe_bench {
namespace {

struct child {
  pid_t pid = -1;
  int in = -1;   // our end of its standard input
  int out = -1;  // our end of its standard output
  std::string buffered;
};

child spawn_child(const std::vector<std::string>& argv) {
  int in[2], out[2];
  child c;
  if (pipe2(in, O_CLOEXEC) != 0 || pipe2(out, O_CLOEXEC) != 0) return c;
  posix_spawn_file_actions_t fa;
  posix_spawn_file_actions_init(&fa);
  posix_spawn_file_actions_adddup2(&fa, in[0], 0);
  posix_spawn_file_actions_adddup2(&fa, out[1], 1);
  std::vector<char*> args;
  for (auto& a : argv) args.push_back(const_cast<char*>(a.c_str()));
  args.push_back(nullptr);
  if (posix_spawnp(&c.pid, args[0], &fa, nullptr, args.data(), environ) != 0) c.pid = -1;
  posix_spawn_file_actions_destroy(&fa);
  ::close(in[0]);
  ::close(out[1]);
  c.in = in[1];
  c.out = out[0];
  return c;
}

// The next line of the child's output that starts with `prefix`, waiting at most `timeout`.
std::string read_line(child& c, const char* prefix, std::chrono::seconds timeout) {
  auto end = std::chrono::steady_clock::now() + timeout;
  for (;;) {
    auto nl = c.buffered.find('\n');
    while (nl != std::string::npos) {
      std::string line = c.buffered.substr(0, nl);
      c.buffered.erase(0, nl + 1);
      if (line.rfind(prefix, 0) == 0) return line;
      std::fprintf(stderr, "%s\n", line.c_str());
      nl = c.buffered.find('\n');
    }
    auto left = std::chrono::duration_cast<std::chrono::milliseconds>(end - std::chrono::steady_clock::now());
    if (left.count() <= 0) return {};
    pollfd p{c.out, POLLIN, 0};
    if (poll(&p, 1, static_cast<int>(left.count())) <= 0) return {};
    char b[4096];
    auto r = read(c.out, b, sizeof b);
    if (r <= 0) return {};
    c.buffered.append(b, static_cast<std::size_t>(r));
  }
}

long long rss_of(pid_t pid) {
  std::string path = "/proc/" + std::to_string(pid) + "/status";
  FILE* f = std::fopen(path.c_str(), "r");
  if (f == nullptr) return -1;
  char line[256];
  long long kb = -1;
  while (std::fgets(line, sizeof line, f) != nullptr)
    if (std::strncmp(line, "VmRSS:", 6) == 0) kb = std::strtoll(line + 6, nullptr, 10);
  std::fclose(f);
  return kb * 1024;
}

long long field(const std::string& line, const char* key) {
  auto k = std::string(" ") + key + "=";
  auto p = line.find(k);
  if (p == std::string::npos) return -1;
  return std::strtoll(line.c_str() + p + k.size(), nullptr, 10);
}

std::uint16_t free_port() {
  int s = ::socket(AF_INET, SOCK_STREAM, 0);
  sockaddr_in a{};
  a.sin_family = AF_INET;
  a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  ::bind(s, reinterpret_cast<sockaddr*>(&a), sizeof a);
  socklen_t len = sizeof a;
  ::getsockname(s, reinterpret_cast<sockaddr*>(&a), &len);
  ::close(s);
  return ntohs(a.sin_port);
}

void stop_child(child& c) {
  if (c.pid <= 0) return;
  ::close(c.in);
  for (int i = 0; i < 100; ++i) {
    int st = 0;
    if (waitpid(c.pid, &st, WNOHANG) == c.pid) {
      ::close(c.out);
      return;
    }
    usleep(50'000);  // a harness waiting for a child process to exit, not a test
  }
  kill(c.pid, SIGKILL);
  int st = 0;
  waitpid(c.pid, &st, 0);
  ::close(c.out);
}

// What differs between the TCP and the WebSocket variants: the servers and the load's mode.
struct echo_kind {
  const char* troupe_server;  // next to troupe-bench
  const char* erlang_module;  // in erlang/, <module>.erl
  bool ws;                    // troupe-load --ws=1
};

outcome echo_harness(const flags& f, const echo_kind& kind) {
  const long long c = f.get("c", 100'000);
  const long long rate = f.get("rate", 20'000);
  const long long seconds = f.get("seconds", 10);
  const long long size = f.get("size", 32);
  const bool erlang = f.get("erlang", 0) != 0;
  long long procs = f.get("procs", 0);
  const long long connect_timeout = f.get("connect-timeout", 60);
  const auto max_files = troupe_bench::raise_file_limit();  // the servers inherit it (erl does not raise its own)
  const long long per_proc = static_cast<long long>(max_files) - 1000;  // room for the runtime's own
  if (procs <= 0) procs = (c + per_proc - 1) / per_proc;

  const std::string dir = std::filesystem::canonical("/proc/self/exe").parent_path().string();
  const std::uint16_t port = free_port();
  std::string erl_dir;
  if (erlang) {
    erl_dir = "/tmp/troupe-bench-erl-" + std::to_string(getpid());
    std::filesystem::create_directories(erl_dir);
    child erlc = spawn_child({"erlc", "-o", erl_dir,
                              std::string(TROUPE_BENCH_SOURCE_DIR "/erlang/") + kind.erlang_module + ".erl"});
    int st = 0;
    ::close(erlc.in);
    waitpid(erlc.pid, &st, 0);
    ::close(erlc.out);
    if (erlc.pid <= 0 || st != 0) {
      std::fprintf(stderr, "connections: erlc failed (are erlang-base and erlang-crypto installed?)\n");
      return {};
    }
  }
  std::vector<child> servers;
  for (long long i = 0; i < procs; ++i) {
    std::vector<std::string> argv;
    if (erlang)
      argv = {"erl", "-noshell", "+P", "4000000", "+Q", "1048576", "-pa", erl_dir, "-s", kind.erlang_module, "main",
              std::to_string(port), procs > 1 ? "1" : "0"};
    else
      argv = {dir + "/" + kind.troupe_server, "--port=" + std::to_string(port), "--reuseport=" + std::string(procs > 1 ? "1" : "0")};
    servers.push_back(spawn_child(argv));
    if (servers.back().pid <= 0 || read_line(servers.back(), "READY", std::chrono::seconds(60)).empty()) {
      std::fprintf(stderr, "connections: a server did not start\n");
      for (auto& s : servers) stop_child(s);
      return {};
    }
  }
  long long before = 0;
  for (auto& s : servers) before += rss_of(s.pid);

  child load = spawn_child({dir + "/troupe-load", "--port=" + std::to_string(port), "--c=" + std::to_string(c),
                            "--rate=" + std::to_string(rate), "--seconds=" + std::to_string(seconds),
                            "--size=" + std::to_string(size), "--wait-go=1", "--ws=" + std::string(kind.ws ? "1" : "0"),
                            "--connect-timeout=" + std::to_string(connect_timeout)});
  std::string connected = read_line(load, "CONNECTED", std::chrono::seconds(connect_timeout + 600));
  long long after = 0;
  for (auto& s : servers) after += rss_of(s.pid);
  if (write(load.in, "go\n", 3) < 0) { /* load has died: its missing LOAD line says so */ }
  std::string result = read_line(load, "LOAD", std::chrono::seconds(seconds + 120));
  stop_child(load);
  for (auto& s : servers) stop_child(s);
  if (!erl_dir.empty()) std::filesystem::remove_all(erl_dir);

  std::fprintf(stderr, "connections: %s\nconnections: %s\n", connected.c_str(), result.c_str());
  outcome o;
  const long long held = field(result, "held");
  const long long errors = field(connected, "errors") + field(result, "errors");
  o.value = held;
  o.ok = held == c && errors == 0;
  const long long per = held > 0 ? (after - before) / held : 0;
  o.extra = "bytes_per_connection:" + std::to_string(per) + ",echoes_per_s:" + std::to_string(field(result, "echoes_per_s")) +
            ",p99_us:" + std::to_string(field(result, "p99_us")) + ",p50_us:" + std::to_string(field(result, "p50_us")) +
            ",p999_us:" + std::to_string(field(result, "p999_us")) + ",server_procs:" + std::to_string(procs) +
            ",errors:" + std::to_string(errors) + ",server:" + (erlang ? "erlang" : "troupe");
  return o;
}

}  // namespace

outcome connections(troupe::system&, const flags& f) { return echo_harness(f, {"troupe-echo", "echo", false}); }

outcome websockets(troupe::system&, const flags& f) {
  return echo_harness(f, {"troupe-web-echo", "ws_echo", true});
}

}  // namespace troupe_bench
