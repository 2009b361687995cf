// troupe_cluster_chaos: the cluster's chaos run (issue 15). Three nodes share one store (a SQLite
// file, or a PostgreSQL server with --store=pgfile:<file holding a libpq conninfo>): a runs here, drives the load and is never harmed; b and c are node processes
// (tests/cluster/cluster_node_main.cpp) that are killed (SIGKILL, then started again) or frozen
// (SIGSTOP for a while, then SIGCONT; started again if the others voted it out meanwhile) at
// seeded random times. The load: `add 1` calls at a fixed rate to random keys among `grains`
// device grains (tests/cluster/device_grain.hpp: a counter whose total is durable state, saved
// before each reply). At the end, with every node up and no fault, each key's total is read:
//   lost       acknowledged adds missing from the total (must be 0)
//   recovery   per fault, how long after it calls still failed (the last failed call's time)
// Figures only, not a CTest test: it runs for minutes. scripts/cluster-chaos.sh runs it
// (SECONDS_OF_CHAOS, GRAINS, RATE, SEED).
//   troupe_cluster_chaos [--seconds=60] [--grains=100000] [--rate=2000] [--seed=1] [--store=sqlite|pgfile:F]
// The nodes' output goes to <tmp>/troupe-chaos-<pid>-<node>-<n>.log (kept when something is lost).
#include <fcntl.h>
#include <signal.h>
#include <spawn.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <chrono>
#include <cstdio>
#include <condition_variable>
#include <cstdlib>
#include <fstream>
#include <functional>
#include <map>
#include <memory>
#include <mutex>
#include <random>
#include <sstream>
#include <string>
#include <thread>
#include <vector>

#include "cluster/counter_entity.hpp"
#include "cluster/device_grain.hpp"
#include "troupe/cluster.hpp"
#include "troupe/core/extension.hpp"
#include "troupe/persistence/journal.hpp"
#include "troupe/persistence/postgres_storage.hpp"
#include "troupe/persistence/sqlite_storage.hpp"
#include "troupe/remote/node.hpp"

extern char** environ;

