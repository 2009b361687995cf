// The HTTP listener: routes to actors, deadlines, limits, bad input, assets, graceful stop.
#include "troupe/io/http_listener.hpp"

#include <gtest/gtest.h>

#include <any>
#include <atomic>
#include <filesystem>
#include <future>
#include <fstream>
#include <memory>
#include <mutex>
#include <string>
#include <thread>
#include <variant>
#include <vector>

#include "io/http_test_client.hpp"
#include "troupe/core/system.hpp"
#include "troupe/otp/supervisor.hpp"

namespace {

using namespace std::chrono_literals;
namespace io = troupe::io;
using io_test::http_client;
using verb = boost::beast::http::verb;

using web_msg = std::variant<io::http_call>;

// Answers "room <name>" for /rooms/:name, and echoes a POST's body.
troupe::behavior<web_msg> rooms() {
  return troupe::receive<web_msg>([](const io::http_call& c) {
    if (c.request.method == "POST") c.reply_to.tell(io::http_response::text(201, "said " + c.request.body));
    else c.reply_to.tell(io::http_response::text(200, "room " + c.request.param("name")));
  });
}

// Keeps every request and never answers: the listener's deadline must.
struct hoard {
  std::mutex mu;
  std::vector<troupe::ref<io::http_response>> kept;
};
troupe::behavior<web_msg> silent(std::shared_ptr<hoard> h) {
  return troupe::receive<web_msg>([h](const io::http_call& c) {
    std::lock_guard g(h->mu);
    h->kept.push_back(c.reply_to);
  });
}

// Drops every request unanswered.
troupe::behavior<web_msg> careless() {
  return troupe::receive<web_msg>([](const io::http_call&) {});
}

// Whether a connect to `port` is refused, within 10 s.
bool refuses_soon(std::uint16_t port) {
  auto deadline = std::chrono::steady_clock::now() + 10s;
  while (std::chrono::steady_clock::now() < deadline) {
    try {
      io_test::client late(port);
    } catch (const std::exception&) {
      return true;
    }
  }
  return false;
}

struct quit {};
using parent_msg = std::variant<quit>;

troupe::system_config small() {
  troupe::system_config cfg;
  cfg.worker_threads = 2;
  return cfg;
}

struct HttpListener : ::testing::Test {
  io::io_service io{{.threads = 2}};
  troupe::system sys{small()};

