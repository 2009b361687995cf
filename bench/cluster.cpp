// troupe-cluster-bench: the cluster workloads of issue 15 (grains), apart from troupe-bench
// because they need a store. Prints one line per run, as troupe-bench does:
//   RESULT workload=<name> ok=<0|1> value=<calls answered> seconds=<wall> extra=<k:v,...>
//   troupe-cluster-bench activations [--n=100000] [--window=10000]
//       one node: the first call to each of n grains (so n activations), at most `window` in
//       flight; seconds from the first call until the last answer. extra: activations_per_s.
//   troupe-cluster-bench calls [--grains=1000] [--n=1000000] [--window=1000]
//       one node: n calls spread over `grains` grains already active. extra: calls_per_s.
//   troupe-cluster-bench remote_calls [--m=10000] [--rate=10000]
//       three nodes: this one (a) and two it starts (b, c); m calls from a at `rate` calls/s
//       (open loop: each leaves at its time whether or not the earlier ones were answered) to
//       1,000 grains, half active on b and half on c. extra: p50_us, p99_us, calls_per_s.
//   troupe-cluster-bench serve --node=<name> (what remote_calls starts; exits when stdin closes)
// Every node is a process with one worker thread, its remote node on 127.0.0.1 and the cluster's
// membership and grain directory in one SQLite file under $TMPDIR (Orleans' localhost clustering).
// The grain is a counter that answers each call with its count: no persistence, so the figures
// are the cluster layer's (routing, directory, activation), not a journal's.
#include <signal.h>
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <chrono>
#include <condition_variable>
#include <cstdio>
#include <filesystem>
#include <iostream>
#include <memory>
#include <mutex>
#include <string>
#include <thread>
#include <variant>
#include <vector>

#include "child_program.hpp"
#include "program_flags.hpp"
#include "troupe/cluster.hpp"
#include "troupe/core/extension.hpp"
#include "troupe/core/system.hpp"
#include "troupe/remote/node.hpp"


namespace {

namespace tc = troupe::cluster;
using namespace std::chrono_literals;
using clock_type = std::chrono::steady_clock;

struct bump {
  troupe::ref<std::int64_t> reply_to;
};
using counter_msg = std::variant<bump>;

troupe::behavior<counter_msg> counter() {
  return troupe::receive<counter_msg>([n = std::int64_t{0}](const bump& b) mutable {
    b.reply_to.tell(++n);
    return troupe::same;
  });
}

// Keys name their node ("b/17" lives on b) so that remote_calls knows every call crosses nodes;
// a key without a node's name, or naming a node that is not up, is hashed.
struct named_placement final : tc::placement {
  tc::hash_placement hashed;
  std::string choose(const std::string& type, const std::string& key, const std::vector<std::string>& up,
                     const std::string& self) override {
    auto slash = key.find('/');
    if (slash != std::string::npos) {
      auto node = key.substr(0, slash);
      if (std::find(up.begin(), up.end(), node) != up.end()) return node;
    }
    return hashed.choose(type, key, up, self);
  }
};

// One node: its own system (one worker), remote node, and cluster membership.
struct cluster_node {
  troupe::system sys{[] {
    troupe::system_config c;
    c.worker_threads = 1;
    c.logger = [](troupe::log_level level, std::string_view text) {  // warnings and errors only
      if (level >= troupe::log_level::warning) std::fprintf(stderr, "%.*s\n", static_cast<int>(text.size()), text.data());
    };
    return c;
  }()};
  troupe::remote::node node;
  std::unique_ptr<tc::cluster> cluster;

  cluster_node(const std::string& name, const std::string& file)
      : node(sys, {.name = name, .cookie = "troupe-cluster-bench"}),
        cluster(tc::cluster::join(sys, node, tc::membership_store::open_sqlite(file).value(),
                                  {.name = "bench", .heartbeat_interval = 100ms,
                                   .placement = std::make_shared<named_placement>()})
                    .value()) {
    cluster->register_grain<counter_msg>("counter", [](const std::string&) { return counter(); });
  }
  troupe::ref<counter_msg> grain(const std::string& key) { return cluster->grain<counter_msg>("counter", key); }
};

// The SQLite file of the cluster's membership and directory, removed after the nodes that use it
// (declare it before them).
struct store_file {
  std::string path =
      (std::filesystem::temp_directory_path() / ("troupe-cluster-bench-" + std::to_string(::getpid()) + ".db")).string();
  ~store_file() {
    std::error_code ignored;
    for (const char* suffix : {"", "-wal", "-shm"}) std::filesystem::remove(path + suffix, ignored);
  }
};

// Counts answers from any thread; the driver waits for `target` of them.
struct answers {
  std::mutex mu;
  std::condition_variable cv;
  std::int64_t answered = 0, failed = 0;
  std::string first_error;

