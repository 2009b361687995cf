// iot_devices: a grain per IoT device, on a cluster of three nodes that share a SQLite file
// (Orleans' localhost clustering), with a small load generator. Each device keeps its reading
// count and its maximum as durable state; node a sends the readings, node c reads the summaries,
// and the grains live wherever hash placement put them. Runs as the test example.iot_devices:
//     ./build/release/examples/iot_devices/iot_devices [devices] [readings per device]
// Node a serves a web view (on 127.0.0.1, any free port) that lists the cluster's members.
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <future>
#include <memory>
#include <string>
#include <string_view>
#include <thread>
#include <variant>
#include <vector>

#include "troupe/cluster.hpp"
#include "troupe/observe/web_view.hpp"
#include "troupe/persistence.hpp"
#include "troupe/remote/node.hpp"
#include "troupe/troupe.hpp"

using namespace std::chrono_literals;
namespace tc = troupe::cluster;
namespace tp = troupe::persistence;

struct reading {
  double celsius;
  troupe::ref<std::int64_t> reply_to;  // the device's reading count once this one is durable
};
struct summary_of {
  double max = 0;
  std::int64_t count = 0;
};
struct summarize {
  troupe::ref<summary_of> reply_to;
};
using device_msg = std::variant<reading, summarize>;

troupe::behavior<device_msg> device(std::shared_ptr<tp::journal> journal, const std::string& id) {
  using fx = tp::effect<summary_of, summary_of>;
  return tp::durable_state_behavior(tp::durable_state_spec<device_msg, summary_of>{
      .persistence_id = "device/" + id,
      .journal = std::move(journal),
      .states = std::make_shared<tp::serial_codec<summary_of>>(),
      .empty_state = {},
      .on_command = [](const summary_of& s, const device_msg& m) -> fx {
        if (auto* r = std::get_if<reading>(&m))
          return fx::persist(summary_of{s.count == 0 || r->celsius > s.max ? r->celsius : s.max, s.count + 1})
              .then_reply(r->reply_to, [](const summary_of& s) { return s.count; });
        return fx::none().then_reply(std::get<summarize>(m).reply_to, [](const summary_of& s) { return s; });
      }});
}

// One node: its own actor system, remote node, store connections and cluster membership.
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
  int activations = 0;  // written by this node's grain service (one actor); read after the replies

  cluster_node(const std::string& name, const std::string& file)
      : node(sys, {.name = name, .cookie = "iot-demo"}),
        journal(tp::journal::start(tp::sqlite_storage::open(file).value())),
        cluster(tc::cluster::join(sys, node, tc::membership_store::open_sqlite(file).value(),
                                  {.name = "iot", .heartbeat_interval = 100ms})
                    .value()) {
    cluster->register_grain<device_msg>("device", [this](const std::string& id) {
      ++activations;
      return device(journal, id);
    });
  }
};

int main(int argc, char** argv) {
  int devices = argc > 1 ? std::atoi(argv[1]) : 100;
  int readings = argc > 2 ? std::atoi(argv[2]) : 3;
  auto file = (std::filesystem::temp_directory_path() / ("iot-devices-" + std::to_string(::getpid()) + ".db")).string();
  {
    cluster_node a{"a", file}, b{"b", file}, c{"c", file};
    // Wait until each node has read all three members (heartbeats every 100 ms).
    for (auto deadline = std::chrono::steady_clock::now() + 10s;
         a.cluster->members().size() < 3 || b.cluster->members().size() < 3 || c.cluster->members().size() < 3;) {
      if (std::chrono::steady_clock::now() > deadline) return std::fprintf(stderr, "iot_devices: the nodes never met\n"), 1;
      std::this_thread::sleep_for(10ms);  // polls a condition, with the deadline above
    }
    // The web view of node a lists the cluster's members: observe does not know the cluster
    // layer, so the program hands the view a function that reads them (any thread may call
    // members()). Declared after the nodes, the view goes first.
    auto view = troupe::observe::web_view::start(a.sys, {.nodes = [&a] {
      std::vector<troupe::observe::node_info> out;
      for (auto& m : a.cluster->members())
        out.push_back({.name = m.node, .address = m.address, .status = tc::to_string(m.status),
                       .detail = m.node == "a" ? "this node" : ""});
      return out;
    }});
    if (!view) return std::fprintf(stderr, "iot_devices: no web view: %s\n", view.error().message().c_str()), 1;
    std::printf("iot_devices: web view of node a (nodes at /api/nodes): %s\n", view->url().c_str());
    auto started = std::chrono::steady_clock::now();
    for (int r = 0; r < readings; ++r) {  // the load generator: one reading per device per round
      std::vector<std::future<troupe::result<std::int64_t>>> acks;
      for (int d = 0; d < devices; ++d)
        acks.push_back(a.cluster->grain<device_msg>("device", "sensor-" + std::to_string(d))
                           .ask<std::int64_t>([&](troupe::ref<std::int64_t> to) { return reading{20.0 + d % 7 + r, to}; }, 5s));
      for (auto& f : acks)
        if (auto n = f.get(); !n || *n != r + 1)
          return std::fprintf(stderr, "iot_devices: a reading was not acknowledged: %s\n",
                              n ? std::to_string(*n).c_str() : n.error().message().c_str()), 1;
    }
    auto took = std::chrono::duration<double>(std::chrono::steady_clock::now() - started).count();
    for (int d = 0; d < devices; ++d) {
      auto s = c.cluster->grain<device_msg>("device", "sensor-" + std::to_string(d))
                   .ask<summary_of>([](troupe::ref<summary_of> to) { return summarize{to}; }, 5s)
                   .get();
      if (!s || s->count != readings || s->max != 20.0 + d % 7 + readings - 1)
        return std::fprintf(stderr, "iot_devices: sensor-%d has a wrong summary\n", d), 1;
    }
    std::printf("iot_devices: %d devices x %d readings in %.2f s; activations on a, b, c: %d %d %d\n", devices, readings,
                took, a.activations, b.activations, c.activations);
    if (a.activations + b.activations + c.activations != devices)
      return std::fprintf(stderr, "iot_devices: a device was activated twice\n"), 1;
  }
  std::filesystem::remove(file);
  std::filesystem::remove(file + "-wal");
  std::filesystem::remove(file + "-shm");
  std::printf("iot_devices: demo passed\n");
}
