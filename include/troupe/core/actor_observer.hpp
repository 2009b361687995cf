// actor_observer.hpp: an optional hook that sees what actors do to the runtime, for tools.
// The test kit's behaviour test kit records an actor's effects through it: children spawned,
// timers started and cancelled, behaviours replaced, stops. It is null in production
// (system_config::observer), and the runtime consults it only on those paths, never on tell.
// Calls come on the acting actor's turn (spawns of top-level actors: on the spawning thread), so
// an observer of a multi-threaded system must be thread-safe. It sees actors as observed_actor,
// a view valid for the call: keep the id, or a ref from ref_as<P>().
#pragma once

#include <chrono>
#include <string>
#include <string_view>
#include <typeinfo>

#include "troupe/core/actor_id.hpp"
#include "troupe/core/any_ref.hpp"
#include "troupe/core/exit_reason.hpp"
#include "troupe/core/ref.hpp"
#include "troupe/core/result.hpp"

namespace troupe {

namespace detail {
class cell;
}

enum class timer_mode;  // actor_context.hpp
class observed_actor;

namespace detail {
observed_actor make_observed(cell& c) noexcept;
cell& cell_of(const observed_actor& a) noexcept;
}  // namespace detail

/// An actor as an actor_observer is told about it: its id, name and protocol, and a typed ref
/// to it. A view, valid only during the observer's call.
///
///     void spawned(const troupe::observed_actor* parent, const troupe::observed_actor& child) override {
///       if (auto r = child.ref_as<counter_msg>()) counters.push_back(*r);
///     }
class observed_actor {
 public:
  actor_id id() const noexcept;
  /// The name given at spawn; empty if none.
  const std::string& name() const noexcept;
  /// The type of the messages it takes (its protocol).
  const std::type_info& protocol() const noexcept;
  /// A ref to the actor, if it speaks exactly P; errc::wrong_protocol otherwise.
  template <class P>
  result<ref<P>> ref_as() const {
    if (protocol() != typeid(P)) return error{errc::wrong_protocol, "the actor does not speak the protocol asked for"};
    return detail::ref_access::make<P>(share());
  }
  /// A handle to the actor whatever its protocol (`handle().as<P>()` gives the typed ref), kept
  /// beyond the observer's call: it holds the actor's control block, never the actor.
  ///
  ///     children.emplace(child.id().serial, child.handle());    // in spawned()
  any_ref handle() const noexcept { return any_ref(share(), protocol()); }

 private:
  explicit observed_actor(detail::cell& c) noexcept : c_(&c) {}
  detail::counted<detail::endpoint> share() const noexcept;
  friend observed_actor detail::make_observed(detail::cell& c) noexcept;
  friend detail::cell& detail::cell_of(const observed_actor& a) noexcept;
  detail::cell* c_;
};

namespace detail {
inline observed_actor make_observed(cell& c) noexcept { return observed_actor(c); }
inline cell& cell_of(const observed_actor& a) noexcept { return *a.c_; }
}  // namespace detail

/// Told about the effects of every actor of a system. Each function does nothing by default.
///
///     struct spawn_counter final : troupe::actor_observer {
///       std::atomic<int> spawns{0};
///       void spawned(const troupe::observed_actor*, const troupe::observed_actor&) override { ++spawns; }
///     };
///     troupe::system_config cfg;
///     cfg.observer = std::make_shared<spawn_counter>();
class actor_observer {
 public:
  virtual ~actor_observer() = default;
  /// `child` was spawned by `parent` (null for a top-level actor). It has not run yet. An
  /// exception thrown here fails that spawn: it reaches the spawner, and the actor never runs.
  virtual void spawned(const observed_actor* parent, const observed_actor& child) { (void)parent, (void)child; }
  /// `a` started a keyed timer (after cancelling one under the same key, if any).
  virtual void timer_started(const observed_actor& a, std::string_view key, std::chrono::nanoseconds delay,
                             timer_mode mode) {
    (void)a, (void)key, (void)delay, (void)mode;
  }
  /// `a` cancelled the running timer under `key` (explicitly, or by starting another under it).
  virtual void timer_cancelled(const observed_actor& a, std::string_view key) { (void)a, (void)key; }
  /// A handler of `a` returned a new behaviour (not `same`, not `stopped`).
  virtual void became(const observed_actor& a) { (void)a; }
  /// `a` has terminated with `reason` (its children have terminated before it).
  virtual void stopped(const observed_actor& a, const exit_reason& reason) { (void)a, (void)reason; }
};

}  // namespace troupe