  void add(const troupe::result<std::int64_t>& r) {
    std::lock_guard lk(mu);
    if (r) ++answered;
    else if (++failed == 1) first_error = r.error().message();
    cv.notify_all();
  }
  // Waits until at most `in_flight` of `sent` are unanswered (or 60 s pass: false).
  bool wait_below(std::int64_t sent, std::int64_t in_flight) {
    std::unique_lock lk(mu);
    return cv.wait_for(lk, 60s, [&] { return sent - answered - failed <= in_flight; });
  }
};

// `a` is shared with the callback: an ask still out when the driver gives up completes later.
void call(const troupe::ref<counter_msg>& g, const std::shared_ptr<answers>& a) {
  troupe::async_ask<std::int64_t>(g, [](troupe::ref<std::int64_t> r) { return bump{r}; }, 30s,
                                  [a](troupe::result<std::int64_t>&& r) { a->add(r); });
}

void print_result(const char* workload, bool ok, std::int64_t value, double seconds, const std::string& extra) {
  std::printf("RESULT workload=%s ok=%d value=%lld seconds=%.6f extra=%s\n", workload, ok ? 1 : 0,
              static_cast<long long>(value), seconds, extra.c_str());
}

std::string error_extra(answers& a) {
  std::lock_guard lk(a.mu);
  return a.first_error.empty() ? std::string{} : ",error:" + a.first_error;
}

// Sends `n` calls, the i-th to grain(i), at most `window` unanswered; answers when all are in.
template <class Grain>
std::int64_t call_all(std::int64_t n, std::int64_t window, Grain grain, const std::shared_ptr<answers>& got) {
  for (std::int64_t i = 0; i < n; ++i) {
    if (!got->wait_below(i, window - 1)) return -1;
    call(grain(i), got);
  }
  if (!got->wait_below(n, 0)) return -1;
  std::lock_guard lk(got->mu);
  return got->answered;
}

int report_rate(const char* workload, const char* what, std::int64_t n, std::int64_t answered,
                clock_type::time_point t0, answers& got) {
  std::chrono::duration<double> s = clock_type::now() - t0;
  char extra[64];
  std::snprintf(extra, sizeof extra, "%s:%.0f", what, static_cast<double>(answered) / s.count());
  print_result(workload, answered == n, answered, s.count(), extra + error_extra(got));
  return answered == n ? 0 : 1;
}

int activations(const troupe_bench::program_flags& f) {
  const auto n = f.at("n"), window = f.at("window");
  store_file file;
  cluster_node a{"a", file.path};
  auto got = std::make_shared<answers>();
  auto t0 = clock_type::now();
  auto answered = call_all(n, window, [&](std::int64_t i) { return a.grain("k" + std::to_string(i)); }, got);
  return report_rate("activations", "activations_per_s", n, answered, t0, *got);
}

int calls(const troupe_bench::program_flags& f) {
  const auto grains = f.at("grains"), n = f.at("n"), window = f.at("window");
  store_file file;
  cluster_node a{"a", file.path};
  std::vector<troupe::ref<counter_msg>> refs;
  for (std::int64_t i = 0; i < grains; ++i) refs.push_back(a.grain("k" + std::to_string(i)));
  auto pick = [&](std::int64_t i) { return refs[static_cast<std::size_t>(i % grains)]; };
  auto warm = std::make_shared<answers>();
  if (call_all(grains, window, pick, warm) != grains) {  // activates them
    print_result("calls", false, 0, 0, "error:activation failed" + error_extra(*warm));
    return 1;
  }
  auto got = std::make_shared<answers>();
  auto t0 = clock_type::now();
  auto answered = call_all(n, window, pick, got);
  return report_rate("calls", "calls_per_s", n, answered, t0, *got);
}

// A node process started by remote_calls: joins, says "ready", lives until its stdin closes.
int serve(const std::string& name, const std::string& file) {
  cluster_node n{name, file};
  std::printf("ready\n");
  std::fflush(stdout);
  std::string line;
  while (std::getline(std::cin, line)) {
  }
  return 0;
}

// Starts `<this program> serve --node=<name> --store=<file>` and waits for its "ready".
bool start_node(troupe_bench::child_program& c, const std::string& name, const std::string& file) {
  return c.start({"/proc/self/exe", "serve", "--node=" + name, "--store=" + file}) && c.line_starting("ready");
}

// Per call, its latency from its scheduled departure (so that a late sender counts against the
// latency: no coordinated omission); -1 until answered. Shared with the callbacks.
struct latencies {
  explicit latencies(std::int64_t m) : us(static_cast<std::size_t>(m), -1) {}
  std::vector<double> us;
  answers got;
};

int remote_calls(const troupe_bench::program_flags& f) {
  const auto m = f.at("m"), rate = f.at("rate");
  constexpr std::int64_t grains = 1000;
  store_file file;
  cluster_node a{"a", file.path};
  troupe_bench::child_program b, c;
  if (!start_node(b, "b", file.path) || !start_node(c, "c", file.path)) {
    print_result("remote_calls", false, 0, 0, "error:a node did not start");
    return 1;
  }
  for (auto deadline = clock_type::now() + 20s; a.cluster->members().size() < 3;) {
    if (clock_type::now() > deadline) {
      print_result("remote_calls", false, 0, 0, "error:the nodes never met");
      return 1;
    }
    std::this_thread::sleep_for(10ms);  // polls a condition, with the deadline above
  }
  std::vector<troupe::ref<counter_msg>> refs;
  for (std::int64_t i = 0; i < grains; ++i) refs.push_back(a.grain((i % 2 == 0 ? "b/" : "c/") + std::to_string(i)));
  auto pick = [&](std::int64_t i) { return refs[static_cast<std::size_t>(i % grains)]; };
  auto warm = std::make_shared<answers>();
  if (call_all(grains, grains, pick, warm) != grains) {  // activates each on b or c; a learns the routes
    print_result("remote_calls", false, 0, 0, "error:activation failed" + error_extra(*warm));
    return 1;
  }
  auto l = std::make_shared<latencies>(m);
  const auto period = std::chrono::nanoseconds(1'000'000'000 / std::max<std::int64_t>(1, rate));
  auto t0 = clock_type::now();
  for (std::int64_t i = 0; i < m; ++i) {
    auto due = t0 + period * i;
    std::this_thread::sleep_until(due);  // not a spin: the nodes share the machine's cores
    troupe::async_ask<std::int64_t>(pick(i), [](troupe::ref<std::int64_t> r) { return bump{r}; }, 30s,
                                    [l, i, due](troupe::result<std::int64_t>&& r) {
                                      if (r)
                                        l->us[static_cast<std::size_t>(i)] =
                                            std::chrono::duration<double, std::micro>(clock_type::now() - due).count();
                                      l->got.add(r);  // after the write: wait_below's lock publishes it
                                    });
  }
  const bool all_in = l->got.wait_below(m, 0);
  std::chrono::duration<double> s = clock_type::now() - t0;
  std::vector<double> done;
  std::int64_t answered = -1;
  {
    std::lock_guard lk(l->got.mu);
    if (all_in) answered = l->got.answered;
    for (double x : l->us)
      if (x >= 0) done.push_back(x);
  }
  std::sort(done.begin(), done.end());
  auto at = [&](double q) {
    return done.empty() ? 0.0 : done[std::min(done.size() - 1, static_cast<std::size_t>(q * static_cast<double>(done.size())))];
  };
  char extra[128];
  std::snprintf(extra, sizeof extra, "p50_us:%.0f,p99_us:%.0f,calls_per_s:%.0f", at(0.50), at(0.99),
                static_cast<double>(answered) / s.count());
  print_result("remote_calls", answered == m, answered, s.count(), extra + error_extra(l->got));
  return answered == m ? 0 : 1;
}

}  // namespace

int main(int argc, char** argv) {
  ::signal(SIGPIPE, SIG_IGN);
  std::string workload = argc > 1 ? argv[1] : "";
  if (workload == "serve") {
    std::string name, file;
    for (int i = 2; i < argc; ++i) {
      std::string a = argv[i];
      if (a.rfind("--node=", 0) == 0) name = a.substr(7);
      if (a.rfind("--store=", 0) == 0) file = a.substr(8);
    }
    if (name.empty() || file.empty()) return std::fprintf(stderr, "troupe-cluster-bench serve --node=N --store=F\n"), 2;
    return serve(name, file);
  }
  // Flags after the workload's name.
  auto flags = [&](troupe_bench::program_flags defaults) {
    return troupe_bench::parse_flags("troupe-cluster-bench", argc - 1, argv + 1, std::move(defaults));
  };
  if (workload == "activations") return activations(flags({{"n", 100'000}, {"window", 10'000}}));
  if (workload == "calls") return calls(flags({{"grains", 1'000}, {"n", 1'000'000}, {"window", 1'000}}));
  if (workload == "remote_calls") return remote_calls(flags({{"m", 10'000}, {"rate", 10'000}}));
  std::fprintf(stderr, "usage: troupe-cluster-bench activations|calls|remote_calls [--name=number ...]\n");
  return 2;
}
