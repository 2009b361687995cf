// node.hpp: a troupe node, the endpoint of Erlang-style distribution for one actor system.
// A node has a name and a listen address ("name@host:port"); it keeps at most one connection
// to each other node, set up on first use or by connect(), after a cookie challenge-response.
// Heartbeats on each connection detect a frozen or dead peer; monitor_nodes() tells actors.
// With node_config::tls, connections run inside mutual TLS (io's tls_context) before the cookie,
// and a node's certificate must name it (node_tls::verify_node_names).
// Any thread may call any member. Delivery between nodes is at most once; messages on one lane
// (one receiving actor) keep their order; a big message never holds up other lanes or heartbeats.
#pragma once

#include <chrono>
#include <cstddef>
#include <cstdint>
#include <functional>
#include <future>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <type_traits>
#include <variant>
#include <vector>

#include "troupe/core/protocol.hpp"
#include "troupe/core/ref.hpp"
#include "troupe/core/result.hpp"
#include "troupe/remote/errc.hpp"
#include "troupe/serial/codec.hpp"
#include "troupe/serial/protocol_ops.hpp"

namespace troupe {
class system;
}

namespace troupe::remote {

namespace detail {
class node_impl;
}

/// The wire version this build speaks; a node also accepts the one before it.
inline constexpr std::uint16_t wire_version = 2;

/// Mutual TLS between nodes: every node holds a certificate signed by one CA, and both sides of
/// every connection check the other's certificate chain against that CA before the cookie
/// challenge starts. A peer without a valid certificate (or one that does not speak TLS) is
/// dropped, with the reason in the log. By default a certificate also names its node: the
/// node's name (the part of "b@host:port" before '@') must be one of the certificate's
/// subjectAltName DNS entries, or its common name when it has no DNS entry (exact match, no
/// wildcards; io::certificate_names). An acceptor refuses a dialler whose hello claims a name its
/// certificate does not carry; a dialler refuses an acceptor whose certificate does not name
/// the node in the address it dialled; both log why, and the dialler's connect() fails with
/// errc::handshake_failed. The host in the address is not checked.
///
///     cfg.tls = troupe::remote::node_tls{.certificate = cert_pem, .private_key = key_pem, .ca = ca_pem};
///     // CA-only trust: any holder of a certificate from the CA may be any node
///     cfg.tls = troupe::remote::node_tls{.certificate = c, .private_key = k, .ca = ca, .verify_node_names = false};
struct node_tls {
  std::string certificate;  ///< PEM: this node's certificate chain, leaf first
  std::string private_key;  ///< PEM: the key of that certificate
  std::string ca;           ///< PEM: the CA (or CAs) that every node's certificate must chain to
  /// True: peers' certificates must name them, and this node's certificate must name it (the
  /// node refuses to start otherwise). False: CA-only trust; this node checks no names (peers
  /// that do still check this node's).
  bool verify_node_names = true;
};

/// Settings for a `troupe::remote::node`. The defaults detect a frozen peer within 1.7 s
/// (a missed-heartbeat deadline of 1.5 s, checked every 200 ms) and drop a peer that has not
/// finished the handshake within 3 s.
///
///     troupe::remote::node_config cfg{.name = "a", .port = 7001, .cookie = "secret"};
struct node_config {
  /// The node's name, unique among the nodes that talk to each other; empty: "node-<pid>".
  std::string name;
  /// The address to listen on and to tell peers; IPv4 or IPv6 literal.
  std::string host = "127.0.0.1";
  /// The port to listen on; 0: a free port the kernel picks (see node::address()).
  std::uint16_t port = 0;
  /// The shared secret nodes prove they know (HMAC-SHA256 of a nonce; never sent). Empty: the
  /// environment variable TROUPE_COOKIE, else a random one (the node then reaches no other).
  std::string cookie;
  /// Mutual TLS on every connection (both ways), certificates naming their nodes; empty: plain
  /// TCP. A node with TLS refuses plain peers and a plain node cannot reach it.
  std::optional<node_tls> tls{};
  /// How often each side sends a heartbeat on an idle or busy connection.
  std::chrono::nanoseconds heartbeat_interval = std::chrono::milliseconds(200);
  /// A connection from which nothing (heartbeat or data) arrived for this long is closed and
  /// its node declared down.
  std::chrono::nanoseconds down_after = std::chrono::milliseconds(1500);
  /// A peer that has not completed the handshake in this long is dropped (slowloris).
  std::chrono::nanoseconds handshake_timeout = std::chrono::seconds(3);
  /// The first wait before redialling a node whose connection failed; doubles up to the max.
  std::chrono::nanoseconds reconnect_backoff = std::chrono::milliseconds(100);
  std::chrono::nanoseconds reconnect_backoff_max = std::chrono::seconds(5);
  /// Large messages travel in fragments of this many bytes, interleaved with other messages.
  std::size_t fragment_size = 64 * 1024;
  /// The largest message a node sends or accepts (after reassembly).
  std::size_t max_message = 128 * 1024 * 1024;
  /// Bytes queued for one node (waiting for the connection or in its send queue) at most;
  /// a send beyond it fails with errc::send_queue_full.
  std::size_t send_queue_bytes = 256 * 1024 * 1024;
  /// The newest wire version this node speaks (it also speaks the one before). For tests of
  /// version skew only: leave it at wire_version.
  std::uint16_t speak_version = wire_version;
};

/// A node connected (handshake done). Put it in a protocol to receive it from monitor_nodes.
struct node_up {
  std::string node;  ///< its name
};
/// A node went down: its connection closed, failed or missed heartbeats.
struct node_down {
  std::string node;    ///< its name
  std::string reason;  ///< "no heartbeat for 1500 ms", "connection reset by peer", ...
};

/// A node of a distributed troupe program.
///
///     troupe::system sys;
///     troupe::remote::node a{sys, {.name = "a", .cookie = "secret"}};
///     std::cout << a.address();                            // "a@127.0.0.1:40123"
///     auto b = a.connect("b@127.0.0.1:7001").get();         // result<std::string>: "b"
///     a.monitor_nodes(watcher);                             // node_up / node_down
class node {
 public:
  /// Starts listening. @throws std::system_error if the address cannot be bound, or if
  /// `cfg.tls` holds a certificate, key or CA that OpenSSL cannot load; std::invalid_argument
  /// for a name with '@', ':' or a space, or (with node_tls::verify_node_names) a certificate
  /// that does not name this node.
  explicit node(troupe::system& sys, node_config cfg = {});
  /// Stops the node: closes every connection (peers see it go down) and joins its thread.
  ~node();
  node(const node&) = delete;
  node& operator=(const node&) = delete;

