// service_impl.hpp: the event loops behind io_service. Internal to the io layer.
// One io_context per thread (concurrency hint 1): a socket lives on one loop for its whole life,
// so its handlers never run concurrently and need no strand. Each loop owns a scratch buffer for
// plain-socket reads, used only by that loop's thread between a readiness wait and the decoder.
//
// The end of an io_service: the loops stop and their threads join; then every loop's pending
// handlers are destroyed while every loop still exists (a handler on one loop may own objects of
// another: a session owns its listener, whose acceptor lives on the listener's home loop); only
// then are the loops freed. Notices that connections post to another loop when they end (the
// listeners' live counts) go through post_unless_stopping(), which drops them once shutdown()
// has begun: they would land on a loop that never runs again, or one already torn down.
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

struct loop {
  loop_context ctx{1};
  std::vector<char> scratch;  // owned by this loop's thread
  std::thread thread;
};

struct service_impl {
  explicit service_impl(io_config cfg);
  ~service_impl();
  void shutdown();
  loop& pick() noexcept;

  // Posts `f` to `l` unless shutdown() has begun (then `f` is destroyed here, unrun). For the
  // notices a connection sends when it ends, which may run on any thread, during the loops'
  // teardown included. The shared lock is held across the post, so shutdown(), which takes it
  // exclusively to set `stopping_`, waits for a post in progress and no post starts after it.
  template <class F>
  void post_unless_stopping(loop& l, F&& f) {
    std::shared_lock g(gate_);
    if (stopping_) return;
    boost::asio::post(l.ctx, std::forward<F>(f));
  }

  io_config config;
  std::vector<std::unique_ptr<loop>> loops;
  std::vector<boost::asio::executor_work_guard<boost::asio::io_context::executor_type>> guards;
  // relaxed: a round-robin cursor; it publishes nothing, any spread is correct.
  std::atomic<unsigned> next{0};
  bool stopped = false;  // owned by the thread that calls shutdown (the owner of io_service)

 private:
  std::shared_mutex gate_;
  bool stopping_ = false;  // guarded by gate_
};

}  // namespace troupe::io::detail
