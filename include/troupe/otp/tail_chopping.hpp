// tail_chopping.hpp: cut the latency tail by asking again (Akka's tail chopping).
// A tail-chopping actor sends a request to one target; if no reply has come after
// `next_after`, it sends the same request to the next target, and so on, and passes the
// first reply that comes to its customer, as a `result<R>`, then stops. If no reply has come
// within `final_timeout` (counted from the start), the customer gets errc::timeout. Replies
// after the first go to dead letters. Use it for idempotent requests to equivalent replicas.
#pragma once

#include <chrono>
#include <cstddef>
#include <memory>
#include <string>
#include <type_traits>
#include <utility>
#include <variant>

#include "troupe/core/actor_context.hpp"
#include "troupe/core/behavior.hpp"
#include "troupe/core/protocol.hpp"
#include "troupe/core/ref.hpp"
#include "troupe/core/result.hpp"
#include "troupe/otp/message_adapter.hpp"

namespace troupe::otp {

/// The tail-chopping actor's protocol: a reply from a target, its timer for the next attempt,
/// and its final deadline. Only tail_chopping itself sends them.
template <class R>
struct chopped_reply {
  R value;
};
struct chop_next {};
struct chop_timeout {};
template <class R>
using tail_chopping_msg = std::variant<chopped_reply<R>, chop_next, chop_timeout>;

/// A tail-chopping request. `send_request(attempt, reply_to)` sends attempt number `attempt`
/// (0, 1, ...) and returns false when there is no target left for it.
///
///     sys.spawn(troupe::otp::tail_chopping<value>(
///         [=](std::size_t i, troupe::ref<value> r) {
///           if (i >= replicas.size()) return false;
///           replicas[i].tell(read{key, r});
///           return true;
///         },
///         20ms, 1s, customer));                      // customer accepts troupe::result<value>
template <class R, class Send, class Q>
  requires std::is_invocable_r_v<bool, Send&, std::size_t, ref<R>> && accepts<Q, result<R>>
behavior<tail_chopping_msg<R>> tail_chopping(Send send_request, std::chrono::nanoseconds next_after,
                                             std::chrono::nanoseconds final_timeout, ref<Q> customer) {
  using msg = tail_chopping_msg<R>;
  return setup<msg>([send_request = std::move(send_request), next_after, final_timeout,
                     customer = std::move(customer)](actor_context<msg>& ctx) mutable -> behavior<msg> {
    auto reply_to = message_adapter<R>(ctx, [](R r) { return chopped_reply<R>{std::move(r)}; });
    auto attempt = std::make_shared<std::size_t>(0);
    ctx.start_timer("final", chop_timeout{}, final_timeout);
    // Sends the next attempt, and plans the one after it while targets remain.
    auto next = [&ctx, send_request = std::move(send_request), reply_to, attempt, next_after]() mutable {
      if (send_request((*attempt)++, reply_to)) ctx.start_timer("next", chop_next{}, next_after);
    };
    next();
    return receive<msg>(
        [customer](chopped_reply<R>&& r) {
          customer.tell(result<R>(std::move(r.value)));
          return stopped;
        },
        [next](chop_next) mutable { next(); },
        [customer, final_timeout](chop_timeout) {
          auto ms = std::chrono::duration_cast<std::chrono::milliseconds>(final_timeout).count();
          customer.tell(result<R>(error{troupe::errc::timeout, "tail chopping: no reply within " + std::to_string(ms) + " ms"}));
          return stopped;
        });
  });
}

}  // namespace troupe::otp
