// http_stream.hpp: an HTTP response whose body is sent in pieces, as the actor writing it sees it.
// A route's actor answers with http_response::stream(status, content_type, writer); the listener
// sends the head (Transfer-Encoding: chunked) and tells `writer` http_stream_ready, which holds
// the `http_stream` handle. As a TCP connection bounds its writes, a stream bounds its chunks:
// at most http_options::max_stream_chunks are queued and not yet written; past that write() is
// refused with errc::write_queue_full and the writer is told http_stream_ready again once one of
// them is written (demand, never memory growth). A client that goes away ends the stream with
// http_stream_closed. Use the handle from the writing actor; it is cheap to copy.
#pragma once

#include <cstddef>
#include <memory>
#include <string>
#include <utility>

#include "troupe/core/protocol.hpp"
#include "troupe/core/ref.hpp"
#include "troupe/core/result.hpp"
#include "troupe/io/connection.hpp"
#include "troupe/io/error.hpp"

namespace troupe::io {

namespace detail {
struct http_stream_state;
}

/// The writing end of one streamed response. Copies share the stream. The stream ends with
/// finish() (the last chunk goes out after the queued ones), abort(), the client going away, or
/// the route's handler deadline passing while nothing is queued; and when the last handle is
/// destroyed with no http_stream_ready owed to the writer and no finish() asked (an abandoned
/// stream is aborted, so the client sees a truncated answer, never a hung one).
///
///     [](troupe::io::http_stream_ready& r) {
///       while (more()) if (!r.stream.write(next_piece())) return;  // full: another ready follows
///       r.stream.finish();
///     }
class http_stream {
 public:
  http_stream() = default;
  http_stream(const http_stream& o) noexcept;
  http_stream(http_stream&& o) noexcept : state_(std::move(o.state_)) {}
  http_stream& operator=(http_stream o) noexcept {
    std::swap(state_, o.state_);
    return *this;
  }
  ~http_stream();

  /// Queues one piece of the body (an empty one is ignored). errc::write_queue_full when
  /// max_stream_chunks are queued (then http_stream_ready follows once there is room), or
  /// errc::closed once the stream has ended or finish() was asked.
  result<void> write(std::string chunk);
  /// Ends the body after the queued pieces; no http_stream_closed follows. Idempotent.
  void finish();
  /// Ends the answer at once: queued pieces are dropped and the connection is reset, so the
  /// client sees a truncated body. No http_stream_closed follows.
  void abort();

  /// Pieces queued and not yet written (at most max_stream_chunks).
  std::size_t queued_chunks() const noexcept;
  /// True until the stream ended or finish() was asked.
  bool is_open() const noexcept;
  explicit operator bool() const noexcept { return state_ != nullptr; }
  /// The same stream (for a writer serving several at once).
  bool operator==(const http_stream& o) const noexcept { return state_ == o.state_; }

  // --- runtime interface (not for user code) -------------------------------------------------
  explicit http_stream(std::shared_ptr<detail::http_stream_state> s) noexcept;

 private:
  std::shared_ptr<detail::http_stream_state> state_;
};

/// The stream may take more: first when it opens, then after each refused write() once there is
/// room. Delivered to the writer named in http_response::stream.
struct http_stream_ready {
  http_stream stream;
};

/// The stream ended without the writer asking: the client went away (`reset`), did not take the
/// bytes within http_options::write_timeout or the writer queued nothing within the route's
/// handler deadline (`idle_timeout`), a HEAD request, which takes no body (`end_of_input`), or
/// another socket error (`error`). Delivered once; not after finish() or abort().
struct http_stream_closed {
  http_stream stream;
  close_reason why = close_reason::error;
  std::string detail{};
};

namespace detail {
// Where a stream's events go: the writer's mailbox. Called on the io thread.
class http_stream_sink {
 public:
  virtual ~http_stream_sink() = default;
  virtual void deliver(http_stream_ready&& m) = 0;
  virtual void deliver(http_stream_closed&& m) = 0;
};
template <class P>
class http_stream_ref_sink final : public http_stream_sink {
 public:
  explicit http_stream_ref_sink(ref<P> r) : r_(std::move(r)) {}
  void deliver(http_stream_ready&& m) override { r_.tell(std::move(m)); }
  void deliver(http_stream_closed&& m) override { r_.tell(std::move(m)); }

 private:
  ref<P> r_;
};
}  // namespace detail

}  // namespace troupe::io
