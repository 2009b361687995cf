// cell.hpp: an actor's control block, the part that does not depend on its protocol.
// A cell is owned by its references (refs, the runtime while it lives). Its inbox and signal
// stack may be pushed from any thread; everything else is touched only on the actor's own turn,
// by the one worker running it, so children, watchers, links and timers need no lock. Other
// actors change them by sending signals, which are handled ahead of user messages.
#pragma once

#include <atomic>
#include <chrono>
#include <cstdint>
#include <functional>
#include <memory>
#include <string>
#include <string_view>
#include <typeinfo>

#include "troupe/core/detail/endpoint.hpp"
#include "troupe/core/detail/inbox.hpp"
#include "troupe/core/exit_reason.hpp"
#include "troupe/core/mailbox.hpp"
#include "troupe/core/signals.hpp"

namespace troupe::detail {

class system_core;
struct cell_extras;
struct signal_envelope;
struct actor_probe;

enum class cell_state : std::uint8_t { running, stopping, terminated };

// schedulable (scheduler.hpp) is the empty public face a scheduler sees; it adds no bytes.
class cell : public endpoint, public schedulable {
  // The layout keeps what senders touch on every send (the vtable pointer, these two flags, the
  // inbox) a cache line away from what the actor's own turn touches on every message (the
  // signal stack, the cursor, the state and turn flags at the end, then the behaviour). Were
  // they to share a line, a flood's sender and receiver would pull it back and forth on every
  // message (bench counting: 0.08 s apart, 0.24 s together). The flags share the 8-byte word
  // of the endpoint's reference count, to keep an idle actor small (bench idle).
  // Immutable after construction, so any thread may read them.
  const bool blocking_ : 1;
  const bool counted_ : 1;  // the send path does more than push: bounded, counted or tallied
  // Counted only because the system is instrumented (system_config::introspection): no bound,
  // no admission, just a counting inbox (its pushes) and the turns' count of takes
  // (cell_mailbox.cpp, "tallied mailboxes"): a send does no atomic operation more for it.
  const bool tallied_ : 1;
  // Tallied in a system that times messages (system_config::metrics): the push picks one in
  // sample_every of the actor's messages for timing, by the inbox's count.
  const bool sampled_ : 1;

 public:
  cell(system_core& sys, cell* parent, bool blocking, std::string&& name, const mailbox_options& mailbox = {});

  // Control blocks come from the message pool: an actor spawned on one thread is often freed on
  // another, which the pool handles without lock contention, and it adds no malloc header to
  // each of a million idle actors. `delete` passes the most derived type's size (virtual dtor).
  static void* operator new(std::size_t size) { return pool_allocate(size); }
  static void operator delete(void* p, std::size_t size) noexcept { pool_deallocate(p, size); }

  actor_id id() const noexcept final { return {0, serial_}; }
  cell* as_cell() noexcept final { return this; }
  void enqueue(envelope* e) noexcept final;
  offer_result try_enqueue(envelope* e) noexcept final;
  /// Pushes the `count` user envelopes first..last, linked in order, with one CAS: a flood
  /// batched by the scheduler (see scheduler::thread_hooks::hold_send). Only a tallied mailbox
  /// reads `count`. Any thread.
  void push_batch(envelope* first, envelope* last, std::size_t count) noexcept;
  std::uint64_t serial() const noexcept { return serial_; }
  system_core& sys() const noexcept { return *sys_; }
  bool blocking() const noexcept { return blocking_; }
  /// True when the mailbox is tallied (introspection's approximate length; cell_mailbox.cpp).
  bool tallied() const noexcept { return tallied_; }
  /// True while the actor is idle: no turn running or scheduled. A snapshot. Any thread.
  bool idle() const noexcept { return inbox_.idle(); }
  /// The name given at spawn; empty if none. Immutable after spawn, so any thread may read it.
  const std::string& name() const noexcept;
  bool is_terminated() const noexcept {
    // acquire: pairs with the release in finalize(), so the exit reason is visible.
    return state_.load(std::memory_order_acquire) == cell_state::terminated;
  }
  /// The reason the actor stopped; valid once is_terminated() is true.
  exit_reason final_reason() const;
  /// User messages waiting (see mailbox_options), nullopt if the mailbox does not count them,
  /// 0 once terminated. Any thread.
  std::optional<std::size_t> mailbox_length() const noexcept;
  /// A tallied mailbox's length: envelopes pushed less those taken, approximate (see
  /// cell_mailbox.cpp), 0 once terminated. tallied() only; any thread.
  std::size_t tallied_length() const noexcept;

