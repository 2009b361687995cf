// cluster_groups.cpp: docs/cluster.md's snippets of groups and the receptionist across nodes,
// compiled and run (the test docs.cluster_groups_snippets_hold). Two nodes in one process, each
// with its own actor system, remote node and membership, share one SQLite file: a user on node a
// joins the lobby, node b hears of it and broadcasts to the lobby, and b finds a's service.
#include <unistd.h>

#include <chrono>
#include <cstdio>
#include <filesystem>
#include <future>
#include <memory>
#include <mutex>
#include <string>
#include <variant>

#include "troupe/cluster.hpp"
#include "troupe/remote/node.hpp"
#include "troupe/troupe.hpp"

using namespace std::chrono_literals;

struct said {
  std::string who;
  std::string text;
};
struct name_please {
  troupe::ref<std::string> reply_to;
};
using user_msg = std::variant<said, name_please>;

// Keeps the first value it is given (a promise is set once).
template <class T>
struct first_of {
  std::promise<T> promise;
  std::once_flag once;
  void set(T v) {
    std::call_once(once, [&] { promise.set_value(std::move(v)); });
  }
};

troupe::behavior<user_msg> user(std::string name, std::shared_ptr<first_of<std::string>> heard) {
  return troupe::receive<user_msg>(
      [heard](const said& s) {
        heard->set(s.who + ": " + s.text);
        return troupe::same;
      },
      [name](const name_please& n) {
        n.reply_to.tell(name);
        return troupe::same;
      });
}

// One node: its own system, remote node and membership in the cluster "chat".
struct chat_node {
  troupe::system sys;
  troupe::remote::node node;
  std::unique_ptr<troupe::cluster::cluster> cluster;
  chat_node(const std::string& name, const std::string& file)
      : node(sys, {.name = name, .cookie = "groups-demo"}),
        cluster(troupe::cluster::cluster::join(sys, node, troupe::cluster::membership_store::open_sqlite(file).value(),
                                               {.name = "chat", .heartbeat_interval = 100ms})
                    .value()) {}
};

int main() {
  auto file = (std::filesystem::temp_directory_path() / ("troupe-groups-demo-" + std::to_string(::getpid()) + ".db")).string();
  bool passed = false;
  {
    chat_node a("a", file), b("b", file);
    auto heard = std::make_shared<first_of<std::string>>();
    auto joined = std::make_shared<first_of<bool>>();
    auto listed = std::make_shared<first_of<bool>>();

    // On node a: a scope of groups (one per node), and a local user in the lobby.
    const troupe::otp::group<user_msg> lobby{"lobby"};
    troupe::cluster::process_groups groups_a(*a.cluster);
    auto ann = a.sys.spawn(user("ann", heard));
    groups_a.join(lobby, ann).value();

    // On node b: hear the lobby's joins and leaves, wherever they happen.
    troupe::cluster::process_groups groups_b(*b.cluster);
    using lobby_event = troupe::otp::group_event<user_msg>;
    auto doorman = b.sys.spawn(troupe::receive<lobby_event>([joined](const lobby_event& e) {
      if (e.joined) joined->set(true);
      return troupe::same;
    }));
    if (groups_b.subscribe(lobby, doorman).empty())  // the members b knows now, then each change
      if (joined->promise.get_future().wait_for(10s) != std::future_status::ready) return 1;
    groups_b.broadcast(lobby, said{"bob", "hi ann"});  // reaches ann on node a

    // The receptionist: a service registered on a, found from b.
    const troupe::otp::service_key<user_msg> greeter{"greeter"};
    troupe::cluster::receptionist reception_a(*a.cluster), reception_b(*b.cluster);
    using greeters = troupe::otp::listing<user_msg>;
    reception_b.subscribe(greeter, b.sys.spawn(troupe::receive<greeters>([listed](const greeters& l) {
      if (!l.services.empty()) listed->set(true);
      return troupe::same;
    })));
    reception_a.register_service(greeter, ann).value();
    if (listed->promise.get_future().wait_for(10s) != std::future_status::ready) return 1;
    auto found = reception_b.find(greeter);  // ann, on node a: a ref like any other
    auto name = found.at(0).ask<std::string>([](troupe::ref<std::string> r) { return name_please{r}; }, 2s).get();

    auto f = heard->promise.get_future();
    passed = f.wait_for(10s) == std::future_status::ready && f.get() == "bob: hi ann" && name && *name == "ann";
  }
  for (const char* suffix : {"", "-wal", "-shm"}) std::filesystem::remove(file + suffix);
  std::puts(passed ? "cluster_groups: demo passed" : "cluster_groups: demo FAILED");
  return passed ? 0 : 1;
}
