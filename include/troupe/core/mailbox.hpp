// mailbox.hpp: bounding an actor's mailbox, and observing how many messages wait in it.
// A mailbox is unbounded unless spawn_options::mailbox gives it a capacity; a bounded mailbox
// applies its overflow policy to a tell that finds it full, and `try_tell` reports the refusal.
// Signals (stop, watch, link, a child's end) and notices (terminated, exit) are never counted,
// bounded or dropped. Any thread may read a length; it is a snapshot that may be stale at once.
#pragma once

#include <cstddef>
#include <limits>
#include <optional>

#include "troupe/core/ref.hpp"

namespace troupe {

/// What a bounded mailbox does with a message sent while it is full.
///
///     sys.spawn(logger(), {.mailbox = {.capacity = 1000, .overflow = troupe::overflow_policy::drop_oldest}});
enum class overflow_policy {
  drop_new,      ///< the new message is discarded (try_tell: errc::mailbox_full)
  drop_oldest,   ///< the oldest waiting message is discarded when the actor next takes one
  reject,        ///< try_tell fails with errc::mailbox_full; a plain tell's message is a dead letter
  dead_letters,  ///< the new message goes to dead letters (try_tell: errc::mailbox_full too)
};

/// How an actor's mailbox is bounded and counted; part of spawn_options.
///
///     sys.spawn(worker(), {.mailbox = {.capacity = 64, .overflow = troupe::overflow_policy::reject}});
///     sys.spawn(routee(), {.mailbox = {.counted = true}});  // unbounded, but its length is observable
struct mailbox_options {
  static constexpr std::size_t unbounded = std::numeric_limits<std::size_t>::max();
  /// The most user messages that may wait; `unbounded` (the default) never refuses one.
  std::size_t capacity = unbounded;
  /// What a tell into a full mailbox does.
  overflow_policy overflow = overflow_policy::drop_new;
  /// Keeps a count of waiting messages even when unbounded, so that mailbox_length() answers.
  /// A bounded mailbox always counts. Counting costs two atomic operations per message, which
  /// is why an unbounded mailbox does not count unless asked.
  bool counted = false;

  bool is_counted() const noexcept { return counted || capacity != unbounded; }
};

namespace detail {
std::optional<std::size_t> mailbox_length_of(endpoint& e) noexcept;
}

/// How many user messages wait in the mailbox of the actor behind `r`, or nullopt when its
/// mailbox is not counted (unbounded without mailbox_options::counted) or `r` is an ask's
/// reply ref. 0 once the actor has stopped. Any thread; a snapshot, stale as soon as read.
/// @throws usage_error if `r` is empty.
///
///     if (auto n = troupe::mailbox_length(worker); n && *n > 100) slow_down();
template <class P>
std::optional<std::size_t> mailbox_length(const ref<P>& r) {
  const auto& ep = detail::ref_access::endpoint_of(r);
  if (!ep) throw usage_error("troupe: mailbox_length of an empty ref");
  return detail::mailbox_length_of(*ep);
}

}  // namespace troupe
