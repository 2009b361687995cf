// flow_control.hpp: demand-based flow between a producer actor and a consumer actor.
// A fast producer floods a slow consumer's mailbox; here the consumer grants demand (N more
// items) and the producer never sends past what was granted, so at most `window` items are
// ever outstanding (sent and not yet handled) and the consumer's mailbox stays bounded without
// dropping anything. Each half is state owned by one actor and used only on its turns.
#pragma once

#include <cstddef>
#include <cstdint>
#include <utility>

#include "troupe/core/protocol.hpp"
#include "troupe/core/ref.hpp"
#include "troupe/core/result.hpp"

namespace troupe::otp {

/// A consumer's grant to its producer: it may send `n` more items. The producer's protocol
/// includes `demand`.
struct demand {
  std::size_t n;
};

/// The producer's half: the credit its consumer granted. send() spends one credit and refuses
/// (returns false, sending nothing) when none is left; hand it each `demand` that arrives.
///
///     otp::demand_producer<item> out{sink};
///     [&](const otp::demand& d) { out.grant(d); while (out.credit() > 0 && more()) out.send(next()); }
template <class Q>
class demand_producer {
 public:
  demand_producer() = default;
  /// Sends to `consumer`, which starts with no credit until it grants some.
  explicit demand_producer(ref<Q> consumer) : consumer_(std::move(consumer)) {}

  /// Adds a grant from the consumer.
  void grant(const demand& d) noexcept { credit_ += d.n; }
  /// Items that may still be sent.
  std::size_t credit() const noexcept { return credit_; }
  /// Sends `m` if there is credit left and spends one; false (and nothing sent) if none.
  template <class M>
    requires accepts<Q, M>
  bool send(M&& m) {
    if (credit_ == 0) return false;
    consumer_.tell(std::forward<M>(m));
    --credit_;
    ++sent_;
    return true;
  }
  /// Items sent so far.
  std::uint64_t sent() const noexcept { return sent_; }
  const ref<Q>& consumer() const noexcept { return consumer_; }

 private:
  ref<Q> consumer_;
  std::size_t credit_ = 0;
  std::uint64_t sent_ = 0;
};

/// The consumer's half: grants `window` items up front, then re-grants in batches as items are
/// handled (once `batch` have been handled since the last grant), so the items granted and not
/// yet handled never exceed `window`. Call handled() after each item.
///
///     otp::demand_consumer<source_msg> in{source, 64};
///     in.start();                                  // in setup: grants the first 64
///     [&](const item& i) { work(i); in.handled(); }
template <class P>
  requires accepts<P, demand>
class demand_consumer {
 public:
  /// `batch` 0 means half the window (at least 1): fewer, larger grants than one per item.
  /// @throws usage_error if `window` is 0 or `batch` exceeds it.
  demand_consumer(ref<P> producer, std::size_t window, std::size_t batch = 0)
      : producer_(std::move(producer)), window_(window), batch_(batch != 0 ? batch : (window / 2 != 0 ? window / 2 : 1)) {
    if (window_ == 0) throw usage_error("troupe: a demand window needs at least one item");
    if (batch_ > window_) throw usage_error("troupe: a demand batch cannot exceed the window");
  }

  /// Grants the first window. Call once, when the consumer is ready.
  void start() { grant(window_); }
  /// Records `n` handled items and grants as many again once a batch is complete.
  void handled(std::size_t n = 1) {
    handled_ += n;
    unreturned_ += n;
    if (unreturned_ >= batch_) grant(std::exchange(unreturned_, 0));
  }
  /// Items granted and not yet handled: never more than window().
  std::size_t outstanding() const noexcept { return static_cast<std::size_t>(granted_ - handled_); }
  std::size_t window() const noexcept { return window_; }
  const ref<P>& producer() const noexcept { return producer_; }

 private:
  void grant(std::size_t n) {
    granted_ += n;
    producer_.tell(demand{n});
  }

  ref<P> producer_;
  std::size_t window_;
  std::size_t batch_;
  std::uint64_t granted_ = 0;
  std::uint64_t handled_ = 0;
  std::size_t unreturned_ = 0;  // handled since the last grant
};

}  // namespace troupe::otp
