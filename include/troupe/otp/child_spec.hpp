// child_spec.hpp: how a supervisor starts, restarts and stops one child (OTP's child spec).
// A spec is a value: an id, a start function that spawns the child from the supervisor's
// context and returns its handle, a restart type, a shutdown time and a kind. Specs are built
// on any thread and moved into a supervisor; the start function runs on the supervisor's turn.
// A `child_ref` is the protocol-erased handle a supervisor keeps: children of different
// protocols live under one supervisor, and a user gets the typed ref back with `as<P>()`.
#pragma once

#include <any>
#include <chrono>
#include <functional>
#include <string>
#include <typeinfo>
#include <utility>
#include <variant>

#include "troupe/core/any_ref.hpp"
#include "troupe/core/actor_context.hpp"
#include "troupe/core/behavior.hpp"
#include "troupe/core/ref.hpp"
#include "troupe/core/result.hpp"

namespace troupe::otp {

struct start_child;
struct terminate_child;
struct restart_child;
struct delete_child;
struct which_children;
struct count_children;
struct stop_tree;
namespace detail {
struct child_exited;
struct shutdown_timeout;
}  // namespace detail

/// The protocol of a supervisor (see supervisor.hpp): the operations of OTP's `supervisor`
/// module as messages, plus the supervisor's own signals.
using supervisor_msg = std::variant<start_child, terminate_child, restart_child, delete_child, which_children,
                                    count_children, stop_tree, detail::child_exited, detail::shutdown_timeout>;
/// The context a child spec's start function spawns from: the supervisor's own.
using supervisor_context = actor_context<supervisor_msg>;

/// When a child that stopped is started again.
enum class restart_type {
  permanent,  ///< always
  transient,  ///< only when it failed (reason is_failure(): exception, linked, killed)
  temporary,  ///< never; its spec is forgotten when it stops
};

/// What a child is. A supervisor child is stopped with its ordered shutdown (stop_tree).
enum class child_kind { worker, supervisor };

/// `shutdown` of a child that is killed at once, without a stop request (OTP's brutal_kill).
inline constexpr std::chrono::nanoseconds kill_immediately{0};

/// A handle to a supervised child, whatever its protocol: an any_ref (core/any_ref.hpp) whose
/// errors speak of a child.
///
///     for (const auto& c : otp::which_children_of(sup).get().value())
///       if (auto db = c.ref.as<db_msg>()) db->tell(flush{});
class child_ref : public any_ref {
 public:
  /// An empty handle: the child is not running (or its start function chose not to start it).
  child_ref() = default;
  template <class P>
  child_ref(ref<P> r)  // NOLINT: implicit on purpose, so a start function returns ctx.spawn(...)
      : any_ref(r) {}

  /// The typed ref, or errc::wrong_protocol if the child does not speak exactly P (or
  /// errc::receiver_dead for an empty handle).
  template <class P>
  result<ref<P>> as() const {
    if (!*this) return error{troupe::errc::receiver_dead, "the child is not running"};
    if (!speaks<P>()) return error{troupe::errc::wrong_protocol, "the child speaks another protocol"};
    return any_ref::as<P>();
  }
};

/// How a supervisor starts, restarts and stops one child.
///
///     otp::child_spec db{
///         .id = "db",
///         .start = [](otp::supervisor_context& ctx, const std::any&) -> otp::child_ref {
///           return ctx.spawn(db_worker(), {.name = "db"});     // reach it by name after a restart
///         },
///         .restart = otp::restart_type::permanent,
///         .shutdown = 2s};
///     auto same_db = otp::child("db", [] { return db_worker(); }, {.name = "db"});
struct child_spec {
  /// Unique among the supervisor's children; names the child in every operation.
  std::string id{};
  /// Spawns the child from the supervisor's context and returns its handle. `args` is empty,
  /// except for a simple_one_for_one supervisor, where it holds start_child's arguments. An
  /// exception means the start failed; an empty handle means "not started" (OTP's ignore).
  /// It runs on the supervisor's turn, at start and at each restart: it must not block (the
  /// supervisor answers nothing meanwhile) and should do no more than spawn. Default: none;
  /// a spec without one fails to start. See also `child`, `dynamic_child`, `supervisor_child`.
  std::function<child_ref(supervisor_context& ctx, const std::any& args)> start{};
  restart_type restart = restart_type::permanent;
  /// How long the child has to stop after a stop request before it is killed;
  /// kill_immediately kills it at once, troupe::infinity waits as long as it takes (OTP's
  /// infinity, the default for supervisor children: their own children's shutdown times bound it).
  std::chrono::nanoseconds shutdown = std::chrono::seconds{5};
  child_kind kind = child_kind::worker;
};

/// A worker spec whose start spawns `make()` (a function returning the child's behaviour) with
/// `opts`; restart and shutdown keep their defaults unless set on the result.
///
///     auto spec = otp::child("cache", [] { return cache(0); }, {.name = "cache"});
///     spec.restart = otp::restart_type::transient;
template <class F>
  requires requires(F& f) { f(); }
child_spec child(std::string id, F make, spawn_options opts = {}) {
  return child_spec{.id = std::move(id),
                    .start = [make = std::move(make), opts = std::move(opts)](supervisor_context& ctx,
                                                                              const std::any&) mutable -> child_ref {
                      return ctx.spawn(make(), opts);
                    }};
}

/// The template spec of a simple_one_for_one supervisor: each start_child(args) spawns
/// `make(std::any_cast<A>(args))`. A wrong argument type fails that start (bad_any_cast).
///
///     auto spec = otp::dynamic_child<connection_info>("conn", [](connection_info c) { return session(c); });
template <class A, class F>
  requires requires(F& f, const A& a) { f(a); }
child_spec dynamic_child(std::string id, F make, spawn_options opts = {}) {
  return child_spec{.id = std::move(id),
                    .start = [make = std::move(make), opts = std::move(opts)](supervisor_context& ctx,
                                                                              const std::any& args) mutable -> child_ref {
                      return ctx.spawn(make(std::any_cast<const A&>(args)), opts);
                    }};
}

}  // namespace troupe::otp
