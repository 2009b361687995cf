// coroutine_actor.hpp: an actor written as a C++20 coroutine, Erlang style: a loop that waits
// in `co_await self.receive(patterns..., after(t))` or `co_await self.ask(...)`.
// A waiting coroutine is an actor with no turn: it holds no thread, only its frame. Its code
// runs on the actor's own turns, so it needs no locks; use the context only from there.
// Guarantees: a receive takes the first matching message in arrival order and keeps the others,
// in order, for later receives; a stop, or a linked actor's failure when not trapping exits,
// ends a waiting coroutine by destroying its frame, so its locals' destructors run.
#pragma once

#include <chrono>
#include <coroutine>
#include <cstddef>
#include <cstdint>
#include <exception>
#include <functional>
#include <list>
#include <memory>
#include <optional>
#include <string>
#include <tuple>
#include <type_traits>
#include <utility>

#include "troupe/core/actor_context.hpp"
#include "troupe/core/behavior.hpp"
#include "troupe/core/extension.hpp"
#include "troupe/core/ref.hpp"
#include "troupe/core/result.hpp"
#include "troupe/otp/coroutine.hpp"
#include "troupe/otp/receive_pattern.hpp"

namespace troupe::otp {

/// Where a receive may start: `self.mark()` before sending a request, then
/// `self.receive(mark, patterns...)` scans only what arrived after it (Erlang's trick).
struct receive_mark {
  std::uint64_t after;  ///< the number of messages that had arrived when the mark was taken
};

namespace detail {

template <class P>
class coroutine_waiter {
 public:
  /// True for a receive (which tests arriving messages), false for an ask (which saves them).
  virtual bool takes_messages() const noexcept = 0;
  /// A receive: tests `m`; on a match takes it (moved from) and returns true.
  virtual bool offer(P& m) = 0;
  /// A receive: its after() clause fired.
  virtual void time_out() noexcept = 0;

 protected:
  ~coroutine_waiter() = default;
};

template <class P>
struct saved_message {
  std::uint64_t seq;  // arrival number, for marks
  P msg;
};

}  // namespace detail

/// A coroutine actor's view of itself: the selective receive, the ask that suspends only this
/// actor, and the actor's ordinary context (spawn, watch, link, timers, stop).
///
///     troupe::otp::coroutine<account_msg> account(troupe::otp::coroutine_context<account_msg>& self) {
///       long cents = 0;
///       for (;;) {
///         co_await self.receive([&](const deposit& d) { cents += d.cents; },
///                               [&](const balance& b) { b.reply_to.tell(cents); });
///       }
///     }
template <class P>
class coroutine_context {
 public:
  using protocol = P;
  coroutine_context(const coroutine_context&) = delete;
  coroutine_context& operator=(const coroutine_context&) = delete;

  /// The actor's ordinary context: spawn, watch, link, trap_exits, timers, stop.
  actor_context<P>& actor() noexcept { return *actor_; }
  /// A ref to this actor.
  ref<P> self() { return actor_->self(); }

  /// Waits for the first message, in arrival order, that a pattern takes; the others stay
  /// saved, in order, for later receives. Patterns are handlers by message type, optionally
  /// guarded (`when`), and a last `after(t)`. `co_await` yields the handler's result (all
  /// handlers return the same type), as `result<T>` with errc::timeout when after() is given.
  /// Cost: one pattern test per saved message, then one per message that arrives.
  template <class... Patterns>
  auto receive(Patterns&&... patterns) {
    static_assert((detail::safe_in_co_await<Patterns> && ...), "troupe: with g++ 12, an argument of a co_awaited receive or ask that has a destructor (a lambda capturing by value, a ref) must be a named variable, not a temporary: g++ 12 destroys such temporaries twice when the coroutine suspends");
    return receive_awaiter<std::decay_t<Patterns>...>(*this, 0, std::forward<Patterns>(patterns)...);
  }
  /// Like receive, but skips the messages that arrived before `m`: a reply to a request sent
  /// after the mark is found without scanning the backlog saved before it.
  template <class... Patterns>
  auto receive(receive_mark m, Patterns&&... patterns) {
    static_assert((detail::safe_in_co_await<Patterns> && ...), "troupe: with g++ 12, an argument of a co_awaited receive or ask that has a destructor (a lambda capturing by value, a ref) must be a named variable, not a temporary: g++ 12 destroys such temporaries twice when the coroutine suspends");
    return receive_awaiter<std::decay_t<Patterns>...>(*this, m.after, std::forward<Patterns>(patterns)...);
  }
  /// The current end of the mailbox, for receive(mark, ...).
  receive_mark mark() const noexcept { return {arrivals_}; }

