// observe: every code snippet of docs/observe.md, compiled and run.
// A snippet in the guide must appear here (or in examples/iot_devices) line for line;
// check_snippets, run as a test, says so. Each section checks what the guide claims about it.
// Not an example to copy from: it is the guide's test. Read docs/observe.md instead.
#include <chrono>
#include <cstdio>
#include <future>
#include <iostream>
#include <memory>
#include <string>
#include <string_view>
#include <thread>
#include <variant>
#include <vector>

#include "troupe/io/listener.hpp"
#include "troupe/observe.hpp"
#include "troupe/troupe.hpp"

using namespace std::chrono_literals;

namespace {

int failures = 0;

void check(bool ok, std::string_view what) {
  std::cout << (ok ? "ok      " : "FAILED  ") << what << '\n';
  if (!ok) ++failures;
}

// Polls a condition no one signals, with a deadline (the guide's figures settle on other threads).
template <class Pred>
bool eventually(Pred pred) {
  for (auto end = std::chrono::steady_clock::now() + 10s; !pred();) {
    if (std::chrono::steady_clock::now() > end) return false;
    std::this_thread::yield();
  }
  return true;
}

troupe::behavior<int> quiet() { return troupe::receive<int>([](int) {}); }

// --- Introspection ----------------------------------------------------------------------------

void introspection() {
troupe::system_config cfg;
cfg.introspection = true;                       // off by default
troupe::system sys{cfg};
  auto some_ref = sys.spawn(quiet(), {.name = "some"});
// ...
namespace ob = troupe::observe;
auto top = ob::top_actors(sys, ob::sort_key::mailbox_length, 10);  // result<std::vector<actor_info>>
for (auto& a : *top)                                                  // (*top_actors(...) works too)
  std::cout << a.id.serial << ' ' << a.name << ' ' << a.protocol << ' ' << a.mailbox_length << '\n';
auto trees = ob::supervision_trees(sys);        // result<std::vector<tree_node>>
auto one = ob::find_actor(sys, some_ref.id());  // result<actor_info>, errc::no_such_actor once gone
  check(trees.has_value() && one.has_value() && one->name == "some", "introspection: the tree and one actor by id");
}

using watcher_msg = std::variant<int, troupe::terminated>;

void links_and_monitors() {
  namespace ob = troupe::observe;
  troupe::system_config cfg;
  cfg.introspection = true;
  troupe::system sys{cfg};
  auto worker = sys.spawn(quiet());
  auto guard = sys.spawn(troupe::setup<watcher_msg>([worker](troupe::actor_context<watcher_msg>& ctx) {
    ctx.link(worker);
    ctx.watch(worker);
    return troupe::receive<watcher_msg>([](const int&) {}, [](const troupe::terminated&) {});
  }));
  check(eventually([&] {
          auto p = ob::find_actor(sys, worker.id());
          return p && p->links.size() == 1 && p->monitored_by.size() == 1;
        }),
        "links and monitors: the worker's page names its guard");
auto page = ob::find_actor(sys, worker.id());
for (auto& l : page->links) std::cout << "linked to #" << l.serial << '\n';
for (auto& w : page->monitored_by) std::cout << "watched by #" << w.serial << '\n';
  check(page->links[0] == guard.id() && page->monitored_by[0] == guard.id(), "links and monitors: by id");
}

struct parcel {
  int n;
};

void recent_dead_letters() {
  namespace ob = troupe::observe;
  troupe::system sys;
ob::dead_letter_log recent{sys, 100};            // records from now on; keeps the last 100
// ...
  auto gone = sys.spawn(troupe::receive<parcel>([](const parcel&) { return troupe::stopped; }));
  gone.tell(parcel{0});
  check(eventually([&] {
          gone.tell(parcel{1});
          return recent.seen() > 0;
        }),
        "dead letters: one record per message");
for (auto& d : recent.recent())
  std::cout << d.recipient.serial << ' ' << d.message_type << ' ' << troupe::to_string(d.reason) << '\n';
check(recent.recent().back().reason == troupe::dead_letter_reason::receiver_stopped, "dead letters: the reason");
}

void kill_by_id() {
  namespace ob = troupe::observe;
  troupe::system_config cfg;
  cfg.introspection = true;
  troupe::system sys{cfg};
  auto worker = sys.spawn(quiet());
if (auto r = ob::kill(sys, worker.id(), "chaos drill"); !r) std::cerr << r.error().message() << '\n';
  check(eventually([&] { return !ob::find_actor(sys, worker.id()).has_value(); }), "kill: the actor is gone");
  auto again = ob::kill(sys, worker.id());
  check(!again && again.error() == ob::errc::no_such_actor, "kill: a dead id is no_such_actor");
}

// --- Metrics ----------------------------------------------------------------------------------

void metrics() {
  troupe::system sys;
namespace ob = troupe::observe;
ob::metrics_registry registry;
auto& orders = registry.counter("shop_orders_total", "Orders taken.", {{"shop", "north"}});
auto& open = registry.gauge("shop_carts_open", "Carts open now.");
auto& took = registry.histogram("shop_checkout_seconds", "Checkout time.", ob::duration_buckets());
orders.inc();
open.add(1);
took.observe(0.012);

ob::runtime_metrics bound{sys, registry};        // the runtime's own figures, under troupe_
std::string body = ob::to_prometheus_text(registry.collect());   // Content-Type: ob::prometheus_content_type
std::string json = ob::to_json(registry.collect());
  check(body.find("shop_orders_total{shop=\"north\"} 1") != std::string::npos, "metrics: the counter in the text");
  check(json.find("shop_carts_open") != std::string::npos, "metrics: the gauge in the JSON");
}

using line_msg = std::variant<troupe::io::received, troupe::io::closed>;

troupe::behavior<line_msg> chat_session(troupe::io::connection c) {
  c.request();
  return troupe::receive<line_msg>([c](troupe::io::received&&) mutable { c.request(); },
                                   [](const troupe::io::closed&) { return troupe::stopped; });
}

void connections() {
  namespace ob = troupe::observe;
  troupe::io::io_service io{{.threads = 1}};  // before the system: its connection actors stop first
  troupe::system sys;
  auto chat = troupe::io::listen(sys, io, {}, chat_session);
  if (!chat) return check(false, "connections: listen");
  ob::metrics_registry registry;
ob::connection_metrics conns{registry};
conns.add("chat", *chat);                           // an io::listener or io::http_listener
  auto text = ob::to_prometheus_text(registry.collect());
  check(text.find("troupe_connections{listener=\"chat\"} 0") != std::string::npos, "connections: the gauge per listener");
}

// --- Logs -------------------------------------------------------------------------------------

struct pay {
  int id;
  long cents;
};
using order_msg = std::variant<pay>;

void logs() {
troupe::system_config cfg;
cfg.log = {.level = troupe::log_level::info};      // the default; the sink defaults to stderr
troupe::system sys{cfg};

auto orders = sys.spawn(troupe::setup<order_msg>([](troupe::actor_context<order_msg>& ctx) {
  return troupe::receive<order_msg>([&ctx](const pay& p) {
    ctx.log(troupe::log_level::info, "order paid", {{"order", p.id}, {"cents", p.cents}});
  });
}), {.name = "orders"});
  orders.tell(pay{17, 1250});
  check(sys.logger().level() == troupe::log_level::info, "logs: info by default");
}

void levels() {
  troupe::system sys;
  std::string answered;
  auto reply = [&](int status, const std::string& text) { answered = std::to_string(status) + " " + text; };
sys.logger().set_level(troupe::log_level::debug);
troupe::set_log_level(sys, troupe::log_level::warning);     // the same, as a plain function
auto r = troupe::set_log_level(sys, "debug");                // from a name (a tool, an HTTP handler)
if (!r) reply(400, r.error().message());                     // "'loud' is not a log level; use ..."
  check(r && sys.logger().level() == troupe::log_level::debug && answered.empty(), "levels: set by name");
sys.logger().set_level("/shop/payments", troupe::log_level::trace);  // that actor and those under it
auto p = troupe::set_log_level(sys, "/shop/payments", "default");      // its own level taken away
  check(p && *p == troupe::log_level::debug && sys.logger().source_levels().empty(), "levels: per source, and back");
}

std::string describe(const std::vector<int>& q) { return std::to_string(q.size()) + " queued"; }

void costly_fields() {
  troupe::system sys;
  auto done = std::make_shared<std::promise<void>>();
  auto fut = done->get_future();
  auto a = sys.spawn(troupe::setup<int>([done](troupe::actor_context<int>& ctx) {
    std::vector<int> queue{1, 2, 3};
    return troupe::receive<int>([&ctx, queue, done](int) {
if (ctx.log_enabled(troupe::log_level::debug))
  ctx.log(troupe::log_level::debug, "state", {{"queue", describe(queue)}});
      done->set_value();
    });
  }));
  a.tell(1);
  check(fut.wait_for(10s) == std::future_status::ready, "logs: a costly field behind a test");
}

// Stands for whatever a program ships its records to.
struct collector_type {
  int records = 0;
  template <class... A>
  void push(A&&...) { ++records; }
} collector;

void sinks() {
troupe::system_config cfg;
struct json_lines final : troupe::log_sink {
  void write(const troupe::log_record& r) noexcept override {
    collector.push(r.level, r.time, r.source, r.message, r.fields);  // as your collector wants
  }
};
cfg.log.sink = std::make_shared<json_lines>();
  troupe::system sys{cfg};
  sys.logger().log(troupe::log_level::info, "main", "started");
  check(collector.records == 1, "sinks: the record reached the sink");
}

// --- Web view ---------------------------------------------------------------------------------

void web_view() {
troupe::system_config cfg;
cfg.introspection = true;  // the table of live actors the view reads (see Introspection)
troupe::system sys{cfg};
auto view = troupe::observe::web_view::start(sys, {.port = 8080, .token = "drill"});
if (view) std::printf("%s#token=drill\n", view->url().c_str());   // http://127.0.0.1:8080/
  // Port 8080 may be taken on the machine that runs this: a taken port is an error, not a throw.
  check(view || !view.error().message().empty(), "web view: started, or a clear error");
}

}  // namespace

int main() {
  introspection();
  links_and_monitors();
  recent_dead_letters();
  kill_by_id();
  metrics();
  connections();
  logs();
  levels();
  costly_fields();
  sinks();
  web_view();
  if (failures) std::cout << failures << " failed\n";
  return failures == 0 ? 0 : 1;
}
