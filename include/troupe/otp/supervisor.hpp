// supervisor.hpp: an actor that starts children, watches them and restarts them when they stop,
// following a strategy and a restart limit (OTP's `supervisor`).
// Spawn one with `otp::supervisor(spec)` from a thread or from an actor. Its operations are
// messages (ask them from an actor) with future-returning helpers for plain threads. It starts
// its children in order and stops them in reverse order, each within its shutdown time; beyond
// `max_restarts` restarts `within` a window it stops every child and fails, and its own
// supervisor decides.
#pragma once

#include <any>
#include <chrono>
#include <cstddef>
#include <future>
#include <stdexcept>
#include <string>
#include <system_error>
#include <vector>

#include "troupe/core/behavior.hpp"
#include "troupe/core/ref.hpp"
#include "troupe/core/result.hpp"
#include "troupe/core/signals.hpp"
#include "troupe/otp/child_spec.hpp"

namespace troupe::otp {

/// Which children a supervisor restarts when one of them stops and must be restarted.
enum class strategy {
  one_for_one,         ///< only that child
  one_for_all,         ///< every child: the others are stopped (reverse order), then all start
  rest_for_one,        ///< that child and those started after it
  simple_one_for_one,  ///< one_for_one over children started on demand from one template spec
};

/// Restart strategy and limit: more than `max_restarts` restarts `within` the window make the
/// supervisor give up (stop its children, then fail). OTP calls them intensity and period,
/// Akka maxNrOfRetries and withinTimeRange; routers use the same two names.
///
///     otp::supervisor_flags flags{.strategy = otp::strategy::one_for_all, .max_restarts = 3, .within = 1s};
struct supervisor_flags {
  otp::strategy strategy = otp::strategy::one_for_one;
  int max_restarts = 1;
  std::chrono::nanoseconds within = std::chrono::seconds{5};
};

/// What a supervisor starts with: its flags and its children, in start order. For
/// simple_one_for_one, `children` holds exactly one template spec and nothing starts at once.
///
///     otp::supervisor_spec spec{.flags = {.strategy = otp::strategy::rest_for_one},
///                               .children = {otp::child("db", make_db), otp::child("api", make_api)}};
struct supervisor_spec {
  supervisor_flags flags{};  // `{}`: so that `{.children = ...}` passes -Wmissing-field-initializers
  std::vector<child_spec> children{};
};

/// The errors of a supervisor's operations (OTP's `{error, Reason}`).
enum class supervisor_errc {
  already_started = 1,  ///< start_child: a running child has that id
  already_present,      ///< start_child: a stopped child has that id (restart or delete it)
  not_found,            ///< no child has that id
  running,              ///< restart_child, delete_child: the child is running
  start_failed,         ///< the start function threw
  not_supported,        ///< the operation does not apply to a simple_one_for_one supervisor
};
}  // namespace troupe::otp

template <>
struct std::is_error_code_enum<troupe::otp::supervisor_errc> : std::true_type {};

