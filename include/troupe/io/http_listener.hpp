// http_listener.hpp: an HTTP/1.1 server on the io layer's threads (Boost.Beast).
// `http_listen` binds at once (a taken port is a result) and serves `http_routes`: each request
// is parsed on its socket's io loop, within limits, and sent to its route's actor with a deadline;
// the actor's answer (or 504 when none came in time) is written back on the same loop. Keep-alive
// is on; every bad input gets a status and a close, never a hung socket: 400 malformed, 413 body
// too large, 431 headers too large, a request not complete within `request_timeout` (slowloris)
// is closed. With `tls` set it serves https and wss instead (the io layer's tls_context; a
// failed or late handshake closes the connection and is counted). Any thread may call these
// functions; the actor overload makes the listener's lifetime an actor's (a child of the caller,
// so a supervisor can own, stop and restart it), as the TCP listener's acceptor.
#pragma once

#include <chrono>
#include <cstddef>
#include <cstdint>
#include <memory>
#include <optional>
#include <string>
#include <variant>

#include "troupe/core/actor_context.hpp"
#include "troupe/core/behavior.hpp"
#include "troupe/core/ref.hpp"
#include "troupe/core/result.hpp"
#include "troupe/io/http_route.hpp"
#include "troupe/io/io_service.hpp"
#include "troupe/io/tls.hpp"

namespace troupe::io {

/// Where to listen and the limits every connection is held to.
///
///     troupe::io::http_options o{.port = 8080, .handler_timeout = 2s};
struct http_options {
  /// A numeric IPv4 or IPv6 address.
  std::string address = "127.0.0.1";
  /// 0: any free port (read it back with http_listener::port()).
  std::uint16_t port = 0;
  int backlog = 4096;
  /// SO_REUSEPORT: several processes (or listeners) share the port; the kernel spreads
  /// connections over them (as listen_options::reuse_port).
  bool reuse_port = false;
  /// Open connections at most; accepting pauses at the limit and resumes when one closes.
  std::size_t max_connections = 100'000;
  /// The request line and headers together, in bytes; more gets 431 and a close.
  std::size_t max_header_bytes = 8 * 1024;
  /// The body, in bytes; a larger Content-Length (or chunked body) gets 413 and a close. A route
  /// may set its own (route_limits).
  std::size_t max_body_bytes = 1024 * 1024;
  /// A whole request (head and body) must arrive within this, counted from the accept or from
  /// the end of the previous response; otherwise the connection is closed. This is both the
  /// slowloris deadline and the keep-alive idle timeout.
  std::chrono::nanoseconds request_timeout = std::chrono::seconds(10);
  /// A route's actor must answer within this (unless the route sets its own, route_limits);
  /// otherwise the client gets 504.
  std::chrono::nanoseconds handler_timeout = std::chrono::seconds(5);
  /// A response must be taken by the client within this; otherwise the connection is closed.
  /// For a streamed response, each write of the queued pieces is held to it.
  std::chrono::nanoseconds write_timeout = std::chrono::seconds(10);
  /// A streamed response's pieces queued and not yet written, at most (http_stream.hpp): what a
  /// stream holds in memory is this many of its writer's pieces.
  std::size_t max_stream_chunks = 8;
  /// A server context: every connection speaks TLS (https, and wss on upgrade routes). The
  /// handshake must finish within `request_timeout`; one that fails or is late closes the
  /// connection and counts in http_listener::tls_failures().
  ///
  ///     o.tls = *troupe::io::tls_context::server(cert_chain_pem, key_pem);
  std::optional<tls_context> tls{};
};

namespace detail {
struct http_core;
/// Stops the actor that owns a listener (http_listener::stop() sends it).
struct http_owner_stop {};
using http_owner_msg = std::variant<http_owner_stop>;
}  // namespace detail

/// A running HTTP server. Copyable handle; the server runs until stop() (not until the handle
/// goes: connections in progress keep it alive, and so does the listening socket).
///
///     auto l = troupe::io::http_listen(io, {.port = 8080}, std::move(routes));
///     if (l) std::printf("http://127.0.0.1:%u/\n", l->port());
class http_listener {
 public:
  /// The port it listens on.
  std::uint16_t port() const noexcept;
  /// Graceful stop: the listening socket is closed when it returns (a connect is refused); a
  /// request in progress is answered (with `Connection: close`), idle keep-alive connections are
  /// closed. An owned listener's actor stops too. Idempotent; any thread.
  void stop();
  /// Connections open now; requests answered so far (any status).
  std::size_t live_connections() const noexcept;
  std::size_t requests() const noexcept;
  /// TLS handshakes that failed or did not finish in time (with http_options::tls).
  std::size_t tls_failures() const noexcept;
  /// The actor that owns the listener (the actor overload of http_listen); empty otherwise.
  /// The listener stops when it stops: watch it, link it, or return it from a supervisor's
  /// child start function.
  const ref<detail::http_owner_msg>& owner() const noexcept { return owner_; }

  explicit http_listener(std::shared_ptr<detail::http_core> c, ref<detail::http_owner_msg> owner = {})
      : core_(std::move(c)), owner_(std::move(owner)) {}
  http_listener(const http_listener& l, ref<detail::http_owner_msg> owner) : http_listener(l.core_, std::move(owner)) {}

 private:
  std::shared_ptr<detail::http_core> core_;
  ref<detail::http_owner_msg> owner_;
};

namespace detail {
/// The owner actor: holds `l` and stops it (gracefully) when the actor stops, however it stops.
behavior<http_owner_msg> http_owner(http_listener l);
}  // namespace detail

/// Listens per `o` and serves `routes`. Fails with the socket error when the address cannot be
/// bound, or errc::bad_address.
result<http_listener> http_listen(io_service& io, http_options o, http_routes routes);

/// The same, owned by a new child actor of the caller (http_listener::owner()): the listener
/// stops when that actor stops, with its parent, its supervisor, or a kill. Call it from `ctx`'s
/// own handlers, or from a supervisor child's start function, which returns the owner:
///
///     .start = [&](troupe::otp::supervisor_context& ctx, const std::any&) -> troupe::otp::child_ref {
///       return troupe::io::http_listen(ctx, io, {.port = 8080}, make_routes()).value().owner();
///     }
template <class Q>
result<http_listener> http_listen(actor_context<Q>& ctx, io_service& io, http_options o, http_routes routes) {
  auto l = http_listen(io, std::move(o), std::move(routes));
  if (!l) return l;
  try {
    return http_listener(*l, ctx.spawn(detail::http_owner(*l)));
  } catch (...) {
    l->stop();  // no owner: no listener either
    throw;
  }
}

}  // namespace troupe::io
