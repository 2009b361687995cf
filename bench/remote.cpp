// remote_throughput, remote_pingpong: troupe's remote layer beside Erlang distribution
// (../shared/peers/remote: two nodes on loopback, one core each). This process is node a, the
// driver, pinned to core 0 (--pin=0 leaves it alone); it starts node b, `troupe-bench
// remote_serve`, pinned to core 1 with taskset, and reads its address from its output.
//   remote_throughput --n=<messages> (2,000,000): one-way 100-byte messages to an actor on b
//     that counts them; seconds from the first send until b's answer to a `finish` sent after
//     the last one (same lane, so it arrives after them all); 10,000 messages of warm-up.
//     extra: msgs_per_s. ok=1 when b counted exactly n.
//   remote_pingpong --m=<round trips> (20,000): asks carrying the 100-byte payload, one at a
//     time, each waiting for its echo. extra: p50_us, p99_us.
// Both use --threads=1 for one core per node: one worker, the node thread, the decoder thread.
#include <sched.h>
#include <signal.h>
#include <spawn.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <chrono>
#include <cstdio>
#include <iostream>
#include <string>
#include <thread>
#include <variant>
#include <vector>

#include "troupe/remote/node.hpp"
#include "workload.hpp"

extern char** environ;

namespace troupe_bench {
namespace {

struct data {
  std::string bytes;
};
struct finish {
  troupe::ref<std::int64_t> reply_to;
};
struct ping {
  std::string bytes;
  troupe::ref<std::string> reply_to;
};
using sink_msg = std::variant<data, finish, ping>;

troupe::behavior<sink_msg> sink(std::int64_t count) {
  return troupe::receive<sink_msg>([count](const data&) { return sink(count + 1); },
                                   [count](const finish& f) {
                                     f.reply_to.tell(count);
                                     return sink(0);
                                   },
                                   [count](const ping& p) {
                                     p.reply_to.tell(p.bytes);
                                     return sink(count);
                                   });
}

const std::string cookie = "troupe-bench-remote";

struct server {
  pid_t pid = -1;
  FILE* out = nullptr;
  int in = -1;
  std::string address;
  ~server() {
    if (in >= 0) ::close(in);  // b exits when its standard input closes
    if (pid > 0) ::waitpid(pid, nullptr, 0);
    if (out) std::fclose(out);
  }
};

// Starts `taskset -c 1 <this program> remote_serve` and waits for its address.
bool start_server(server& s, bool pin) {
  int to[2], from[2];
  if (::pipe(to) != 0 || ::pipe(from) != 0) return false;
  posix_spawn_file_actions_t fa;
  posix_spawn_file_actions_init(&fa);
  posix_spawn_file_actions_adddup2(&fa, to[0], 0);
  posix_spawn_file_actions_adddup2(&fa, from[1], 1);
  posix_spawn_file_actions_addclose(&fa, to[1]);
  posix_spawn_file_actions_addclose(&fa, from[0]);
  std::string self = "/proc/self/exe";
  char buf[4096];
  auto n = ::readlink("/proc/self/exe", buf, sizeof buf - 1);
  if (n > 0) self.assign(buf, static_cast<std::size_t>(n));
  std::vector<std::string> args;
  if (pin) args = {"taskset", "-c", "1"};
  args.insert(args.end(), {self, "remote_serve"});
  std::vector<char*> argv;
  for (auto& a : args) argv.push_back(a.data());
  argv.push_back(nullptr);
  int rc = ::posix_spawnp(&s.pid, argv[0], &fa, nullptr, argv.data(), environ);
  posix_spawn_file_actions_destroy(&fa);
  ::close(to[0]);
  ::close(from[1]);
  s.in = to[1];
  s.out = ::fdopen(from[0], "r");
  if (rc != 0 || s.out == nullptr) return false;
  char line[512];
  while (std::fgets(line, sizeof line, s.out) != nullptr) {
    std::string l(line);
    if (l.rfind("listening on ", 0) == 0) {
      s.address = l.substr(13, l.find_last_not_of("\r\n") - 12);
      return true;
    }
  }
  return false;
}

void pin_to_core0() {
  cpu_set_t set;
  CPU_ZERO(&set);
  CPU_SET(0, &set);
  (void)::sched_setaffinity(0, sizeof set, &set);
}

struct driver {
  server b;
  std::unique_ptr<troupe::remote::node> a;
  troupe::ref<sink_msg> target;
  std::string error;
};

bool connect(troupe::system& sys, const flags& f, driver& d) {
  const bool pin = f.get("pin", 1) != 0;
  if (pin) pin_to_core0();
  if (!start_server(d.b, pin)) {
    d.error = "node b did not start";
    return false;
  }
  d.a = std::make_unique<troupe::remote::node>(sys, troupe::remote::node_config{.name = "a", .cookie = cookie});
  auto r = d.a->lookup<sink_msg>("sink", d.b.address).get();
  if (!r) {
    d.error = r.error().message();
    return false;
  }
  d.target = *r;
  return true;
}

// Sends n messages, waiting whenever the connection's send queue is full.
void send_all(const troupe::ref<sink_msg>& to, std::int64_t n, const std::string& bytes) {
  for (std::int64_t i = 0; i < n; ++i)
    while (!to.try_tell(data{bytes})) std::this_thread::yield();
}

std::int64_t finish_and_count(const troupe::ref<sink_msg>& to) {
  auto r = to.ask<std::int64_t>([](troupe::ref<std::int64_t> reply_to) { return finish{reply_to}; }, std::chrono::seconds(300))
               .get();
  return r ? *r : -1;
}

}  // namespace

outcome remote_serve(troupe::system& sys, const flags&) {
  troupe::remote::node b{sys, {.name = "b", .cookie = cookie}};
  (void)b.publish("sink", sys.spawn(sink(0)));
  std::printf("listening on %s\n", b.address().c_str());
  std::fflush(stdout);
  std::string line;
  while (std::getline(std::cin, line)) {
  }
  return {true, 0, {}};
}

outcome remote_throughput(troupe::system& sys, const flags& f) {
  const auto n = f.get("n", 2'000'000);
  const std::string bytes(100, 'x');
  driver d;
  if (!connect(sys, f, d)) return {false, 0, "error:" + d.error};
  send_all(d.target, 10'000, bytes);  // warm-up
  if (finish_and_count(d.target) != 10'000) return {false, 0, "error:warm-up lost messages"};
  auto t0 = std::chrono::steady_clock::now();
  send_all(d.target, n, bytes);
  auto counted = finish_and_count(d.target);
  std::chrono::duration<double> s = std::chrono::steady_clock::now() - t0;
  char extra[64];
  std::snprintf(extra, sizeof extra, "msgs_per_s:%.0f", static_cast<double>(n) / s.count());
  return {counted == n, counted, extra};
}

outcome remote_pingpong(troupe::system& sys, const flags& f) {
  const auto m = f.get("m", 20'000);
  const std::string bytes(100, 'x');
  driver d;
  if (!connect(sys, f, d)) return {false, 0, "error:" + d.error};
  auto once = [&] {
    auto r = d.target.ask<std::string>([&](troupe::ref<std::string> reply_to) { return ping{bytes, reply_to}; },
                                       std::chrono::seconds(10))
                 .get();
    return r && r->size() == bytes.size();
  };
  for (int i = 0; i < 1000; ++i)
    if (!once()) return {false, 0, "error:warm-up ping failed"};
  std::vector<double> us;
  us.reserve(static_cast<std::size_t>(m));
  std::int64_t ok = 0;
  for (std::int64_t i = 0; i < m; ++i) {
    auto t0 = std::chrono::steady_clock::now();
    ok += once() ? 1 : 0;
    us.push_back(std::chrono::duration<double, std::micro>(std::chrono::steady_clock::now() - t0).count());
  }
  std::sort(us.begin(), us.end());
  auto at = [&](double q) { return us[std::min(us.size() - 1, static_cast<std::size_t>(q * static_cast<double>(us.size())))]; };
  char extra[96];
  std::snprintf(extra, sizeof extra, "p50_us:%.0f,p99_us:%.0f", at(0.50), at(0.99));
  return {ok == m, ok, extra};
}

}  // namespace troupe_bench
