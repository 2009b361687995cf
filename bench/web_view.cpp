// troupe-web-view-bench: what the web view costs on a system with many actors.
//     troupe-web-view-bench [--actors=1000000] [--fanout=1000] [--frames=5]
// Spawns `actors` idle actors under actors/fanout parents (a tree two deep) in a system with
// introspection on, starts a web view, opens one page's WebSocket (Beast's client) and reads
// `frames` pushes; then times each HTTP API call once. Prints one RESULT line per figure:
//     RESULT workload=web_view.<figure> ok=1 value=<n> seconds=<s> [extra=...]
// The hub's own time per refresh (view_refresh_ms) comes from the pushed status: it is the
// figure that matters, since one refresh serves every open page.
#include <boost/asio/connect.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/beast/core.hpp>
#include <boost/beast/http.hpp>
#include <boost/beast/websocket.hpp>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <nlohmann/json.hpp>
#include <string>
#include <thread>
#include <variant>

#include "troupe/observe/introspection.hpp"
#include "troupe/observe/web_view.hpp"
#include "troupe/troupe.hpp"

namespace {

namespace beast = boost::beast;
namespace http = beast::http;
using json = nlohmann::json;
using steady = std::chrono::steady_clock;

struct nothing {};
using idle_msg = std::variant<nothing>;

troupe::behavior<idle_msg> idle() {
  return troupe::receive<idle_msg>([](const nothing&) {});
}

troupe::behavior<idle_msg> parent(long children) {
  return troupe::setup<idle_msg>([children](troupe::actor_context<idle_msg>& ctx) {
    for (long i = 0; i < children; ++i) ctx.spawn(idle());
    return idle();
  });
}

long flag(int argc, char** argv, const char* name, long fallback) {
  std::string prefix = std::string("--") + name + "=";
  for (int i = 1; i < argc; ++i)
    if (std::strncmp(argv[i], prefix.c_str(), prefix.size()) == 0) return std::atol(argv[i] + prefix.size());
  return fallback;
}

std::size_t resident_bytes() {
  std::FILE* f = std::fopen("/proc/self/statm", "r");
  unsigned long size = 0, resident = 0;
  if (f) {
    if (std::fscanf(f, "%lu %lu", &size, &resident) != 2) resident = 0;
    std::fclose(f);
  }
  return resident * 4096;
}

void result(const char* figure, double value, double seconds, const std::string& extra = {}) {
  std::printf("RESULT workload=web_view.%s ok=1 value=%.3f seconds=%.6f%s%s\n", figure, value, seconds,
              extra.empty() ? "" : " extra=", extra.c_str());
}

}  // namespace

int main(int argc, char** argv) {
  const long actors = flag(argc, argv, "actors", 1'000'000);
  const long fanout = flag(argc, argv, "fanout", 1000);
  const long frames = flag(argc, argv, "frames", 5);
  troupe::system_config cfg;
  cfg.introspection = true;
  troupe::system sys{cfg};
  for (long p = 0; p < actors / fanout; ++p) sys.spawn(parent(fanout - 1));
  // Wait for the spawns (a benchmark, not a test: polling is what it measures around).
  const auto want = static_cast<std::size_t>(actors / fanout * fanout);
  for (;;) {
    auto n = troupe::observe::actor_count(sys);
    if (!n) {
      std::fprintf(stderr, "introspection: %s\n", n.error().message().c_str());
      return 1;
    }
    if (*n >= want) break;
    std::this_thread::sleep_for(std::chrono::milliseconds(50));
  }
  const auto rss_before = resident_bytes();

  auto view = troupe::observe::web_view::start(sys, {.push_every = std::chrono::seconds(1)});
  if (!view) {
    std::fprintf(stderr, "no view: %s\n", view.error().message().c_str());
    return 1;
  }
  boost::asio::io_context ioc;
  boost::asio::ip::tcp::endpoint ep{boost::asio::ip::make_address("127.0.0.1"), view->port()};
  beast::websocket::stream<beast::tcp_stream> ws{ioc};
  beast::get_lowest_layer(ws).connect(ep);
  ws.handshake("127.0.0.1", "/ws");
  double worst = 0, sum = 0;
  std::size_t bytes = 0;
  long seen = 0;
  for (long i = 0; i < frames + 1; ++i) {
    beast::flat_buffer buf;
    ws.read(buf);
    auto j = json::parse(beast::buffers_to_string(buf.data()));
    bytes = buf.size();
    if (i == 0) continue;  // the first frame's status predates any refresh
    double ms = j["status"]["view_refresh_ms"].get<double>();
    worst = std::max(worst, ms);
    sum += ms;
    ++seen;
  }
  result("refresh_ms_mean", sum / static_cast<double>(std::max(1L, seen)), 0,
         "actors:" + std::to_string(actors) + ",worst_ms:" + std::to_string(worst));
  result("frame_bytes", static_cast<double>(bytes), 0);
  result("view_rss_bytes", static_cast<double>(resident_bytes()) - static_cast<double>(rss_before), 0);

  for (const char* target : {"/api/status", "/api/actors?sort=mailbox", "/api/actors?sort=memory",
                             "/api/actors?sort=rate", "/api/tree", "/metrics"}) {
    beast::tcp_stream s{ioc};
    s.connect(ep);
    http::request<http::empty_body> req{http::verb::get, target, 11};
    req.set(http::field::host, "127.0.0.1");
    auto begin = steady::now();
    http::write(s, req);
    beast::flat_buffer buf;
    http::response<http::string_body> res;
    http::read(s, buf, res);
    double secs = std::chrono::duration<double>(steady::now() - begin).count();
    std::printf("RESULT workload=web_view.http ok=%d value=%zu seconds=%.6f extra=target:%s\n",
                res.result_int() == 200 ? 1 : 0, res.body().size(), secs, target);
  }
  ws.close(beast::websocket::close_code::normal);
  view->stop();
}
