// listener.hpp: accept TCP (or TLS) connections, each handled by a fresh actor.
// `listen` binds at once (so a taken port is a result, and port 0's real port is known), then
// spawns an acceptor actor; for each accepted connection the acceptor spawns a child running the
// user's behaviour, made by `factory(connection)`. The connection actors are the acceptor's
// children: a crash closes only that connection; stopping the listener (or the acceptor's
// parent, e.g. a supervisor) stops them all. Accepting pauses while max_connections are open.
// Call `listen` from any thread (system overload) or from an actor's handler (context overload).
#pragma once

#include <chrono>
#include <cstddef>
#include <cstdint>
#include <memory>
#include <optional>
#include <string>
#include <type_traits>
#include <utility>
#include <variant>

#include "troupe/core/actor_context.hpp"
#include "troupe/core/behavior.hpp"
#include "troupe/core/ref.hpp"
#include "troupe/core/result.hpp"
#include "troupe/core/system.hpp"
#include "troupe/io/connection.hpp"
#include "troupe/io/io_service.hpp"
#include "troupe/io/tls.hpp"

namespace troupe::io {

/// Where and how to listen.
///
///     troupe::io::listen_options o{.port = 7000, .connection = {.framing = {troupe::io::framing::line, 1024}}};
struct listen_options {
  /// A numeric IPv4 or IPv6 address.
  std::string address = "127.0.0.1";
  /// 0: any free port (read it back with listener::port()).
  std::uint16_t port = 0;
  int backlog = 4096;
  /// SO_REUSEPORT: several processes (or listeners) share the port; the kernel spreads connections.
  bool reuse_port = false;
  /// Open connections at most; accepting pauses at the limit and resumes when one closes.
  std::size_t max_connections = 1'000'000;
  connection_options connection{};
  /// Set: every connection is TLS, with this server context.
  std::optional<tls_context> tls{};
  /// A TLS handshake that takes longer fails.
  std::chrono::nanoseconds handshake_timeout = std::chrono::seconds{10};
};

namespace detail {
struct listener_core;
struct accepted {
  connection conn;
};
struct stop_accepting {};
using acceptor_msg = std::variant<accepted, stop_accepting>;

result<std::shared_ptr<listener_core>> open_listener(io_service& io, const listen_options& o);
/// Starts the accept loop, which tells `owner` of each connection. Any thread.
void start_accepting(const std::shared_ptr<listener_core>& core, ref<acceptor_msg> owner);
/// Stops accepting and forgets the owner. Any thread; idempotent.
void close_listener(listener_core& core) noexcept;
std::uint16_t listener_port(const listener_core& core) noexcept;
std::size_t listener_live(const listener_core& core) noexcept;
std::size_t listener_accepted(const listener_core& core) noexcept;
std::size_t listener_tls_failures(const listener_core& core) noexcept;

template <class B>
struct behavior_protocol;
template <class P>
struct behavior_protocol<behavior<P>> {
  using type = P;
};

// Closes the listening socket when the acceptor's behaviour is destroyed (the acceptor stopped).
struct listener_guard {
  std::shared_ptr<listener_core> core;
  explicit listener_guard(std::shared_ptr<listener_core> c) : core(std::move(c)) {}
  listener_guard(const listener_guard&) = delete;
  listener_guard& operator=(const listener_guard&) = delete;
  ~listener_guard() { close_listener(*core); }
};

template <class P, class F>
behavior<acceptor_msg> acceptor(std::shared_ptr<listener_core> core, F factory) {
  return setup<acceptor_msg>([core = std::move(core), factory](actor_context<acceptor_msg>& ctx) {
    start_accepting(core, ctx.self());
    auto guard = std::make_shared<listener_guard>(core);
    return receive<acceptor_msg>(
        [&ctx, factory, guard](accepted&& a) {
          ctx.spawn(setup<P>([conn = std::move(a.conn), factory](actor_context<P>& c) mutable {
            conn.attach(c.self());  // before the behaviour can request(): events have a home
            return factory(std::move(conn));
          }));
        },
        [](const stop_accepting&) { return stopped; });
  });
}
}  // namespace detail

/// A running listener. Copyable handle; the listener lives until stop() or until its acceptor
/// actor stops (with its parent, or the system).
///
///     auto l = troupe::io::listen(sys, io, {.port = 0}, [](troupe::io::connection c) { return echo(c); });
///     if (l) std::cout << "port " << l->port() << '\n';
class listener {
 public:
  /// The port it listens on.
  std::uint16_t port() const noexcept { return detail::listener_port(*core_); }
  /// Stops accepting, then stops every connection actor (the acceptor's children).
  void stop() {
    detail::close_listener(*core_);
    acceptor_.tell(detail::stop_accepting{});
  }
  /// Connections open now, accepted so far, and TLS handshakes that failed.
  std::size_t live_connections() const noexcept { return detail::listener_live(*core_); }
  std::size_t accepted() const noexcept { return detail::listener_accepted(*core_); }
  std::size_t tls_failures() const noexcept { return detail::listener_tls_failures(*core_); }
  /// The acceptor actor (watch it, link it, or place it under a supervisor's watch).
  const ref<detail::acceptor_msg>& acceptor() const noexcept { return acceptor_; }

  listener(std::shared_ptr<detail::listener_core> c, ref<detail::acceptor_msg> a)
      : core_(std::move(c)), acceptor_(std::move(a)) {}

 private:
  std::shared_ptr<detail::listener_core> core_;
  ref<detail::acceptor_msg> acceptor_;
};

/// Listens per `o`; each connection gets a fresh top-level-owned actor running
/// `factory(connection)`, which returns a `behavior<P>` whose P accepts `received` and `closed`.
/// The behaviour must keep the connection (the socket closes when its last copy goes).
/// Fails with the socket error when the address cannot be bound.
template <class F>
result<listener> listen(system& sys, io_service& io, listen_options o, F factory) {
  using P = typename detail::behavior_protocol<std::invoke_result_t<F&, connection>>::type;
  static_assert(accepts<P, received> && accepts<P, closed>,
                "troupe: a connection actor's protocol must accept io::received and io::closed");
  auto core = detail::open_listener(io, o);
  if (!core) return core.error();
  auto a = sys.spawn(detail::acceptor<P>(*core, std::move(factory)));
  return listener(std::move(*core), std::move(a));
}

/// The same, with the acceptor spawned as a child of the calling actor (so that a supervisor or
/// any parent owns it, and its connections). Call from `ctx`'s own handlers.
template <class Q, class F>
result<listener> listen(actor_context<Q>& ctx, io_service& io, listen_options o, F factory) {
  using P = typename detail::behavior_protocol<std::invoke_result_t<F&, connection>>::type;
  static_assert(accepts<P, received> && accepts<P, closed>,
                "troupe: a connection actor's protocol must accept io::received and io::closed");
  auto core = detail::open_listener(io, o);
  if (!core) return core.error();
  auto a = ctx.spawn(detail::acceptor<P>(*core, std::move(factory)));
  return listener(std::move(*core), std::move(a));
}

}  // namespace troupe::io
