// extension.hpp: the public seams a layer above core builds its behaviours on (issue 12).
// The otp layer's calls, circuit breaker and pools need two things plain tell and ask do not
// give: an ask whose answer goes to a function rather than to an actor or a future, and a message
// an actor owes itself that its own bounded mailbox must not refuse. Both are here, on the public
// API, so a user can write a behaviour like otp's without reaching into troupe::detail. Any
// thread may call async_ask; tell_self_past_bound is for the actor's own turn.
#pragma once

#include <chrono>
#include <functional>
#include <type_traits>
#include <utility>

#include "troupe/core/actor_context.hpp"
#include "troupe/core/detail/envelope.hpp"
#include "troupe/core/protocol.hpp"
#include "troupe/core/ref.hpp"
#include "troupe/core/result.hpp"

namespace troupe {

/// Asks `target` and hands the outcome to `on_reply`, exactly once: the reply, or
/// errc::timeout after `timeout`, errc::receiver_dead, errc::mailbox_full (a bounded mailbox
/// refused the request) or errc::request_dropped. `make(reply_to)` builds the request.
/// `on_reply` runs on whichever thread completes the ask (the replier's worker, the timer
/// thread, or the caller's when the target is already known dead): keep it short and
/// thread-safe, and send a message if an actor must act on it. This is what ref::ask (a future)
/// and actor_context::ask (a message to the asker) are built on. @throws usage_error if `target`
/// is empty.
///
///     troupe::async_ask<int>(counter, [](troupe::ref<int> r) { return get{r}; }, 1s,
///                            [p](troupe::result<int>&& n) { p->set_value(std::move(n)); });
template <class R, class P, class Make>
  requires accepts<P, std::invoke_result_t<Make&, ref<R>>>
void async_ask(const ref<P>& target, Make&& make, std::chrono::nanoseconds timeout,
               std::function<void(result<R>&&)> on_reply) {
  detail::ref_access::send_request<R>(target, make, timeout, std::move(on_reply));
}

/// Queues `m` for the actor itself, past its mailbox bound: a bounded mailbox counts it but
/// never refuses or drops it, as it never refuses the mapped answer to the actor's own ask.
/// For an answer the actor owes itself (e.g. a refused call reported as a message), which
/// must arrive exactly once even when the mailbox is full. Not a way around back-pressure:
/// only the actor's own turn may call it, and only for its own messages.
///
///     if (!allowed) return troupe::tell_self_past_bound(ctx, refused{why});
template <class P, class M>
  requires accepts<P, M>
void tell_self_past_bound(actor_context<P>& ctx, M&& m) {
  auto* e = detail::make_user_envelope<P>(std::forward<M>(m));
  e->flags |= detail::past_bound;
  detail::ref_access::endpoint_of(ctx.self())->enqueue(e);
}

}  // namespace troupe
