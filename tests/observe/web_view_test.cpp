// The web view's HTTP API, WebSocket push and access rules, over real sockets on loopback with
// Boost.Beast's client side (tests/io's clients: every read has a deadline, nothing sleeps).
#include "troupe/observe/web_view.hpp"

#include <gtest/gtest.h>

#include <arpa/inet.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <unistd.h>

#include <nlohmann/json.hpp>
#include <atomic>
#include <map>
#include <sstream>
#include <string>
#include <thread>
#include <variant>

#include "io/http_test_client.hpp"
#include "io/io_test_support.hpp"
#include "troupe/otp/application.hpp"
#include "troupe/otp/supervisor.hpp"
#include "io/ws_test_client.hpp"
#include "core/test_support.hpp"
#include "remote/counter_protocol.hpp"
#include "troupe/observe/introspection.hpp"
#include "troupe/remote/node.hpp"

namespace {

using namespace std::chrono_literals;
using json = nlohmann::json;
using verb = boost::beast::http::verb;
namespace http = boost::beast::http;

troupe::system_config small() {
  troupe::system_config c;
  c.worker_threads = 2;
  c.blocking_threads = 2;
  c.introspection = true;
  return c;
}

// One request with optional extra headers, on a fresh connection.
std::optional<io_test::http_reply> request(std::uint16_t port, verb method, const std::string& target,
                                           const std::string& authorization = {}, std::string body = {}) {
  http::request<http::string_body> req{method, target, 11};
  req.set(http::field::host, "127.0.0.1");
  if (!authorization.empty()) req.set(http::field::authorization, authorization);
  req.body() = std::move(body);
  req.prepare_payload();
  std::ostringstream out;
  out << req;
  io_test::http_client c{port};
  c.raw().send(out.str());
  return c.read_reply();
}

json get_json(std::uint16_t port, const std::string& target) {
  auto r = request(port, verb::get, target);
  if (!r || r->status != 200) return json{};
  return json::parse(r->body, nullptr, false);
}

TEST(WebView, ServesItsPageFromTheLibrary) {
  troupe::system sys{small()};
  auto view = troupe::observe::web_view::start(sys);
  ASSERT_TRUE(view) << view.error().message();
  auto page = request(view->port(), verb::get, "/");
  ASSERT_TRUE(page);
  EXPECT_EQ(page->status, 200);
  EXPECT_NE(page->content_type.find("text/html"), std::string::npos);
  EXPECT_NE(page->body.find("id=\"tree\""), std::string::npos);
  EXPECT_NE(page->body.find("id=\"table\""), std::string::npos);
  auto js = request(view->port(), verb::get, "/app.js");
  ASSERT_TRUE(js);
  EXPECT_EQ(js->status, 200);
  EXPECT_NE(js->body.find("new WebSocket"), std::string::npos);
  // Nothing on the page comes from elsewhere.
  EXPECT_EQ(page->body.find("http://"), std::string::npos);
  EXPECT_EQ(page->body.find("https://"), std::string::npos);
}

TEST(WebView, AnswersStatusTreeAndActorsAsJson) {
  troupe::system sys{small()};
  auto view = troupe::observe::web_view::start(sys);
  ASSERT_TRUE(view);
  auto status = get_json(view->port(), "/api/status");
  for (auto key : {"uptime_s", "actors", "messages", "memory", "dead_letters", "connections", "restarts", "workers",
                   "writes_allowed"})
    EXPECT_TRUE(status.contains(key)) << key << " missing from " << status.dump();
  EXPECT_EQ(status["writes_allowed"], false);

  auto tree = get_json(view->port(), "/api/tree");
  ASSERT_TRUE(tree["trees"].is_array()) << tree.dump();

  auto actors = get_json(view->port(), "/api/actors?sort=memory&limit=5");
  EXPECT_EQ(actors["sort"], "memory");
  ASSERT_TRUE(actors["actors"].is_array()) << actors.dump();
  EXPECT_LE(actors["actors"].size(), 5u);
  for (auto& a : actors["actors"])
    for (auto key : {"id", "name", "type", "state", "parent", "mailbox", "messages", "rate", "restarts", "memory"})
      EXPECT_TRUE(a.contains(key)) << key << " missing from " << a.dump();

  auto bad_sort = request(view->port(), verb::get, "/api/actors?sort=colour");
  ASSERT_TRUE(bad_sort);
  EXPECT_EQ(bad_sort->status, 400);
  auto no_such = request(view->port(), verb::get, "/api/actors/999999999");
  ASSERT_TRUE(no_such);
  EXPECT_EQ(no_such->status, 404);
  auto not_an_id = request(view->port(), verb::get, "/api/actors/abc");
  ASSERT_TRUE(not_an_id);
  EXPECT_EQ(not_an_id->status, 400);
}

TEST(WebView, RefusesWritesWithoutTheToken) {
  troupe::system sys{small()};
  auto view = troupe::observe::web_view::start(sys, {.token = "s3cret"});
  ASSERT_TRUE(view);
  auto none = request(view->port(), verb::post, "/api/actors/1/kill");
  ASSERT_TRUE(none);
  EXPECT_EQ(none->status, 403);
  auto wrong = request(view->port(), verb::post, "/api/actors/1/kill", "Bearer s3cres");
  ASSERT_TRUE(wrong);
  EXPECT_EQ(wrong->status, 403);
  auto longer = request(view->port(), verb::post, "/api/actors/1/kill", "Bearer s3cret2");
  ASSERT_TRUE(longer);
  EXPECT_EQ(longer->status, 403);
  auto level = request(view->port(), verb::post, "/api/log_level", {}, "debug");
  ASSERT_TRUE(level);
  EXPECT_EQ(level->status, 403);
  // With the token, the request gets past the check (no actor 999999999: 404).
  auto right = request(view->port(), verb::post, "/api/actors/999999999/kill", "Bearer s3cret");
  ASSERT_TRUE(right);
  EXPECT_EQ(right->status, 404) << right->body;
}

TEST(WebView, SetsTheLogLevelOnlyWithTheTokenAndOnlyToALevel) {
  troupe::system sys{small()};
  auto view = troupe::observe::web_view::start(sys, {.token = "s3cret"});
  ASSERT_TRUE(view);
  auto before = sys.logger().level();
  ASSERT_NE(before, troupe::log_level::debug);
  auto refused = request(view->port(), verb::post, "/api/log_level", "Bearer nope", "debug");
  ASSERT_TRUE(refused);
  EXPECT_EQ(refused->status, 403);
  EXPECT_EQ(sys.logger().level(), before);
  auto bad = request(view->port(), verb::post, "/api/log_level", "Bearer s3cret", "loud");
  ASSERT_TRUE(bad);
  EXPECT_EQ(bad->status, 400);
  EXPECT_EQ(sys.logger().level(), before);
  auto ok = request(view->port(), verb::post, "/api/log_level", "Bearer s3cret", "debug\n");
  ASSERT_TRUE(ok);
  EXPECT_EQ(ok->status, 200) << ok->body;
  EXPECT_EQ(json::parse(ok->body)["log_level"], "debug");
  EXPECT_EQ(sys.logger().level(), troupe::log_level::debug);
  EXPECT_EQ(get_json(view->port(), "/api/status")["log_level"], "debug");
}

TEST(WebView, RefusesEveryWriteWhenStartedWithoutAToken) {
  troupe::system sys{small()};
  auto view = troupe::observe::web_view::start(sys);
  ASSERT_TRUE(view);
  for (auto auth : {std::string{}, std::string{"Bearer "}, std::string{"Bearer x"}}) {
    auto r = request(view->port(), verb::post, "/api/actors/1/kill", auth);
    ASSERT_TRUE(r);
    EXPECT_EQ(r->status, 403) << "with '" << auth << "'";
  }
}

TEST(WebView, ServesPrometheusTextAtMetrics) {
  troupe::system sys{small()};
  auto view = troupe::observe::web_view::start(sys);
  ASSERT_TRUE(view);
  auto r = request(view->port(), verb::get, "/metrics");
  ASSERT_TRUE(r);
  EXPECT_EQ(r->status, 200);
  EXPECT_NE(r->content_type.find("text/plain; version=0.0.4"), std::string::npos) << r->content_type;
  EXPECT_NE(r->body.find("troupe_"), std::string::npos) << r->body;
  auto j = request(view->port(), verb::get, "/api/metrics");
  ASSERT_TRUE(j);
  EXPECT_EQ(j->status, 200);
  EXPECT_FALSE(json::parse(j->body, nullptr, false).is_discarded()) << j->body;
}

// Introspection measures rates only for a query sorted by rate; the table under its other sorts
// and an actor's page showed 0.0 for an actor that was plainly busy.
TEST(WebView, ShowsAnActorsMessageRateUnderEverySortAndOnItsPage) {
  troupe::system sys{small()};
  std::atomic<int> handled{0};
  auto busy = sys.spawn(troupe::receive<int>([&handled](int) { handled.fetch_add(1); }), {.name = "busy"});
  auto view = troupe::observe::web_view::start(sys);
  ASSERT_TRUE(view);
  const auto rate_in = [&](const std::string& sort) {
    const auto table = get_json(view->port(), "/api/actors?sort=" + sort + "&limit=50");
    for (auto& a : table["actors"])
      if (a["name"] == "busy") return a["rate"].get<double>();
    return -1.0;
  };
  const std::string page = "/api/actors/" + std::to_string(busy.id().serial);
  ASSERT_EQ(rate_in("memory"), 0.0);  // first seen: no rate yet
  ASSERT_EQ(get_json(view->port(), page)["rate"], 0.0);
  const auto sampled = std::chrono::steady_clock::now();
  for (int i = 0; i < 500; ++i) busy.tell(i);
  // The rate is measured over at least 250 ms (web_source.cpp), so wait for that much time and
  // for the 500 messages, each a condition with a deadline.
  auto deadline = std::chrono::steady_clock::now() + 10s;
  while (std::chrono::steady_clock::now() < deadline &&
         (handled.load() < 500 || std::chrono::steady_clock::now() - sampled < 300ms))
    std::this_thread::yield();
  ASSERT_EQ(handled.load(), 500);
  EXPECT_GT(rate_in("memory"), 0.0);
  EXPECT_GT(rate_in("mailbox"), 0.0);
  EXPECT_GT(get_json(view->port(), page)["rate"].get<double>(), 0.0);
}

TEST(WebView, BindsOnlyTheLoopbackAddressByDefault) {
  troupe::system sys{small()};
  auto view = troupe::observe::web_view::start(sys);
  ASSERT_TRUE(view);
  EXPECT_EQ(view->url(), "http://127.0.0.1:" + std::to_string(view->port()) + "/");
  // 127.0.0.2 is this machine too (all of 127/8 is loopback), but not the address bound: a
  // socket bound to 0.0.0.0 would accept there, one bound to 127.0.0.1 refuses.
  int fd = ::socket(AF_INET, SOCK_STREAM, 0);
  ASSERT_GE(fd, 0);
  sockaddr_in a{};
  a.sin_family = AF_INET;
  a.sin_port = htons(view->port());
  ::inet_pton(AF_INET, "127.0.0.2", &a.sin_addr);
  int rc = ::connect(fd, reinterpret_cast<sockaddr*>(&a), sizeof a);
  int err = errno;
  ::close(fd);
  EXPECT_NE(rc, 0);
  EXPECT_EQ(err, ECONNREFUSED);
}

TEST(WebView, ReportsATakenPortAsAnError) {
  troupe::system sys{small()};
  auto first = troupe::observe::web_view::start(sys);
  ASSERT_TRUE(first);
  auto second = troupe::observe::web_view::start(sys, {.port = first->port()});
  EXPECT_FALSE(second);
}

TEST(WebView, PushesTheViewOverAWebSocketAndFollowsThePagesChoices) {
  troupe::system sys{small()};
  auto view = troupe::observe::web_view::start(sys, {.push_every = 50ms});
  ASSERT_TRUE(view);
  io_test::ws_client ws{view->port(), "/ws"};
  ASSERT_TRUE(ws.ok()) << ws.error().message();
  auto first = ws.read();
  ASSERT_TRUE(first);
  auto v = json::parse(first->data, nullptr, false);
  for (auto key : {"status", "tree", "series", "dead_letters", "sort", "table", "actor"})
    EXPECT_TRUE(v.contains(key)) << key << " missing from the push";
  EXPECT_EQ(v["sort"], "mailbox");
  // Pushes keep coming without asking, and the plots' series grows.
  std::size_t points = v["series"].size();
  auto deadline = std::chrono::steady_clock::now() + 10s;
  while (std::chrono::steady_clock::now() < deadline) {
    auto next = ws.read();
    ASSERT_TRUE(next);
    if (json::parse(next->data)["series"].size() > points) break;
  }
  EXPECT_LT(std::chrono::steady_clock::now(), deadline) << "the series never grew";
  ASSERT_TRUE(ws.send(R"({"sort": "memory", "actor": 0})"));
  for (;;) {
    auto next = ws.read();
    ASSERT_TRUE(next) << "no push sorted by memory";
    if (json::parse(next->data)["sort"] == "memory") break;
  }
}

TEST(WebView, StopClosesThePort) {
  troupe::system sys{small()};
  auto view = troupe::observe::web_view::start(sys);
  ASSERT_TRUE(view);
  auto port = view->port();
  view->stop();
  int fd = ::socket(AF_INET, SOCK_STREAM, 0);
  sockaddr_in a{};
  a.sin_family = AF_INET;
  a.sin_port = htons(port);
  a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  EXPECT_NE(::connect(fd, reinterpret_cast<sockaddr*>(&a), sizeof a), 0);
  ::close(fd);
}

}  // namespace

