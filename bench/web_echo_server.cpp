// troupe-web-echo: the server side of the `websockets` workload and of bench/http_rps.sh.
//   GET /ws (upgrade): a WebSocket handed to an actor of its own that echoes every message,
//                      asking for the next one only after it queued this one (demand-driven);
//   GET /hello:        one actor answers every request with a fixed 13-byte text body.
//
//     troupe-web-echo --port=<p> [--io-threads=n] [--workers=n] [--reuseport=1]
//
// Raises its file limit as far as allowed, listens on 127.0.0.1:<p>, prints "READY <port>" and
// serves until its standard input closes (the harness holds the other end), then exits.
#include <unistd.h>

#include <cstdio>
#include <cstdlib>
#include <string>
#include <variant>

#include "troupe/io/http_listener.hpp"
#include "troupe/io/http_route.hpp"
#include "troupe/io/io_service.hpp"
#include "troupe/io/websocket.hpp"
#include "program_flags.hpp"
#include "troupe/troupe.hpp"

namespace {

namespace io = troupe::io;
using ws_msg = std::variant<io::ws_received, io::ws_closed>;
using hello_msg = std::variant<io::http_call>;

troupe::behavior<ws_msg> echo(io::websocket ws) {
  ws.request();
  return troupe::receive<ws_msg>(
      [ws](io::ws_received&& m) mutable {
        (void)ws.send(std::move(m.data), m.text);  // a full queue drops it: the peer is not reading
        ws.request();
      },
      [](const io::ws_closed&) { return troupe::stopped; });
}

troupe::behavior<hello_msg> hello() {
  return troupe::receive<hello_msg>(
      [](const io::http_call& c) { c.reply_to.tell(io::http_response::text(200, "hello, world\n")); });
}

}  // namespace

int main(int argc, char** argv) {
  auto f = troupe_bench::parse_flags("troupe-web-echo", argc, argv, {{"port", 0}, {"io-threads", 0}, {"workers", 0}, {"reuseport", 0}});
  troupe_bench::raise_file_limit();
  io::io_service ios{{.threads = static_cast<unsigned>(f["io-threads"])}};
  troupe::system_config cfg;
  cfg.worker_threads = static_cast<unsigned>(f["workers"]);
  troupe::system sys{cfg};
  io::http_routes routes;
  routes.get("/hello", sys.spawn(hello()));
  routes.upgrade("/ws", sys, [](io::websocket ws) { return echo(std::move(ws)); });
  io::http_options o;
  o.port = static_cast<std::uint16_t>(f["port"]);
  o.reuse_port = f["reuseport"] != 0;
  o.max_connections = 1'000'000;
  o.request_timeout = std::chrono::seconds(120);  // the harness's connect phase may take a while
  auto l = io::http_listen(ios, o, std::move(routes));
  if (!l) {
    std::fprintf(stderr, "troupe-web-echo: %s\n", l.error().message().c_str());
    return 1;
  }
  std::printf("READY %u\n", l->port());
  std::fflush(stdout);
  char b[64];
  while (read(0, b, sizeof b) > 0) {
  }
  return 0;
}