namespace {

namespace tc = troupe::cluster;
using clock_type = std::chrono::steady_clock;
using namespace std::chrono_literals;

struct options {
  std::map<std::string, long long> numbers{{"seconds", 60}, {"grains", 100'000}, {"rate", 2'000}, {"seed", 1}};
  std::string store = "sqlite";  // or pgfile:<file with a libpq conninfo>
};

options flags(int argc, char** argv) {
  options o;
  for (int i = 1; i < argc; ++i) {
    std::string a = argv[i];
    auto eq = a.find('=');
    if (a.rfind("--", 0) != 0 || eq == std::string::npos) {
      std::fprintf(stderr, "troupe_cluster_chaos: malformed flag '%s'\n", argv[i]);
      std::exit(2);
    }
    auto name = a.substr(2, eq - 2);
    if (name == "store") o.store = a.substr(eq + 1);
    else o.numbers[name] = std::atoll(a.c_str() + eq + 1);
  }
  if (o.store != "sqlite" && o.store.rfind("pgfile:", 0) != 0) {
    std::fprintf(stderr, "troupe_cluster_chaos: --store is sqlite or pgfile:<conninfo file>, not '%s'\n", o.store.c_str());
    std::exit(2);
  }
  return o;
}

// Node a's membership store and grain states: the same store the node processes are given.
struct stores {
  std::unique_ptr<tc::membership_store> membership;
  std::shared_ptr<troupe::persistence::storage> states;
};

stores open_stores(const std::string& store) {
  auto fail = [](const std::string& why) -> stores {
    std::fprintf(stderr, "troupe_cluster_chaos: %s\n", why.c_str());
    std::exit(1);
  };
  stores s;
  if (store.rfind("sqlite:", 0) == 0) {
    auto path = store.substr(7);
    auto m = tc::membership_store::open_sqlite(path);
    auto st = troupe::persistence::sqlite_storage::open(path);
    if (!m || !st) return fail(!m ? m.error().message() : st.error().message());
    s.membership = std::move(*m);
    s.states = std::move(*st);
  } else {
    std::ifstream in(store.substr(7));
    std::string conninfo;
    if (!std::getline(in, conninfo)) return fail("no conninfo in " + store.substr(7));
    auto m = tc::membership_store::open_postgres(conninfo);
    auto st = troupe::persistence::postgres_storage::open(conninfo);
    if (!m || !st) return fail(!m ? m.error().message() : st.error().message());
    s.membership = std::move(*m);
    s.states = std::move(*st);
  }
  return s;
}

// A node process whose output goes to a file; it ends when its stdin closes (or by a signal).
class node_process {
 public:
  node_process(std::string name, std::string store, std::string log) : name_(std::move(name)), log_(std::move(log)) {
    int in[2];
    // Close-on-exec: a node started later must not inherit this one's write end, or this one
    // would never read the end of its input and the run would hang at its end (it did).
    if (::pipe2(in, O_CLOEXEC) != 0) throw std::runtime_error("pipe failed");
    posix_spawn_file_actions_t fa;
    posix_spawn_file_actions_init(&fa);
    posix_spawn_file_actions_adddup2(&fa, in[0], 0);
    posix_spawn_file_actions_addopen(&fa, 1, log_.c_str(), O_WRONLY | O_CREAT | O_TRUNC, 0644);
    posix_spawn_file_actions_adddup2(&fa, 1, 2);
    posix_spawn_file_actions_addclose(&fa, in[1]);
    std::vector<std::string> args = {TROUPE_CLUSTER_NODE, "--name", name_, "--cluster", "chaos", "--store", store,
                                     "--ask-ms", "2000"};
    std::vector<char*> argv;
    for (auto& a : args) argv.push_back(a.data());
    argv.push_back(nullptr);
    int rc = ::posix_spawn(&pid_, argv[0], &fa, nullptr, argv.data(), environ);
    posix_spawn_file_actions_destroy(&fa);
    ::close(in[0]);
    stdin_ = in[1];
    if (rc != 0) throw std::runtime_error("cannot start " + std::string(TROUPE_CLUSTER_NODE));
  }
  ~node_process() {
    if (stdin_ >= 0) ::close(stdin_);
    if (pid_ > 0) {
      ::kill(pid_, SIGCONT);
      ::waitpid(pid_, nullptr, 0);
    }
  }
  void signal(int sig) { ::kill(pid_, sig); }
  void kill9() {
    ::kill(pid_, SIGKILL);
    ::waitpid(pid_, nullptr, 0);
    pid_ = -1;
  }
  /// True once its log has a line containing `text`.
  bool said(const std::string& text) const {
    std::ifstream f(log_);
    std::string line;
    while (std::getline(f, line))
      if (line.find(text) != std::string::npos) return true;
    return false;
  }
  std::size_t count(const std::string& prefix) const {
    std::ifstream f(log_);
    std::string line;
    std::size_t n = 0;
    while (std::getline(f, line)) n += line.rfind(prefix, 0) == 0 ? 1 : 0;
    return n;
  }
  const std::string& log() const { return log_; }

 private:
  std::string name_, log_;
  pid_t pid_ = -1;
  int stdin_ = -1;
};

struct fault {
  double at_s;         // since the load began
  std::string what;    // "kill b", "freeze c 2.1 s", ...
  double last_failure_s = -1;  // the last failed call in [at, next fault), since the load began
};

}  // namespace

