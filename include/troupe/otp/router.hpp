// router.hpp: an actor that passes each message on to one of its routees (or all of them).
// A group router routes to refs it is given; a pool router spawns N workers of its own and
// restarts one that crashes. Either is an actor of the routees' protocol P: spawn it, tell it,
// watch it and stop it like any other. The routing logic (routing.hpp) runs on the router's
// turn. A routee that stops leaves the router; a message that finds no routee goes to dead
// letters. Order: messages from one sender that go to one routee arrive in the order sent.
#pragma once

#include <algorithm>
#include <atomic>
#include <chrono>
#include <cstddef>
#include <cstdint>
#include <memory>
#include <mutex>
#include <stdexcept>
#include <string>
#include <type_traits>
#include <typeinfo>
#include <utility>
#include <variant>
#include <vector>

#include "troupe/core/actor_context.hpp"
#include "troupe/core/behavior.hpp"
#include "troupe/core/detail/cell.hpp"
#include "troupe/core/detail/system_core.hpp"
#include "troupe/core/ref.hpp"
#include "troupe/core/signals.hpp"
#include "troupe/otp/routing.hpp"

namespace troupe::otp {

/// How a pool router keeps its workers.
struct pool_options {
  std::size_t size = 4;  ///< workers to spawn
  /// A worker that crashes is replaced, unless more than `max_restarts` happened within
  /// `within`: then the router gives up and stops with a failure (its watchers hear why). A
  /// worker that stops normally is not replaced.
  int max_restarts = 10;
  std::chrono::nanoseconds within = std::chrono::seconds{5};
  /// The workers' mailboxes (bounded, counted). Routing by smallest_mailbox counts them anyway.
  mailbox_options mailbox{};
};

namespace detail {

// The routees, shared by the router and its keeper (a child that watches them). The keeper
// changes them rarely; the router reads `version` on each message and copies the list only
// when it changed, so routing takes no lock in steady state.
template <class P>
struct routee_table {
  std::mutex mu;
  std::vector<ref<P>> routees;  // guarded by mu
  // release (keeper, after changing `routees` under mu) / acquire (router): a router that sees
  // a new version copies the list under mu, so it never routes to a list older than it saw.
  std::atomic<std::uint64_t> version{0};