  // --- introspection (system_config::introspection); any thread -------------------------------
  /// The type of the messages it takes.
  virtual const std::type_info& protocol_type() const noexcept = 0;
  /// The size of this actor's control block, and of one queued message of its protocol.
  virtual std::size_t block_size() const noexcept = 0;
  virtual std::size_t message_size() const noexcept = 0;
  /// The parent, or null for a top-level actor; alive as long as this actor has not finalized.
  cell* parent() const noexcept { return parent_; }
  /// True once the actor has begun to stop.
  bool stopping() const noexcept {
    // acquire: as in is_terminated(); a snapshot.
    return state_.load(std::memory_order_acquire) != cell_state::running;
  }
  /// The figures of an instrumented actor (launched in a system with introspection), else null.
  actor_probe* probe() const noexcept;
  /// Approximate bytes held: control block, extras and name, queued messages.
  std::size_t footprint() const noexcept;
  /// Counts a restart of one of its children (a supervisor's). Own turn.
  void count_restart() noexcept;

  /// Runs one turn of at most `budget` user messages. Returns true when the actor must be
  /// scheduled again. Called by exactly one worker at a time.
  virtual bool run_turn(unsigned budget) noexcept = 0;

  /// Makes a freshly spawned actor runnable: its first turn runs its setup.
  void start() noexcept;

  /// Sends a runtime signal (stop, watch, link, ...). Any thread.
  void post_signal(signal_envelope* s) noexcept;
  /// Asks the actor to stop with `reason` (after its current message). Any thread.
  void request_stop(exit_reason reason);
  /// Kills the actor: it handles no user message after it sees the kill, which travels ahead of
  /// queued messages (like a stop), traps nothing, and kills its children. Any thread.
  void request_kill(std::string text);

  // --- called by the actor itself, on its own turn -------------------------------------------
  void watch(cell& target, std::function<void(terminated&&)> deliver);
  void unwatch(cell& target);
  void link(cell& other);
  void unlink(cell& other);
  void trap_exits(std::function<void(exit_signal&&)> deliver);
  /// The exit of a linked actor on another node (`who` describes it), run on this actor's turn
  /// by the remote layer, which keeps the link: as a local exit, trapped it becomes an
  /// exit_signal, otherwise a failure stops this actor after the current envelope.
  void exit_from_remote(actor_id from, const std::string& who, exit_reason reason);
  /// Stops the actor after the current message with the given reason.
  void stop_self(exit_reason reason);
  /// stop_self(exit_reason{}) without building a reason: how most actors end. Own turn.
  void stop_normally() noexcept {
    if (state_.load(std::memory_order_relaxed) == cell_state::running) stop_pending_ = true;
  }
  void add_child(cell& child) noexcept;
  /// Takes `child` out of this actor's child list (its end, or a spawn that failed). Own turn.
  void remove_child(cell& child) noexcept;

  /// Keyed timers: starting one under a key in use cancels the earlier one.
  enum class timer_mode : std::uint8_t { single, fixed_delay, fixed_rate };
  /// `make_envelope` builds the message each time the timer fires (on the timer thread).
  void start_timer(std::string key, timer_mode mode, std::chrono::nanoseconds delay,
                   std::function<envelope*()> make_envelope);
  bool cancel_timer(std::string_view key);
  bool timer_active(std::string_view key) const;
  void cancel_all_timers() noexcept;

 protected:
  ~cell() override;
  void unreferenced() noexcept override;

  // --- the typed part ------------------------------------------------------------------------
  /// Sends a user envelope that will never be handled to dead letters, and frees it.
  virtual void drop_user(envelope* e, dead_letter_reason why = dead_letter_reason::receiver_stopped) noexcept = 0;
  /// Frees a user envelope that a bounded mailbox discards (no dead letter).
  virtual void discard_user(envelope* e) noexcept = 0;
  /// Destroys the behaviour and with it the user's state. On the actor's turn.
  virtual void destroy_behavior() noexcept = 0;

  // --- turn helpers for the typed part --------------------------------------------------------
  /// Handles the signals that arrived (they overtake queued messages) and applies a pending stop.
  /// Inline for the usual case, nothing to do: it runs at the start of every turn.
  void handle_signals() {
    if (signal_head_ != nullptr || stop_pending_ || signals_.waiting()) handle_signals_now();
  }
  /// The next envelope to handle (a user message, a timer's, a call or a notice), or nullptr
  /// when there is none or the actor is stopping.
  envelope* next_user() {
    if (turn_counted_) return next_user_counted();  // bounded or counted mailboxes only
    // A handler stopped the actor (returned `stopped`, called stop() or threw): handle nothing
    // more; finish_turn() applies the stop.
    if (stop_pending_) return nullptr;
    if (signal_head_ != nullptr || signals_.waiting()) handle_signals();
    if (state_.load(std::memory_order_relaxed) != cell_state::running) return nullptr;
    return inbox_.take(cursor_, [this] { return turn_tallied_; });
  }
  /// Handles and frees a signal envelope (e.g. a notice that next_user() returned).
  void consume_signal(envelope* e);
  /// Decides, at the end of a turn that took `taken` envelopes, whether the actor has more to do.
  bool finish_turn(unsigned taken) noexcept;
  /// A timed_user envelope (metrics): records its time in the mailbox and returns the time it
  /// was taken, for end_timed() to record its handling time. Instrumented systems only.
  std::int64_t begin_timed(const envelope& e) noexcept;
  void end_timed(std::int64_t taken_at) noexcept;
  /// Called when a handler threw; stops the actor with the exception as its reason.
  void crashed(std::exception_ptr ex) noexcept;
  /// For a timer envelope: true when its timer is still current (and retires a single timer).
  bool accept_timer(std::uint32_t tag);
  /// Called once before the first message; setup behaviours run here.
  virtual void on_start() = 0;
  /// Runs on_start() on the first turn. Own turn only.
  void start_once() {
    if (started_) return;
    started_ = true;
    on_start();
  }