  /// The node's name.
  const std::string& name() const noexcept;
  /// "name@host:port", with the port actually bound.
  std::string address() const;

  /// Connects to the node at `address` ("name@host:port") unless already connected; completes
  /// with the node's name once the handshake is done, or with errc::bad_address,
  /// errc::handshake_failed (cookie, TLS, or a certificate that does not name the node),
  /// errc::wrong_version or errc::node_down (unreachable).
  std::future<result<std::string>> connect(std::string_view address);

  /// Sends node_up / node_down to `subscriber` for every node from now on (Erlang's
  /// net_kernel:monitor_nodes). Nodes already up are announced at once.
  template <class P>
    requires accepts<P, node_up> && accepts<P, node_down>
  void monitor_nodes(const ref<P>& subscriber) {
    add_monitor([subscriber](std::variant<node_up, node_down> e) {
      std::visit([&](auto& m) { subscriber.tell(std::move(m)); }, e);
    });
  }

  /// Makes `r`, a local actor, reachable by name from other nodes (their lookup<P>); P joins
  /// this node's allow-list. Another node reaches only published actors and actors whose refs
  /// it was sent. Publishing a name again replaces it.
  ///
  ///     (void)node.publish("counter", counter_ref);
  template <class P>
  result<void> publish(std::string name, const ref<P>& r) {
    return publish_endpoint(std::move(name), troupe::detail::ref_access::endpoint_of(r), serial::protocol_ops_of<P>());
  }
  /// A ref to the actor published as `name` on the node at `address` ("name@host:port"),
  /// connecting first if needed. Fails with errc::name_not_found, errc::wrong_protocol (it
  /// speaks another protocol), remote::errc::node_down, or errc::timeout after `timeout`.
  ///
  ///     auto c = node.lookup<counter_msg>("counter", "b@127.0.0.1:7001").get();
  ///     if (c) c->tell(add{5});                                // same ref<P> as a local one
  template <class P>
  std::future<result<ref<P>>> lookup(std::string_view name, std::string_view address,
                                     std::chrono::nanoseconds timeout = std::chrono::seconds(5)) {
    auto promise = std::make_shared<std::promise<result<ref<P>>>>();
    auto f = promise->get_future();
    lookup<P>(name, address, timeout, [promise](result<ref<P>> r) { promise->set_value(std::move(r)); });
    return f;
  }
  /// The same lookup, answered by calling `done(result<ref<P>>)` once, on the node's thread:
  /// for an actor, whose handler must not wait on the future. Keep `done` short (tell an
  /// actor); it must not throw.
  ///
  ///     node.lookup<counter_msg>("counter", "b@127.0.0.1:7001", 2s,
  ///                              [me = ctx.self()](troupe::result<troupe::ref<counter_msg>> r) {
  ///                                me.tell(found{std::move(r)});
  ///                              });
  template <class P, class F>
    requires std::is_invocable_v<F&, result<ref<P>>> && std::is_copy_constructible_v<F>
  void lookup(std::string_view name, std::string_view address, std::chrono::nanoseconds timeout, F done) {
    lookup_endpoint(std::string(name), std::string(address), serial::protocol_ops_of<P>(), timeout,
                    [done = std::move(done)](result<troupe::detail::counted<troupe::detail::endpoint>> r) mutable {
                      if (!r) done(result<ref<P>>(r.error()));
                      else done(result<ref<P>>(troupe::detail::ref_access::make<P>(std::move(*r))));
                    });
  }
  /// Adds P to the allow-list of protocols this node decodes. Published actors' protocols and
  /// those of refs this node sends or looks up are added without it.
  template <class P>
  void allow() {
    allow_protocol(serial::protocol_ops_of<P>());
  }

