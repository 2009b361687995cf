// node_impl.hpp: a node's event loop, its peers and their connections. Internal to the layer.
// Everything here except the members marked otherwise is owned by the node's own thread, which
// runs one Asio io_context: connections, peers and monitors need no locks. The public `node`
// posts to that thread. The node has its own thread (not the io layer's loops) so heartbeats
// never wait behind user sockets; a connection's heartbeats never wait behind its big messages
// either (fragments, control frames first).
#pragma once

#include <chrono>
#include <cstdint>
#include <deque>
#include <functional>
#include <map>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <thread>
#include <unordered_map>
#include <variant>
#include <vector>

#include <boost/asio/executor_work_guard.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/ssl/stream.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/asio/thread_pool.hpp>

#include "auth.hpp"
#include "refs.hpp"
#include "troupe/core/system.hpp"
#include "troupe/io/tls.hpp"
#include "troupe/remote/node.hpp"
#include "wire.hpp"

namespace troupe::remote::detail {

namespace asio = boost::asio;
using tcp = asio::ip::tcp;
using clock = std::chrono::steady_clock;
using bytes = std::vector<std::uint8_t>;

class node_impl;

/// One message waiting to be sent, whole, on a lane.
struct outgoing {
  std::uint64_t lane = 0;
  std::shared_ptr<const std::string> data;
};

/// One TCP connection to another node: handshake, framing, fragments, heartbeats.
class connection : public std::enable_shared_from_this<connection> {
 public:
  enum class role { dialer, acceptor };
  connection(node_impl& n, tcp::socket s, role r, std::string expected_peer);

  /// An accepted connection: starts the handshake deadline and waits for the hello.
  void start();
  /// An outgoing connection: connects, then sends the hello, all within the handshake deadline.
  void dial(const tcp::endpoint& where);
  /// Closes the socket once, logs `reason` and tells the node (if it was up: node_down).
  void close(const std::string& reason, bool log = true);
  /// Queues a message; the node checked its size and the send-queue bound.
  void send(outgoing m);

  bool is_up() const noexcept { return up_; }
  bool is_closed() const noexcept { return closed_; }
  role side() const noexcept { return role_; }
  const std::string& peer() const noexcept { return peer_; }
  const std::string& peer_address() const noexcept { return peer_address_; }
  std::uint16_t version() const noexcept { return version_; }
  std::size_t queued_bytes() const noexcept { return queued_bytes_; }
  /// Refuses the peer (a refuse frame it can read), then closes.
  void refuse(refusal why, const std::string& text);

 private:
  void handshake_tls();  // TLS first when the node has it, then begin()
  /// True if the peer's TLS certificate names node `name`, or names are not checked (no TLS, or
  /// node_tls::verify_node_names is false).
  bool certified_as(const std::string& name) const;
  std::vector<std::string> peer_certificate_names() const;  // TLS only
  void begin();
  void read_more();
  bool on_frame(frame_type t, frame_reader& r);  // false: closed
  bool on_handshake(frame_type t, frame_reader& r);
  void on_fragment(frame_reader& r);
  void send_control(const std::function<void(frame_writer&)>& fill);
  void pump();        // starts a write if none is running
  void fill_batch();  // control frames, then one fragment per lane in turn
  void arm_timer();
  void on_tick();
  void became_up();

  node_impl& node_;
  tcp::socket socket_;
  // With TLS, every byte goes through this stream over socket_ (declared after it: goes first).
  std::unique_ptr<asio::ssl::stream<tcp::socket&>> tls_;
  asio::steady_timer timer_;
  role role_;
  std::string peer_;          // expected (dialer) or learned (acceptor) name
  std::string peer_address_;  // "name@host:port" as the peer announced it
  std::uint16_t version_ = 0;
  bool up_ = false;
  bool closed_ = false;
  std::string refused_;             // non-empty: close once the refuse frame is written
  std::optional<errc> failure_;     // why a dial failed, for connect()'s caller
  bool lost_tie_ = false;           // the peer refused us for a simultaneous connect
  nonce my_nonce_{};
  nonce peer_nonce_{};
  clock::time_point started_;
  clock::time_point last_heard_;

  // Reading: bytes in rbuf_[rbegin_, rend_); grows to 4 + the frame limit at most.
  bytes rbuf_;
  std::size_t rbegin_ = 0, rend_ = 0;
  std::unordered_map<std::uint64_t, std::string> partial_;  // lane -> fragments so far
  std::size_t partial_bytes_ = 0;

  // Writing: control frames go first; each lane sends one message at a time, in order, and
  // lanes take turns one fragment each, so a 64 MiB message delays others by one fragment.
  std::deque<bytes> control_;
  struct lane_queue {
    std::deque<outgoing> msgs;
    std::size_t offset = 0;  // bytes of msgs.front() already sent
  };
  std::unordered_map<std::uint64_t, lane_queue> lanes_;
  std::deque<std::uint64_t> turn_;  // lanes with something to send, in round-robin order
  std::size_t queued_bytes_ = 0;
  bytes batch_;
  bool writing_ = false;
};

/// What the node knows about another node, by name.
struct peer {
  std::string name;
  std::string address;                // where to dial it; empty if only ever dialled us
  std::shared_ptr<connection> up;     // the one established connection
  std::shared_ptr<connection> dial;   // our outgoing connection, still in handshake
  std::deque<outgoing> waiting;       // messages sent before the connection came up
  std::size_t waiting_bytes = 0;
  std::vector<std::function<void(result<std::string>)>> connect_waiters;
  std::chrono::nanoseconds backoff{0};
  clock::time_point next_dial{};
  std::unique_ptr<asio::steady_timer> retry;
};

class node_impl : public std::enable_shared_from_this<node_impl> {
 public:
  node_impl(troupe::system& sys, node_config cfg);
  ~node_impl();
  void start();  // binds, listens, runs the thread
  void stop();