  /// Asks `target` and suspends this actor (and only it) until the reply: yields the reply, or
  /// errc::timeout, errc::receiver_dead, errc::request_dropped. Messages that arrive meanwhile
  /// are saved, untested; the reply itself never enters the save queue, so it costs no scan.
  template <class R, class Q, class Make>
    requires accepts<Q, std::invoke_result_t<std::decay_t<Make>&, ref<R>>>
  auto ask(const ref<Q>& target, Make&& make, std::chrono::nanoseconds timeout) {
    static_assert(detail::safe_in_co_await<Make>, "troupe: with g++ 12, an argument of a co_awaited receive or ask that has a destructor (a lambda capturing by value, a ref) must be a named variable, not a temporary: g++ 12 destroys such temporaries twice when the coroutine suspends");
    return ask_awaiter<R, Q, std::decay_t<Make>>(*this, target, std::forward<Make>(make), timeout);
  }
  /// A temporary target: refused with g++ 12, which would release it twice (safe_in_co_await).
  template <class R, class Q, class Make>
    requires accepts<Q, std::invoke_result_t<std::decay_t<Make>&, ref<R>>>
  auto ask(ref<Q>&& target, Make&& make, std::chrono::nanoseconds timeout) {
    static_assert(detail::safe_in_co_await<ref<Q>>, "troupe: with g++ 12, an argument of a co_awaited receive or ask that has a destructor (a lambda capturing by value, a ref) must be a named variable, not a temporary: g++ 12 destroys such temporaries twice when the coroutine suspends");
    return ask(static_cast<const ref<Q>&>(target), std::forward<Make>(make), timeout);
  }
  /// The same with R read from the maker's parameter `ref<R>`, as ref::ask does (name R,
  /// `ask<int>(...)`, for a generic maker).
  ///
  ///     auto n = co_await self.ask(counter, make_get, 1s);   // make_get takes troupe::ref<int>
  template <int&... ExplicitArgumentBarrier, class Q, class Make, class R = reply_type_of_maker<Make>>
    requires accepts<Q, std::invoke_result_t<std::decay_t<Make>&, ref<R>>>
  auto ask(const ref<Q>& target, Make&& make, std::chrono::nanoseconds timeout) {
    return ask<R>(target, std::forward<Make>(make), timeout);
  }
  template <int&... ExplicitArgumentBarrier, class Q, class Make, class R = reply_type_of_maker<Make>>
    requires accepts<Q, std::invoke_result_t<std::decay_t<Make>&, ref<R>>>
  auto ask(ref<Q>&& target, Make&& make, std::chrono::nanoseconds timeout) {
    return ask<R>(std::move(target), std::forward<Make>(make), timeout);
  }

  /// Messages saved by receives that did not take them (the save queue).
  std::size_t saved() const noexcept { return saved_.size(); }
  /// Pattern tests so far: one per message a receive looked at. For tests and tuning.
  std::uint64_t scans() const noexcept { return scans_; }

  // --- runtime interface (not for user code) -------------------------------------------------
  /// A message from the mailbox, on the actor's turn.
  void feed(P&& m) {
    if (!body_.h_) return;  // the body has finished: the actor is stopping
    ++arrivals_;
    if (waiter_ != nullptr && waiter_->takes_messages()) {
      ++scans_;  // saved messages were all tested already: only this one can match
      if (waiter_->offer(m)) {
        end_wait();
        return;
      }
    }
    saved_.push_back({arrivals_, std::move(m)});
  }

 protected:
  explicit coroutine_context(actor_context<P>& ctx) noexcept : actor_(&ctx) {}
  ~coroutine_context() = default;

  /// Runs the body up to its first wait.
  void start(coroutine<P> body) {
    body_ = std::move(body);
    resume_body();
  }
  /// Destroys the frame first: its locals may refer to the context and to the host's arguments.
  void destroy_body() noexcept { body_.reset(); }

 private:
  template <class... Patterns>
  class receive_awaiter;
  template <class R>
  struct reply_waiter;
  template <class R, class Q, class Make>
  class ask_awaiter;
  using body_handle = typename coroutine<P>::handle;

  // The receive timer's key; short enough for the small-string buffer, so it costs no allocation.
  static constexpr const char* timer_key = "troupe.recv";

