// recorder.hpp: an endpoint that keeps what is told to it, for inboxes and probes.
// Telling a recorder's ref stores the message at once, on the teller's thread, stamped with the
// recording clock's time; a waiter is woken through the queue's condition variable. Any thread
// may tell; the queue's owner (a test thread) reads.
#pragma once

#include <chrono>
#include <cstdint>
#include <condition_variable>
#include <deque>
#include <functional>
#include <memory>
#include <mutex>
#include <utility>

#include "troupe/core/detail/endpoint.hpp"
#include "troupe/core/detail/envelope.hpp"
#include "troupe/core/detail/message_pool.hpp"
#include "troupe/core/ref.hpp"
#include "troupe/core/timer_service.hpp"

namespace troupe::testkit::detail {

using time_point = timer_service::clock::time_point;

template <class T>
struct recorded {
  T message;
  time_point at;
};

template <class T>
struct record_queue {
  std::function<time_point()> clock;  // immutable once the queue is shared
  std::mutex mu;
  std::condition_variable cv;
  std::deque<recorded<T>> items;  // guarded by mu
  std::uint64_t pushes = 0;       // guarded by mu: lets a waiter see that something arrived
};

template <class T>
class recorder final : public troupe::detail::endpoint {
 public:
  recorder(std::shared_ptr<record_queue<T>> q, actor_id id) : q_(std::move(q)), id_(id) {}

  void enqueue(troupe::detail::envelope* e) noexcept override {
    auto* ue = static_cast<troupe::detail::user_envelope<T>*>(e);
    try {
      auto at = q_->clock();
      std::lock_guard lock(q_->mu);
      q_->items.push_back({std::move(ue->msg), at});
      ++q_->pushes;
    } catch (...) {
      // Out of memory in a test: the expectation waiting for it fails and says so.
    }
    troupe::detail::pool_delete(ue);
    q_->cv.notify_all();
  }
  actor_id id() const noexcept override { return id_; }

 private:
  void unreferenced() noexcept override { delete this; }

  std::shared_ptr<record_queue<T>> q_;
  actor_id id_;
};

/// A ref whose messages go to `q`.
template <class T>
ref<T> make_recorder_ref(std::shared_ptr<record_queue<T>> q, actor_id id) {
  return troupe::detail::ref_access::make<T>(
      troupe::detail::counted<troupe::detail::endpoint>::adopt(new recorder<T>(std::move(q), id)));
}

}  // namespace troupe::testkit::detail
