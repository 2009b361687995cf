// stop_signals.hpp: a program's graceful life cycle: run its applications until SIGINT or SIGTERM
// (or until one of them ends on its own), then stop them in the reverse of their start order.
// Make the stop_signals first thing in main, before the system or any thread starts: it blocks
// the two signals so that threads started later inherit the mask and only run() receives them.
// run() is for one plain thread (main), never an actor. Unlike OTP's init:stop(), nothing here
// is global beyond the process's signal mask, which the destructor restores.
#pragma once

#include <signal.h>

#include <chrono>
#include <initializer_list>
#include <optional>
#include <string>

#include "troupe/core/exit_reason.hpp"
#include "troupe/otp/application.hpp"

namespace troupe::otp {

/// How a run ended: a signal (its number) or an application that ended on its own (its name and
/// why; an application of type permanent or transient has then shut the system down, as its run()
/// does). The applications are all stopped either way.
///
///     if (how.signal) std::cout << "stopped by signal " << *how.signal << '\n';
///     else std::cerr << how.application << " ended: " << how.reason.describe() << '\n';
struct run_outcome {
  std::optional<int> signal;
  std::string application{};
  exit_reason reason{};
  /// True for a stop by signal, or an application that ended normally.
  bool ok() const noexcept { return signal.has_value() || !reason.is_failure(); }
};

/// Blocks SIGINT and SIGTERM for its lifetime and runs applications until one arrives.
///
///     int main() {
///       troupe::otp::stop_signals signals;   // first: before any thread starts
///       troupe::system sys;
///       otp::application store(sys, {.name = "store", .root = store_tree()});
///       otp::application web(sys, {.name = "web", .root = web_tree()});
///       auto how = signals.run({&store, &web});  // on SIGTERM: stops web, then store
///       return how.ok() ? 0 : 1;
///     }
class stop_signals {
 public:
  /// Blocks SIGINT and SIGTERM in the calling thread (and so in every thread it starts later).
  stop_signals();
  /// Restores the calling thread's signal mask.
  ~stop_signals();
  stop_signals(const stop_signals&) = delete;
  stop_signals& operator=(const stop_signals&) = delete;

  /// Waits until SIGINT or SIGTERM arrives, or until an application in `apps` ends on its own,
  /// then stops the applications still running, last started first (each stop waits for its
  /// tree: children in reverse start order). `apps` are in start order and outlive the call.
  /// An application ending is noticed within `poll` (the signal at once).
  run_outcome run(std::initializer_list<application*> apps,
                  std::chrono::nanoseconds poll = std::chrono::milliseconds(100));
  /// Waits at most `timeout` for SIGINT or SIGTERM; returns its number, or nothing.
  std::optional<int> wait_for(std::chrono::nanoseconds timeout);

 private:
  sigset_t stop_set_;
  sigset_t old_mask_;
};

}  // namespace troupe::otp
