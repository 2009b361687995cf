// test_inbox.hpp: a ref that keeps what is told to it, for tests to read synchronously.
// Pass its ref in a message (a reply_to, a subscriber) and read afterwards what the actor sent:
// telling the ref stores the message at once, on the teller's thread, so there is nothing to
// wait for once the sender has run. Any thread may tell; read it from the test's thread. For
// waiting with a deadline and expectations, use test_probe.
#pragma once

#include <cstddef>
#include <memory>
#include <mutex>
#include <optional>
#include <vector>

#include "troupe/core/ref.hpp"
#include "troupe/testkit/detail/recorder.hpp"

namespace troupe::testkit {

/// Collects the messages told to its ref.
///
///     troupe::testkit::test_inbox<int> replies;
///     counter.tell(get{replies.ref()});
///     ts.run_until_idle();
///     EXPECT_EQ(replies.receive_all(), std::vector<int>{5});
template <class T>
class test_inbox {
 public:
  test_inbox() : q_(std::make_shared<detail::record_queue<T>>()) {
    q_->clock = [] { return timer_service::clock::now(); };
    ref_ = detail::make_recorder_ref(q_, actor_id{});
  }

  /// The ref to hand to actors.
  const troupe::ref<T>& ref() const noexcept { return ref_; }
  /// The oldest message not yet received, if any.
  std::optional<T> try_receive() {
    std::lock_guard lock(q_->mu);
    if (q_->items.empty()) return std::nullopt;
    T m = std::move(q_->items.front().message);
    q_->items.pop_front();
    return m;
  }
  /// Every message not yet received, oldest first; the inbox is empty afterwards.
  std::vector<T> receive_all() {
    std::lock_guard lock(q_->mu);
    std::vector<T> out;
    for (auto& r : q_->items) out.push_back(std::move(r.message));
    q_->items.clear();
    return out;
  }
  bool has_messages() const {
    std::lock_guard lock(q_->mu);
    return !q_->items.empty();
  }

 private:
  std::shared_ptr<detail::record_queue<T>> q_;
  troupe::ref<T> ref_;
};

}  // namespace troupe::testkit
