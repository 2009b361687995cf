// ignore_ref.hpp: a ref that accepts every message of its protocol and silently drops it.
// Pass it as `reply_to` when a request demands somewhere to answer and nobody wants the answer
// (Akka's ignoreRef). Unlike a ref to a stopped actor, nothing reaches dead letters. Any thread
// may use it; it belongs to no system and may outlive every system.
#pragma once

#include "troupe/core/actor_id.hpp"
#include "troupe/core/detail/endpoint.hpp"
#include "troupe/core/detail/envelope.hpp"
#include "troupe/core/ref.hpp"

namespace troupe::otp {

namespace detail {

template <class P>
class ignoring_endpoint final : public troupe::detail::endpoint {
 public:
  void enqueue(troupe::detail::envelope* e) noexcept override {
    troupe::detail::pool_delete(static_cast<troupe::detail::user_envelope<P>*>(e));
  }
  actor_id id() const noexcept override { return {}; }

 private:
  void unreferenced() noexcept override { delete this; }
};

}  // namespace detail

/// A ref that drops everything sent to it, silently. Asking through it is a usage error.
///
///     counter.tell(add_and_report{5, troupe::otp::ignore_ref<int>()});   // nobody wants the total
template <class P>
ref<P> ignore_ref() {
  return troupe::detail::ref_access::make<P>(
      troupe::detail::counted<troupe::detail::endpoint>::adopt(new detail::ignoring_endpoint<P>()));
}

}  // namespace troupe::otp
