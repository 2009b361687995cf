// http_route.hpp: which request goes where. A route is a method and a path pattern
// ("/rooms/:name", "/files/*rest") bound to an actor that receives `http_call`s, or to assets
// served by the listener itself (an in-memory map of path -> content type and bytes, or a
// directory on disk). Routes are tried in the order added; a path that matches some route but not
// its method gets 405, one that matches none gets 404. An actor route may carry its own body limit
// and handler deadline (`route_limits`), which replace the listener's for its requests. Build the
// table on one thread, then hand it to `http_listen`, which keeps an immutable copy that any io
// thread may read.
#pragma once

#include <chrono>
#include <filesystem>
#include <functional>
#include <map>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <type_traits>
#include <utility>
#include <vector>

#include "troupe/core/behavior.hpp"
#include "troupe/core/extension.hpp"
#include "troupe/core/ref.hpp"
#include "troupe/core/result.hpp"
#include "troupe/core/system.hpp"
#include "troupe/io/http_message.hpp"
#include "troupe/io/websocket.hpp"

namespace troupe::io {

/// A file held in memory and served as is.
///
///     troupe::io::http_asset page{"text/html; charset=utf-8", "<h1>hi</h1>"};
struct http_asset {
  std::string content_type;
  std::string bytes;
};

/// Paths (relative to a prefix, without a leading '/') and their assets. The key "" is the
/// prefix itself; "index.html" is also served for the prefix when "" is absent.
///
///     troupe::io::asset_map a{{"index.html", {"text/html", "<p>chat</p>"}}, {"app.js", {"text/javascript", "..."}}};
using asset_map = std::map<std::string, http_asset, std::less<>>;

/// A route's own limits; a field left unset takes the listener's (http_options). The body limit
/// is applied as soon as the request's head is in: a Content-Length over it gets 413 before any
/// of the body is read, a chunked body gets 413 when it crosses it.
///
///     routes.post("/upload", store, {.max_body_bytes = 64 * 1024 * 1024, .handler_timeout = 30s})
///           .get("/quote", quotes, {.handler_timeout = 200ms});
struct route_limits {
  /// The request body, in bytes; more gets 413 and a close.
  std::optional<std::size_t> max_body_bytes{};
  /// The route's actor must answer within this (504 otherwise); troupe::infinity: no deadline.
  std::optional<std::chrono::nanoseconds> handler_timeout{};
};

namespace detail {
template <class B>
struct ws_behavior_protocol;
template <class P>
struct ws_behavior_protocol<behavior<P>> {
  using type = P;
};
/// Sends one request to a route's actor and calls `done` exactly once (any thread).
using http_dispatch =
    std::function<void(http_request&&, std::chrono::nanoseconds, std::function<void(result<http_response>&&)>)>;
}  // namespace detail

/// Matches `path` against a pattern made by http_routes (segments); fills `params` on a match.
/// Exposed for tests and tools.
///
///     std::map<std::string, std::string, std::less<>> p;
///     troupe::io::match_path({"rooms", ":name"}, "/rooms/lobby", p);   // true, p["name"] == "lobby"
bool match_path(const std::vector<std::string>& pattern, std::string_view path,
                std::map<std::string, std::string, std::less<>>& params);

/// Splits a pattern ("/rooms/:name") into its segments.
std::vector<std::string> split_pattern(std::string_view pattern);

/// Decodes %XX escapes (and nothing else); sets `ok` false on a malformed escape.
std::string percent_decode(std::string_view s, bool& ok);

/// A routing table.
///
///     troupe::io::http_routes routes;
///     routes.get("/rooms/:name", rooms_actor)      // ref<P>, P accepts http_call
///           .post("/rooms/:name/say", rooms_actor)
///           .assets("/", page_assets);
class http_routes {
 public:
  /// Requests with `method` ("GET", "POST", ...) whose path matches `pattern` go to `handler`.
  /// A pattern is '/'-separated segments: literal text, `:name` (one segment, captured) or, last,
  /// `*name` (the rest of the path, captured; may be empty). `limits` replace the listener's
  /// body limit and handler deadline for this route's requests.
  template <class P>
    requires accepts<P, http_call>
  http_routes& route(std::string method, std::string pattern, ref<P> handler, route_limits limits = {}) {
    add(std::move(method), std::move(pattern),
        [handler = std::move(handler)](http_request&& req, std::chrono::nanoseconds timeout,
                                       std::function<void(result<http_response>&&)> done) {
          auto make = [&req](ref<http_response> reply_to) { return http_call{std::move(req), std::move(reply_to)}; };
          troupe::async_ask<http_response>(handler, make, timeout, std::move(done));
        },
        limits);
    return *this;
  }
  template <class P>
  http_routes& get(std::string pattern, ref<P> handler, route_limits limits = {}) {
    return route("GET", std::move(pattern), std::move(handler), limits);
  }
  template <class P>
  http_routes& post(std::string pattern, ref<P> handler, route_limits limits = {}) {
    return route("POST", std::move(pattern), std::move(handler), limits);
  }
  /// A WebSocket endpoint: a GET of `pattern` asking for an upgrade becomes a WebSocket handed
  /// to a fresh top-level actor of `sys` running `factory(websocket)`, which returns a
  /// `behavior<P>` whose P accepts ws_received and ws_closed. A GET without the upgrade gets 426.
  ///
  ///     routes.upgrade("/ws/:room", sys, [](troupe::io::websocket ws) { return chat_socket(std::move(ws)); });
  template <class F>
  http_routes& upgrade(std::string pattern, system& sys, F factory, websocket_options o = {}) {
    using P = typename detail::ws_behavior_protocol<std::invoke_result_t<F&, websocket>>::type;
    static_assert(accepts<P, ws_received> && accepts<P, ws_closed>,
                  "troupe: a WebSocket actor's protocol must accept io::ws_received and io::ws_closed");
    entry e;
    e.method = "GET";
    e.pattern = split_pattern(pattern);
    e.ws_options = o;
    e.upgrade = [&sys, factory = std::move(factory)](websocket ws) {
      sys.spawn(setup<P>([ws = std::move(ws), factory](actor_context<P>& c) mutable {
        ws.attach(c.self());  // before the behaviour can request(): events have a home
        return factory(std::move(ws));
      }));
    };
    entries_.push_back(std::move(e));
    return *this;
  }
  /// GET of `prefix` + a key of `assets` serves that asset.
  http_routes& assets(std::string prefix, asset_map assets);
  /// GET of `prefix` + a relative path serves the file under `root`; paths holding
  /// ".." segments, hidden files and anything not a regular file get 404. Files are read on the
  /// io thread: keep them small (pages, scripts), not downloads.
  http_routes& directory(std::string prefix, std::filesystem::path root);

  // --- runtime interface (not for user code) -------------------------------------------------
  struct entry {
    std::string method;               // empty for assets and directories: GET and HEAD
    std::vector<std::string> pattern;  // segments
    detail::http_dispatch dispatch;    // set: an actor route
    std::shared_ptr<const asset_map> assets;
    std::filesystem::path root;  // set: a directory
    std::string prefix;             // assets and directories
    std::function<void(websocket)> upgrade;  // set: a WebSocket route; spawns its actor
    websocket_options ws_options{};
    route_limits limits{};  // actor routes
  };
  void add(std::string method, std::string pattern, detail::http_dispatch d, route_limits limits = {});
  void add_entry(entry e) { entries_.push_back(std::move(e)); }
  const std::vector<entry>& entries() const noexcept { return entries_; }

 private:
  std::vector<entry> entries_;
};

}  // namespace troupe::io
