// service_impl.hpp: the event loops behind io_service. Internal to the io layer.
// One io_context per thread (concurrency hint 1): a socket lives on one loop for its whole life,
// so its handlers never run concurrently and need no strand. Each loop owns a scratch buffer for
// plain-socket reads, used only by that loop's thread between a readiness wait and the decoder.
//
// The end of an io_service: the loops stop and their threads join; then every loop's pending
// handlers are destroyed while every loop still exists (a handler on one loop may own objects of
// another: a session owns its listener, whose acceptor lives on the listener's home loop); only
// then are the loops freed. Every post made from outside a loop's own handlers (a handle's send
// or close, a listener's stop, an HTTP handler's answer, the notice a connection sends its
// listener when it ends) goes through the post_gate, which drops it once shutdown() has begun:
// it would land on a loop that never runs again. An actor and its handles may outlive the
// io_service, so whatever owns a socket or a timer (a connection's state, a session, a listener)
// holds its loop by shared_ptr: the io_context is freed after the last socket on it, whose
// destructor deregisters from it.
#pragma once

#include <atomic>
#include <memory>
#include <mutex>
#include <optional>
#include <shared_mutex>
#include <thread>
#include <utility>
#include <vector>

#include <boost/asio/executor_work_guard.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/post.hpp>

#include "troupe/io/io_service.hpp"

namespace troupe::io::detail {

// An io_context whose pending handlers can be destroyed before the context itself
// (execution_context::shutdown is protected in Asio; the destructor calls it again, harmlessly).
struct loop_context : boost::asio::io_context {
  using boost::asio::io_context::io_context;
  using boost::asio::execution_context::shutdown;
};

struct loop;

// Whether the loops still take work. Shared by the service and every socket's state, so a
// handle that outlives the service can still ask, and is told no.
struct post_gate {
  // Posts `f` to `l` unless the service is shutting down (then `f` is destroyed here, unrun, and
  // the answer is false). The shared lock is held across the post, so close(), which takes it
  // exclusively, waits for a post in progress, and no post starts after it.
  template <class F>
  bool post(loop& l, F&& f);
  void close() {
    std::unique_lock g(m_);
    closed_.store(true, std::memory_order_relaxed);
  }
  // For a handle's send, which answers errc::closed rather than queue what no loop will write.
  // relaxed: a hint; post() decides under the lock.
  bool closed() const noexcept { return closed_.load(std::memory_order_relaxed); }

 private:
  std::shared_mutex m_;
  std::atomic<bool> closed_{false};  // written under m_ exclusively; read under it by post()
};

struct loop : std::enable_shared_from_this<loop> {
  // Posts `f` to this loop unless the service is shutting down; from any thread.
  template <class F>
  bool post(F&& f) {
    return gate->post(*this, std::forward<F>(f));
  }

  loop_context ctx{1};
  std::shared_ptr<post_gate> gate;  // the service's, shared by every loop
  std::vector<char> scratch;  // owned by this loop's thread
  std::thread thread;
};

struct service_impl {
  explicit service_impl(io_config cfg);
  ~service_impl();
  void shutdown();
  loop& pick() noexcept;

  io_config config;
  std::vector<std::shared_ptr<loop>> loops;
  std::vector<boost::asio::executor_work_guard<boost::asio::io_context::executor_type>> guards;
  // relaxed: a round-robin cursor; it publishes nothing, any spread is correct.
  std::atomic<unsigned> next{0};
  bool stopped = false;  // owned by the thread that calls shutdown (the owner of io_service)
  std::shared_ptr<post_gate> gate = std::make_shared<post_gate>();
};

template <class F>
bool post_gate::post(loop& l, F&& f) {
  std::shared_lock g(m_);
  if (closed_.load(std::memory_order_relaxed)) return false;
  boost::asio::post(l.ctx, std::forward<F>(f));
  return true;
}

}  // namespace troupe::io::detail
