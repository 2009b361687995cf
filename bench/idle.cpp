// idle: what an idle actor costs. Read the resident set size, spawn N actors that wait for a
// message, send each `ping` and collect N `pong`s (so every actor has started, handled a message
// and is waiting again), read the RSS again, then send `stop` to all and collect N `done`s.
// Reports extra=bytes_per_actor:(RSS after - RSS before) / N, which includes the driver's list
// of N refs (8 bytes each), as the peers' figures include their lists of handles.
// Then, outside the timed part, it checks that the memory comes back: with every actor stopped
// and every ref dropped, the RSS must fall to at most 25% of the live peak within 5 s (the
// message pool returns slabs that stayed free for a trim interval). It adds
// rss_peak:<bytes>,rss_after_stop:<bytes>,rss_fall_ms:<ms until it fell, or the 5 s it waited>
// and reports ok=0 if it did not fall that far.
// Like every peer, the main thread spawns the N actors (top-level here) and does the exchange;
// a collector actor stands in for main's mailbox and tells main when all replies are in.
// --actor_driver=1 instead has one actor spawn them as its children and do it all: no faster
// here, and it reports ~20 bytes more per actor, envelope memory of the N pings sent in one
// turn that the message pool keeps.
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <thread>
#include <vector>

#include "workload.hpp"

namespace troupe_bench {
namespace {

std::int64_t rss_bytes() {
  FILE* f = std::fopen("/proc/self/status", "r");
  if (f == nullptr) return -1;
  char line[256];
  std::int64_t kb = -1;
  while (std::fgets(line, sizeof line, f) != nullptr) {
    if (std::strncmp(line, "VmRSS:", 6) == 0) {
      kb = std::strtoll(line + 6, nullptr, 10);
      break;
    }
  }
  std::fclose(f);
  return kb * 1024;
}

struct idle_ping {};
struct idle_stop {};
using idle_msg = std::variant<idle_ping, idle_stop>;
struct idle_pong {};
struct idle_done {};
using idle_reply = std::variant<idle_pong, idle_done>;

troupe::behavior<idle_msg> idle_actor(troupe::ref<idle_reply> main) {
  return troupe::receive<idle_msg>([main](idle_ping) { main.tell(idle_pong{}); },
                                   [main](idle_stop) {
                                     main.tell(idle_done{});
                                     return troupe::stopped;
                                   });
}

// Waits (untimed) for the RSS to fall to a quarter of `peak`, and records what it saw.
void check_memory_returns(outcome& r, std::int64_t peak) {
  using clock = std::chrono::steady_clock;
  const auto start = clock::now();
  auto rss = rss_bytes();
  while (rss > peak / 4 && clock::now() - start < std::chrono::seconds(5)) {
    // Polling the kernel's figure: there is no event to wait on for "the pool trimmed".
    std::this_thread::sleep_for(std::chrono::milliseconds(20));
    rss = rss_bytes();
  }
  const auto waited = std::chrono::duration_cast<std::chrono::milliseconds>(clock::now() - start).count();
  r.extra += ",rss_peak:" + std::to_string(peak) + ",rss_after_stop:" + std::to_string(rss) +
             ",rss_fall_ms:" + std::to_string(waited);
  if (rss > peak / 4) r.ok = false;
}

// --actor_driver=1: one actor does it all.
class idle_driver : public troupe::actor<idle_reply> {
 public:
  idle_driver(troupe::actor_context<idle_reply>& ctx, std::int64_t n, outcome_promise done)
      : n_(n), done_(std::move(done)), before_(rss_bytes()) {
    actors_.reserve(static_cast<std::size_t>(n));
    auto me = ctx.self();
    for (std::int64_t i = 0; i < n; ++i) actors_.push_back(ctx.spawn(idle_actor(me)));
    for (auto& a : actors_) a.tell(idle_ping{});
  }

  void on(idle_pong) {
    if (++pongs_ != n_) return;
    peak_ = rss_bytes();
    bytes_per_actor_ = (peak_ - before_) / n_;
    for (auto& a : actors_) a.tell(idle_stop{});
  }

  troupe::behavior<idle_reply> on(idle_done) {
    if (++dones_ != n_) return troupe::same;
    const auto peak = peak_;
    done_->set_value({dones_ == n_, dones_, "bytes_per_actor:" + std::to_string(bytes_per_actor_),
                      [peak](outcome& r) { check_memory_returns(r, peak); }});
    std::vector<troupe::ref<idle_msg>>().swap(actors_);  // the last refs: the cells go back now
    return troupe::stopped;
  }

 private:
  std::int64_t n_;
  outcome_promise done_;
  std::int64_t before_;
  std::vector<troupe::ref<idle_msg>> actors_;
  std::int64_t pongs_ = 0;
  std::int64_t dones_ = 0;
  std::int64_t bytes_per_actor_ = 0;
  std::int64_t peak_ = 0;
};

// The default: counts replies for the main thread and tells it when all N have come.
troupe::behavior<idle_reply> idle_collector(std::int64_t n, std::shared_ptr<std::promise<void>> all_ponged,
                                            std::shared_ptr<std::promise<std::int64_t>> all_done) {
  return troupe::receive<idle_reply>(
      [n, all_ponged, got = std::int64_t{0}](idle_pong) mutable {
        if (++got == n) all_ponged->set_value();
      },
      [n, all_done, got = std::int64_t{0}](idle_done) mutable -> troupe::behavior<idle_reply> {
        if (++got != n) return troupe::same;
        all_done->set_value(got);
        return troupe::stopped;
      });
}

outcome idle_from_main(troupe::system& sys, std::int64_t n) {
  auto all_ponged = std::make_shared<std::promise<void>>();
  auto all_done = std::make_shared<std::promise<std::int64_t>>();
  auto ponged = all_ponged->get_future();
  auto finished = all_done->get_future();
  auto before = rss_bytes();
  auto main = sys.spawn(idle_collector(n, all_ponged, all_done));
  std::vector<troupe::ref<idle_msg>> actors;
  actors.reserve(static_cast<std::size_t>(n));
  for (std::int64_t i = 0; i < n; ++i) actors.push_back(sys.spawn(idle_actor(main)));
  for (auto& a : actors) a.tell(idle_ping{});
  ponged.get();
  auto peak = rss_bytes();
  auto bytes_per_actor = (peak - before) / n;
  for (auto& a : actors) a.tell(idle_stop{});
  auto stopped = finished.get();
  std::vector<troupe::ref<idle_msg>>().swap(actors);  // the last refs: the cells go back now
  return {stopped == n, stopped, "bytes_per_actor:" + std::to_string(bytes_per_actor),
          [peak](outcome& r) { check_memory_returns(r, peak); }};
}

}  // namespace

outcome idle(troupe::system& sys, const flags& f) {
  auto n = f.get("n", 1000000);
  if (f.get("actor_driver", 0) == 0) return idle_from_main(sys, n);
  auto done = make_outcome_promise();
  auto result = done->get_future();
  sys.spawn(troupe::actor_of<idle_driver>(n, done));
  return result.get();
}

}  // namespace troupe_bench
