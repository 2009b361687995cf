// scheduler.hpp: the interface between the actor runtime and whatever runs actors' turns.
// The system hands a scheduler every actor that becomes runnable; the scheduler calls the
// actor's turn on one thread at a time and hands it back if it still has work. The work-stealing
// scheduler is the default; the test kit plugs in a deterministic one. Any thread may call
// schedule(); start() and stop() are called once, by the system. A scheduler may also install
// thread_hooks on its threads to see (and batch) what the turns there send; it need not.
#pragma once

#include <chrono>
#include <cstdint>
#include <functional>
#include <string_view>
#include <vector>

namespace troupe {

/// An actor as a scheduler sees it: something with turns to run. The runtime hands one to
/// scheduler::schedule whenever the actor becomes runnable, holding a reference for the
/// scheduler until it runs the turn (or hands it back with schedule again). Only the turn
/// functions are here; what the actor is stays the runtime's business.
///
///     void my_scheduler::schedule(troupe::schedulable& a, schedule_hint) noexcept { ready_.push_back(&a); }
///     // later, on the scheduler's thread:
///     if (a->run_turn(64)) schedule(*a, schedule_hint::yielded);
class schedulable {
 public:
  /// Runs one turn of at most `budget` user messages (signals first, as always). True when the
  /// actor must be scheduled again. One thread at a time; the reference passes back to the
  /// runtime with a false answer.
  bool run_turn(unsigned budget) noexcept;
  /// The serial of the actor's id (actor_id::serial), for a scheduler that picks by actor.
  std::uint64_t serial() const noexcept;
  /// Takes a counted reference to the actor's control block, and gives it back: for a
  /// scheduler that holds the actor beyond the runtime's own reference (a batch of sends).
  void retain() noexcept;
  void release_ref() noexcept;

 protected:
  schedulable() = default;
  ~schedulable() = default;
  schedulable(const schedulable&) = delete;
  schedulable& operator=(const schedulable&) = delete;
};

/// A tell on its way to an actor, as a scheduler's thread hooks see it (thread_hooks::hold_send):
/// opaque, owned by the hooks until they push it with push_batch. Held ones are chained through
/// set_next, in the order they must arrive.
///
///     if (last_) last_->set_next(m); else first_ = m;
///     last_ = m;
class held_message {
 public:
  /// Chains `next` after this message (nullptr ends the chain).
  void set_next(held_message* next) noexcept;

 protected:
  held_message() = default;
  ~held_message() = default;
};

/// Pushes the held messages first..last (chained with set_next, the last one's next unset or
/// nullptr), all to `target`, as one push: a flood batched by a scheduler's thread hooks. Any
/// thread; `target` must be kept alive meanwhile (schedulable::retain).
///
///     troupe::push_batch(*held_for_, first_, last_);
void push_batch(schedulable& target, held_message* first, held_message* last) noexcept;

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
  /// What one thread of a scheduler has done since it started (introspection, metrics).
  ///
  ///     for (auto& w : sched.worker_statistics()) total_turns += w.turns;
  struct worker_stats {
    std::uint64_t turns = 0;              ///< actor turns run
    std::uint64_t steals = 0;             ///< actors taken from another thread's queue
    std::chrono::nanoseconds parked{0};  ///< time spent asleep with nothing to run
  };
  virtual ~scheduler() = default;
  /// Makes `actor` runnable. Any thread; never blocks.
  virtual void schedule(schedulable& actor, schedule_hint hint) noexcept = 0;
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

  /// One entry per thread, in thread order; empty for a scheduler that keeps no statistics (the
  /// default). Any thread; each figure is read without stopping the thread, so it may lag.
  virtual std::vector<worker_stats> worker_statistics() const { return {}; }

  /// What the runtime tells the scheduler of the calling thread about each message a turn there
  /// sends, so that it can keep a conversation on one core or gather a flood into batches. Only
  /// the thread that installed the hooks calls them (from inside the send), so they need no
  /// locks. Optional: a thread without hooks (the default) pushes every message at once. Each
  /// function is pure rather than defaulted so that the send path is one indirect call, with
  /// no guess at a default for the compiler to test first; the comments give the plain answer.
  ///
  ///     struct my_worker final : troupe::scheduler::thread_hooks {
  ///       bool hold_send(troupe::schedulable&, troupe::held_message*) noexcept override { return false; }
  ///       void flush_sends_to(troupe::schedulable&) noexcept override {}
  ///       void queued_send() noexcept override { ++sends_to_busy_actors; }
  ///       bool idle_but_for_this_turn() const noexcept override { return false; }
  ///       unsigned sends_to_busy_actors = 0;
  ///     };
  ///     // in my_scheduler, on each of its threads, before the first turn there:
  ///     set_thread_hooks(&this_threads_worker);
  class thread_hooks {
   public:
    /// Offered every tell to `target` before it is pushed: true means the hooks took `e` and
    /// will push it later, in order, with troupe::push_batch, no later than the end of the
    /// current turn (holding a reference to `target` meanwhile). Plain answer: false.
    virtual bool hold_send(schedulable& target, held_message* m) noexcept = 0;
    /// Push now whatever is held for `target`: this thread is about to send it something that
    /// must not overtake it (an ask's request, a notice). Plain answer: nothing.
    virtual void flush_sends_to(schedulable& target) noexcept = 0;
    /// A message was queued for an actor that was already scheduled (it will not run sooner for
    /// it): a turn that does this often is a flood. Plain answer: nothing.
    virtual void queued_send() noexcept = 0;
    /// True when this thread has nothing to run but the current turn, so a mailbox that has
    /// caught up with a flood may wait a few nanoseconds for the next message. Plain answer:
    /// false.
    virtual bool idle_but_for_this_turn() const noexcept = 0;

   protected:
    ~thread_hooks() = default;  // never deleted through this interface
  };

 protected:
  /// Makes `hooks` the calling thread's (nullptr: none, the default of every thread). A
  /// scheduler calls it on each of its threads before the first turn there, and with nullptr
  /// after the last; `hooks` must outlive that.
  static void set_thread_hooks(thread_hooks* hooks) noexcept;
};

}  // namespace troupe