namespace troupe::otp {
const std::error_category& supervisor_category() noexcept;
inline std::error_code make_error_code(supervisor_errc e) noexcept {
  return {static_cast<int>(e), supervisor_category()};
}

/// Why a supervisor failed (its exit reason's text names this type): a child failed to start
/// at first, or its restart limit was exceeded.
class supervisor_failure : public std::runtime_error {
 public:
  using std::runtime_error::runtime_error;
};

/// One child, as which_children reports it.
struct child_info {
  std::string id;
  child_ref ref;  ///< empty while not running
  child_kind kind;
  restart_type restart;
};

/// The numbers count_children reports.
struct child_counts {
  std::size_t specs = 0;        ///< children known, running or not
  std::size_t active = 0;       ///< running
  std::size_t supervisors = 0;  ///< of kind supervisor
  std::size_t workers = 0;      ///< of kind worker
};

// --- the operations, as messages (ask them from an actor with ctx.ask) -------------------------

/// Adds a child and starts it. For simple_one_for_one, `spec` is ignored and the template
/// starts with `args`. Replies the child's handle (empty if its start chose not to start).
struct start_child {
  child_spec spec;
  std::any args;
  ref<result<child_ref>> reply_to;
};
/// Stops a child (by id; for simple_one_for_one by actor id `who`) within its shutdown time.
/// The spec stays (restart_child starts it again), except for temporary and dynamic children.
struct terminate_child {
  std::string id;
  actor_id who;
  ref<result<void>> reply_to;
};
/// Starts again a stopped child whose spec the supervisor still holds.
struct restart_child {
  std::string id;
  ref<result<child_ref>> reply_to;
};
/// Forgets the spec of a stopped child.
struct delete_child {
  std::string id;
  ref<result<void>> reply_to;
};
/// Replies every child, in start order.
struct which_children {
  ref<std::vector<child_info>> reply_to;
};
struct count_children {
  ref<child_counts> reply_to;
};
/// Stops every child in reverse start order, each within its shutdown time, then the
/// supervisor itself (normally). How a parent supervisor or an application stops a subtree.
struct stop_tree {};

namespace detail {
struct child_exited {  // a watched child stopped
  actor_id who;
  exit_reason reason;
};
struct shutdown_timeout {  // a child overstayed its shutdown time: kill it
  actor_id who;
};
}  // namespace detail

/// A supervisor's behaviour. Spawn it at the top (`sys.spawn`), under an actor (`ctx.spawn`),
/// or under another supervisor (`supervisor_child`). It fails, with an exception reason naming
/// the last failure, when a child fails to start at first or when the restart limit is
/// exceeded; either way it has stopped its started children in reverse order first.
///
///     auto sup = sys.spawn(otp::supervisor({.flags = {.max_restarts = 3, .within = 1s},
///                                           .children = {otp::child("db", [] { return db(); })}}),
///                          {.name = "root"});
behavior<supervisor_msg> supervisor(supervisor_spec spec);

/// A child spec for a nested supervisor: kind supervisor, shutdown troupe::infinity (its own
/// children's shutdown times bound it), stopped with its ordered stop_tree.
///
///     root.children.push_back(otp::supervisor_child("workers", workers_spec));
child_spec supervisor_child(std::string id, supervisor_spec spec, spawn_options opts = {});

// --- helpers for plain threads: each asks and returns a future, like ref::ask ------------------
// They never block; get() on the future does (so never inside a handler: from an actor, ask the
// messages above with ctx.ask). Each completes like an ask: the supervisor's answer, or
// errc::timeout, errc::receiver_dead.
//
//     auto kids = otp::which_children_of(sup).get();          // result<std::vector<child_info>>

/// OTP's supervisor:start_child. @see start_child
std::future<result<child_ref>> start_child_of(const ref<supervisor_msg>& sup, child_spec spec,
                                              std::chrono::nanoseconds timeout = std::chrono::seconds{5});
/// simple_one_for_one: starts the template child with `args`.
std::future<result<child_ref>> start_dynamic_child_of(const ref<supervisor_msg>& sup, std::any args,
                                                      std::chrono::nanoseconds timeout = std::chrono::seconds{5});
std::future<result<void>> terminate_child_of(const ref<supervisor_msg>& sup, std::string id,
                                             std::chrono::nanoseconds timeout = std::chrono::seconds{5});
/// simple_one_for_one: stops the child with that actor id.
std::future<result<void>> terminate_child_of(const ref<supervisor_msg>& sup, actor_id who,
                                             std::chrono::nanoseconds timeout = std::chrono::seconds{5});
std::future<result<child_ref>> restart_child_of(const ref<supervisor_msg>& sup, std::string id,
                                                std::chrono::nanoseconds timeout = std::chrono::seconds{5});
std::future<result<void>> delete_child_of(const ref<supervisor_msg>& sup, std::string id,
                                          std::chrono::nanoseconds timeout = std::chrono::seconds{5});
std::future<result<std::vector<child_info>>> which_children_of(const ref<supervisor_msg>& sup,
                                                               std::chrono::nanoseconds timeout = std::chrono::seconds{5});
std::future<result<child_counts>> count_children_of(const ref<supervisor_msg>& sup,
                                                    std::chrono::nanoseconds timeout = std::chrono::seconds{5});

}  // namespace troupe::otp
