// node_main.cpp: a node in its own process, for the remote layer's multi-node tests.
// It prints "listening on <address>" once it serves, then one line per event ("node_up b",
// "node_down b <reason>", "got <from> <lane> <bytes>", "dead_letter <reason> <recipient id>
// <message type>: <detail>"), and obeys one command per stdin line:
//   connect <address> | send <node> <lane> <bytes> | echo <node> <lane> <bytes> | burn <threads> | quit
// A payload whose first byte is 'E' is sent back to its sender on the same lane (an echo).
// It publishes a counter (tests/remote/counter_protocol.hpp) as "counter" and a tally as "tally". With --raw 1 it
// prints raw payloads instead of serving remote refs.
// Options: --name N --cookie C --host H --port P --speak-version V --down-after-ms D --raw 1
//          --tls-cert FILE --tls-key FILE --tls-ca FILE (PEM files: mutual TLS, all three or none)
//          --tls-verify-names 0 (with TLS: CA-only trust, node_tls::verify_node_names = false)
#include <atomic>
#include <cstdio>
#include <cstdlib>
#include <fstream>
#include <iostream>
#include <mutex>
#include <sstream>
#include <string>
#include <thread>
#include <vector>

#include "troupe/core/system.hpp"
#include "counter_protocol.hpp"
#include "troupe/remote/node.hpp"

namespace {
std::mutex out_mu;
void say(const std::string& line) {
  std::lock_guard lk(out_mu);
  std::fwrite(line.data(), 1, line.size(), stdout);
  std::fputc('\n', stdout);
  std::fflush(stdout);
}
std::string read_file(const std::string& path) {
  std::ifstream f(path, std::ios::binary);
  std::ostringstream s;
  s << f.rdbuf();
  return s.str();
}
}  // namespace

int main(int argc, char** argv) {
  troupe::remote::node_config cfg;
  bool raw = false;
  cfg.cookie = "test-cookie";
  for (int i = 1; i + 1 < argc; i += 2) {
    std::string k = argv[i], v = argv[i + 1];
    if (k == "--name") cfg.name = v;
    else if (k == "--cookie") cfg.cookie = v;
    else if (k == "--host") cfg.host = v;
    else if (k == "--port") cfg.port = static_cast<std::uint16_t>(std::stoi(v));
    else if (k == "--speak-version") cfg.speak_version = static_cast<std::uint16_t>(std::stoi(v));
    else if (k == "--down-after-ms") cfg.down_after = std::chrono::milliseconds(std::stoi(v));
    else if (k == "--raw") raw = v == "1";
    else if (k == "--tls-cert") (cfg.tls ? *cfg.tls : cfg.tls.emplace()).certificate = read_file(v);
    else if (k == "--tls-key") (cfg.tls ? *cfg.tls : cfg.tls.emplace()).private_key = read_file(v);
    else if (k == "--tls-ca") (cfg.tls ? *cfg.tls : cfg.tls.emplace()).ca = read_file(v);
    else if (k == "--tls-verify-names") (cfg.tls ? *cfg.tls : cfg.tls.emplace()).verify_node_names = v != "0";
  }
  troupe::system_config sc;
  sc.worker_threads = 1;
  sc.logger = [](troupe::log_level, std::string_view text) { say("log " + std::string(text)); };
  troupe::system sys{sc};
  troupe::remote::node node{sys, cfg};
  node.add_monitor([](std::variant<troupe::remote::node_up, troupe::remote::node_down> e) {
    if (auto* u = std::get_if<troupe::remote::node_up>(&e)) say("node_up " + u->node);
    else {
      auto& d = std::get<troupe::remote::node_down>(e);
      say("node_down " + d.node + " " + d.reason);
    }
  });
  if (raw) node.on_payload([&node](const std::string& from, std::uint64_t lane, std::string&& p) {
    say("got " + from + " " + std::to_string(lane) + " " + std::to_string(p.size()));
    if (!p.empty() && p[0] == 'E') {
      p[0] = 'R';
      (void)node.send_payload(from, lane, std::move(p));
    }
  });
  sys.subscribe_dead_letters(sys.spawn(troupe::receive<troupe::dead_letter>([](const troupe::dead_letter& d) {
    say(std::string("dead_letter ") + troupe::to_string(d.reason) + " " + std::to_string(d.recipient.serial) + " " +
        d.message_type + ": " + d.detail);
    return troupe::same;
  })));
  auto counter = sys.spawn(troupe::remote::testing::counter(0, {}));
  (void)node.publish("counter", counter);
  (void)node.publish("tally", sys.spawn(troupe::remote::testing::tally(0)));
  say("listening on " + node.address());

  std::atomic<bool> burning{true};
  std::vector<std::thread> burners;
  std::string line;
  while (std::getline(std::cin, line)) {
    std::istringstream in(line);
    std::string cmd;
    in >> cmd;
    if (cmd == "quit") break;
    if (cmd == "connect") {
      std::string address;
      in >> address;
      auto r = node.connect(address).get();
      say(r ? "connected " + *r : "connect_failed " + r.error().message());
    } else if (cmd == "send" || cmd == "echo") {
      std::string to;
      std::uint64_t lane = 0;
      std::size_t n = 0;
      in >> to >> lane >> n;
      std::string p(n, 'x');
      if (cmd == "echo" && n > 0) p[0] = 'E';
      auto r = node.send_payload(to, lane, std::move(p));
      say(r ? "sent" : "send_failed " + r.error().message());
    } else if (cmd == "burn") {
      int n = 0;
      in >> n;
      for (int i = 0; i < n; ++i)
        burners.emplace_back([&burning] {
          volatile std::uint64_t x = 0;
          // relaxed: a stop flag read in a spin; nothing is published through it.
          while (burning.load(std::memory_order_relaxed)) x = x + 1;
        });
      say("burning");
    }
  }
  // relaxed: see above; join() orders the rest.
  burning.store(false, std::memory_order_relaxed);
  for (auto& t : burners) t.join();
  return 0;
}
