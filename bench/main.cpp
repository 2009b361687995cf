// troupe-bench: the Savina-style workloads of DESIGN.md, run by name.
//
//     troupe-bench <workload> [--key=value ...]
//
// Workloads: pingpong counting threadring fjcreate fjthroughput mailbox skynet idle, with the
// flags and defaults of ../shared/peers/workloads.conf; also top, connections, websockets,
// serial and remote_*. Runtime flags, for every workload:
//     --threads=<n>   worker threads (default 0: one per core), to measure the scheduler's scaling
//     --budget=<n>    messages per actor turn (default 0: the runtime's default); diagnosis only
//     --introspection=1  the observe layer's table of live actors (system_config::introspection);
//                     the top workload always has it
//     --metrics=1     the observe layer's sampled timings (system_config::metrics, implies
//                     introspection), to measure their overhead against the same run without
// Prints exactly one line
//     RESULT workload=<name> ok=<0|1> value=<checked value> seconds=<wall> [extra=k:v]
// and exits 0 when the result checked out, 1 when it did not, 2 on a usage error (an unknown
// workload, a malformed flag). `seconds` is the wall clock from just before the workload's first
// actor is spawned until the main thread holds the checked result; the system's start-up and
// shutdown are outside it, as they are for the peers.
#include <cerrno>
#include <chrono>
#include <cinttypes>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <string>
#include <string_view>

#include "workload.hpp"

namespace {

struct entry {
  const char* name;
  troupe_bench::workload run;
};

constexpr entry workloads[] = {
    {"pingpong", &troupe_bench::pingpong},         {"counting", &troupe_bench::counting},
    {"threadring", &troupe_bench::threadring},     {"fjcreate", &troupe_bench::fjcreate},
    {"fjthroughput", &troupe_bench::fjthroughput}, {"mailbox", &troupe_bench::mailbox},
    {"skynet", &troupe_bench::skynet},             {"idle", &troupe_bench::idle},
    {"connections", &troupe_bench::connections},   {"websockets", &troupe_bench::websockets},
    {"serial", &troupe_bench::serial},             {"top", &troupe_bench::top},
    {"remote_throughput", &troupe_bench::remote_throughput},
    {"remote_pingpong", &troupe_bench::remote_pingpong},
    {"remote_serve", &troupe_bench::remote_serve},
};

int usage(const char* why) {
  std::fprintf(stderr, "troupe-bench: %s\nusage: troupe-bench <workload> [--key=value ...] [--threads=n]\nworkloads:", why);
  for (const auto& w : workloads) std::fprintf(stderr, " %s", w.name);
  std::fprintf(stderr, "\n");
  return 2;
}

// Parses "--key=value" with a 64-bit integer value; false if malformed.
bool parse_flag(std::string_view arg, troupe_bench::flags& out) {
  if (arg.substr(0, 2) != "--") return false;
  auto eq = arg.find('=');
  if (eq == std::string_view::npos || eq == 2) return false;
  std::string value(arg.substr(eq + 1));
  if (value.empty()) return false;
  char* end = nullptr;
  errno = 0;
  auto v = std::strtoll(value.c_str(), &end, 10);
  if (errno != 0 || *end != '\0') return false;
  out.set(std::string(arg.substr(2, eq - 2)), v);
  return true;
}

}  // namespace

int main(int argc, char** argv) {
  if (argc < 2) return usage("no workload given");
  const entry* chosen = nullptr;
  for (const auto& w : workloads)
    if (std::strcmp(w.name, argv[1]) == 0) chosen = &w;
  if (chosen == nullptr) return usage((std::string("unknown workload '") + argv[1] + "'").c_str());
  troupe_bench::flags f;
  for (int i = 2; i < argc; ++i)
    if (!parse_flag(argv[i], f)) return usage((std::string("malformed flag '") + argv[i] + "'").c_str());
  auto threads = f.get("threads", 0);
  auto budget = f.get("budget", 0);
  if (threads < 0 || budget < 0) return usage("--threads and --budget must not be negative");

  troupe::system_config cfg;
  cfg.worker_threads = static_cast<unsigned>(threads);
  if (budget > 0) cfg.messages_per_turn = static_cast<unsigned>(budget);
  cfg.introspection = f.get("introspection", 0) != 0 || chosen->run == &troupe_bench::top;
  cfg.metrics = f.get("metrics", 0) != 0;
  troupe::system sys{cfg};

  auto t0 = std::chrono::steady_clock::now();
  auto r = chosen->run(sys, f);
  std::chrono::duration<double> secs = std::chrono::steady_clock::now() - t0;
  if (r.after) r.after(r);  // untimed checks (idle's wait for the memory to come back)

  std::printf("RESULT workload=%s ok=%d value=%" PRId64 " seconds=%.6f%s%s\n", chosen->name, r.ok ? 1 : 0,
              r.value, secs.count(), r.extra.empty() ? "" : " extra=", r.extra.c_str());
  std::fflush(stdout);
  return r.ok ? 0 : 1;  // ~system stops whatever is left and joins the threads
}
