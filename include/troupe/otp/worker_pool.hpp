// worker_pool.hpp: a pool of workers that callers check out, use alone, and check back in
// (Erlang's poolboy). The pool is an actor: it keeps `size` workers, spawns up to
// `max_overflow` more while all are busy (stopping them again when they come back), and makes
// a checkout wait up to a deadline for a worker to come back. A checked-out worker comes as a
// `lease`: destroying it checks the worker back in, so a borrower that stops, crashes or gives
// up waiting never loses one. A worker that stops is replaced. Check out from any thread
// (`checkout(pool, wait)`, a future) or from an actor (`checkout(ctx, pool, wait, map)`).
// A lease must not outlive the pool's system.
#pragma once

#include <chrono>
#include <cstddef>
#include <cstdint>
#include <deque>
#include <functional>
#include <future>
#include <map>
#include <memory>
#include <string>
#include <type_traits>
#include <utility>
#include <variant>
#include <vector>

#include "troupe/core/actor_context.hpp"
#include "troupe/core/behavior.hpp"
#include "troupe/core/extension.hpp"
#include "troupe/core/ref.hpp"
#include "troupe/core/result.hpp"
#include "troupe/core/signals.hpp"

namespace troupe::otp {

template <class P>
class lease;
namespace detail {
template <class P>
struct pool_access;
}  // namespace detail

/// Asks the pool for a worker; sent by `checkout`, which is the way to use it.
///
///     troupe::otp::checkout(pool, 100ms)                // sends checkout_request<P>{reply_to, 100ms}
template <class P>
struct checkout_request {
  ref<lease<P>> reply_to;
  std::chrono::nanoseconds wait;  ///< how long to wait for a worker when none is free; 0: don't
};
/// Gives a worker back; sent by a lease when it is destroyed or given back.
///
///     lease.give_back();                                // sends checkin<P>{worker}
template <class P>
struct checkin {
  ref<P> worker;
};
/// What the pool holds now (poolboy's status); the answer to a status_request.
///
///     auto s = pool.ask<troupe::otp::pool_status>([](auto r) { return troupe::otp::status_request{r}; }, 1s);
struct pool_status {
  std::size_t idle = 0;       ///< workers free to check out
  std::size_t busy = 0;       ///< workers checked out
  std::size_t overflow = 0;   ///< workers beyond `size` (all busy)
  std::size_t waiting = 0;    ///< checkouts waiting for a worker
};
/// Asks the pool for its pool_status.
struct status_request {
  ref<pool_status> reply_to;
};
/// The pool's own timer: a waiting checkout's deadline has passed. Not for user code.
struct waiter_expired {
  std::uint64_t waiter;
};

/// The protocol of a worker pool of workers speaking P.
template <class P>
using worker_pool_msg = std::variant<checkout_request<P>, checkin<P>, status_request, waiter_expired, terminated>;

/// A checked-out worker. Move-only; destroying it (or calling give_back) checks the worker in.
///
///     troupe::otp::lease<db_msg> db = troupe::otp::checkout(pool, 100ms).get().value();
///     db->tell(query{"select 1", reply_to});
///     // ~lease: the worker goes back to the pool
template <class P>
class lease {
 public:
  lease() = default;
  lease(lease&& o) noexcept = default;
  lease& operator=(lease&& o) noexcept {
    if (this != &o) {
      give_back();
      worker_ = std::move(o.worker_);
      pool_ = std::move(o.pool_);
    }
    return *this;
  }
  ~lease() { give_back(); }

  /// The worker; empty once given back.
  const ref<P>& worker() const noexcept { return worker_; }
  const ref<P>* operator->() const noexcept { return &worker_; }
  explicit operator bool() const noexcept { return static_cast<bool>(worker_); }

  /// Checks the worker in now; does nothing if already given back.
  void give_back() noexcept {
    if (!worker_ || !pool_) return;
    try {
      pool_.tell(checkin<P>{std::move(worker_)});
    } catch (...) {
      // Out of memory: the worker stays busy in the pool's eyes; it is still replaced if it stops.
    }
    worker_ = ref<P>();
    pool_ = ref<worker_pool_msg<P>>();
  }

 private:
  friend struct detail::pool_access<P>;  // only the pool makes leases
  lease(ref<P> worker, ref<worker_pool_msg<P>> pool) : worker_(std::move(worker)), pool_(std::move(pool)) {}