int main(int argc, char** argv) {
  auto opts = flags(argc, argv);
  auto& f = opts.numbers;
  const auto seconds = f["seconds"], grains = f["grains"], rate = f["rate"];
  const auto tmp = std::string(std::getenv("TMPDIR") ? std::getenv("TMPDIR") : "/tmp") + "/troupe-chaos-" +
                   std::to_string(::getpid());
  const auto file = tmp + ".db";
  const auto store = opts.store == "sqlite" ? "sqlite:" + file : opts.store;

  // Node a, in this process: the same grain type as the node program, on the same file.
  troupe::system_config sc;
  sc.worker_threads = 1;
  std::atomic<long long> revision_conflicts{0};
  sc.logger = [&](troupe::log_level level, std::string_view text) {
    if (text.find("revision") != std::string_view::npos) ++revision_conflicts;
    if (level >= troupe::log_level::error) std::fprintf(stderr, "a: %.*s\n", static_cast<int>(text.size()), text.data());
  };
  troupe::system sys{sc};
  // Calls a's grain services and grains dropped unrun because their callers had given up (a
  // holds about a third of the grains; b's and c's drops are not counted here).
  auto past_deadline = std::make_shared<std::atomic<long long>>(0);
  sys.subscribe_dead_letters(troupe::make_function_ref<troupe::dead_letter>([past_deadline](troupe::dead_letter&& d) {
    if (d.reason == troupe::dead_letter_reason::deadline_passed) ++*past_deadline;
  }));
  troupe::remote::node node{sys, {.name = "a", .cookie = "cluster-test-cookie"}};
  auto opened = open_stores(store);
  auto journal = troupe::persistence::journal::start(opened.states);
  auto cl = tc::cluster::join(sys, node, std::move(opened.membership),
                              {.name = "chaos", .heartbeat_interval = 100ms})
                .value();
  std::atomic<long long> activations_a{0};
  cl->register_grain<tc::testing::device_msg>("device", [&, journal](const std::string& key) {
    ++activations_a;
    return tc::testing::device(journal, "chaos/" + key);
  });
  // As the node program: the singleton and the sharded counters, which b and c place here too.
  cl->singleton<tc::testing::device_msg>("leader", [journal] { return tc::testing::device(journal, "chaos/leader"); });
  tc::sharded_entity<tc::testing::counter_msg> counters{
      .type = "counter",
      .make = [journal](const std::string& id) { return tc::testing::counter_entity(journal, "chaos/", id, [] {}); },
      .stop_message = tc::testing::passivate{},
      .shards = 16};
  auto region = tc::shard_region<tc::testing::counter_msg>::start(*cl, counters);

  std::map<std::string, std::unique_ptr<node_process>> nodes;
  std::map<std::string, int> starts;
  std::vector<std::string> logs;
  auto start = [&](const std::string& name) {
    auto log = tmp + "-" + name + "-" + std::to_string(++starts[name]) + ".log";
    logs.push_back(log);
    nodes[name] = std::make_unique<node_process>(name, store, log);
  };
  auto wait_members = [&](std::size_t n, std::chrono::seconds within) {
    for (auto end = clock_type::now() + within; cl->members().size() != n;) {
      if (clock_type::now() > end) return false;
      std::this_thread::sleep_for(20ms);  // polls a condition, with the deadline above
    }
    return true;
  };
  start("b");
  start("c");
  if (!wait_members(3, 30s)) return std::fprintf(stderr, "chaos: the three nodes never met\n"), 1;

  // The load: `rate` adds per second to random keys; each acknowledged one is counted per key.
  std::vector<std::atomic<int>> acked(static_cast<std::size_t>(grains));
  std::mutex failures_mu;
  std::vector<double> failures;  // when calls failed, s since t0 (guarded by failures_mu)
  std::atomic<long long> sent{0}, answered{0}, failed{0};
  std::atomic<bool> loading{true};
  const auto t0 = clock_type::now();
  auto since_t0 = [&] { return std::chrono::duration<double>(clock_type::now() - t0).count(); };
  std::thread load([&] {
    std::mt19937_64 rng(static_cast<std::uint64_t>(f["seed"]) * 7919);
    std::uniform_int_distribution<long long> key(0, grains - 1);
    const auto period = std::chrono::nanoseconds(1'000'000'000 / std::max<long long>(1, rate));
    for (long long i = 0; loading.load(std::memory_order_relaxed); ++i) {  // relaxed: a stop flag
      std::this_thread::sleep_until(t0 + period * i);
      auto k = key(rng);
      ++sent;
      troupe::async_ask<std::int64_t>(cl->grain<tc::testing::device_msg>("device", std::to_string(k)),
                                      [](troupe::ref<std::int64_t> r) { return tc::testing::add{1, r}; }, 2s,
                                      [&, k](troupe::result<std::int64_t>&& r) {
                                        if (r) {
                                          ++acked[static_cast<std::size_t>(k)];
                                          ++answered;
                                          return;
                                        }
                                        ++failed;
                                        std::lock_guard lk(failures_mu);
                                        failures.push_back(since_t0());
                                      });
    }
  });

  // The faults: every 4-8 s, b or c is killed (and started again 0.5-2 s later) or frozen for
  // 0.5-4 s (and started again if it was voted out meanwhile).
  std::vector<fault> faults;
  std::mt19937_64 rng(static_cast<std::uint64_t>(f["seed"]));
  auto uniform = [&](double lo, double hi) { return std::uniform_real_distribution<double>(lo, hi)(rng); };
  auto pause = [](double s) { std::this_thread::sleep_for(std::chrono::duration<double>(s)); };  // the fault plan's own clock
  while (since_t0() + 8 < static_cast<double>(seconds)) {
    pause(uniform(4, 8));
    std::string victim = uniform(0, 1) < 0.5 ? "b" : "c";
    if (uniform(0, 1) < 0.4) {
      faults.push_back({since_t0(), "kill -9 " + victim});
      nodes[victim]->kill9();
      pause(uniform(0.5, 2));
      start(victim);
    } else {
      double held = uniform(0.5, 4);
      char what[64];
      std::snprintf(what, sizeof what, "SIGSTOP %s for %.1f s", victim.c_str(), held);
      faults.push_back({since_t0(), what});
      nodes[victim]->signal(SIGSTOP);
      pause(held);
      nodes[victim]->signal(SIGCONT);
    }
    // Back to three members: a node the others voted out (while frozen, or after it woke) stops
    // serving for good, so it is started again.
    bool three = false;
    for (auto end = clock_type::now() + 20s; !three && clock_type::now() < end;) {
      for (const char* n : {"b", "c"})
        if (nodes[n]->said("this node was voted out")) {
          faults.back().what += std::string(", ") + n + " voted out and started again";
          nodes[n]->kill9();
          start(n);
        }
      three = wait_members(3, 1s);
    }
    if (!three) std::fprintf(stderr, "chaos: the cluster did not get back to three members\n");
  }
  while (since_t0() < static_cast<double>(seconds)) pause(0.1);
  loading.store(false, std::memory_order_relaxed);  // relaxed: see the load thread
  load.join();
  const double load_s = since_t0();
  // Every ask ends within its 2 s timeout.
  for (auto end = clock_type::now() + 10s; answered + failed < sent && clock_type::now() < end;) pause(0.05);

  // Attribute each failure to the fault before it.
  {
    std::lock_guard lk(failures_mu);
    for (double t : failures)
      for (std::size_t i = faults.size(); i-- > 0;)
        if (t >= faults[i].at_s) {
          faults[i].last_failure_s = std::max(faults[i].last_failure_s, t);
          break;
        }
  }

  // Every node back before the reads (a late vote may have put one out after the last fault).
  for (const char* n : {"b", "c"})
    if (nodes[n]->said("this node was voted out")) {
      nodes[n]->kill9();
      start(n);
    }
  if (!wait_members(3, 20s)) std::fprintf(stderr, "chaos: the reads start with fewer than three members\n");

  // Read back every key that acknowledged an add, 500 at a time (each read may activate the
  // grain, which loads its state); a read that fails is tried again, up to five times.
  long long keys = 0, lost = 0, unreadable = 0, extra = 0;
  {
    struct reads {
      std::mutex mu;
      std::condition_variable cv;
      long long in_flight = 0;
    };
    auto r = std::make_shared<reads>();
    std::function<void(long long, int, int)> read = [&, r](long long k, int want, int attempt) {
      troupe::async_ask<std::int64_t>(
          cl->grain<tc::testing::device_msg>("device", std::to_string(k)),
          [](troupe::ref<std::int64_t> to) { return tc::testing::get{to}; }, 5s,
          [&, r, k, want, attempt](troupe::result<std::int64_t>&& total) {
            if (!total && attempt < 5) return read(k, want, attempt + 1);
            std::lock_guard lk(r->mu);
            if (!total) {
              ++unreadable;
              std::fprintf(stderr, "chaos: key %lld unreadable: %s\n", k, total.error().message().c_str());
            } else if (*total < want) {
              lost += want - *total;
            } else if (*total > want) {
              extra += *total - want;  // applied, but the answer was lost: at most once
            }
            --r->in_flight;
            r->cv.notify_all();
          });
    };
    for (long long k = 0; k < grains; ++k) {
      int want = acked[static_cast<std::size_t>(k)].load();
      if (want == 0) continue;
      ++keys;
      {
        std::unique_lock lk(r->mu);
        r->cv.wait(lk, [&] { return r->in_flight < 500; });
        ++r->in_flight;
      }
      read(k, want, 1);
    }
    std::unique_lock lk(r->mu);
    r->cv.wait(lk, [&] { return r->in_flight == 0; });  // every read ends: at most 5 x 5 s
  }

  std::size_t activations = static_cast<std::size_t>(activations_a.load());
  for (auto& l : logs) {
    std::ifstream in(l);
    std::string line;
    while (std::getline(in, line)) {
      if (line.rfind("activated ", 0) == 0) ++activations;
      if (line.find("revision") != std::string::npos) ++revision_conflicts;
    }
  }
  std::printf("chaos: %.0f s of load at %lld calls/s over %lld grains, seed %lld, %zu faults, store %s\n", load_s,
              rate, grains, f["seed"], faults.size(), opts.store == "sqlite" ? "sqlite" : "postgresql");
  std::vector<double> recoveries;
  for (auto& x : faults) {
    double r = x.last_failure_s < 0 ? 0 : x.last_failure_s - x.at_s;
    recoveries.push_back(r);
    std::printf("  at %5.1f s  %-45s calls failed until %.2f s after it\n", x.at_s, x.what.c_str(), r);
  }
  std::sort(recoveries.begin(), recoveries.end());
  std::printf("calls: %lld sent, %lld acknowledged, %lld failed (an error or a timeout: not acknowledged)\n",
              sent.load(), answered.load(), failed.load());
  std::printf("read back: %lld keys, %lld acknowledged adds lost, %lld applied without an answer, %lld unreadable\n",
              keys, lost, extra, unreadable);
  std::printf("activations: %zu; log lines about revision conflicts (two activations saving one grain): %lld\n",
              activations, revision_conflicts.load());
  std::printf("dropped unrun on a: %lld calls whose callers' deadlines had passed (dead letters deadline_passed)\n",
              past_deadline->load());
  if (!recoveries.empty())
    std::printf("recovery after a fault: median %.2f s, max %.2f s\n", recoveries[recoveries.size() / 2],
                recoveries.back());
  const bool ok = lost == 0 && unreadable == 0;
  std::printf("RESULT workload=cluster_chaos ok=%d value=%lld seconds=%.1f extra=lost:%lld,faults:%zu\n", ok ? 1 : 0,
              answered.load(), load_s, lost, faults.size());
  nodes.clear();
  cl.reset();
  if (ok) {
    for (auto& l : logs) std::remove(l.c_str());
    for (const char* s : {"", "-wal", "-shm"}) std::remove((file + s).c_str());
  } else {
    std::printf("kept: %s and the node logs %s-*.log\n", file.c_str(), tmp.c_str());
  }
  return ok ? 0 : 1;
}