  /// Names of the nodes connected now.
  std::vector<std::string> connected_nodes() const;

  /// Closes every connection and stops listening. Idempotent. Local watchers of remote actors
  /// get `terminated` and local actors linked to them the exit, `noconnection`, once each; a
  /// watch or link made through this node's refs afterwards gets it at once.
  void stop();

  // --- runtime interface (for the remote layer's refs and tests; not for user code) ---------
  /// Queues `payload` for node `peer` on `lane` (messages on one lane keep their order); dials
  /// the node if needed. Fails with errc::node_down if the node's address is unknown,
  /// errc::send_queue_full or errc::message_too_large.
  result<void> send_payload(std::string_view peer, std::uint64_t lane, std::string payload);
  /// Called on the node's thread with each message that arrives, whole.
  using payload_handler = std::function<void(const std::string& from, std::uint64_t lane, std::string&&)>;
  void on_payload(payload_handler h);
  /// Called on the node's thread for node_up / node_down, before actors hear of it.
  void add_monitor(std::function<void(std::variant<node_up, node_down>)> f);
  detail::node_impl& impl() noexcept { return *impl_; }
  result<void> publish_endpoint(std::string name, troupe::detail::counted<troupe::detail::endpoint> ep,
                                const serial::protocol_ops& ops);
  void lookup_endpoint(std::string name, std::string address, const serial::protocol_ops& ops,
                       std::chrono::nanoseconds timeout,
                       std::function<void(result<troupe::detail::counted<troupe::detail::endpoint>>)> done);
  void allow_protocol(const serial::protocol_ops& ops);

 private:
  std::shared_ptr<detail::node_impl> impl_;
};

}  // namespace troupe::remote
