// recorder.hpp: a ref that keeps what is told to it, for inboxes and probes.
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

#include "troupe/core/actor_id.hpp"
#include "troupe/core/extension.hpp"
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

/// A ref whose messages go to `q`: a function ref (core/extension.hpp) that stamps and queues.
template <class T>
ref<T> make_recorder_ref(std::shared_ptr<record_queue<T>> q, actor_id id) {
  return troupe::make_function_ref<T>(
      [q = std::move(q)](T&& m) {
        try {
          auto at = q->clock();
          std::lock_guard lock(q->mu);
          q->items.push_back({std::move(m), at});
          ++q->pushes;
        } catch (...) {
          // Out of memory in a test: the expectation waiting for it fails and says so.
        }
        q->cv.notify_all();
      },
      id);
}

}  // namespace troupe::testkit::detail
