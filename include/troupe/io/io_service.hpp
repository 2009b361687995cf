// io_service.hpp: the threads that do socket work for connection actors.
// An io_service owns a few event loops (Boost.Asio io_contexts), each run by one thread; every
// socket belongs to one loop, chosen round robin, so all work on a socket is serialised without
// locks or strands. Actors never block on a socket: they talk to it through their `connection`
// handle, which posts to the socket's loop, and the loop tells the actor what happened. There
// is no thread per connection. Construct it before the troupe::system whose actors use it (so
// that it is destroyed after them); any thread may use it.
#pragma once

#include <cstddef>
#include <memory>

namespace troupe::io {

namespace detail {
struct service_impl;
}

/// How many event-loop threads an io_service runs.
struct io_config {
  /// Event-loop threads; 0 (the default): one per core.
  unsigned threads = 0;
  /// Bytes one read takes from the kernel at most (a plain socket reads into a per-thread
  /// scratch buffer of this size, so an idle connection holds no read buffer).
  std::size_t read_chunk = 16 * 1024;
};

/// The socket threads of the io layer.
///
///     troupe::io::io_service io{{.threads = 1}};  // before the system: destroyed after its actors
///     troupe::system sys;
///     auto l = troupe::io::listen<echo_msg>(sys, io, {.port = 7000}, echo);
class io_service {
 public:
  explicit io_service(io_config cfg = {});
  ~io_service();
  io_service(const io_service&) = delete;
  io_service& operator=(const io_service&) = delete;

  /// The number of event-loop threads.
  unsigned threads() const noexcept;
  /// Stops the loops and joins their threads; connections still open are closed. Idempotent.
  void shutdown();

  // --- runtime interface (not for user code) -------------------------------------------------
  detail::service_impl& impl() noexcept { return *impl_; }

 private:
  std::unique_ptr<detail::service_impl> impl_;
};

}  // namespace troupe::io
