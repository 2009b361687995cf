// event_stream.hpp: publish and subscribe by typed topic.
// A topic carries one message type M (and a name, so that one type can have several topics);
// publishing tells M to every subscriber of the topic. Subscribers are actors of any protocol
// that accepts M. A subscriber that has stopped is dropped at the next publish. Any thread may
// subscribe and publish; each subscriber receives one publisher's messages in the order
// published. Unlike process groups, nothing watches subscribers: the stream needs no actor
// and no system, and may outlive both.
#pragma once

#include <algorithm>
#include <cstddef>
#include <functional>
#include <map>
#include <mutex>
#include <string>
#include <typeindex>
#include <utility>
#include <vector>

#include "troupe/core/any_ref.hpp"
#include "troupe/core/protocol.hpp"
#include "troupe/core/ref.hpp"

namespace troupe::otp {

/// A topic of messages of type M. The empty name is M's default topic.
///
///     const troupe::otp::topic<price_changed> prices{"prices"};
template <class M>
struct topic {
  std::string name;
};

/// A set of typed topics.
///
///     troupe::otp::event_stream events;
///     events.subscribe(prices, ticker);                 // ticker's protocol accepts price_changed
///     events.publish(prices, price_changed{"ACME", 101});
class event_stream {
 public:
  event_stream() = default;
  event_stream(const event_stream&) = delete;
  event_stream& operator=(const event_stream&) = delete;

  /// Subscribes `subscriber` to `t` (twice is once).
  template <class M, class Q>
    requires accepts<Q, M>
  void subscribe(const topic<M>& t, const ref<Q>& subscriber) {
    if (!subscriber) throw usage_error("troupe: an empty ref cannot subscribe");
    any_ref who = subscriber;
    std::lock_guard lock(mu_);
    auto& subs = topics_[key_of(t)];
    if (std::none_of(subs.begin(), subs.end(), [&](const sub& s) { return s.who == who; }))
      subs.push_back({std::move(who), [subscriber](const void* m) { subscriber.tell(*static_cast<const M*>(m)); }});
  }
  /// Unsubscribes `subscriber` from `t`; false if it was not subscribed.
  template <class M, class Q>
  bool unsubscribe(const topic<M>& t, const ref<Q>& subscriber) {
    std::lock_guard lock(mu_);
    auto it = topics_.find(key_of(t));
    if (it == topics_.end()) return false;
    any_ref who = subscriber;
    return std::erase_if(it->second, [&](const sub& s) { return s.who == who; }) != 0;
  }
  /// Tells `m` to every live subscriber of `t` and drops those that have stopped. Returns how
  /// many were told.
  template <class M>
  std::size_t publish(const topic<M>& t, const M& m) {
    std::lock_guard lock(mu_);  // held while telling: one publisher's messages stay in order
    auto it = topics_.find(key_of(t));
    if (it == topics_.end()) return 0;
    std::erase_if(it->second, [](const sub& s) { return s.who.has_stopped(); });
    for (auto& s : it->second) s.tell(&m);
    return it->second.size();
  }
  /// How many subscribers `t` has, counting those stopped since the last publish.
  template <class M>
  std::size_t subscriber_count(const topic<M>& t) const {
    std::lock_guard lock(mu_);
    auto it = topics_.find(key_of(t));
    return it == topics_.end() ? 0 : it->second.size();
  }

 private:
  // A subscriber, with the one function that knows its protocol: it captures only the typed
  // ref, which std::function keeps inline, so no allocation per subscriber beyond the vector's
  // slot, none per message beyond the message's envelope.
  struct sub {
    any_ref who;
    std::function<void(const void* message)> tell;
  };
  using key = std::pair<std::type_index, std::string>;
  template <class M>
  static key key_of(const topic<M>& t) {
    return {std::type_index(typeid(M)), t.name};
  }

  mutable std::mutex mu_;
  std::map<key, std::vector<sub>> topics_;  // guarded by mu_
};

}  // namespace troupe::otp