  // Called from any thread; they post to the node's thread.
  std::string address() const;
  /// The address of node `name` as this node knows it, or empty. Any thread.
  std::string known_address(const std::string& name) const;
  /// Remembers where node `name` listens, unless already known. Any thread.
  void learn_address(const std::string& name, std::string address);
  void connect(std::string address, std::function<void(result<std::string>)> done);
  result<void> send(std::string_view peer, std::uint64_t lane, std::string payload);
  void add_monitor(std::function<void(std::variant<node_up, node_down>)> f);
  void set_payload_handler(node::payload_handler h);
  std::vector<std::string> connected() const;
  result<void> publish(std::string name, endpoint_ptr ep, const serial::protocol_ops& ops);
  void lookup(std::string name, std::string address, const serial::protocol_ops& ops, std::chrono::nanoseconds timeout,
              std::function<void(result<endpoint_ptr>)> done);
  refs& remote_refs() noexcept { return *refs_; }
  /// True if `peer` has an established connection (the node's thread).
  bool is_up(const std::string& peer) const;

  // Called by connections on the node's thread.
  const node_config& config() const noexcept { return cfg_; }
  const std::string& name() const noexcept { return cfg_.name; }
  const std::string& cookie() const noexcept { return cookie_; }
  /// The contexts for accepted and dialled connections; both empty without node_config::tls.
  const std::optional<io::tls_context>& tls_server() const noexcept { return tls_server_; }
  const std::optional<io::tls_context>& tls_client() const noexcept { return tls_client_; }
  std::string my_address() const { return address_; }
  asio::io_context& context() noexcept { return ctx_; }
  /// Queues `f(node)` for the node's thread and returns true, unless stop() has begun: then it
  /// returns false and leaves `f` untouched (moved from only when queued), so that the caller can
  /// answer for it (a watch or link hears noconnection at once, never silence). Any thread. A
  /// handler accepted is queued under mu_, before stop()'s own handler, so it runs. For work
  /// queued from outside the node (actors, proxies, the decoder): the queued handler holds the
  /// node weakly, because a handler left in the queue when the thread ends is never run and,
  /// holding the node, would keep the node and its queue alive forever (a cycle: node -> queue ->
  /// handler -> node).
  template <class F>
  [[nodiscard]] bool post(F&& f) {
    std::lock_guard lk(mu_);
    if (!accepting_sends_) return false;
    asio::post(ctx_, [w = weak_from_this(), f = std::forward<F>(f)]() mutable {
      if (auto n = w.lock()) f(*n);
    });
    return true;
  }
  void log(log_level level, const std::string& text) const;
  /// The acceptor saw a hello from `name`: false means refuse it (our own dial wins the tie).
  bool admit(const std::shared_ptr<connection>& c, const std::string& name);
  void on_up(const std::shared_ptr<connection>& c);
  void on_closed(const std::shared_ptr<connection>& c, const std::string& reason, std::optional<errc> failure,
                 bool lost_tie);
  /// A whole message arrived on `lane`: small ones are handled here, a user message over one
  /// fragment is decoded on the decoder thread; either way a lane's messages keep their order.
  void deliver(const std::string& from, std::uint64_t lane, std::string&& payload);
  /// `n` bytes queued for `peer` were sent or dropped.
  void release_quota(const std::string& peer, std::size_t n);

 private:
  void accept_next();
  void offload(const std::pair<std::string, std::uint64_t>& lane, std::string&& payload);
  void resume(const std::pair<std::string, std::uint64_t>& lane);
  void dial(peer& p);
  void dial_when_due(peer& p);
  void drop_waiting(peer& p, const std::string& why);
  void publish(std::variant<node_up, node_down> e);
  peer& peer_named(const std::string& name);

  troupe::system& sys_;
  node_config cfg_;
  std::string cookie_;
  std::optional<io::tls_context> tls_server_, tls_client_;  // immutable after construction
  std::string address_;  // immutable once start() returns
  asio::io_context ctx_{1};
  std::optional<asio::executor_work_guard<asio::io_context::executor_type>> work_;
  tcp::acceptor acceptor_;
  std::thread thread_;
  std::map<std::string, peer> peers_;  // owned by the node's thread
  std::vector<std::shared_ptr<connection>> handshaking_;  // accepted, not yet up
  std::vector<std::function<void(std::variant<node_up, node_down>)>> monitors_;  // node's thread
  node::payload_handler on_payload_;  // node's thread: a raw hook for tests; replaces refs
  std::unique_ptr<refs> refs_;        // immutable after construction
  bool stopped_ = false;              // node's thread
  // Lanes with a message on the decoder thread, and what arrived on them since (node's thread):
  // those wait, so that a big message's decoding never holds up heartbeats or other lanes, and
  // never lets a later message (or a signal) on its lane overtake it.
  std::map<std::pair<std::string, std::uint64_t>, std::deque<std::string>> decoding_;
  asio::thread_pool decoder_{1};  // joined in stop(); its jobs touch refs_, which is thread-safe

  // The callers of send() need the queue bound without a trip to the node's thread.
  mutable std::mutex mu_;
  std::map<std::string, std::size_t, std::less<>> queued_;  // guarded by mu_: bytes per peer
  std::map<std::string, std::string, std::less<>> known_;  // guarded by mu_: name -> address
  std::vector<std::string> connected_;                      // guarded by mu_
  bool accepting_sends_ = true;                              // guarded by mu_
};

}  // namespace troupe::remote::detail