  ref<P> worker_;
  ref<worker_pool_msg<P>> pool_;
};

/// How a worker pool is sized.
struct worker_pool_options {
  std::size_t size = 4;          ///< workers kept at all times
  std::size_t max_overflow = 0;  ///< extra workers spawned while all are busy, stopped when checked in
};

namespace detail {

template <class P>
struct pool_access {
  static lease<P> make(ref<P> worker, ref<worker_pool_msg<P>> pool) { return lease<P>(std::move(worker), std::move(pool)); }
};

template <class P>
result<lease<P>> explain(result<lease<P>>&& r, std::chrono::nanoseconds wait) {
  // The pool drops a checkout it cannot serve in time: say so in the caller's terms.
  if (!r && r.error() == troupe::errc::request_dropped)
    return error{troupe::errc::timeout, "worker pool: no worker free within " +
                                    std::to_string(std::chrono::duration_cast<std::chrono::milliseconds>(wait).count()) + " ms"};
  return std::move(r);
}

}  // namespace detail

/// A worker pool of workers made by `make()` (a behavior<P>). Spawn it, then check out.
///
///     auto pool = sys.spawn(troupe::otp::worker_pool<db_msg>([] { return connection(); },
///                                                            {.size = 4, .max_overflow = 2}));
template <class P, class Make>
behavior<worker_pool_msg<P>> worker_pool(Make make, worker_pool_options opts) {
  using msg = worker_pool_msg<P>;
  struct waiter {
    ref<lease<P>> reply_to;
  };
  struct state {
    Make make;
    worker_pool_options opts;
    std::deque<ref<P>> idle;
    std::map<actor_id, bool> busy;  // checked-out workers; true for overflow ones
    std::size_t overflow = 0;
    std::map<std::uint64_t, waiter> waiters;  // by arrival: the oldest is served first
    std::uint64_t next_waiter = 0;
  };
  return setup<msg>([make = std::move(make), opts](actor_context<msg>& ctx) mutable -> behavior<msg> {
    auto st = std::make_shared<state>(state{std::move(make), opts, {}, {}, 0, {}, 0});
    auto spawn_worker = [&ctx, st] {
      auto w = ctx.spawn(st->make());
      ctx.watch(w);
      return w;
    };
    for (std::size_t i = 0; i < opts.size; ++i) st->idle.push_back(spawn_worker());
    // Hands `w` to the oldest waiter, or keeps it idle (an overflow worker is stopped instead).
    auto release = [&ctx, st](ref<P> w, bool overflow) {
      if (!st->waiters.empty()) {
        auto first = st->waiters.begin();
        auto reply_to = std::move(first->second.reply_to);
        ctx.cancel_timer("waiter " + std::to_string(first->first));
        st->waiters.erase(first);
        st->busy[w.id()] = overflow;
        reply_to.tell(detail::pool_access<P>::make(std::move(w), ctx.self()));
        return;
      }
      if (overflow) {
        --st->overflow;
        ctx.unwatch(w);
        ctx.stop(w);
      } else {
        st->idle.push_back(std::move(w));
      }
    };
    return receive<msg>(
        [&ctx, st, spawn_worker](checkout_request<P>&& c) {
          if (!st->idle.empty()) {
            auto w = std::move(st->idle.front());
            st->idle.pop_front();
            st->busy[w.id()] = false;
            c.reply_to.tell(detail::pool_access<P>::make(std::move(w), ctx.self()));
          } else if (st->overflow < st->opts.max_overflow) {
            ++st->overflow;
            auto w = spawn_worker();
            st->busy[w.id()] = true;
            c.reply_to.tell(detail::pool_access<P>::make(std::move(w), ctx.self()));
          } else if (c.wait > std::chrono::nanoseconds::zero()) {
            auto id = st->next_waiter++;
            st->waiters.emplace(id, waiter{std::move(c.reply_to)});
            ctx.start_timer("waiter " + std::to_string(id), waiter_expired{id}, c.wait);
          }
          // else: the request is dropped unanswered, and `checkout` reports a timeout.
        },
        [st, release](checkin<P>&& c) {
          auto it = st->busy.find(c.worker.id());
          if (it == st->busy.end()) return;  // not ours, checked in twice, or already replaced
          bool overflow = it->second;
          st->busy.erase(it);
          release(std::move(c.worker), overflow);
        },
        [st](const status_request& s) {
          s.reply_to.tell(pool_status{st->idle.size(), st->busy.size(), st->overflow, st->waiters.size()});
        },
        [st](const waiter_expired& e) { st->waiters.erase(e.waiter); },  // dropping it answers the asker
        [st, spawn_worker, release](const terminated& t) {
          // A worker stopped: forget it wherever it was, and replace a permanent one.
          bool overflow = false;
          if (auto it = st->busy.find(t.who); it != st->busy.end()) {
            overflow = it->second;
            st->busy.erase(it);
          } else if (std::erase_if(st->idle, [&](const ref<P>& w) { return w.id() == t.who; }) == 0) {
            return;  // not ours any more (an overflow worker we stopped)
          }
          if (overflow) {
            --st->overflow;
            return;
          }
          release(spawn_worker(), false);
        });
  });
}

/// Checks out a worker from a thread: the future holds a lease, errc::timeout if none came
/// free within `wait`, or errc::receiver_dead if the pool has stopped.
///
///     auto l = troupe::otp::checkout(pool, 50ms).get();
///     if (l) (*l)->tell(job{});
template <class P>
std::future<result<lease<P>>> checkout(const ref<worker_pool_msg<P>>& pool, std::chrono::nanoseconds wait) {
  auto promise = std::make_shared<std::promise<result<lease<P>>>>();
  auto future = promise->get_future();
  auto make = [wait](ref<lease<P>> r) { return checkout_request<P>{std::move(r), wait}; };
  // No deadline on the ask itself: the pool answers or drops every checkout within `wait`.
  troupe::async_ask<lease<P>>(pool, make, troupe::infinity, [promise, wait](result<lease<P>>&& r) {
    promise->set_value(detail::explain(std::move(r), wait));
  });
  return future;
}

/// Checks out a worker from inside an actor: later delivers `map(result<lease<P>>)`, a message
/// of this actor's protocol. Keep the lease in the actor's state: it goes back when dropped.
///
///     troupe::otp::checkout(ctx, pool, 50ms, [](troupe::result<troupe::otp::lease<db_msg>>&& l) {
///       return got_connection{std::move(l)};
///     });
template <class P, class Q, class Map>
void checkout(actor_context<Q>& ctx, const ref<worker_pool_msg<P>>& pool, std::chrono::nanoseconds wait, Map map) {
  ctx.template ask<lease<P>>(
      pool, [wait](ref<lease<P>> r) { return checkout_request<P>{std::move(r), wait}; }, troupe::infinity,
      [map = std::move(map), wait](result<lease<P>>&& r) mutable { return map(detail::explain(std::move(r), wait)); });
}

}  // namespace troupe::otp