  void set(std::vector<ref<P>> r) {
    std::lock_guard lock(mu);
    routees = std::move(r);
    version.fetch_add(1, std::memory_order_release);
  }
};

// Watches the routees; replaces crashed pool workers. Its protocol is only `terminated`.
template <class P, class Make>
behavior<terminated> keeper(std::shared_ptr<routee_table<P>> table, std::vector<ref<P>> given, Make make,
                            pool_options opts) {
  // Implicit captures (here and below): a group router (no `make`) uses neither the context nor
  // the restart bookkeeping, and clang warns about explicit captures that go unused.
  return setup<terminated>([=, given = std::move(given), make = std::move(make)](
                               actor_context<terminated>& ctx) mutable -> behavior<terminated> {
    constexpr bool pool = !std::is_same_v<Make, std::nullptr_t>;
    auto routees = std::make_shared<std::vector<ref<P>>>(std::move(given));
    for (auto& r : *routees) ctx.watch(r);  // one that has already stopped is reported at once
    auto restarts = std::make_shared<std::vector<timer_service::clock::time_point>>();
    auto* context = &ctx;  // lives as long as the actor, so as long as this handler
    return receive<terminated>([=](const terminated& t) mutable {
      auto it = std::find_if(routees->begin(), routees->end(), [&](const ref<P>& r) { return r.id() == t.who; });
      if (it == routees->end()) return;
      if constexpr (pool) {
        if (t.reason.is_failure()) {
          // Restart limits, as supervisors count them: too many crashes too fast means the
          // fault is not transient, and restarting would only spin.
          auto now = context->now();
          std::erase_if(*restarts, [&](auto at) { return now - at > opts.within; });
          if (static_cast<int>(restarts->size()) >= opts.max_restarts)
            throw std::runtime_error("pool router: more than " + std::to_string(opts.max_restarts) +
                                     " worker restarts within " + std::to_string(std::chrono::duration_cast<std::chrono::milliseconds>(opts.within).count()) +
                                     " ms; last: " + t.reason.describe());
          restarts->push_back(now);
          *it = context->spawn(make(), {.mailbox = opts.mailbox});
          context->watch(*it);
          table->set(*routees);
          return;
        }
      }
      routees->erase(it);
      table->set(*routees);
    });
  });
}

template <class P, class Logic>
behavior<P> routing(actor_context<P>& ctx, std::shared_ptr<routee_table<P>> table, Logic logic) {
  struct state {
    std::shared_ptr<routee_table<P>> table;
    Logic logic;
    std::vector<ref<P>> routees;  // the router's copy of table->routees
    std::uint64_t seen = 0;
  };
  auto st = std::make_shared<state>(state{std::move(table), std::move(logic), {}, 0});
  // Generic: each message is routed as the alternative it is, moved on without re-wrapping.
  return receive<P>([&ctx, st](auto&& m) {
    using M = std::remove_cvref_t<decltype(m)>;
    // acquire: pairs with the release in routee_table::set().
    if (auto v = st->table->version.load(std::memory_order_acquire); v != st->seen) {
      {
        std::lock_guard lock(st->table->mu);
        st->routees = st->table->routees;
        st->seen = st->table->version.load(std::memory_order_relaxed);  // relaxed: under mu
      }
      if constexpr (requires { st->logic.routees_changed(st->routees); }) st->logic.routees_changed(st->routees);
    }
    if (st->routees.empty()) {
      auto* self = troupe::detail::ref_access::cell_of(ctx.self());
      self->sys().dead_letter(*self, typeid(M), dead_letter_reason::no_route);
      return;
    }
    std::size_t i = st->logic.select(std::as_const(m), std::as_const(st->routees));
    if (i != route_to_all) {
      st->routees[i].tell(std::move(m));
      return;
    }
    if constexpr (std::is_copy_constructible_v<M>) {
      for (std::size_t k = 0; k + 1 < st->routees.size(); ++k) st->routees[k].tell(std::as_const(m));
      st->routees.back().tell(std::move(m));
    } else {
      throw std::logic_error("troupe: broadcast routing needs copyable messages");
    }
  });
}

}  // namespace detail

/// A router over the given routees. Routees that stop are removed; the router keeps running
/// with none left (messages then go to dead letters).
///
///     auto r = sys.spawn(troupe::otp::group_router(std::vector{a, b, c}, troupe::otp::round_robin{}));
///     r.tell(job{1});                                // to a, then b, then c, then a ...
template <class P, class Logic>
behavior<P> group_router(std::vector<ref<P>> routees, Logic logic) {
  return setup<P>([routees = std::move(routees), logic = std::move(logic)](actor_context<P>& ctx) mutable {
    auto table = std::make_shared<detail::routee_table<P>>();
    table->set(routees);  // before the first message, even if the keeper has not started yet
    ctx.spawn(detail::keeper<P>(table, std::move(routees), nullptr, pool_options{}));
    return detail::routing(ctx, std::move(table), std::move(logic));
  });
}

/// A router that spawns `opts.size` workers from `make()` (a behavior<P>) as its own
/// descendants, replaces a worker that crashes (within a restart limit), and stops them all
/// when it stops.
///
///     auto pool = sys.spawn(troupe::otp::pool_router<job_msg>([] { return worker(); },
///                                                   troupe::otp::smallest_mailbox{}, {.size = 8}));
template <class P, class Make, class Logic>
  requires std::is_same_v<std::invoke_result_t<Make&>, behavior<P>>
behavior<P> pool_router(Make make, Logic logic, pool_options opts = {}) {
  if constexpr (std::is_same_v<Logic, smallest_mailbox>) opts.mailbox.counted = true;
  return setup<P>([make = std::move(make), logic = std::move(logic), opts](actor_context<P>& ctx) mutable {
    // The first workers are the router's children, in place before its first message; their
    // replacements are the keeper's. Either way they stop when the router stops.
    std::vector<ref<P>> workers;
    for (std::size_t i = 0; i < opts.size; ++i) workers.push_back(ctx.spawn(make(), {.mailbox = opts.mailbox}));
    auto table = std::make_shared<detail::routee_table<P>>();
    table->set(workers);
    // Linked, so that if the keeper gives up (too many restarts) the router stops too, and its
    // watchers learn why.
    auto k = ctx.spawn(detail::keeper<P>(table, std::move(workers), std::move(make), opts));
    ctx.link(k);
    return detail::routing(ctx, std::move(table), std::move(logic));
  });
}

}  // namespace troupe::otp
