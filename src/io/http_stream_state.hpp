// http_stream_state.hpp: one streamed HTTP response, shared by its handles (the writer's side,
// any thread) and its session (the socket's loop). Internal to io.
// The pieces queue under a mutex, so that a handle's write() and the loop's taking of the queue
// agree on the count in flight and on whether the writer was refused: the loop tells the writer
// http_stream_ready exactly when a refused writer may write again, and never loses that wake-up.
// Everything a handle changes on the session goes through a post to the session's loop.
#pragma once

#include <atomic>
#include <cstddef>
#include <memory>
#include <mutex>
#include <string>
#include <utility>
#include <vector>

#include "service_impl.hpp"
#include "troupe/core/spin_mutex.hpp"
#include "troupe/io/http_stream.hpp"

namespace troupe::io::detail {

struct http_stream_state;

// What a stream asks of its session; each runs on the session's loop.
class http_stream_owner {
 public:
  virtual ~http_stream_owner() = default;
  virtual void stream_kick(http_stream_state& s) = 0;     // pieces queued, or finish() asked
  virtual void stream_abort(http_stream_state& s) = 0;    // the writer called abort()
  virtual void stream_dropped(http_stream_state& s) = 0;  // the last handle went
};

struct http_stream_state : std::enable_shared_from_this<http_stream_state> {
  http_stream_state(loop& l, std::weak_ptr<http_stream_owner> owner, std::size_t max_chunks,
                    std::shared_ptr<http_stream_sink> sink)
      : loop_(l.shared_from_this()), owner_(std::move(owner)), max_chunks_(max_chunks), sink_(std::move(sink)) {}

  // Runs f(session, *this) on the session's loop, if the session still exists then. False when
  // the io_service takes no more work (f is dropped).
  template <class F>
  bool post(F f) {
    return loop_->post([self = shared_from_this(), f = std::move(f)]() mutable {
      if (auto o = self->owner_.lock()) f(*o, *self);
    });
  }

  template <class M>
  void deliver(M&& m) {
    std::lock_guard g(sink_mu_);
    if (sink_) sink_->deliver(std::forward<M>(m));
  }
  // No event reaches the writer after this (it finished, aborted, or was told the end).
  void detach() {
    std::shared_ptr<http_stream_sink> old;
    std::lock_guard g(sink_mu_);
    old.swap(sink_);
  }

  const std::shared_ptr<loop> loop_;
  const std::weak_ptr<http_stream_owner> owner_;  // the session: its pending operations own it
  const std::size_t max_chunks_;

  std::mutex mu_;
  std::vector<std::string> chunks_;  // guarded by mu_: queued by handles, taken by the loop
  std::size_t unsent_ = 0;           // guarded by mu_: queued or in the write in flight
  bool finish_asked_ = false;        // guarded by mu_
  bool ended_ = false;               // guarded by mu_: writes are refused with errc::closed
  bool want_ready_ = false;          // guarded by mu_: a write was refused; tell ready on room
  bool kick_posted_ = false;         // guarded by mu_: a stream_kick is on its way to the loop

  // acq_rel on the decrement: the loop, told the count reached zero, sees every write made
  // through the handles before; the increment is relaxed (a copy is made from a live handle, or
  // by the loop, which is the one that reads zero).
  std::atomic<std::size_t> handles_{0};

  troupe::spin_mutex sink_mu_;
  std::shared_ptr<http_stream_sink> sink_;  // guarded by sink_mu_
};

}  // namespace troupe::io::detail
