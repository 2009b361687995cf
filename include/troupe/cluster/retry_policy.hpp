// retry_policy.hpp: asking a grain (or a sharded entity, or a singleton) again when its node is
// lost mid-call. Opt-in and only for requests the caller knows are safe to repeat: a request
// whose node died may or may not have been applied before it died, so a retried one may be
// applied twice. The ask is sent again after a backoff when it failed in a way a new activation
// can cure (the node went down, the call was dropped or re-routed too often, no reply in time),
// at most `attempts` times in all; it never blocks a thread meanwhile. Any thread may call it.
#pragma once

#include <algorithm>
#include <chrono>
#include <cstddef>
#include <functional>
#include <future>
#include <memory>
#include <string>
#include <type_traits>
#include <utility>

#include "troupe/core/extension.hpp"
#include "troupe/core/protocol.hpp"
#include "troupe/core/ref.hpp"
#include "troupe/core/result.hpp"

namespace troupe::cluster {

/// True for the failures that another try may cure once the cluster has moved a grain: the
/// node went down (remote's node_down), the call was dropped or its receiver stopped first (a
/// node voted out, a grain deactivated under it), or no reply came in time (a call sent to a
/// dead node before the vote). False for the rest (a full mailbox, the system stopping).
///
///     if (!r && troupe::cluster::transient_failure(r.error())) try_later();
bool transient_failure(const troupe::error& e) noexcept;

/// How ask_idempotent() tries again. The defaults cover a node killed (detected at once, voted
/// out in well under a second) and a frozen one (the remote layer's `down_after`, 1.5 s, then
/// the vote) within about 3 s of backoff: 0.2 + 0.4 + 0.8 + 1.6 s.
///
///     troupe::cluster::retry_policy p{.attempts = 3, .backoff = std::chrono::milliseconds(100)};
struct retry_policy {
  /// Tries in all, the first included: 1 never retries.
  std::size_t attempts = 5;
  /// The wait before the second try; each later wait doubles, up to `max_backoff`.
  std::chrono::nanoseconds backoff = std::chrono::milliseconds(200);
  std::chrono::nanoseconds max_backoff = std::chrono::seconds(2);
  /// Which failures are tried again; null: transient_failure.
  std::function<bool(const troupe::error&)> retry_on{};
  /// Called before each retry with the failure and the number of the try to come (2, 3, ...):
  /// for logs and metrics. Runs on whichever thread completed the failed try; must not block.
  std::function<void(const troupe::error&, std::size_t next_attempt)> on_retry{};
};

namespace detail {

template <class R, class P, class F>
struct retrying_ask : std::enable_shared_from_this<retrying_ask<R, P, F>> {
  ref<P> target;
  F make;
  std::chrono::nanoseconds timeout;
  retry_policy policy;
  std::function<void(result<R>)> done;
  std::size_t attempt = 0;

  retrying_ask(ref<P> t, F m, std::chrono::nanoseconds to, retry_policy p, std::function<void(result<R>)> d)
      : target(std::move(t)), make(std::move(m)), timeout(to), policy(std::move(p)), done(std::move(d)) {}

  void send() {
    ++attempt;
    troupe::async_ask<R>(target, make, timeout, [self = this->shared_from_this()](result<R>&& r) { self->finished(std::move(r)); });
  }

  void finished(result<R>&& r) {
    if (r) return done(std::move(r));
    const auto& e = r.error();
    bool again = policy.retry_on ? policy.retry_on(e) : transient_failure(e);
    if (!again || attempt >= policy.attempts) {
      if (attempt == 1) return done(std::move(r));
      return done(troupe::error{e.code(), "after " + std::to_string(attempt) + " attempts: " + e.context()});
    }
    if (policy.on_retry) policy.on_retry(e, attempt + 1);
    auto wait = policy.backoff;
    for (std::size_t i = 1; i < attempt && wait < policy.max_backoff; ++i) wait *= 2;
    wait = std::min(wait, policy.max_backoff);
    auto& timers = troupe::timers_of(target);
    // The next try runs on the timer thread; a system that stops first ends the ask.
    timers.schedule_at(timers.now() + wait, [self = this->shared_from_this(), e](bool fired) {
      if (fired) return self->send();
      self->done(troupe::error{troupe::errc::system_stopped,
                               "the system stopped before a retry (the last try: " + e.message() + ")"});
    });
  }
};

}  // namespace detail

/// Asks `target` (a grain, entity or singleton ref) for `make(reply_to)` as ref::ask does, and
/// sends the request again, after a backoff, each time it fails in a way `policy` retries,
/// up to `policy.attempts` tries; `done` hears the first reply or the last failure (its text
/// says how many tries were made), exactly once, on whichever thread completed it. Each try
/// has its own `timeout`. Only for requests that are safe to apply twice: a try whose node died
/// may have been applied. `make` is called once per try.
///
///     troupe::cluster::ask_idempotent<std::int64_t>(d, [](troupe::ref<std::int64_t> r) { return get{r}; }, 1s,
///         troupe::cluster::retry_policy{}, [me](troupe::result<std::int64_t> r) { me.tell(total{r}); });
template <class R, class P, class F>
  requires accepts<P, std::invoke_result_t<F&, ref<R>>>
void ask_idempotent(const ref<P>& target, F make, std::chrono::nanoseconds timeout, retry_policy policy,
                    std::function<void(result<R>)> done) {
  if (!target) throw usage_error("troupe::cluster::ask_idempotent through an empty ref");
  if (policy.attempts == 0) policy.attempts = 1;
  std::make_shared<detail::retrying_ask<R, P, F>>(target, std::move(make), timeout, std::move(policy), std::move(done))
      ->send();
}

/// As above, with a future for plain threads (as ref::ask; inside an actor use the form with
/// `done`, which does not block).
///
///     auto total = troupe::cluster::ask_idempotent<std::int64_t>(
///         d, [](troupe::ref<std::int64_t> r) { return get{r}; }, 1s, {.attempts = 4}).get();
template <class R, class P, class F>
  requires accepts<P, std::invoke_result_t<F&, ref<R>>>
std::future<result<R>> ask_idempotent(const ref<P>& target, F make, std::chrono::nanoseconds timeout,
                                      retry_policy policy = {}) {
  auto promise = std::make_shared<std::promise<result<R>>>();
  auto future = promise->get_future();
  ask_idempotent<R>(target, std::move(make), timeout, std::move(policy),
                    std::function<void(result<R>)>([promise](result<R> r) { promise->set_value(std::move(r)); }));
  return future;
}

}  // namespace troupe::cluster
