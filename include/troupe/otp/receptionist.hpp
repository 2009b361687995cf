// receptionist.hpp: discovery by typed service key, like Akka's receptionist.
// A service registers under a `service_key<P>`; clients find the services registered under a
// key, or subscribe to a key and receive a new `listing<P>` whenever its services change. A
// registered actor that stops is deregistered by itself. Any thread may call any member; each
// subscriber receives a key's listings in the order the changes happened. A receptionist must
// not outlive its system. It differs from process groups by what subscribers hear: the whole
// current listing each time (Akka), not each join and leave (Erlang).
#pragma once

#include <string>
#include <typeindex>
#include <utility>
#include <vector>

#include "troupe/core/protocol.hpp"
#include "troupe/core/ref.hpp"
#include "troupe/core/result.hpp"
#include "troupe/core/system.hpp"
#include "troupe/otp/detail/membership.hpp"

namespace troupe::otp {

/// A typed key for services speaking P.
///
///     inline const troupe::otp::service_key<ping_msg> ping_service{"ping"};
template <class P>
struct service_key {
  std::string id;
};

/// The services registered under a key, sent to subscribers after every change.
template <class P>
struct listing {
  service_key<P> key;
  std::vector<ref<P>> services;  ///< in the order they registered
};

/// A registry of services by typed key.
///
///     troupe::otp::receptionist reception(sys);
///     reception.register_service(ping_service, pinger).value();
///     for (auto& p : reception.find(ping_service)) p.tell(ping{});
///     reception.subscribe(ping_service, listing_adapter);  // a listing<ping_msg> now and on change
class receptionist {
 public:
  explicit receptionist(troupe::system& sys) : table_(sys) {}

  /// Registers `service` under `key` (twice is once). Fails with errc::receiver_dead if it has
  /// stopped, or is not an actor.
  template <class P>
  result<void> register_service(const service_key<P>& key, const ref<P>& service) {
    return table_.join(key_of(key), handle_of(service));
  }
  /// Removes `service` from `key`; false if it was not registered there.
  template <class P>
  bool deregister(const service_key<P>& key, const ref<P>& service) {
    return table_.leave(key_of(key), handle_of(service));
  }
  /// The services registered under `key` now.
  template <class P>
  std::vector<ref<P>> find(const service_key<P>& key) const {
    return detail::typed_refs<P>(table_.members(key_of(key)));
  }
  /// Sends `subscriber` the current listing of `key` at once, then a new one after each change.
  /// A subscriber that stops is dropped.
  template <class P, class Q>
    requires accepts<Q, listing<P>>
  void subscribe(const service_key<P>& key, const ref<Q>& subscriber) {
    // The first listing is sent under the same lock as the subscription, so that no later
    // listing can overtake it: the last listing a subscriber has received is always current.
    (void)table_.subscribe(
        key_of(key), handle_of(subscriber),
        [subscriber, key](const std::vector<any_ref>& members,
                          const any_ref&, bool) {
          subscriber.tell(listing<P>{key, detail::typed_refs<P>(members)});
        },
        true);
  }
  template <class P, class Q>
  void unsubscribe(const service_key<P>& key, const ref<Q>& subscriber) {
    table_.unsubscribe(key_of(key), handle_of(subscriber));
  }

 private:
  template <class P>
  static detail::membership_table::key key_of(const service_key<P>& k) {
    return {k.id, std::type_index(typeid(P))};
  }
  template <class P>
  static any_ref handle_of(const ref<P>& r) {
    if (!r) throw usage_error("troupe: an empty ref cannot register or subscribe");
    return r;
  }

  detail::membership_table table_;
};

}  // namespace troupe::otp
