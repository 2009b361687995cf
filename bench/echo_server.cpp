// troupe-echo: the server side of the `connections` workload. One actor per connection echoes
// every chunk it reads, asking for the next one only after it wrote this one (demand-driven, as
// the Erlang peer's {active, once}).
//
//     troupe-echo --port=<p> [--io-threads=n] [--workers=n] [--reuseport=1]
//
// Raises its file limit as far as allowed, listens on 127.0.0.1:<p>, prints "READY" and serves
// until its standard input closes (the harness holds the other end), then exits.
#include <unistd.h>

#include <cstdio>
#include <cstdlib>
#include <string>
#include <variant>

#include "troupe/io/io_service.hpp"
#include "troupe/io/listener.hpp"
#include "program_flags.hpp"
#include "troupe/troupe.hpp"

namespace {

namespace io = troupe::io;
using echo_msg = std::variant<io::received, io::closed>;

troupe::behavior<echo_msg> echo(io::connection c) {
  c.request();
  return troupe::receive<echo_msg>(
      [c](io::received&& r) mutable {
        (void)c.write(std::move(r.data));  // a full queue drops the chunk: the peer is not reading
        c.request();
      },
      [](const io::closed&) { return troupe::stopped; });
}

}  // namespace

int main(int argc, char** argv) {
  auto f = troupe_bench::parse_flags("troupe-echo", argc, argv, {{"port", 0}, {"io-threads", 0}, {"workers", 0}, {"reuseport", 0}});
  troupe_bench::raise_file_limit();
  io::io_service ios{{.threads = static_cast<unsigned>(f["io-threads"]), .read_chunk = 16 * 1024}};
  troupe::system_config cfg;
  cfg.worker_threads = static_cast<unsigned>(f["workers"]);
  troupe::system sys{cfg};
  io::listen_options o;
  o.port = static_cast<std::uint16_t>(f["port"]);
  o.backlog = 4096;
  o.reuse_port = f["reuseport"] != 0;
  o.connection.framing = {io::framing::raw, 4096};
  auto l = io::listen(sys, ios, o, echo);
  if (!l) {
    std::fprintf(stderr, "troupe-echo: %s\n", l.error().message().c_str());
    return 1;
  }
  std::printf("READY %u\n", l->port());
  std::fflush(stdout);
  char b[64];
  while (read(0, b, sizeof b) > 0) {
  }
  return 0;
}