  io::http_listener serve(io::http_options o = {}) {
    io::http_routes r;
    auto h = sys.spawn(rooms());
    r.get("/rooms/:name", h).post("/rooms/:name/say", h);
    r.get("/slow", sys.spawn(silent(hold)));
    r.get("/careless", sys.spawn(careless()));
    // Routes with limits of their own (the listener's apply to every other route).
    auto patient = sys.spawn(silent(hold));
    r.post("/upload", h, {.max_body_bytes = 64 * 1024, .handler_timeout = 30s})
        .post("/small", h, {.max_body_bytes = 100})
        .get("/quick", patient, {.handler_timeout = 150ms})
        .get("/patient", patient, {.handler_timeout = 30s});
    r.assets("/app", {{"index.html", {"text/html; charset=utf-8", "<p>chat</p>"}},
                      {"app.js", {"text/javascript", "let x = 1;"}}});
    auto l = io::http_listen(io, std::move(o), std::move(r));
    EXPECT_TRUE(l.has_value()) << l.error().message();
    return *l;
  }
  std::shared_ptr<hoard> hold = std::make_shared<hoard>();
};

TEST_F(HttpListener, RoutesARequestToItsActorWithThePathParameters) {
  auto l = serve();
  http_client c(l.port());
  auto r = c.request(verb::get, "/rooms/lobby");
  ASSERT_TRUE(r.has_value());
  EXPECT_EQ(r->status, 200);
  EXPECT_EQ(r->body, "room lobby");
  EXPECT_EQ(r->content_type, "text/plain; charset=utf-8");
  auto encoded = c.request(verb::get, "/rooms/tea%20room");
  ASSERT_TRUE(encoded.has_value());
  EXPECT_EQ(encoded->body, "room tea room");
}

TEST_F(HttpListener, KeepsTheConnectionAliveAcrossRequests) {
  auto l = serve();
  http_client c(l.port());
  for (int i = 0; i < 5; ++i) {
    auto r = c.request(verb::post, "/rooms/lobby/say", "hello " + std::to_string(i));
    ASSERT_TRUE(r.has_value()) << i;
    EXPECT_EQ(r->status, 201);
    EXPECT_EQ(r->body, "said hello " + std::to_string(i));
    EXPECT_TRUE(r->keep_alive);
  }
  EXPECT_EQ(l.live_connections(), 1u);
}

TEST_F(HttpListener, AnswersPipelinedRequestsInOrder) {
  auto l = serve();
  http_client c(l.port());
  c.raw().send(io_test::http_bytes(verb::get, "/rooms/a") + io_test::http_bytes(verb::get, "/rooms/b"));
  auto a = c.read_reply();
  auto b = c.read_reply();
  ASSERT_TRUE(a && b);
  EXPECT_EQ(a->body, "room a");
  EXPECT_EQ(b->body, "room b");
}

TEST_F(HttpListener, AnUnknownPathGets404AndAKnownPathWithTheWrongMethodGets405) {
  auto l = serve();
  http_client c(l.port());
  auto missing = c.request(verb::get, "/nowhere");
  ASSERT_TRUE(missing.has_value());
  EXPECT_EQ(missing->status, 404);
  auto wrong = c.request(verb::delete_, "/rooms/lobby");
  ASSERT_TRUE(wrong.has_value());
  EXPECT_EQ(wrong->status, 405);
  auto fine = c.request(verb::get, "/rooms/x");  // the connection lives on
  ASSERT_TRUE(fine.has_value());
  EXPECT_EQ(fine->status, 200);
}

TEST_F(HttpListener, AHandlerThatDoesNotAnswerInTimeGets504AndTheConnectionLivesOn) {
  auto l = serve({.handler_timeout = 200ms});
  http_client c(l.port());
  auto start = std::chrono::steady_clock::now();
  auto r = c.request(verb::get, "/slow");
  ASSERT_TRUE(r.has_value());
  EXPECT_EQ(r->status, 504);
  EXPECT_NE(r->body.find("200 ms"), std::string::npos) << r->body;
  EXPECT_GE(std::chrono::steady_clock::now() - start, 200ms);
  auto after = c.request(verb::get, "/rooms/still");
  ASSERT_TRUE(after.has_value());
  EXPECT_EQ(after->body, "room still");
}

TEST_F(HttpListener, AHandlerThatDropsTheRequestGets503) {
  auto l = serve();
  http_client c(l.port());
  auto r = c.request(verb::get, "/careless");
  ASSERT_TRUE(r.has_value());
  EXPECT_EQ(r->status, 503);
}

TEST_F(HttpListener, ABodyOverTheLimitGets413AndOtherConnectionsAreServed) {
  auto l = serve({.max_body_bytes = 1000});
  http_client big(l.port());
  big.raw().send(io_test::http_bytes(verb::post, "/rooms/a/say", std::string(5000, 'x')));
  auto r = big.read_reply();
  ASSERT_TRUE(r.has_value());
  EXPECT_EQ(r->status, 413);
  EXPECT_FALSE(r->keep_alive);
  EXPECT_TRUE(big.raw().wait_closed());
  http_client other(l.port());
  auto fine = other.request(verb::post, "/rooms/a/say", std::string(1000, 'y'));
  ASSERT_TRUE(fine.has_value());
  EXPECT_EQ(fine->status, 201);
}

TEST_F(HttpListener, ARouteWithALargerBodyLimitTakesABodyTheListenerRefuses) {
  auto l = serve({.max_body_bytes = 1000});
  http_client c(l.port());
  auto r = c.request(verb::post, "/upload", std::string(50'000, 'u'));
  ASSERT_TRUE(r.has_value());
  EXPECT_EQ(r->status, 201);
  EXPECT_EQ(r->body, "said " + std::string(50'000, 'u'));
  auto other = c.request(verb::post, "/rooms/a/say", std::string(5000, 'x'));  // the listener's limit
  ASSERT_TRUE(other.has_value());
  EXPECT_EQ(other->status, 413);
  EXPECT_NE(other->body.find("at most 1000 bytes"), std::string::npos) << other->body;
}

TEST_F(HttpListener, ARouteWithASmallerBodyLimitAnswers413WithItsLimitBeforeTheBodyIsSent) {
  auto l = serve();  // the listener takes 1 MiB
  http_client c(l.port());
  // Only the head: the answer must come from the declared length, without waiting for the body.
  c.raw().send("POST /small HTTP/1.1\r\nHost: x\r\nContent-Length: 5000\r\n\r\n");
  auto r = c.read_reply();
  ASSERT_TRUE(r.has_value());
  EXPECT_EQ(r->status, 413);
  EXPECT_NE(r->body.find("at most 100 bytes"), std::string::npos) << r->body;
  EXPECT_FALSE(r->keep_alive);
  EXPECT_TRUE(c.raw().wait_closed());
  http_client fits(l.port());
  auto ok = fits.request(verb::post, "/small", std::string(100, 's'));
  ASSERT_TRUE(ok.has_value());
  EXPECT_EQ(ok->status, 201);
}

TEST_F(HttpListener, AChunkedBodyWithinTheLimitReachesTheActorWhole) {
  auto l = serve({.max_body_bytes = 1000});
  http_client c(l.port());
  c.raw().send(io_test::chunked_request_head("/upload") + io_test::chunk(std::string(30'000, 'a')) +
               io_test::chunk(std::string(30'000, 'b')) + io_test::last_chunk());
  auto r = c.read_reply();
  ASSERT_TRUE(r.has_value());
  EXPECT_EQ(r->status, 201);
  EXPECT_EQ(r->body, "said " + std::string(30'000, 'a') + std::string(30'000, 'b'));
  EXPECT_TRUE(r->keep_alive);
}

TEST_F(HttpListener, AChunkedBodyCrossingTheRoutesLimitGets413) {
  auto l = serve();  // the listener takes 1 MiB, /upload 64 KiB
  http_client c(l.port());
  // 40 KiB, then 40 KiB more: the second chunk crosses the route's limit; no last chunk follows.
  c.raw().send(io_test::chunked_request_head("/upload") + io_test::chunk(std::string(40 * 1024, 'a')) +
               io_test::chunk(std::string(40 * 1024, 'b')));
  auto r = c.read_reply();
  ASSERT_TRUE(r.has_value());
  EXPECT_EQ(r->status, 413);
  EXPECT_NE(r->body.find("at most 65536 bytes"), std::string::npos) << r->body;
  EXPECT_TRUE(c.raw().wait_closed());
}

TEST_F(HttpListener, ARoutesHandlerDeadlineReplacesTheListeners) {
  auto l = serve({.handler_timeout = 30s});
  http_client c(l.port());
  auto r = c.request(verb::get, "/quick");
  ASSERT_TRUE(r.has_value());
  EXPECT_EQ(r->status, 504);
  EXPECT_NE(r->body.find("150 ms"), std::string::npos) << r->body;
}

TEST_F(HttpListener, ARouteWithALongerDeadlineIsNotCutOffAtTheListeners) {
  auto l = serve({.handler_timeout = 100ms});
  http_client c(l.port());
  c.raw().send(io_test::http_bytes(verb::get, "/patient"));
  auto deadline = std::chrono::steady_clock::now() + 10s;
  troupe::ref<io::http_response> reply;
  while (!reply && std::chrono::steady_clock::now() < deadline) {
    std::lock_guard g(hold->mu);
    if (!hold->kept.empty()) reply = hold->kept.front();
  }
  ASSERT_TRUE(reply);
  // Three times the listener's deadline without an answer: the route's 30 s holds.
  EXPECT_FALSE(c.read_reply(300ms).has_value());
  reply.tell(io::http_response::text(200, "worth the wait"));
  auto r = c.read_reply();
  ASSERT_TRUE(r.has_value());
  EXPECT_EQ(r->status, 200);
  EXPECT_EQ(r->body, "worth the wait");
}

TEST_F(HttpListener, HeadersOverTheLimitGet431) {
  auto l = serve({.max_header_bytes = 1024});
  http_client c(l.port());
  c.raw().send("GET /rooms/a HTTP/1.1\r\nHost: x\r\nX-Big: " + std::string(4000, 'h') + "\r\n\r\n");
  auto r = c.read_reply();
  ASSERT_TRUE(r.has_value());
  EXPECT_EQ(r->status, 431);
  EXPECT_TRUE(c.raw().wait_closed());
}

TEST_F(HttpListener, AMalformedRequestGets400AndTheServerKeepsServing) {
  auto l = serve();
  http_client bad(l.port());
  bad.raw().send("THIS IS NOT HTTP\r\n\r\n");
  auto r = bad.read_reply();
  ASSERT_TRUE(r.has_value());
  EXPECT_EQ(r->status, 400);
  EXPECT_NE(r->body.find("malformed"), std::string::npos) << r->body;
  EXPECT_TRUE(bad.raw().wait_closed());
  http_client good(l.port());
  auto fine = good.request(verb::get, "/rooms/ok");
  ASSERT_TRUE(fine.has_value());
  EXPECT_EQ(fine->status, 200);
}

TEST_F(HttpListener, HeadersTrickledSlowerThanTheRequestTimeoutAreCutOff) {
  auto l = serve({.request_timeout = 300ms});
  io_test::client slow(l.port());
  auto start = std::chrono::steady_clock::now();
  slow.send("GET /rooms/a HTTP/1.1\r\nHost: x\r\n");  // and never the blank line
  EXPECT_TRUE(slow.wait_closed(10s));
  EXPECT_GE(std::chrono::steady_clock::now() - start, 250ms);
  http_client good(l.port());
  auto fine = good.request(verb::get, "/rooms/ok");
  ASSERT_TRUE(fine.has_value());
  EXPECT_EQ(fine->status, 200);
}

TEST_F(HttpListener, ServesEmbeddedAssets) {
  auto l = serve();
  http_client c(l.port());
  auto page = c.request(verb::get, "/app");
  ASSERT_TRUE(page.has_value());
  EXPECT_EQ(page->status, 200);
  EXPECT_EQ(page->body, "<p>chat</p>");
  EXPECT_EQ(page->content_type, "text/html; charset=utf-8");
  auto js = c.request(verb::get, "/app/app.js");
  ASSERT_TRUE(js.has_value());
  EXPECT_EQ(js->body, "let x = 1;");
  EXPECT_EQ(js->content_type, "text/javascript");
  auto missing = c.request(verb::get, "/app/nope.js");
  ASSERT_TRUE(missing.has_value());
  EXPECT_EQ(missing->status, 404);
}

TEST_F(HttpListener, ServesFilesFromADirectoryButNothingOutsideIt) {
  auto dir = std::filesystem::temp_directory_path() / ("troupe_http_" + std::to_string(::getpid()));
  std::filesystem::create_directories(dir / "www");
  std::ofstream(dir / "www" / "index.html") << "<h1>home</h1>";
  std::ofstream(dir / "www" / "style.css") << "p{}";
  std::ofstream(dir / "secret.txt") << "secret";
  io::http_routes r;
  r.directory("/static", dir / "www");
  auto l = io::http_listen(io, {}, std::move(r));
  ASSERT_TRUE(l.has_value());
  http_client c(l->port());
  auto home = c.request(verb::get, "/static/");
  ASSERT_TRUE(home.has_value());
  EXPECT_EQ(home->body, "<h1>home</h1>");
  EXPECT_EQ(home->content_type, "text/html; charset=utf-8");
  auto css = c.request(verb::get, "/static/style.css");
  ASSERT_TRUE(css.has_value());
  EXPECT_EQ(css->content_type, "text/css; charset=utf-8");
  for (const char* escape : {"/static/../secret.txt", "/static/%2e%2e/secret.txt", "/static/.hidden"}) {
    http_client e(l->port());
    auto out = e.request(verb::get, escape);
    ASSERT_TRUE(out.has_value()) << escape;
    EXPECT_NE(out->status, 200) << escape;
    EXPECT_EQ(out->body.find("secret"), std::string::npos) << escape;
  }
  std::filesystem::remove_all(dir);
}

TEST_F(HttpListener, StopClosesIdleConnectionsAndRefusesNewOnes) {
  auto l = serve();
  http_client c(l.port());
  ASSERT_TRUE(c.request(verb::get, "/rooms/a").has_value());
  l.stop();
  EXPECT_TRUE(c.raw().wait_closed());
  auto deadline = std::chrono::steady_clock::now() + 10s;
  bool refused = false;
  while (!refused && std::chrono::steady_clock::now() < deadline) {
    try {
      io_test::client late(l.port());
    } catch (const std::exception&) {
      refused = true;  // connect refused: the listening socket is closed
    }
  }
  EXPECT_TRUE(refused);
}

TEST_F(HttpListener, StopHasClosedTheListeningSocketWhenItReturns) {
  // Many rounds: the close runs on the listener's loop, and a stop() that did not wait for it
  // lets a connect right after it slip in now and then.
  for (int round = 0; round < 50; ++round) {
    auto l = serve();
    l.stop();
    bool refused = false;
    try {
      io_test::client late(l.port());
    } catch (const std::exception&) {
      refused = true;
    }
    ASSERT_TRUE(refused) << "round " << round << ": a connect right after stop() was accepted";
  }
}

TEST_F(HttpListener, StopAnswersTheRequestInProgressWithConnectionClose) {
  auto l = serve({.handler_timeout = 2s});
  http_client c(l.port());
  c.raw().send(io_test::http_bytes(verb::get, "/slow"));
  // Wait until the silent actor holds the request, then stop and answer it.
  auto deadline = std::chrono::steady_clock::now() + 10s;
  troupe::ref<io::http_response> reply;
  while (!reply && std::chrono::steady_clock::now() < deadline) {
    std::lock_guard g(hold->mu);
    if (!hold->kept.empty()) reply = hold->kept.front();
  }
  ASSERT_TRUE(reply);
  l.stop();
  reply.tell(io::http_response::text(200, "late but answered"));
  auto r = c.read_reply();
  ASSERT_TRUE(r.has_value());
  EXPECT_EQ(r->body, "late but answered");
  EXPECT_FALSE(r->keep_alive);
  EXPECT_TRUE(c.raw().wait_closed());
}

TEST_F(HttpListener, AHeadRequestGetsTheGetAnswersHeadersWithoutItsBody) {
  auto l = serve();
  http_client c(l.port());
  auto h = c.request(verb::head, "/rooms/lobby");
  ASSERT_TRUE(h.has_value());
  EXPECT_EQ(h->status, 200);
  EXPECT_EQ(h->content_length, "10");  // "room lobby"
  EXPECT_EQ(h->body, "");
  auto a = c.request(verb::head, "/app/app.js");
  ASSERT_TRUE(a.has_value());
  EXPECT_EQ(a->status, 200);
  EXPECT_EQ(a->content_length, "10");  // "let x = 1;"
  EXPECT_EQ(a->content_type, "text/javascript");
  // No body bytes went after the heads: the next answer on the connection parses cleanly.
  auto g = c.request(verb::get, "/rooms/lobby");
  ASSERT_TRUE(g.has_value());
  EXPECT_EQ(g->body, "room lobby");
  EXPECT_EQ(c.request(verb::head, "/rooms/lobby/say")->status, 405);  // a POST route
}

TEST_F(HttpListener, AListenerOpenedByAnActorStopsWhenTheActorStops) {
  auto port = std::make_shared<std::promise<std::uint16_t>>();
  auto parent = sys.spawn(troupe::setup<parent_msg>([this, port](troupe::actor_context<parent_msg>& ctx) {
    io::http_routes r;
    r.get("/rooms/:name", ctx.spawn(rooms()));
    auto l = io::http_listen(ctx, io, {}, std::move(r));  // owned by a child of this actor
    port->set_value(l ? l->port() : 0);
    return troupe::receive<parent_msg>([](const quit&) { return troupe::stopped; });
  }));
  auto f = port->get_future();
  ASSERT_EQ(f.wait_for(10s), std::future_status::ready);
  auto p = f.get();
  ASSERT_NE(p, 0);
  http_client c(p);
  auto r = c.request(verb::get, "/rooms/owned");
  ASSERT_TRUE(r.has_value());
  EXPECT_EQ(r->body, "room owned");
  parent.tell(quit{});
  EXPECT_TRUE(c.raw().wait_closed());  // the idle keep-alive connection closes with it
  EXPECT_TRUE(refuses_soon(p));
}

TEST_F(HttpListener, AListenerUnderASupervisorIsAChildItStopsAndRestartsOnTheSamePort) {
  auto port = std::make_shared<std::atomic<std::uint16_t>>(0);
  auto room = sys.spawn(rooms());
  troupe::otp::child_spec web{
      .id = "web",
      .start = [this, port, room](troupe::otp::supervisor_context& ctx, const std::any&) -> troupe::otp::child_ref {
        io::http_routes r;
        r.get("/rooms/:name", room);
        auto l = io::http_listen(ctx, io, {.port = port->load()}, std::move(r));
        if (!l) throw std::runtime_error(l.error().message());
        port->store(l->port());
        return l->owner();
      }};
  auto sup = sys.spawn(troupe::otp::supervisor({.children = {web}}));
  auto deadline = std::chrono::steady_clock::now() + 10s;
  while (port->load() == 0 && std::chrono::steady_clock::now() < deadline) std::this_thread::yield();
  const std::uint16_t p = port->load();
  ASSERT_NE(p, 0);
  ASSERT_EQ(http_client(p).request(verb::get, "/rooms/a")->body, "room a");

  auto stopped = sup.ask([](troupe::ref<troupe::result<void>> r) { return troupe::otp::terminate_child{"web", {}, r}; }, 10s).get();
  ASSERT_TRUE(stopped.has_value() && stopped->has_value());
  // The child stopped, so its listener did: the port refuses at once.
  bool refused = false;
  try {
    io_test::client late(p);
  } catch (const std::exception&) {
    refused = true;
  }
  EXPECT_TRUE(refused);

  auto again = sup.ask([](troupe::ref<troupe::result<troupe::otp::child_ref>> r) { return troupe::otp::restart_child{"web", r}; }, 10s).get();
  ASSERT_TRUE(again.has_value() && again->has_value());
  auto r = http_client(p).request(verb::get, "/rooms/b");
  ASSERT_TRUE(r.has_value());
  EXPECT_EQ(r->body, "room b");
}

}  // namespace
