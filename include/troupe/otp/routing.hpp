// routing.hpp: how a router picks the routee for each message.
// A routing logic is a small value owned by one router actor and used only on its turn, so it
// keeps state (a counter, a random engine, a hash ring) without locks. Each offers
// `select(message, routees)`, returning the index of the routee or `route_to_all`, and may offer
// `routees_changed(routees)`, called whenever the set changes. `select` sees the message as the
// alternative of the protocol it is (a `job`, not a `std::variant<job, ...>`). The logics here: round_robin,
// random_choice, smallest_mailbox, consistent_hashing (by a key of the message) and broadcast.
// See router.hpp for the routers that use them.
#pragma once

#include <algorithm>
#include <cstddef>
#include <cstdint>
#include <functional>
#include <limits>
#include <random>
#include <type_traits>
#include <utility>
#include <vector>

#include "troupe/core/actor_id.hpp"
#include "troupe/core/mailbox.hpp"
#include "troupe/core/ref.hpp"

namespace troupe::otp {

/// Returned by `select` to send the message to every routee.
inline constexpr std::size_t route_to_all = std::numeric_limits<std::size_t>::max();

namespace detail {

// How many messages wait for `r`: the runtime's count (troupe::mailbox_length), which answers
// only for counted mailboxes; pool routers count their workers' mailboxes when they route by
// smallest_mailbox. An uncounted routee reads as 0, so smallest_mailbox rotates among those.
template <class P>
std::size_t mailbox_length(const ref<P>& r) {
  return troupe::mailbox_length(r).value_or(0);
}

// splitmix64's finalizer: spreads a hash over 64 bits, so that nearby ids land far apart on the
// ring.
inline std::uint64_t mix(std::uint64_t x) noexcept {
  x += 0x9E3779B97F4A7C15ull;
  x = (x ^ (x >> 30)) * 0xBF58476D1CE4E5B9ull;
  x = (x ^ (x >> 27)) * 0x94D049BB133111EBull;
  return x ^ (x >> 31);
}

}  // namespace detail

/// Each message to the next routee in turn.
///
///     sys.spawn(troupe::otp::group_router(workers, troupe::otp::round_robin{}));
class round_robin {
 public:
  template <class M, class P>
  std::size_t select(const M&, const std::vector<ref<P>>& routees) noexcept {
    return next_++ % routees.size();
  }

 private:
  std::size_t next_ = 0;
};

/// Each message to a routee picked at random. Seed it for a repeatable order.
///
///     troupe::otp::random_choice{42}
class random_choice {
 public:
  random_choice() : engine_(std::random_device{}()) {}
  explicit random_choice(std::uint64_t seed) : engine_(seed) {}
  template <class M, class P>
  std::size_t select(const M&, const std::vector<ref<P>>& routees) {
    return std::uniform_int_distribution<std::size_t>(0, routees.size() - 1)(engine_);
  }

 private:
  std::mt19937_64 engine_;
};

/// Each message to the routee with the fewest messages waiting; among equals, the one after the
/// last picked, so idle routees share the work. By default it reads the runtime's mailbox
/// length (troupe::mailbox_length), which only counted mailboxes report: a pool router counts
/// its workers' mailboxes itself; give a group router routees spawned with
/// `{.mailbox = {.counted = true}}`, or give it another measure to route by.
///
///     troupe::otp::smallest_mailbox{}
class smallest_mailbox {
 public:
  smallest_mailbox() = default;
  /// Routes by `length_of(routee id)` instead of the runtime's mailbox length.
  explicit smallest_mailbox(std::function<std::size_t(actor_id)> length_of) : length_of_(std::move(length_of)) {}
  template <class M, class P>
  std::size_t select(const M&, const std::vector<ref<P>>& routees) {
    const std::size_t n = routees.size();
    std::size_t best = 0;
    auto best_len = std::numeric_limits<std::size_t>::max();
    for (std::size_t k = 0; k < n; ++k) {
      std::size_t i = (last_ + 1 + k) % n;
      auto len = length_of_ ? length_of_(routees[i].id()) : detail::mailbox_length(routees[i]);
      if (len < best_len) {
        best = i;
        best_len = len;
        if (len == 0) break;  // nothing beats an empty mailbox
      }
    }
    last_ = best;
    return best;
  }

 private:
  std::function<std::size_t(actor_id)> length_of_;
  std::size_t last_ = std::numeric_limits<std::size_t>::max();  // so that the first pick is 0
};

/// Messages with the same key go to the same routee while the routees stay the same; when one
/// joins or leaves, only about 1/n of the keys move (a hash ring with virtual nodes). `key_of`
/// is called with each message type of the protocol: overload it, or make it generic.
///
///     struct account_of {
///       std::string operator()(const deposit& d) const { return d.account; }
///       std::string operator()(const withdraw& w) const { return w.account; }
///     };
///     troupe::otp::consistent_hashing{account_of{}}
template <class KeyOf>
class consistent_hashing {
 public:
  explicit consistent_hashing(KeyOf key_of, unsigned virtual_nodes = 32)
      : key_of_(std::move(key_of)), virtual_nodes_(virtual_nodes == 0 ? 1 : virtual_nodes) {}

  template <class M, class P>
  std::size_t select(const M& m, const std::vector<ref<P>>& routees) {
    if (ring_.empty()) routees_changed(routees);
    using key = std::remove_cvref_t<std::invoke_result_t<KeyOf&, const M&>>;
    auto h = detail::mix(std::hash<key>{}(key_of_(m)));
    auto it = std::lower_bound(ring_.begin(), ring_.end(), point{h, 0});
    return (it == ring_.end() ? ring_.front() : *it).routee;
  }
  template <class P>
  void routees_changed(const std::vector<ref<P>>& routees) {
    ring_.clear();
    ring_.reserve(routees.size() * virtual_nodes_);
    for (std::size_t i = 0; i < routees.size(); ++i) {
      auto id = routees[i].id();
      for (unsigned v = 0; v < virtual_nodes_; ++v)
        ring_.push_back({detail::mix(detail::mix(id.serial ^ (std::uint64_t{id.node} << 48)) + v), i});
    }
    std::sort(ring_.begin(), ring_.end());
  }

 private:
  struct point {
    std::uint64_t hash;
    std::size_t routee;
    friend bool operator<(const point& a, const point& b) noexcept {
      return a.hash != b.hash ? a.hash < b.hash : a.routee < b.routee;
    }
  };
  KeyOf key_of_;
  unsigned virtual_nodes_;
  std::vector<point> ring_;  // sorted by hash
};

/// Every message to every routee (a copy each).
///
///     sys.spawn(troupe::otp::group_router(replicas, troupe::otp::broadcast{}));
struct broadcast {
  template <class M, class P>
  std::size_t select(const M&, const std::vector<ref<P>>&) noexcept {
    return route_to_all;
  }
};

}  // namespace troupe::otp
