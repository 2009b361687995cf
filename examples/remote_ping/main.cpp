// remote_ping: two troupe nodes playing ping-pong over TCP, as two processes or in one.
//
//   remote_ping serve                      # prints: pong node listening on pong@127.0.0.1:PORT
//   remote_ping ping pong@127.0.0.1:PORT   # 5 round trips through a ref to the remote actor
//   remote_ping --demo                     # both nodes in this process (the build's self-test)
//
// Both sides need the same cookie: TROUPE_COOKIE in the environment, or "remote-ping-demo".
// The messages are plain structs: the serial layer encodes them field by field, and the
// ref<pong> inside each ping arrives on the other node as a working ref back to the sender.
#include <chrono>
#include <cstdlib>
#include <iostream>
#include <string>
#include <thread>
#include <variant>

#include "troupe/core/system.hpp"
#include "troupe/remote/node.hpp"

using namespace std::chrono_literals;

struct pong {
  int n;
};
struct ping {
  int n;
  troupe::ref<pong> reply_to;
};

troupe::behavior<ping> ponger() {
  return troupe::receive<ping>([](const ping& p) {
    p.reply_to.tell(pong{p.n});
    return troupe::same;
  });
}

namespace {
std::string cookie() {
  const char* c = std::getenv("TROUPE_COOKIE");
  return c != nullptr && *c != '\0' ? c : "remote-ping-demo";
}

troupe::remote::node_config config(std::string name) {
  troupe::remote::node_config c;
  c.name = std::move(name);
  c.cookie = cookie();
  return c;
}

// Publishes a ponger as "ponger" on `n`.
void publish_ponger(troupe::system& sys, troupe::remote::node& n) {
  auto r = n.publish("ponger", sys.spawn(ponger()));
  if (!r) throw std::runtime_error(r.error().message());
}

// Looks up the ponger at `address` and plays `rounds` round trips; returns 0 on success.
int play(troupe::remote::node& n, const std::string& address, int rounds) {
  auto p = n.lookup<ping>("ponger", address).get();
  if (!p) {
    std::cerr << "remote_ping: " << p.error().message() << '\n';
    return 1;
  }
  for (int i = 1; i <= rounds; ++i) {
    auto t0 = std::chrono::steady_clock::now();
    auto r = p->ask<pong>([i](troupe::ref<pong> reply_to) { return ping{i, reply_to}; }, 2s).get();
    auto us = std::chrono::duration_cast<std::chrono::microseconds>(std::chrono::steady_clock::now() - t0).count();
    if (!r || r->n != i) {
      std::cerr << "remote_ping: round " << i << " failed: " << (r ? "wrong answer" : r.error().message()) << '\n';
      return 1;
    }
    std::cout << "ping " << i << " -> pong " << r->n << " in " << us << " us\n";
  }
  return 0;
}
}  // namespace

int main(int argc, char** argv) {
  std::string mode = argc > 1 ? argv[1] : "--demo";
  troupe::system sys;
  if (mode == "serve") {
    troupe::remote::node n{sys, config("pong")};
    publish_ponger(sys, n);
    std::cout << "pong node listening on " << n.address() << " (Ctrl-D to stop)" << std::endl;
    std::string line;
    while (std::getline(std::cin, line)) {
    }
    return 0;
  }
  if (mode == "ping" && argc > 2) {
    troupe::remote::node n{sys, config("ping")};
    return play(n, argv[2], 5);
  }
  if (mode == "--demo") {
    troupe::remote::node server{sys, config("pong")};
    troupe::remote::node client{sys, config("ping")};
    publish_ponger(sys, server);
    int rc = play(client, server.address(), 5);
    if (rc == 0) std::cout << "remote_ping: demo passed\n";
    return rc;
  }
  std::cerr << "usage: remote_ping serve | remote_ping ping NAME@HOST:PORT | remote_ping --demo\n";
  return 2;
}
