// scheduler.hpp: the interface between the actor runtime and whatever runs actors' turns.
// The system hands a scheduler every actor that becomes runnable; the scheduler calls the
// actor's turn on one thread at a time and hands it back if it still has work. The work-stealing
// scheduler is the default; the test kit plugs in a deterministic one. Any thread may call
// schedule(); start() and stop() are called once, by the system.
#pragma once

#include <chrono>
#include <functional>
#include <string_view>

namespace troupe {

namespace detail {
class cell;
}

/// Runs actors. Implemented by the runtime's work-stealing pool and by the test kit.
///
///     // A scheduler's worker loop, in essence:
///     while (auto* c = next_runnable()) if (c->run_turn(budget)) schedule(*c, schedule_hint::yielded);
class scheduler {
 public:
  /// Why an actor is being scheduled; a scheduler may place it differently for each.
  enum class schedule_hint {
    woken,    ///< a message arrived for an idle actor: run it soon, near its sender
    spawned,  ///< a new actor: worth spreading to other workers
    yielded,  ///< it used up its turn and still has messages: behind the others, for fairness
  };
  virtual ~scheduler() = default;
  /// Makes `c` runnable. Any thread; never blocks.
  virtual void schedule(detail::cell& c, schedule_hint hint) noexcept = 0;
  /// Starts the scheduler's threads, if it has any.
  virtual void start() = 0;
  /// Stops and joins the threads; called after every actor has terminated.
  virtual void stop() noexcept = 0;
  /// True when the calling thread is one of this scheduler's threads (a system must not wait
  /// for its own actors on one of them).
  virtual bool owns_current_thread() const noexcept { return false; }
  /// Called by a thread that waits for actors to stop (system shutdown). A scheduler with
  /// threads of its own does nothing (the default); one without (the test kit's deterministic
  /// scheduler) runs the runnable actors on the waiting thread, since nothing else would.
  virtual void run_while_waiting() {}
  /// Reports, through `report`, each turn that has held a thread longer than `threshold`.
  /// Called periodically by the system's watchdog from its timer thread.
  virtual void check_long_turns(std::chrono::nanoseconds threshold,
                                const std::function<void(std::uint64_t actor_serial,
                                                         std::chrono::nanoseconds held)>& report) {
    (void)threshold;
    (void)report;
  }
};

}  // namespace troupe
