// call.hpp: OTP's call: a request that carries where to reply, and the reply handle (From).
// A call message is a plain struct with a member `reply_to` of type `otp::reply_to<R>`; `call`
// fills it in and waits for R, from a thread (a future) or from an actor (mapped into its
// protocol). A call is core's ask, so it always completes: with the reply, errc::timeout (5 s by
// default, `troupe::infinity` for none), errc::receiver_dead if the server stopped first or died holding the
// handle, errc::request_dropped if the handle was dropped unanswered. Any thread may call.
#pragma once

#include <chrono>
#include <future>
#include <memory>
#include <type_traits>
#include <utility>

#include "troupe/core/actor_context.hpp"
#include "troupe/core/extension.hpp"
#include "troupe/core/ref.hpp"
#include "troupe/core/result.hpp"
#include "troupe/core/timeout.hpp"

namespace troupe::otp {

/// gen_server's default call timeout.
inline constexpr std::chrono::nanoseconds default_call_timeout = std::chrono::seconds{5};

/// Where to send the reply to one call: OTP's `From`. Reply now, or keep (move) it into the
/// server's state and reply from a later message. The first reply wins; later ones are
/// ignored. Dropping every copy unanswered completes the caller with errc::request_dropped,
/// or errc::receiver_dead when the server is stopping.
///
///     struct balance { troupe::otp::reply_to<long> reply_to; };
///     void on(balance&& b) { b.reply_to.reply(cents_); }                 // reply now
///     void on(wait_for_cash&& w) { waiting_.push_back(std::move(w.reply_to)); }  // reply later
template <class R>
class reply_to {
 public:
  using reply_type = R;
  reply_to() = default;
  explicit reply_to(ref<R> r) noexcept : to_(std::move(r)) {}

  /// Sends the reply. Any thread. @throws usage_error on an empty handle (one moved from).
  template <class V>
    requires std::is_constructible_v<R, V&&>
  void reply(V&& v) const {
    if (!to_) throw usage_error("troupe::otp::reply_to: reply through an empty handle");
    to_.tell(R(std::forward<V>(v)));
  }
  /// False for a default-made or moved-from handle.
  explicit operator bool() const noexcept { return static_cast<bool>(to_); }

 private:
  ref<R> to_;
};

namespace detail {
template <class T>
struct is_result : std::false_type {};
template <class T>
struct is_result<result<T>> : std::true_type {};

// What a call of reply type R completes with: result<R>, or R itself when R is already a
// result (a server that answers `result<long>` is called for a `result<long>`, not a nested one).
template <class R>
using call_result = std::conditional_t<is_result<R>::value, R, result<R>>;

template <class R>
call_result<R> flatten(result<R>&& r) {
  if constexpr (is_result<R>::value) {
    if (!r) return r.error();
    return std::move(*r);
  } else {
    return std::move(r);
  }
}

template <class M>
using reply_type_of = typename decltype(std::declval<M&>().reply_to)::reply_type;
}  // namespace detail

/// A message `call` can send: a struct with a member `reply_to` of type `otp::reply_to<R>`.
template <class M>
concept call_message = requires(M& m) {
  typename detail::reply_type_of<M>;
  requires std::is_same_v<std::remove_cvref_t<decltype(m.reply_to)>, reply_to<detail::reply_type_of<M>>>;
};

/// The type a call with message M completes with.
template <class M>
using call_result_of = detail::call_result<detail::reply_type_of<M>>;

/// Calls `server` from a plain thread: sends `msg` with its `reply_to` filled in, and returns a
/// future of the reply (see the top of this header for the errors). Calling `get()` inside an
/// actor's handler blocks a worker: from an actor use the overload that takes its context.
///
///     auto cents = troupe::otp::call(account, balance{}).get();      // result<long>, 5 s
///     auto r = troupe::otp::call(account, balance{}, troupe::infinity);
template <class P, call_message M>
  requires accepts<P, M>
std::future<call_result_of<M>> call(const ref<P>& server, M msg,
                                    std::chrono::nanoseconds timeout = default_call_timeout) {
  using R = detail::reply_type_of<M>;
  auto promise = std::make_shared<std::promise<call_result_of<M>>>();
  auto future = promise->get_future();
  auto make = [&msg](ref<R> r) {
    msg.reply_to = reply_to<R>(std::move(r));
    return std::move(msg);
  };
  troupe::async_ask<R>(
      server, make, timeout, [promise](result<R>&& r) { promise->set_value(detail::flatten(std::move(r))); });
  return future;
}

/// Calls `server` from inside an actor without blocking: the outcome arrives later as the
/// message `map(call_result_of<M>)` of the caller's protocol. Exactly one arrives per call.
/// Arguments in the order of ask: who, what, how long, what to do with the answer.
///
///     troupe::otp::call(ctx, account, balance{}, 2s, [](troupe::result<long> r) { return got_balance{r}; });
template <class Q, class P, call_message M, class Map>
  requires accepts<P, M> && accepts<Q, std::invoke_result_t<Map&, call_result_of<M>&&>>
void call(actor_context<Q>& ctx, const ref<P>& server, M msg, std::chrono::nanoseconds timeout, Map map) {
  using R = detail::reply_type_of<M>;
  ctx.template ask<R>(
      server,
      [msg = std::move(msg)](ref<R> r) mutable {
        msg.reply_to = reply_to<R>(std::move(r));
        return std::move(msg);
      },
      timeout, [map = std::move(map)](result<R>&& r) mutable { return map(detail::flatten(std::move(r))); });
}

/// The same with gen_server's default timeout (default_call_timeout, 5 s).
///
///     troupe::otp::call(ctx, account, balance{}, [](troupe::result<long> r) { return got_balance{r}; });
template <class Q, class P, call_message M, class Map>
  requires accepts<P, M> && accepts<Q, std::invoke_result_t<Map&, call_result_of<M>&&>>
void call(actor_context<Q>& ctx, const ref<P>& server, M msg, Map map) {
  call(ctx, server, std::move(msg), default_call_timeout, std::move(map));
}

}  // namespace troupe::otp
