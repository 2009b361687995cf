// http_listener.hpp: an HTTP/1.1 server on the io layer's threads (Boost.Beast).
// `http_listen` binds at once (a taken port is a result) and serves `http_routes`: each request
// is parsed on its socket's io loop, within limits, and sent to its route's actor with a deadline;
// the actor's answer (or 504 when none came in time) is written back on the same loop. Keep-alive
// is on; every bad input gets a status and a close, never a hung socket: 400 malformed, 413 body
// too large, 431 headers too large, a request not complete within `request_timeout` (slowloris)
// is closed. With `tls` set it serves https and wss instead (the io layer's tls_context; a
// failed or late handshake closes the connection and is counted). Any thread may call these
// functions.
#pragma once

#include <chrono>
#include <cstddef>
#include <cstdint>
#include <memory>
#include <optional>
#include <string>

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
}

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
  /// closed. Idempotent; any thread.
  void stop();
  /// Connections open now; requests answered so far (any status).
  std::size_t live_connections() const noexcept;
  std::size_t requests() const noexcept;
  /// TLS handshakes that failed or did not finish in time (with http_options::tls).
  std::size_t tls_failures() const noexcept;

  explicit http_listener(std::shared_ptr<detail::http_core> c) : core_(std::move(c)) {}

 private:
  std::shared_ptr<detail::http_core> core_;
};

/// Listens per `o` and serves `routes`. Fails with the socket error when the address cannot be
/// bound, or errc::bad_address.
result<http_listener> http_listen(io_service& io, http_options o, http_routes routes);

}  // namespace troupe::io
