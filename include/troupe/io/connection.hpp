// connection.hpp: one TCP (or TLS) connection, as its actor sees it.
// A connection actor holds a `connection` handle and receives `received` (one frame, only after
// it asked with request(): demand-driven, like Erlang's {active, once}) and `closed` (why it
// ended). Until the actor asks, nothing is read, so a slow actor slows its peer through TCP,
// never through memory. Writes go through a bounded queue: a full queue is an error the actor
// sees, or closes the connection if it chose so. Use the handle from the actor that owns it;
// the socket is closed (after queued writes) when the last copy of the handle is destroyed.
#pragma once

#include <chrono>
#include <cstddef>
#include <cstdint>
#include <memory>
#include <string>
#include <utility>
#include <vector>

#include "troupe/core/ref.hpp"
#include "troupe/core/result.hpp"
#include "troupe/io/codec.hpp"
#include "troupe/io/error.hpp"

namespace troupe::io {

/// One frame (or, with framing::raw, one chunk) read from the peer.
struct received {
  std::string data;
};

/// Why a connection ended.
enum class close_reason {
  end_of_input,     ///< the peer finished sending (half-close or close); writing may go on
  reset,            ///< the peer reset the connection
  idle_timeout,     ///< no byte was read or written for connection_options::idle_timeout
  frame_too_large,  ///< the peer sent a frame over codec::max_frame
  write_queue_full, ///< a write found the queue full and the policy was overflow_policy::close
  error,            ///< another socket or TLS error; `detail` says which
};

/// The connection ended (or, for end_of_input, its input did). Delivered once, without demand.
/// Not delivered when the actor closed the connection itself.
struct closed {
  close_reason why = close_reason::error;
  std::string detail{};
};

/// The text of a close reason ("reset", "idle timeout", ...).
const char* to_string(close_reason r) noexcept;

/// What a write does when the bounded queue has no room.
enum class overflow_policy {
  fail,   ///< write() returns errc::write_queue_full; the connection lives on
  close,  ///< the connection is closed and the actor receives closed{write_queue_full}
};

/// Per-connection settings.
///
///     troupe::io::connection_options o{.framing = {troupe::io::framing::line, 1024},
///                                      .idle_timeout = std::chrono::seconds(60)};
struct connection_options {
  codec framing{};
  /// Bytes queued for writing, at most; beyond that `on_full` applies.
  std::size_t max_write_queue = 64 * 1024;
  overflow_policy on_full = overflow_policy::fail;
  /// Closes the connection when no byte was read or written for this long; 0: never.
  std::chrono::nanoseconds idle_timeout{0};
};

namespace detail {
struct conn_state;

// Where a connection's events go: the owning actor's mailbox. Called on the io thread.
class conn_sink {
 public:
  virtual ~conn_sink() = default;
  virtual void deliver(received&& m) = 0;
  virtual void deliver(closed&& m) = 0;
};

template <class P>
class ref_sink final : public conn_sink {
 public:
  explicit ref_sink(ref<P> r) : ref_(std::move(r)) {}
  void deliver(received&& m) override { ref_.tell(std::move(m)); }
  void deliver(closed&& m) override { ref_.tell(std::move(m)); }

 private:
  ref<P> ref_;
};
}  // namespace detail

/// The connection actor's handle on its socket. Copyable; copies share the socket, which is
/// closed (after the queued writes) when the last copy is destroyed.
///
///     [conn](const troupe::io::received& r) mutable {
///       (void)conn.write(r.data);   // echo; errc::write_queue_full if the peer does not read
///       conn.request();             // and ask for the next frame
///     }
class connection {
 public:
  connection() = default;
  connection(const connection& o) noexcept;
  connection(connection&& o) noexcept : state_(std::move(o.state_)) {}
  connection& operator=(connection o) noexcept {
    std::swap(state_, o.state_);
    return *this;
  }
  ~connection();

  /// Asks for the next frame: exactly one `received` follows (or a `closed`). Asking again
  /// before it arrived changes nothing (demand is one frame, as with {active, once}).
  void request();
  /// Queues one frame for writing, encoded per the codec. errc::closed if the connection has
  /// closed or its io_service has ended, errc::frame_too_large, or errc::write_queue_full
  /// (policy `fail`).
  result<void> write(std::string frame);
  /// Half-close: sends FIN after the queued writes; reading goes on.
  void shutdown_write();
  /// Closes after the queued writes are sent (at most 5 s). No `closed` is delivered for it.
  void close();
  /// Closes at once, dropping queued writes; the peer sees a reset.
  void abort();

  /// Bytes queued and not yet written.
  std::size_t queued_bytes() const noexcept;
  /// True until the connection closed (either side), failed, or its io_service ended.
  bool is_open() const noexcept;
  /// The peer's address and port, as "a.b.c.d:port".
  std::string peer() const;
  /// Whom the peer's TLS certificate names (io::certificate_names: its subjectAltName DNS
  /// entries, or its common name when it has none). The certificate's chain was verified in the
  /// handshake; checking the name is the caller's (a client's connect checks `tls_host` already).
  /// Empty on a plain connection, and on a server's connection from a client that sent no
  /// certificate (a server context without a client CA asks for none).
  ///
  ///     auto names = conn.peer_names();   // {"billing.internal"}: a mutual-TLS client's
  ///     if (std::ranges::find(names, "billing.internal") == names.end()) conn.close();
  std::vector<std::string> peer_names() const;
  explicit operator bool() const noexcept { return state_ != nullptr; }

  // --- runtime interface (not for user code) -------------------------------------------------
  explicit connection(std::shared_ptr<detail::conn_state> s) noexcept;
  /// Sends this connection's events to `owner` from now on. Called once, from the owner.
  template <class P>
  void attach(const ref<P>& owner) {
    attach_sink(std::make_unique<detail::ref_sink<P>>(owner));
  }
  void attach_sink(std::unique_ptr<detail::conn_sink> sink);

 private:
  std::shared_ptr<detail::conn_state> state_;
};

}  // namespace troupe::io
