// receptionist.hpp: Akka's receptionist across the cluster. A service registers under a typed
// key on its own node; a client on any node finds the services of a key, or subscribes and gets
// the whole listing at once and after each change it learns of. Built on the same announcements
// as the cluster's process groups (process_groups.hpp): each node owns and announces its own
// registrations, and the listings are eventually consistent. Any thread may call any member.
#pragma once

#include <memory>
#include <string>
#include <typeindex>
#include <typeinfo>
#include <vector>

#include "troupe/cluster/cluster.hpp"
#include "troupe/cluster/detail/group_registry.hpp"
#include "troupe/core/protocol.hpp"
#include "troupe/core/ref.hpp"
#include "troupe/core/result.hpp"
#include "troupe/otp/receptionist.hpp"

namespace troupe::cluster {

/// A registry of services by the otp layer's typed `service_key<P>`, across the cluster (P must
/// be serializable). Make one on each node that takes part; destroying it deregisters this
/// node's services on every other node. It must not outlive its cluster.
///
///     troupe::cluster::receptionist reception(*cluster);
///     reception.register_service(ping_service, pinger).value();       // a local actor
///     for (auto& p : reception.find(ping_service)) p.tell(ping{});    // on any node
///     reception.subscribe(ping_service, listing_adapter);             // listing<ping_msg>
class receptionist {
 public:
  explicit receptionist(cluster& c, std::string scope = "default")
      : reg_(std::make_shared<detail::group_registry>(c.core_, "receptionist", std::move(scope))) {}

  /// Registers `service`, an actor of this process, under `key` (twice is once). Fails with
  /// troupe::errc::receiver_dead if it has stopped or is not a local actor.
  template <class P>
  result<void> register_service(const otp::service_key<P>& key, const ref<P>& service) {
    return reg_->join(key.id, service);
  }
  /// Removes `service` (of this node) from `key`; false if it was not registered there.
  template <class P>
  bool deregister(const otp::service_key<P>& key, const ref<P>& service) {
    return reg_->leave(key.id, service);
  }
  /// The services under `key` on every node, as this node knows them now. The first call about
  /// protocol P on this node starts listening to the other nodes' registrations of P.
  template <class P>
  std::vector<ref<P>> find(const otp::service_key<P>& key) const {
    (void)reg_->scope_of<P>();
    return otp::detail::typed_refs<P>(reg_->view().members(key_of(key)));
  }
  /// Sends `subscriber` (a local actor) the listing of `key` at once, then a new one after each
  /// change this node learns of; the last listing received is this node's current view.
  template <class P, class Q>
    requires accepts<Q, otp::listing<P>>
  void subscribe(const otp::service_key<P>& key, const ref<Q>& subscriber) {
    (void)reg_->scope_of<P>();
    if (!subscriber) throw usage_error("troupe: an empty ref cannot subscribe");
    (void)reg_->view().subscribe(
        key_of(key), subscriber,
        [subscriber, key](const std::vector<any_ref>& members, const any_ref&, bool) {
          subscriber.tell(otp::listing<P>{key, otp::detail::typed_refs<P>(members)});
        },
        true);
  }
  template <class P, class Q>
  void unsubscribe(const otp::service_key<P>& key, const ref<Q>& subscriber) {
    reg_->view().unsubscribe(key_of(key), subscriber);
  }

 private:
  template <class P>
  static detail::group_view::key key_of(const otp::service_key<P>& k) {
    return {k.id, std::type_index(typeid(P))};
  }

  std::shared_ptr<detail::group_registry> reg_;
};

}  // namespace troupe::cluster
