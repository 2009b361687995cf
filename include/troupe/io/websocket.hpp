// websocket.hpp: one WebSocket connection, as its actor sees it.
// An upgrade route (http_routes::upgrade) hands each accepted WebSocket to a fresh actor holding
// a `websocket` handle. As with TCP connections, reads are demand-driven (request() asks for one
// whole message: ws_received, or ws_closed) and writes go through a bounded queue with the same
// overflow policies. Oversized messages close with 1009, invalid UTF-8 in a text message with
// 1007; pings keep the connection alive while the actor reads. Use the handle from the actor
// that owns it; the last copy's end closes the WebSocket (1001, after the queued messages).
#pragma once

#include <chrono>
#include <cstddef>
#include <cstdint>
#include <memory>
#include <mutex>
#include <string>
#include <utility>

#include "troupe/core/ref.hpp"
#include "troupe/core/result.hpp"
#include "troupe/io/connection.hpp"
#include "troupe/io/error.hpp"
#include "troupe/io/http_message.hpp"

namespace troupe::io {

/// One whole message from the peer, text (valid UTF-8) or binary.
struct ws_received {
  std::string data;
  bool text = true;
};

/// The WebSocket ended. Delivered once, without demand; not when the actor closed it itself.
/// `code` is the peer's close code when the peer closed (end_of_input; 1005 when its close frame
/// carried none), the code this side sent
/// when it refused the peer's input (1009 too big, 1007 bad UTF-8, 1002 a protocol error, 1008
/// the write queue overflowed), or 1006 when the connection dropped without a close.
struct ws_closed {
  std::uint16_t code = 1006;
  std::string reason{};
  close_reason why = close_reason::error;
};

/// Limits and clocks of every WebSocket of a route.
///
///     troupe::io::websocket_options o{.max_message = 16 * 1024, .on_full = troupe::io::overflow_policy::close};
struct websocket_options {
  /// The largest message accepted, in bytes; a larger one closes with 1009.
  std::size_t max_message = 64 * 1024;
  /// Bytes queued for sending, at most; beyond that `on_full` applies.
  std::size_t max_write_queue = 64 * 1024;
  overflow_policy on_full = overflow_policy::fail;
  /// While the actor has asked for a message: a ping after half of this with nothing heard, and
  /// a close (ws_closed{1006, idle_timeout}) after all of it. It also bounds the handshakes.
  std::chrono::nanoseconds idle_timeout = std::chrono::seconds(60);
};

namespace detail {
struct ws_state;

// Where a WebSocket's events go: the owning actor's mailbox. Called on the io thread.
class ws_sink {
 public:
  virtual ~ws_sink() = default;
  virtual void deliver(ws_received&& m) = 0;
  virtual void deliver(ws_closed&& m) = 0;
};
template <class P>
class ws_ref_sink final : public ws_sink {
 public:
  explicit ws_ref_sink(ref<P> r) : r_(std::move(r)) {}
  void deliver(ws_received&& m) override { r_.tell(std::move(m)); }
  void deliver(ws_closed&& m) override { r_.tell(std::move(m)); }

 private:
  ref<P> r_;
};
}  // namespace detail

/// A WebSocket held by its actor.
///
///     [ws](troupe::io::ws_received&& m) mutable {
///       (void)ws.send(std::move(m.data), m.text);  // echo; errc::write_queue_full if the peer lags
///       ws.request();                              // and ask for the next message
///     }
class websocket {
 public:
  websocket() = default;
  websocket(const websocket& o) noexcept;
  websocket(websocket&& o) noexcept : state_(std::move(o.state_)) {}
  websocket& operator=(websocket o) noexcept {
    std::swap(state_, o.state_);
    return *this;
  }
  ~websocket();

  /// Asks for the next message: exactly one ws_received follows (or a ws_closed).
  void request();
  /// Queues one message (text must be valid UTF-8). errc::closed once closed, or
  /// errc::write_queue_full (policy `fail`; with `close` the WebSocket also closes with 1008).
  result<void> send(std::string data, bool text = true);
  /// Sends a close frame with `code` and `reason` after the queued messages; no ws_closed follows.
  void close(std::uint16_t code = 1000, std::string reason = {});
  /// Drops the TCP connection at once, without a close frame.
  void abort();

  std::size_t queued_bytes() const noexcept;
  bool is_open() const noexcept;
  /// The HTTP request that opened it (path parameters, headers, peer).
  const http_request& upgrade_request() const noexcept;
  explicit operator bool() const noexcept { return state_ != nullptr; }

  // --- runtime interface (not for user code) -------------------------------------------------
  explicit websocket(std::shared_ptr<detail::ws_state> s) noexcept;
  template <class P>
  void attach(const ref<P>& owner) {
    attach_sink(std::make_unique<detail::ws_ref_sink<P>>(owner));
  }
  void attach_sink(std::unique_ptr<detail::ws_sink> sink);

 private:
  std::shared_ptr<detail::ws_state> state_;
};

}  // namespace troupe::io
