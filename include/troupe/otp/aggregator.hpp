// aggregator.hpp: ask many, collect their replies, answer once (Akka's Aggregator pattern).
// An aggregator is a short-lived actor: when it starts it calls `send_requests(reply_to)`, which
// sends one request per target, each naming `reply_to` for the answer; once `expected` replies
// have arrived, or `timeout` has passed, it sends `combine(replies)` to its customer and stops.
// The customer learns from the number of replies whether all arrived. Replies that come after
// the answer go to dead letters. Spawn it from a system or from an actor (as a child).
#pragma once

#include <chrono>
#include <cstddef>
#include <type_traits>
#include <utility>
#include <variant>
#include <vector>

#include "troupe/core/actor_context.hpp"
#include "troupe/core/behavior.hpp"
#include "troupe/core/protocol.hpp"
#include "troupe/core/ref.hpp"
#include "troupe/otp/message_adapter.hpp"

namespace troupe::otp {

/// One reply, as the aggregator receives it (through a message adapter from R).
template <class R>
struct aggregated_reply {
  R value;
};
/// The aggregator's deadline.
struct aggregation_timeout {};
template <class R>
using aggregator_msg = std::variant<aggregated_reply<R>, aggregation_timeout>;

/// An aggregator that collects `expected` replies of type R, or what came within `timeout`.
///
///     sys.spawn(troupe::otp::aggregator<quote>(
///         [=](troupe::ref<quote> r) { for (auto& h : hotels) h.tell(get_quote{r}); },
///         hotels.size(), customer,
///         [](std::vector<quote> qs) { return best_of(std::move(qs)); }, 500ms));
template <class R, class Send, class Q, class Combine>
  requires std::is_invocable_v<Send&, ref<R>> && accepts<Q, std::invoke_result_t<Combine&, std::vector<R>&&>>
behavior<aggregator_msg<R>> aggregator(Send send_requests, std::size_t expected, ref<Q> customer, Combine combine,
                                       std::chrono::nanoseconds timeout) {
  using msg = aggregator_msg<R>;
  return setup<msg>([send_requests = std::move(send_requests), expected, customer = std::move(customer),
                     combine = std::move(combine), timeout](actor_context<msg>& ctx) mutable -> behavior<msg> {
    auto replies = std::make_shared<std::vector<R>>();
    replies->reserve(expected);
    auto answer = [customer, combine, replies]() mutable {
      customer.tell(combine(std::move(*replies)));
      return stopped;
    };
    if (expected == 0) {
      answer();
      return stopped;
    }
    ctx.start_timer("timeout", aggregation_timeout{}, timeout);
    send_requests(message_adapter<R>(ctx, [](R r) { return aggregated_reply<R>{std::move(r)}; }));
    return receive<msg>(
        [replies, expected, answer](aggregated_reply<R>&& r) mutable -> behavior<msg> {
          replies->push_back(std::move(r.value));
          if (replies->size() < expected) return same;
          return answer();
        },
        [answer](aggregation_timeout) mutable -> behavior<msg> { return answer(); });
  });
}

}  // namespace troupe::otp
