// connect.hpp: open an outgoing TCP (or TLS) connection for an actor, with a timeout.
// `async_connect` returns at once; later the owner actor receives `map(result<connection>)`, a
// message of its own protocol: a connection already attached to the owner (its `received` and
// `closed` go to the owner), or why there is none (a refused connection, errc::connect_timeout,
// errc::tls_handshake_failed). Exactly one mapped message arrives per call. Any thread may call.
#pragma once

#include <chrono>
#include <cstdint>
#include <functional>
#include <optional>
#include <string>
#include <utility>

#include "troupe/core/ref.hpp"
#include "troupe/core/result.hpp"
#include "troupe/io/connection.hpp"
#include "troupe/io/io_service.hpp"
#include "troupe/io/tls.hpp"

namespace troupe::io {

/// How to connect.
///
///     troupe::io::connect_options o{.timeout = std::chrono::seconds(2)};
struct connect_options {
  connection_options connection{};
  /// The whole connect (and TLS handshake) must finish within this.
  std::chrono::nanoseconds timeout = std::chrono::seconds{5};
  /// Set: TLS with this client context; the server's certificate must name `tls_host`.
  std::optional<tls_context> tls{};
  std::string tls_host{};
  /// Set: bind this local address first (a load generator spreads over 127.0.0.0/8 this way).
  std::string source_address{};
};

namespace detail {
void start_connect(io_service& io, const std::string& address, std::uint16_t port, const connect_options& o,
                   std::function<void(result<connection>&&)> done);
}

/// Connects to `address:port` (numeric IPv4 or IPv6) and tells `owner` `map(result<connection>)`.
///
///     troupe::io::async_connect(io, "127.0.0.1", port, {}, ctx.self(),
///                               [](troupe::result<troupe::io::connection>&& r) { return dialed{std::move(r)}; });
template <class P, class Map>
  requires accepts<P, std::invoke_result_t<Map&, result<connection>&&>>
void async_connect(io_service& io, const std::string& address, std::uint16_t port, const connect_options& o,
                   ref<P> owner, Map map) {
  detail::start_connect(io, address, port, o,
                        [owner = std::move(owner), map = std::move(map)](result<connection>&& r) mutable {
                          if (r) r->attach(owner);
                          owner.tell(map(std::move(r)));
                        });
}

}  // namespace troupe::io