 private:
  void handle_signals_now();
  void handle_signal(signal_envelope* s);
  /// Instrumented actors only: copies the links and monitors into the probe (see
  /// actor_probe::relations). Own turn, after each change.
  void publish_relations() noexcept;
  offer_result push(envelope* e) noexcept;
  /// push() for a tallied mailbox (a counting inbox); a sampled one's also times the message if
  /// the inbox's count picks it.
  offer_result push_tallied(envelope* e) noexcept;
  /// push()'s and push_tallied()'s end: the push's result for the sender, `e` dropped if closed.
  offer_result after_push(envelope* e, inbox::push_result r) noexcept;
  /// Every push into a tallied mailbox's counting inbox (inbox::push_counted), with the carry
  /// of a wrapped count. cell.cpp.
  template <class BeforePublish = inbox::nothing_before_publish>
  inbox::push_result push_counted(envelope* first, envelope* last, std::size_t count,
                                  BeforePublish&& before_publish = {}) noexcept;
  /// After a push: schedules the actor if the push woke it. True when the inbox was closed, and
  /// the caller still owns what it pushed.
  bool closed_after(inbox::push_result r) noexcept;
  /// After a push that wrapped a tallied mailbox's 16-bit count: adds 2^16 to the pushes its
  /// probe has counted past it. Once in 65,536 pushes.
  [[gnu::cold]] void carry_pushes() noexcept;
  // --- counted and bounded mailboxes (counted_ only; cell_mailbox.cpp) ---
  bool admit(envelope* e) noexcept;
  void refuse(envelope* e, bool sender_sees) noexcept;
  envelope* next_user_counted();
  void probe_take(actor_probe& p, envelope* e) noexcept;  // instrumented actors only
  // --- sampled mailboxes (sampled_ only; cell_mailbox.cpp) ---
  /// Stamps the envelopes of a batch about to be pushed whose place in the count, `before`
  /// being the count before the batch, picks them for timing.
  void sample_batch(envelope* first, std::size_t count, std::uint16_t before) noexcept;
  void trim_oldest(cell_extras& x);
  void begin_stop(exit_reason reason);
  void begin_normal_stop() noexcept;  // begin_stop(exit_reason{}) for an actor without extras
  void finalize() noexcept;
  cell_extras& extras();

  // --- written by senders on every send ---
  inbox inbox_;
  // --- cold: read by senders when they wake the actor, or written when it spawns and stops ---
  system_core* sys_;
  cell* parent_;                     // outlives us: a parent finalizes after its children
  cell* prev_sibling_ = nullptr;     // in the parent's child list; parent's turn only
  cell* next_sibling_ = nullptr;     // (for top-level actors: guarded by their root shard's lock)
  // lazily made on the own turn (or at spawn for named actors); other threads read only the
  // immutable name. release/acquire: the store publishes a fully built extras.
  std::atomic<cell_extras*> extras_{nullptr};
  std::uint64_t serial_;
  // --- the actor's own turn, on every message ---
  signal_stack signals_;             // pushed by any thread, rarely
  inbox::cursor cursor_;
  envelope* signal_head_ = nullptr;  // signals taken and not yet handled (a handler threw)
  std::atomic<cell_state> state_{cell_state::running};
  std::atomic<bool> registered_{false};  // may hold names in the registry; set under its mutex
  // Bit-fields of their own, never sharing a memory location with the atomics above.
  // counted_ but not tallied_ (a tallied mailbox's turn takes as a plain one does, from a
  // counting inbox), and tallied_, read here so that the turn stays off the senders' line.
  const bool turn_counted_ : 1;
  const bool turn_tallied_ : 1;
  bool started_ : 1 = false;          // own turn only: setup has run
  bool stop_pending_ : 1 = false;     // own turn only: stop once the current message is handled
  bool release_pending_ : 1 = false;  // own turn only: finalized; drop the runtime's reference

  friend class system_core;
};

}  // namespace troupe::detail
