// web_view.hpp: a live web view of a running system, served by the node itself.
// Off until a program starts one; one line turns it on. It serves a page (HTML, JavaScript and
// CSS compiled into the library, nothing fetched from elsewhere), a JSON API under /api/, the
// Prometheus text at /metrics, and a WebSocket at /ws that pushes the view to each open page.
// It binds 127.0.0.1 unless told otherwise. Writes (kill an actor, set the log level) need the
// token given at start-up; without one, or with a wrong one, they get 403. Any thread may start
// and stop a view; destroy it before its system.
#pragma once

#include <chrono>
#include <cstddef>
#include <cstdint>
#include <functional>
#include <memory>
#include <string>
#include <vector>

#include "troupe/core/result.hpp"
#include "troupe/core/system.hpp"
#include "troupe/io/http_listener.hpp"
#include "troupe/io/listener.hpp"

namespace troupe::observe {

/// A node, or a member of a cluster, as the web view lists it (see web_view_options::nodes).
///
///     troupe::observe::node_info n{.name = "b", .address = "10.0.0.2:4370", .status = "up"};
struct node_info {
  std::string name;
  std::string address{};  ///< host:port, or empty
  std::string status{};   ///< the layer's own word: "up", "joining", "suspect", "down", ...
  std::string detail{};   ///< anything else worth a column (incarnation, last heartbeat, ...)
};

/// Where a web view listens, how often it pushes, and the token that allows writes.
///
///     troupe::observe::web_view_options o{.port = 8080, .token = "chaos-drill"};
struct web_view_options {
  /// A numeric IPv4 or IPv6 address. The default keeps the view on this machine.
  std::string address = "127.0.0.1";
  /// 0: any free port (read it back with web_view::port()).
  std::uint16_t port = 0;
  /// Allows writes (POST /api/actors/<id>/kill, POST /api/log_level) to a request that carries
  /// it as `Authorization: Bearer <token>`. Empty: every write gets 403.
  std::string token{};
  /// How often the open pages get a new view (and the plots a new point).
  std::chrono::nanoseconds push_every = std::chrono::seconds(1);
  /// Rows of the process table (the top actors by the page's sort key).
  std::size_t top = 50;
  /// The span of the plots (message rate, memory, an actor's mailbox length).
  std::chrono::nanoseconds history = std::chrono::minutes(5);
  /// Children shown per node of the supervision tree; the rest are counted ("and N more").
  std::size_t tree_children = 200;
  /// The nodes and members to list (the remote and cluster layers know them; observe does not
  /// depend on those layers, so the program that uses them hands the view this function). Empty:
  /// no nodes panel. Called on the view's thread once per push while a page is open, and for
  /// GET /api/nodes: it must be safe to call from any thread and quick; if it throws, the list
  /// is empty for that push.
  std::function<std::vector<node_info>()> nodes{};
};

namespace detail {
struct web_view_state;
}

/// A running web view. Move-only; destroying it (or stop()) closes its port and its pages.
///
///     troupe::system sys;
///     auto view = troupe::observe::web_view::start(sys, {.port = 8080, .token = "drill"});
///     if (view) std::printf("%s\n", view->url().c_str());   // http://127.0.0.1:8080/
class web_view {
 public:
  /// Binds and starts serving `sys`. Fails with the socket error when the address cannot be
  /// bound (a taken port), or io::errc::bad_address.
  static result<web_view> start(system& sys, web_view_options o = {});

  web_view(web_view&&) noexcept;
  web_view& operator=(web_view&&) noexcept;
  ~web_view();

  /// The port it listens on.
  std::uint16_t port() const noexcept;
  /// The page's address: "http://127.0.0.1:<port>/".
  std::string url() const;
  /// Counts a listener's open connections on the page and at /metrics, as the gauge
  /// `troupe_connections{listener="<name>"}` (the view counts its own as "web_view"). The
  /// handle is copied; a stopped listener counts 0. Any thread.
  ///
  ///     view->count_connections("chat", *chat_listener);
  void count_connections(std::string name, const io::listener& l);
  void count_connections(std::string name, const io::http_listener& l);
  /// Closes the port and the open pages' WebSockets; idempotent.
  void stop();

  explicit web_view(std::unique_ptr<detail::web_view_state> s) noexcept;

 private:
  std::unique_ptr<detail::web_view_state> state_;
};

}  // namespace troupe::observe