  // Tests the saved messages from `after` on; takes the first match out of the save queue.
  bool scan_saved(detail::coroutine_waiter<P>& w, std::uint64_t after) {
    auto it = saved_.end();
    // Walk back over the messages after the mark only: the backlog before it is never touched.
    while (it != saved_.begin() && std::prev(it)->seq > after) --it;
    for (; it != saved_.end(); ++it) {
      ++scans_;
      if (w.offer(it->msg)) {
        saved_.erase(it);
        return true;
      }
    }
    return false;
  }

  void begin_wait(detail::coroutine_waiter<P>& w, std::optional<std::chrono::nanoseconds> timeout) {
    waiter_ = &w;
    timer_running_ = timeout.has_value();
    if (timer_running_)
      // The call holds a plain pointer to the context: it runs only while the actor runs, and
      // the context lives until it stops.
      troupe::start_turn_timer(*actor_, timer_key, *timeout, [self = this, id = wait_id_] { self->on_timeout(id); });
  }
  void end_wait() {
    if (timer_running_) actor_->cancel_timer(timer_key);
    timer_running_ = false;
    waiter_ = nullptr;
    ++wait_id_;  // a late timeout or reply of this wait is now stale
    resume_body();
  }
  void resume_body() {
    body_.h_.resume();
    if (!body_.h_.done()) return;
    auto error = std::exchange(body_.h_.promise().error, nullptr);
    body_.reset();
    saved_.clear();
    if (error) std::rethrow_exception(error);  // crashes the actor with the exception as reason
    actor_->stop();
  }

  void on_timeout(std::uint64_t id) {
    if (waiter_ == nullptr || id != wait_id_) return;
    timer_running_ = false;  // a single timer retires when it fires
    waiter_->time_out();
    end_wait();
  }
  template <class R>
  void on_reply(std::uint64_t id, result<R>&& r);

  actor_context<P>* actor_;
  std::list<detail::saved_message<P>> saved_;  // own turn only; in arrival order
  detail::coroutine_waiter<P>* waiter_ = nullptr;  // the wait the body is suspended in, if any
  std::uint64_t arrivals_ = 0;
  std::uint64_t scans_ = 0;
  std::uint64_t wait_id_ = 0;  // identifies the current wait, so stale timeouts and replies drop
  bool timer_running_ = false;
  coroutine<P> body_;
};

// --- the awaitables -------------------------------------------------------------------------

template <class P>
template <class... Patterns>
class coroutine_context<P>::receive_awaiter final : public detail::coroutine_awaitable,
                                                     private detail::coroutine_waiter<P> {
  using set = detail::pattern_set<P, Patterns...>;

 public:
  template <class... Ps>
  receive_awaiter(coroutine_context& ctx, std::uint64_t after, Ps&&... ps)
      : ctx_(&ctx), after_(after), patterns_(std::forward<Ps>(ps)...) {}
  // Movable before it is awaited (nothing points at it until await_suspend), never copied.
  receive_awaiter(receive_awaiter&&) = default;
  receive_awaiter& operator=(receive_awaiter&&) = delete;

  bool await_ready() {
    if (ctx_->scan_saved(*this, after_)) return true;
    auto t = patterns_.timeout();
    if (t && *t <= std::chrono::nanoseconds::zero()) timed_out_ = true;  // after(0): no wait
    return timed_out_;
  }
  void await_suspend(body_handle) { ctx_->begin_wait(*this, patterns_.timeout()); }
  auto await_resume() {
    using T = typename set::value_type;
    if constexpr (set::has_timeout) {
      if (timed_out_) return result<T>(troupe::errc::timeout, "no message matched within the receive's after()");
      if constexpr (std::is_void_v<T>) {
        patterns_.take_value();
        return result<T>();
      } else {
        return result<T>(patterns_.take_value());
      }
    } else {
      return patterns_.take_value();
    }
  }

 private:
  bool takes_messages() const noexcept override { return true; }
  bool offer(P& m) override { return patterns_.offer(m); }
  void time_out() noexcept override { timed_out_ = true; }

  coroutine_context* ctx_;
  std::uint64_t after_;
  set patterns_;
  bool timed_out_ = false;
};

template <class P>
template <class R>
struct coroutine_context<P>::reply_waiter : detail::coroutine_waiter<P> {
  bool takes_messages() const noexcept override { return false; }
  bool offer(P&) override { return false; }
  void time_out() noexcept override {}
  std::optional<result<R>> reply;

