// sharded_counter: counters by key, sharded over a cluster (Akka Cluster Sharding's example).
// Three nodes in one process share a SQLite file; node a adds to 100 counters in rounds, and
// half-way a fourth node, d, joins: the shards that hash allocation now gives to d are handed off
// (each counter stops on its old node, saving nothing it has not saved, before it starts on d with
// its durable total), while the calls keep coming. At the end every counter must hold exactly the
// number of adds sent to it, read from node c. Runs as the test example.sharded_counter:
//     ./build/release/examples/sharded_counter/sharded_counter [counters] [rounds]
#include <unistd.h>

#include <atomic>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <future>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <thread>
#include <variant>
#include <vector>

#include "troupe/cluster.hpp"
#include "troupe/persistence.hpp"
#include "troupe/remote/node.hpp"
#include "troupe/troupe.hpp"

using namespace std::chrono_literals;
namespace tc = troupe::cluster;
namespace tp = troupe::persistence;

struct add {
  std::int64_t n;
  troupe::ref<std::int64_t> reply_to;  // the total once the add is durable
};
struct get {
  troupe::ref<std::int64_t> reply_to;
};
struct passivate {};  // the hand-off's stop message: queued behind the counter's own messages
using counter_msg = std::variant<add, get, passivate>;

struct total {
  std::int64_t value = 0;
};

troupe::behavior<counter_msg> counter(std::shared_ptr<tp::journal> journal, const std::string& id) {
  using fx = tp::effect<total, total>;
  return tp::durable_state_behavior(tp::durable_state_spec<counter_msg, total>{
      .persistence_id = "counter/" + id,
      .journal = std::move(journal),
      .states = std::make_shared<tp::serial_codec<total>>(),
      .empty_state = {},
      .on_command = [](const total& s, const counter_msg& m) -> fx {
        if (auto* a = std::get_if<add>(&m))
          return fx::persist(total{s.value + a->n}).then_reply(a->reply_to, [](const total& t) { return t.value; });
        if (std::holds_alternative<passivate>(m)) return fx::stop();
        return fx::none().then_reply(std::get<get>(m).reply_to, [](const total& t) { return t.value; });
      }});
}

// One node: its own actor system, remote node, store connections, membership and shard region.
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
  std::shared_ptr<tp::journal> journal;
  std::unique_ptr<tc::cluster> cluster;
  std::atomic<int> started{0};  // counters started on this node; relaxed: read after the replies
  std::optional<tc::shard_region<counter_msg>> counters;

  cluster_node(const std::string& name, const std::string& file)
      : node(sys, {.name = name, .cookie = "sharded-demo"}),
        journal(tp::journal::start(tp::sqlite_storage::open(file).value())),
        cluster(tc::cluster::join(sys, node, tc::membership_store::open_sqlite(file).value(),
                                  {.name = "counters", .heartbeat_interval = 100ms})
                    .value()) {
    counters = tc::shard_region<counter_msg>::start(*cluster, {
        .type = "counter",
        .make = [this](const std::string& id) {
          started.fetch_add(1, std::memory_order_relaxed);
          return counter(journal, id);
        },
        .stop_message = counter_msg{passivate{}},
        .shards = 32});
  }
};

// Polls `done` (a condition, with a deadline) until it holds.
template <class F>
bool wait_until(F done) {
  for (auto deadline = std::chrono::steady_clock::now() + 10s; !done();) {
    if (std::chrono::steady_clock::now() > deadline) return false;
    std::this_thread::sleep_for(10ms);
  }
  return true;
}

int main(int argc, char** argv) {
  int keys = argc > 1 ? std::atoi(argv[1]) : 100;
  int rounds = argc > 2 ? std::atoi(argv[2]) : 4;
  auto file = (std::filesystem::temp_directory_path() / ("sharded-counter-" + std::to_string(::getpid()) + ".db")).string();
  {
    cluster_node a{"a", file}, b{"b", file}, c{"c", file};
    std::unique_ptr<cluster_node> d;
    auto met = [](std::initializer_list<cluster_node*> ns, std::size_t n) {
      return wait_until([&] {
        for (auto* x : ns)
          if (x->cluster->members().size() < n) return false;
        return true;
      });
    };
    if (!met({&a, &b, &c}, 3)) return std::fprintf(stderr, "sharded_counter: the nodes never met\n"), 1;
    auto started = std::chrono::steady_clock::now();
    for (int r = 0; r < rounds; ++r) {
      if (r == rounds / 2) {  // d joins while counters are in use: its shards move to it
        d = std::make_unique<cluster_node>("d", file);
        if (!met({&a, &b, &c, d.get()}, 4)) return std::fprintf(stderr, "sharded_counter: d never joined\n"), 1;
      }
      std::vector<std::future<troupe::result<std::int64_t>>> acks;
      for (int k = 0; k < keys; ++k)
        acks.push_back(a.counters->entity("user-" + std::to_string(k))
                           .ask<std::int64_t>([k](troupe::ref<std::int64_t> to) { return add{1 + k % 3, to}; }, 5s));
      for (int k = 0; k < keys; ++k)
        if (auto n = acks[k].get(); !n || *n != (r + 1) * (1 + k % 3))
          return std::fprintf(stderr, "sharded_counter: user-%d: an add was lost or applied twice: %s\n", k,
                              n ? std::to_string(*n).c_str() : n.error().message().c_str()), 1;
    }
    auto took = std::chrono::duration<double>(std::chrono::steady_clock::now() - started).count();
    for (int k = 0; k < keys; ++k) {
      auto n = c.counters->entity("user-" + std::to_string(k))
                   .ask<std::int64_t>([](troupe::ref<std::int64_t> to) { return get{to}; }, 5s)
                   .get();
      if (!n || *n != rounds * (1 + k % 3)) return std::fprintf(stderr, "sharded_counter: user-%d has a wrong total\n", k), 1;
    }
    int moved = d->started.load(std::memory_order_relaxed);
    std::printf("sharded_counter: %d counters x %d rounds in %.2f s; started on a, b, c: %d %d %d; moved to d: %d\n", keys,
                rounds, took, a.started.load(), b.started.load(), c.started.load(), moved);
    if (a.started + b.started + c.started != keys) return std::fprintf(stderr, "sharded_counter: a counter started twice\n"), 1;
    if (moved == 0) return std::fprintf(stderr, "sharded_counter: no shard moved to d\n"), 1;
  }
  std::filesystem::remove(file);
  std::filesystem::remove(file + "-wal");
  std::filesystem::remove(file + "-shm");
  std::printf("sharded_counter: demo passed\n");
}
