// top: how long introspection takes to name the 50 largest of a million live actors.
// Spawns N actors (default 1,000,000) in a system with introspection on (main turns it on for
// this workload), sends actor i (i mod 5) pings and waits for every pong, so that the actors
// differ in messages handled and memory, then asks observe::top_actors for the top 50 by
// mailbox length, by message rate (twice: a rate needs two looks) and by memory, and times each.
// Checks: each answer has 50 actors, in order, and the handled ranking names actors that
// handled 4 messages. value = the slowest answer's wall time in microseconds. ok also needs every
// answer within --limit_ms (default 100) of CPU time on the asking thread: this shared host is
// loaded, so wall time there measures the other tenants (extra gives both, and the actor count).
#include <algorithm>
#include <chrono>
#include <cstdio>
#include <ctime>
#include <string>

#include "troupe/observe/introspection.hpp"
#include "workload.hpp"

namespace troupe_bench {
namespace {

struct top_ping {};
using top_msg = std::variant<top_ping>;

troupe::behavior<top_msg> top_actor(troupe::ref<int> collector) {
  return troupe::receive<top_msg>([collector](top_ping) { collector.tell(1); });
}

troupe::behavior<int> top_collector(long long expected, outcome_promise done) {
  return troupe::setup<int>([expected, done](troupe::actor_context<int>&) {
    auto seen = std::make_shared<long long>(0);
    if (expected == 0) done->set_value({true, 0, {}});
    return troupe::receive<int>([expected, done, seen](int) {
      if (++*seen == expected) done->set_value({true, expected, {}});
    });
  });
}

}  // namespace

outcome top(troupe::system& sys, const flags& f) {
  const auto n = f.get("n", 1'000'000);
  const auto limit_ms = static_cast<double>(f.get("limit_ms", 100));
  long long expected = 0;
  for (long long i = 0; i < n; ++i) expected += i % 5;
  auto done = make_outcome_promise();
  auto result = done->get_future();
  auto collector = sys.spawn(top_collector(expected, done));
  {
    std::vector<troupe::ref<top_msg>> actors;
    actors.reserve(static_cast<std::size_t>(n));
    for (long long i = 0; i < n; ++i) actors.push_back(sys.spawn(top_actor(collector)));
    for (long long i = 0; i < n; ++i)
      for (long long k = 0; k < i % 5; ++k) actors[static_cast<std::size_t>(i)].tell(top_ping{});
    result.get();  // every ping handled
    // The refs go; the actors stay alive, idle, as a million idle actors of a server would.
  }
  namespace ob = troupe::observe;
  outcome out{true, 0, {}};
  double slowest = 0;
  auto cpu_ms = [] {
    timespec ts{};
    clock_gettime(CLOCK_THREAD_CPUTIME_ID, &ts);
    return static_cast<double>(ts.tv_sec) * 1e3 + static_cast<double>(ts.tv_nsec) / 1e6;
  };
  auto timed = [&](const char* what, ob::sort_key key) {
    auto c0 = cpu_ms();
    auto t0 = std::chrono::steady_clock::now();
    auto r = ob::top_actors(sys, key, 50);
    double ms = std::chrono::duration<double, std::milli>(std::chrono::steady_clock::now() - t0).count();
    double cpu = cpu_ms() - c0;
    slowest = std::max(slowest, ms);
    char buf[96];
    std::snprintf(buf, sizeof buf, "%s%s_ms:%.1f,%s_cpu_ms:%.1f", out.extra.empty() ? "" : ",", what, ms, what, cpu);
    out.extra += buf;
    if (!r || r->size() != static_cast<std::size_t>(std::min<long long>(50, n + 1))) {
      out.ok = false;
      return std::vector<ob::actor_info>{};
    }
    if (cpu > limit_ms) out.ok = false;
    return *r;
  };
  timed("mailbox", ob::sort_key::mailbox_length);
  timed("rate_first", ob::sort_key::message_rate);  // marks every actor's count
  timed("rate", ob::sort_key::message_rate);
  auto by_memory = timed("memory", ob::sort_key::memory);
  auto by_handled = timed("handled", ob::sort_key::messages_handled);
  // The busiest actors handled 4 pings (the collector handled all of them and leads).
  if (n >= 250 && (by_handled.size() < 2 || by_handled[1].messages_handled != 4)) out.ok = false;
  for (std::size_t i = 1; i < by_memory.size(); ++i)
    if (by_memory[i - 1].memory_bytes < by_memory[i].memory_bytes) out.ok = false;
  auto count = ob::actor_count(sys);
  out.extra += ",actors:" + std::to_string(count ? static_cast<long long>(*count) : -1);
  out.value = static_cast<std::int64_t>(slowest * 1000);
  return out;
}

}  // namespace troupe_bench