namespace {

struct job {};
using job_msg = std::variant<job>;

troupe::behavior<job_msg> idle_worker() {
  return troupe::receive<job_msg>([](const job&) {});
}

// The id of the child named `name` in /api/tree and the id of the node it hangs under; 0s if absent.
std::pair<std::uint64_t, std::uint64_t> place_of(const json& nodes, const std::string& name, std::uint64_t parent = 0) {
  for (auto& n : nodes) {
    if (n["name"] == name) return {n["id"].get<std::uint64_t>(), parent};
    auto below = place_of(n["children"], name, n["id"].get<std::uint64_t>());
    if (below.first) return below;
  }
  return {0, 0};
}

TEST(WebView, KillWithTheTokenMakesTheSupervisorStartANewChild) {
  troupe::system sys{small()};
  namespace otp = troupe::otp;
  otp::application app(sys, {.name = "app",
                             .root = {.flags = {.strategy = otp::strategy::one_for_one, .max_restarts = 10, .within = 5s},
                                      .children = {otp::child("worker", [] { return idle_worker(); }, {.name = "worker"})}}});
  auto view = troupe::observe::web_view::start(sys, {.token = "drill"});
  ASSERT_TRUE(view);
  auto before = place_of(get_json(view->port(), "/api/tree")["trees"], "worker");
  ASSERT_NE(before.first, 0u) << get_json(view->port(), "/api/tree").dump();
  ASSERT_NE(before.second, 0u) << "the worker is not under its supervisor";
  // Its actor page names its parent.
  EXPECT_EQ(get_json(view->port(), "/api/actors/" + std::to_string(before.first))["parent"], before.second);

  auto refused = request(view->port(), verb::post, "/api/actors/" + std::to_string(before.first) + "/kill");
  ASSERT_TRUE(refused);
  EXPECT_EQ(refused->status, 403);
  auto killed = request(view->port(), verb::post, "/api/actors/" + std::to_string(before.first) + "/kill", "Bearer drill");
  ASSERT_TRUE(killed);
  EXPECT_EQ(killed->status, 202) << killed->body;

  auto deadline = std::chrono::steady_clock::now() + 10s;
  std::pair<std::uint64_t, std::uint64_t> after{0, 0};
  while (std::chrono::steady_clock::now() < deadline) {
    after = place_of(get_json(view->port(), "/api/tree")["trees"], "worker");
    if (after.first != 0 && after.first != before.first) break;
    std::this_thread::yield();
  }
  EXPECT_NE(after.first, before.first) << "the worker was not restarted under a new id";
  EXPECT_NE(after.first, 0u);
  EXPECT_EQ(after.second, before.second) << "the new worker is not under the same supervisor";
  auto gone = request(view->port(), verb::get, "/api/actors/" + std::to_string(before.first));
  ASSERT_TRUE(gone);
  EXPECT_EQ(gone->status, 404);
}

TEST(WebView, RefusesAKillWithConflictWhenTheSystemHasNoIntrospection) {
  auto cfg = small();
  cfg.introspection = false;
  troupe::system sys{cfg};
  auto view = troupe::observe::web_view::start(sys, {.token = "drill"});
  ASSERT_TRUE(view);
  auto r = request(view->port(), verb::post, "/api/actors/1/kill", "Bearer drill");
  ASSERT_TRUE(r);
  EXPECT_EQ(r->status, 409) << r->body;
  EXPECT_EQ(get_json(view->port(), "/api/status")["introspection"], false);
}

// --- links and monitors, connections, dead letters, nodes, log levels per source ---------------

using relate_msg = std::variant<int, troupe::terminated>;

std::vector<std::uint64_t> ids(const json& a) { return a.is_array() ? a.get<std::vector<std::uint64_t>>() : std::vector<std::uint64_t>{}; }

TEST(WebView, ShowsAnActorsLinksWhomItWatchesAndWhoWatchesIt) {
  troupe::system sys{small()};
  auto a = sys.spawn(troupe::receive<int>([](int) {}));
  auto b = sys.spawn(troupe::receive<int>([](int) {}));
  auto w = sys.spawn(troupe::setup<relate_msg>([a, b](troupe::actor_context<relate_msg>& ctx) {
    ctx.link(a);
    ctx.watch(b);
    return troupe::receive<relate_msg>([](const int&) {}, [](const troupe::terminated&) {});
  }));
  auto view = troupe::observe::web_view::start(sys);
  ASSERT_TRUE(view);
  const auto page = [&](const troupe::actor_id& id) { return get_json(view->port(), "/api/actors/" + std::to_string(id.serial)); };
  const std::vector<std::uint64_t> just_w{w.id().serial};
  auto deadline = std::chrono::steady_clock::now() + 10s;
  while (std::chrono::steady_clock::now() < deadline &&
         (ids(page(a.id())["links"]) != just_w || ids(page(b.id())["monitored_by"]) != just_w))
    std::this_thread::yield();
  EXPECT_EQ(ids(page(a.id())["links"]), just_w);
  EXPECT_EQ(ids(page(b.id())["monitored_by"]), just_w);
  auto me = page(w.id());
  EXPECT_EQ(ids(me["links"]), (std::vector<std::uint64_t>{a.id().serial}));
  EXPECT_EQ(ids(me["monitors"]), (std::vector<std::uint64_t>{b.id().serial}));
  EXPECT_TRUE(ids(me["monitored_by"]).empty());
}

// A link and a watch across two nodes: each side's page names the other actor's node.
TEST(WebView, ShowsLinksAndWatchesAcrossNodesWithTheOtherNodesName) {
  using troupe::remote::testing::tally_msg;
  troupe::system sys{small()};  // both nodes on one system: the test reads both sides' actors
  auto config = [](std::string name) {
    troupe::remote::node_config c;
    c.name = std::move(name);
    c.cookie = "observe-test";
    return c;
  };
  troupe::remote::node a{sys, config("a")};
  auto b = std::make_unique<troupe::remote::node>(sys, config("b"));
  auto target = sys.spawn(troupe::remote::testing::tally(0));
  ASSERT_TRUE(b->publish("target", target));
  auto far = a.lookup<tally_msg>("target", b->address()).get();
  ASSERT_TRUE(far) << far.error().message();
  using watcher_msg = std::variant<int, troupe::terminated, troupe::exit_signal>;
  auto w = sys.spawn(troupe::setup<watcher_msg>([far = *far](troupe::actor_context<watcher_msg>& ctx) {
    ctx.trap_exits();  // node b's end must not stop it: the test looks at it afterwards
    ctx.link(far);
    ctx.watch(far);
    return troupe::receive<watcher_msg>([](const auto&) {});
  }));
  auto view = troupe::observe::web_view::start(sys);
  ASSERT_TRUE(view);
  const auto page = [&](const troupe::actor_id& id) { return get_json(view->port(), "/api/actors/" + std::to_string(id.serial)); };
  const auto nodes = [](const json& a) {
    std::vector<std::string> out;
    if (a.is_array())
      for (auto& r : a) out.push_back(r.value("node", "") + (r.value("id", 0u) != 0 ? "" : "?"));
    return out;
  };
  const std::vector<std::string> just_a{"a"}, just_b{"b"}, none{};
  ASSERT_TRUE(troupe_test::wait_until([&] {
    auto mine = page(w.id()), theirs = page(target.id());
    return nodes(mine["remote_links"]) == just_b && nodes(mine["remote_monitors"]) == just_b &&
           nodes(theirs["remote_links"]) == just_a && nodes(theirs["remote_monitored_by"]) == just_a;
  }, 10s)) << page(w.id()).dump() << page(target.id()).dump();
  auto mine = troupe::observe::find_actor(sys, w.id());
  ASSERT_TRUE(mine);
  ASSERT_EQ(mine->remote_links.size(), 1u);
  EXPECT_EQ(mine->remote_links[0].node, "b");
  EXPECT_EQ(mine->remote_links[0].id, far->id());  // as this node addresses it: its ref's id
  EXPECT_TRUE(mine->links.empty());                 // the local lists hold local actors only
  // Node b goes away: the link and the watch end, and the lists with them.
  b.reset();
  EXPECT_TRUE(troupe_test::wait_until([&] {
    auto now = page(w.id());
    return nodes(now["remote_links"]) == none && nodes(now["remote_monitors"]) == none;
  }, 10s)) << page(w.id()).dump();
}

using tcp_msg = std::variant<troupe::io::received, troupe::io::closed>;

troupe::behavior<tcp_msg> hold(troupe::io::connection c) {
  c.request();
  return troupe::receive<tcp_msg>([c](troupe::io::received&&) mutable { c.request(); },
                                  [](const troupe::io::closed&) { return troupe::stopped; });
}

TEST(WebView, CountsOpenConnectionsPerListenerInStatusAndMetrics) {
  troupe::io::io_service io{{.threads = 1}};  // before the system: its connection actors stop first
  troupe::system sys{small()};
  auto view = troupe::observe::web_view::start(sys);
  ASSERT_TRUE(view);
  auto tcp = troupe::io::listen(sys, io, {}, hold);
  ASSERT_TRUE(tcp);
  view->count_connections("tcp", *tcp);
  io_test::client c1(tcp->port()), c2(tcp->port());
  auto listeners = [&] {
    std::map<std::string, std::uint64_t> open;
    auto status = get_json(view->port(), "/api/status");  // kept: a loop over a temporary's member dangles
    for (auto& l : status["listeners"])
      open[l["name"].get<std::string>()] = l["connections"].get<std::uint64_t>();
    return open;
  };
  auto deadline = std::chrono::steady_clock::now() + 10s;
  while (std::chrono::steady_clock::now() < deadline && listeners()["tcp"] != 2) std::this_thread::yield();
  EXPECT_EQ(listeners()["tcp"], 2u);
  // This request is itself an open connection of the view's listener.
  auto status = get_json(view->port(), "/api/status");
  ASSERT_TRUE(status["listeners"].is_array()) << status.dump();
  std::map<std::string, std::uint64_t> open;
  for (auto& l : status["listeners"]) open[l["name"].get<std::string>()] = l["connections"].get<std::uint64_t>();
  ASSERT_TRUE(open.count("web_view")) << status.dump();
  EXPECT_GE(open["web_view"], 1u);
  EXPECT_GE(status["connections"].get<std::uint64_t>(), 1u);
  auto metrics = request(view->port(), verb::get, "/metrics");
  ASSERT_TRUE(metrics);
  EXPECT_NE(metrics->body.find("troupe_connections{listener=\"web_view\"}"), std::string::npos) << metrics->body;
  EXPECT_NE(metrics->body.find("troupe_connections{listener=\"tcp\"} 2"), std::string::npos) << metrics->body;
}

struct parcel {
  int n;
};

TEST(WebView, ListsTheRecentDeadLettersOneRecordEachAndTheirCountsByReason) {
  troupe::system sys{small()};
  auto view = troupe::observe::web_view::start(sys);
  ASSERT_TRUE(view);
  auto gone = sys.spawn(troupe::receive<parcel>([](const parcel&) { return troupe::stopped; }), {.name = "gone"});
  gone.tell(parcel{0});  // it stops; the next ones are dead letters (or this one's successors are)
  json dl;
  auto deadline = std::chrono::steady_clock::now() + 10s;
  while (std::chrono::steady_clock::now() < deadline) {
    gone.tell(parcel{1});
    dl = get_json(view->port(), "/api/dead_letters");
    if (dl["dead_letters"].is_array() && !dl["dead_letters"].empty()) break;
    std::this_thread::yield();
  }
  ASSERT_FALSE(dl["dead_letters"].empty()) << dl.dump();
  auto& d = dl["dead_letters"][0];
  EXPECT_EQ(d["recipient"], gone.id().serial);
  EXPECT_EQ(d["recipient_name"], "gone");
  EXPECT_NE(d["message_type"].get<std::string>().find("parcel"), std::string::npos) << d.dump();
  EXPECT_EQ(d["reason"], "receiver_stopped");
  EXPECT_GT(d["at_unix_s"].get<double>(), 1.7e9);
  EXPECT_GE(dl["by_reason"]["receiver_stopped"].get<std::uint64_t>(), 1u) << dl.dump();
  EXPECT_LE(dl["dead_letters"].size(), 100u);
}

TEST(WebView, ListsTheNodesTheProgramGivesItAndNoneWithoutAFunction) {
  troupe::system sys{small()};
  auto bare = troupe::observe::web_view::start(sys);
  ASSERT_TRUE(bare);
  EXPECT_TRUE(get_json(bare->port(), "/api/nodes")["nodes"].is_null());
  troupe::observe::web_view_options o;
  o.push_every = 50ms;
  o.nodes = [] {
    return std::vector<troupe::observe::node_info>{{"a", "127.0.0.1:4370", "up", "self"}, {"b", "127.0.0.1:4371", "suspect", ""}};
  };
  auto view = troupe::observe::web_view::start(sys, o);
  ASSERT_TRUE(view);
  auto nodes = get_json(view->port(), "/api/nodes")["nodes"];
  ASSERT_EQ(nodes.size(), 2u) << nodes.dump();
  EXPECT_EQ(nodes[1]["name"], "b");
  EXPECT_EQ(nodes[1]["status"], "suspect");
  EXPECT_EQ(nodes[0]["address"], "127.0.0.1:4370");
  io_test::ws_client ws{view->port(), "/ws"};
  ASSERT_TRUE(ws.ok());
  auto first = ws.read();
  ASSERT_TRUE(first);
  EXPECT_EQ(json::parse(first->data)["nodes"].size(), 2u);
}

TEST(WebView, SetsOneSourcesLogLevelWithTheToken) {
  troupe::system sys{small()};
  auto view = troupe::observe::web_view::start(sys, {.token = "s3cret"});
  ASSERT_TRUE(view);
  auto ok = request(view->port(), verb::post, "/api/log_level?source=%2Fshop%2Fpayments", "Bearer s3cret", "debug");
  ASSERT_TRUE(ok);
  EXPECT_EQ(ok->status, 200) << ok->body;
  EXPECT_EQ(json::parse(ok->body)["source"], "/shop/payments");
  EXPECT_EQ(sys.logger().level_for("/shop/payments/#4"), troupe::log_level::debug);
  EXPECT_EQ(sys.logger().level(), troupe::log_level::info);  // the logger's own level is untouched
  EXPECT_EQ(get_json(view->port(), "/api/status")["log_levels"]["/shop/payments"], "debug");
  auto back = request(view->port(), verb::post, "/api/log_level?source=/shop/payments", "Bearer s3cret", "default");
  ASSERT_TRUE(back);
  EXPECT_EQ(back->status, 200) << back->body;
  EXPECT_EQ(json::parse(back->body)["log_level"], "info");
  EXPECT_TRUE(sys.logger().source_levels().empty());
  auto no_source = request(view->port(), verb::post, "/api/log_level", "Bearer s3cret", "default");
  ASSERT_TRUE(no_source);
  EXPECT_EQ(no_source->status, 400);
}

}  // namespace
