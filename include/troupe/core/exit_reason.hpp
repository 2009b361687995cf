// exit_reason.hpp: why an actor stopped, as a value that can cross a network.
// A reason is a kind plus text, never a live exception object: watchers, linked actors and
// supervisors on any node read the same thing. `normal` and `shutdown` are not failures; the
// other kinds are, and propagate over links (Erlang's rule).
#pragma once

#include <string>

namespace troupe {

/// Why an actor stopped.
///
///     [](const troupe::terminated& t) {
///       if (t.reason.is_failure()) std::cerr << t.reason.describe() << '\n';
///     }
struct exit_reason {
  enum class kind {
    normal,     ///< the behaviour returned `stopped`, or the actor was asked to stop
    shutdown,   ///< its parent or its system stopped
    exception,  ///< an exception escaped a handler; `text` holds what() and the type
    linked,     ///< a linked actor failed and this one did not trap exits
    killed,     ///< killed by actor_context::kill (a supervisor's shutdown timeout, say)
    noconnection,  ///< its node became unreachable (remote refs only): it may still be running
  };
  kind what = kind::normal;
  std::string text;

  /// True for the reasons that count as a crash and travel over links.
  bool is_failure() const noexcept {
    return what == kind::exception || what == kind::linked || what == kind::killed || what == kind::noconnection;
  }
  /// "exception: boom", "normal", ...
  std::string describe() const;

  friend bool operator==(const exit_reason&, const exit_reason&) = default;
};

}  // namespace troupe
