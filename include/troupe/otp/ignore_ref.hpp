// ignore_ref.hpp: a ref that accepts every message of its protocol and silently drops it.
// Pass it as `reply_to` when a request demands somewhere to answer and nobody wants the answer
// (Akka's ignoreRef). Unlike a ref to a stopped actor, nothing reaches dead letters. Any thread
// may use it; it belongs to no system and may outlive every system.
#pragma once

#include "troupe/core/extension.hpp"
#include "troupe/core/ref.hpp"

namespace troupe::otp {

/// A ref that drops everything sent to it, silently. Asking through it is a usage error.
///
///     counter.tell(add_and_report{5, troupe::otp::ignore_ref<int>()});   // nobody wants the total
template <class P>
ref<P> ignore_ref() {
  return make_function_ref<P>([](P&&) noexcept {});
}

}  // namespace troupe::otp