 protected:
  ~reply_waiter() = default;
};

template <class P>
template <class R, class Q, class Make>
class coroutine_context<P>::ask_awaiter final : public detail::coroutine_awaitable, private reply_waiter<R> {
 public:
  template <class M>
  ask_awaiter(coroutine_context& ctx, const ref<Q>& target, M&& make, std::chrono::nanoseconds timeout)
      : ctx_(&ctx), target_(target), make_(std::forward<M>(make)), timeout_(timeout) {}
  ask_awaiter(ask_awaiter&&) = default;
  ask_awaiter& operator=(ask_awaiter&&) = delete;

  bool await_ready() const noexcept { return false; }
  void await_suspend(body_handle) {
    ctx_->begin_wait(static_cast<reply_waiter<R>&>(*this), std::nullopt);
    try {
      // The completion runs once, on whichever thread answers (the replier, the timer, or this
      // one if the target is already dead); it only queues a call to this actor's own turn.
      troupe::async_ask<R>(
          target_, make_, timeout_, [me = ctx_->self(), ctx = ctx_, id = ctx_->wait_id_](result<R>&& r) {
            troupe::run_on_turn(me, [ctx, id, r = std::move(r)]() mutable { ctx->on_reply(id, std::move(r)); });
          });
    } catch (...) {
      ctx_->waiter_ = nullptr;  // the exception surfaces at the co_await, which then resumes
      throw;
    }
  }
  result<R> await_resume() { return std::move(*this->reply); }

 private:
  coroutine_context* ctx_;
  ref<Q> target_;
  Make make_;
  std::chrono::nanoseconds timeout_;
};

template <class P>
template <class R>
void coroutine_context<P>::on_reply(std::uint64_t id, result<R>&& r) {
  if (waiter_ == nullptr || id != wait_id_) return;
  // The wait with this id is the ask that sent the request, so the cast names its true type.
  static_cast<reply_waiter<R>*>(waiter_)->reply.emplace(std::move(r));
  end_wait();
}

namespace detail {

// The context together with the coroutine's function and arguments, which a lambda coroutine's
// captures and by-reference parameters point into: all live exactly as long as the frame.
template <class P, class F, class... Args>
class coroutine_host final : public coroutine_context<P>, public troupe::pool_allocated {
 public:
  coroutine_host(actor_context<P>& ctx, F f, Args... args)
      : coroutine_context<P>(ctx), f_(std::move(f)), args_(std::move(args)...) {}
  ~coroutine_host() { this->destroy_body(); }  // first: the frame may refer to f_ and args_

  // From the message pool (pool_allocated), like the control block and the frame: no malloc
  // header per actor.

  void start() {
    coroutine_context<P>& self = *this;
    this->coroutine_context<P>::start(
        std::apply([&](Args&... args) { return std::invoke(f_, self, args...); }, args_));
  }

 private:
  F f_;
  std::tuple<Args...> args_;
};

}  // namespace detail

/// A behaviour that runs `f(self, args...)`, a coroutine, as the actor: spawn it like any
/// behaviour. The actor stops normally when `f` returns and crashes if `f` throws. `args` are
/// stored with the actor, so `f` may take them by reference.
///
///     auto acct = sys.spawn(troupe::otp::coroutine_actor(account));                 // P deduced
///     auto echo = sys.spawn(troupe::otp::coroutine_actor<echo_msg>(
///         [](troupe::otp::coroutine_context<echo_msg>& self) -> troupe::otp::coroutine<echo_msg> {
///           for (;;) co_await self.receive([](echo&& e) { e.reply_to.tell(e.text); });
///         }));
template <class P, class F, class... Args>
  requires std::is_invocable_r_v<coroutine<P>, F&, coroutine_context<P>&, Args&...>
behavior<P> coroutine_actor(F f, Args... args) {
  return setup<P>([f = std::move(f), ... args = std::move(args)](actor_context<P>& ctx) mutable -> behavior<P> {
    // The host lives in the behaviour's state, so the actor's end destroys it, and the frame.
    auto host = std::make_unique<detail::coroutine_host<P, F, Args...>>(ctx, std::move(f), std::move(args)...);
    host->start();
    return receive<P>([host = std::move(host)](auto&& m) { host->feed(P(std::forward<decltype(m)>(m))); });
  });
}
/// The same for a plain function, whose signature names the protocol.
template <class P, class... Params, class... Args>
behavior<P> coroutine_actor(coroutine<P> (*f)(coroutine_context<P>&, Params...), Args... args) {
  return coroutine_actor<P, coroutine<P> (*)(coroutine_context<P>&, Params...), Args...>(f, std::move(args)...);
}

}  // namespace troupe::otp
