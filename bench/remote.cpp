// remote_throughput, remote_pingpong: troupe's remote layer beside Erlang distribution
// (../shared/peers/remote: two nodes on loopback, one core each). This process is node a, the
// driver, pinned to core 0 (--pin=0 leaves it alone); it starts node b, `troupe-bench
// remote_serve`, pinned to core 1 with taskset, and reads its address from its output.
//   remote_throughput --n=<messages> (2,000,000): one-way 100-byte messages to an actor on b
//     that counts them; seconds from the first send until b's answer to a `finish` sent after
//     the last one (same lane, so it arrives after them all); 10,000 messages of warm-up.
//     extra: msgs_per_s. ok=1 when b counted exactly n.
//   remote_pingpong --m=<round trips> (20,000): asks carrying the 100-byte payload, one at a
//     time, each waiting for its echo. extra: p50_us, p99_us. With --big_mib=<MiB> (0), a
//     thread keeps one message of that size always in flight to another actor on b (the next
//     one leaves when b has answered a `finish` sent after the last): the ping's p99 while a big
//     message crosses on the same connection. extra adds big_sent (how many crossed).
// Both use --threads=1 for one core per node: one worker, the node thread, the decoder thread.
#include <sched.h>
#include <signal.h>
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <chrono>
#include <cstdio>
#include <iostream>
#include <string>
#include <thread>
#include <variant>
#include <vector>

#include "troupe/remote/node.hpp"
#include "child_program.hpp"
#include "workload.hpp"


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

// Node b: `taskset -c 1 <this program> remote_serve` (no taskset with pin = false).
struct server {
  child_program process;
  std::string address;
};

// Starts node b and waits for its address.
bool start_server(server& s, bool pin) {
  std::string self = "/proc/self/exe";
  char buf[4096];
  auto n = ::readlink("/proc/self/exe", buf, sizeof buf - 1);
  if (n > 0) self.assign(buf, static_cast<std::size_t>(n));
  std::vector<std::string> args;
  if (pin) args = {"taskset", "-c", "1"};
  args.insert(args.end(), {self, "remote_serve"});
  if (!s.process.start(std::move(args))) return false;
  auto address = s.process.line_starting("listening on ");
  if (!address) return false;
  s.address = *address;
  return true;
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
  troupe::ref<sink_msg> bulk;  // remote_pingpong --big_mib only
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
  (void)b.publish("bulk", sys.spawn(sink(0)));  // its own lane: big messages for remote_pingpong
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
  const auto big_mib = f.get("big_mib", 0);
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
  std::atomic<bool> done{false}, in_flight{false}, sender_failed{false};
  std::atomic<std::int64_t> big_sent{0};
  std::thread big_sender;
  if (big_mib > 0) {
    auto r = d.a->lookup<sink_msg>("bulk", d.b.address).get();
    if (!r) return {false, 0, "error:" + r.error().message()};
    d.bulk = *r;
    big_sender = std::thread([&] {
      const std::string big(static_cast<std::size_t>(big_mib) << 20, 'x');
      // relaxed: a stop flag; the join below orders everything else.
      // relaxed (all three flags): each is read for itself; no data is published through them.
      while (!done.load(std::memory_order_relaxed)) {
        in_flight.store(true, std::memory_order_relaxed);
        d.bulk.tell(data{big});
        // One at a time: b's answer to the finish means the big message crossed whole.
        bool crossed = finish_and_count(d.bulk) == 1;
        in_flight.store(false, std::memory_order_relaxed);
        if (!crossed) {
          sender_failed.store(true, std::memory_order_relaxed);
          break;
        }
        big_sent.fetch_add(1, std::memory_order_relaxed);  // relaxed: read after the join
      }
    });
  }
  std::vector<double> us;
  us.reserve(static_cast<std::size_t>(m));
  std::int64_t ok = 0;
  // With --big_mib, only the pings that began and ended while a big message was in flight count.
  while (static_cast<std::int64_t>(us.size()) < m && !sender_failed.load(std::memory_order_relaxed)) {
    bool during = big_mib == 0 || in_flight.load(std::memory_order_relaxed);
    auto t0 = std::chrono::steady_clock::now();
    bool pong = once();
    auto t1 = std::chrono::steady_clock::now();
    if (!pong) break;
    if (!during || (big_mib > 0 && !in_flight.load(std::memory_order_relaxed))) continue;
    ++ok;
    us.push_back(std::chrono::duration<double, std::micro>(t1 - t0).count());
  }
  done.store(true, std::memory_order_relaxed);  // relaxed: see the sender
  if (big_sender.joinable()) big_sender.join();
  if (us.empty()) return {false, 0, "error:no ping completed"};
  std::sort(us.begin(), us.end());
  auto at = [&](double q) { return us[std::min(us.size() - 1, static_cast<std::size_t>(q * static_cast<double>(us.size())))]; };
  char extra[128];
  std::snprintf(extra, sizeof extra, "p50_us:%.0f,p99_us:%.0f", at(0.50), at(0.99));
  std::string out = extra;
  if (big_mib > 0) out += ",big_mib:" + std::to_string(big_mib) + ",big_sent:" + std::to_string(big_sent.load());
  return {ok == m, ok, out};
}

}  // namespace troupe_bench
