// inbox.hpp: the lock-free multi-producer, single-consumer queues under every mailbox.
// Messages (user messages, timer messages, calls, notices) go into a FIFO linked in push order
// (Vyukov's intrusive queue): a producer swings `head_` to its envelope with one CAS, then links
// its predecessor to it. The actor takes them oldest first in one pass, so each envelope is read
// once; a LIFO stack reversed on drain reads each twice, which costs a cache miss per message
// once a backlog outgrows the cache. Runtime signals (stop, kill, watch, link, ...) go on a
// separate LIFO stack (signal_stack) that the actor looks at before each message: they overtake
// queued messages.
//
// The head word also holds the actor's state, so that every decision to sleep or wake is one
// atomic operation on one word: bit 0 set means idle ("blocked"), and the one push that finds
// it set learns that it must schedule the actor, and no other does; bit 1 says a signal waits
// on the stack (an actor cannot go idle while it is set); "closed" means the actor has
// terminated and the pusher keeps its envelope (it goes to dead letters).
// A counting inbox (an instrumented system's: cell::tallied_) also keeps in the top 16 bits of
// that word the envelopes ever pushed, modulo 2^16, changed by the CAS that every push makes
// anyway: introspection's mailbox length (pushes less the actor's takes) then costs a send no
// atomic operation of its own (cell::carry_pushes keeps the count past 16 bits). Every push to
// it is push_counted, and its consumer passes `counting` to take() and try_block(). Any other
// inbox keeps those bits 0 and runs the plain paths, which know nothing of a count.
// Envelopes live below 2^48 (user space on x86-64 and AArch64 unless a program maps above it
// on purpose; the message pool checks its slabs), so a pointer fits under the count.
// Order: each producer's pushes are taken in the order pushed, which gives FIFO per sender.
//
// The parts live apart on purpose: producers write the inbox on every send, while the actor's
// turn reads its cursor and the signal stack on every message. The cell keeps them a cache line
// apart, so that a flood's sender and its receiver do not pull one line back and forth.
#pragma once

#include <atomic>
#include <cstdint>
#include <optional>
#include <thread>
#include <type_traits>

#include "troupe/core/detail/envelope.hpp"

namespace troupe::detail {

/// True when the calling thread is a scheduler worker with nothing else to run (its LIFO slot,
/// its queue and the injection queue all empty): waiting there costs no other actor anything.
/// Asks the thread's scheduler::thread_hooks (idle_but_for_this_turn); false on a thread without.
bool worker_has_nothing_else() noexcept;

/// Signals waiting for an actor, newest on top; taken all at once, oldest first. A push is
/// followed by inbox::note_signal(), which makes the actor look here.
class signal_stack {
 public:
  /// Pushes `s`. False when the stack is closed (the actor has terminated). Any thread.
  bool push(envelope* s) noexcept {
    auto h = top_.load(std::memory_order_relaxed);
    for (;;) {
      if (h == closed_word) {
        (void)top_.load(std::memory_order_acquire);  // as in inbox::push()
        return false;
      }
      s->next = reinterpret_cast<envelope*>(h);
      // release: publishes *s to take_all()'s acquire.
      if (top_.compare_exchange_weak(h, reinterpret_cast<std::uintptr_t>(s), std::memory_order_release,
                                     std::memory_order_relaxed))
        return true;
    }
  }
  /// Whether a signal waits. A hint (relaxed), read before every message; one missed here is
  /// seen at the next look, and the inbox's signal bit keeps the actor from going idle.
  /// Consumer only.
  bool waiting() const noexcept { return top_.load(std::memory_order_relaxed) > closed_word; }
  /// Takes every pushed signal, oldest first. Consumer only; not after close().
  envelope* take_all() noexcept {
    if (!waiting()) return nullptr;
    // acquire: pairs with the push's release.
    return reversed(top_.exchange(empty_word, std::memory_order_acquire));
  }
  /// Closes the stack for good; returns what was left, oldest first. Consumer only.
  envelope* close() noexcept { return reversed(top_.exchange(closed_word, std::memory_order_acq_rel)); }

 private:
  static constexpr std::uintptr_t empty_word = 0;
  static constexpr std::uintptr_t closed_word = 2;
  static envelope* reversed(std::uintptr_t h) noexcept {
    envelope* fifo = nullptr;
    for (auto* e = h > closed_word ? reinterpret_cast<envelope*>(h) : nullptr; e != nullptr;) {
      auto* next = e->next;
      e->next = fifo;
      fifo = e;
      e = next;
    }
    return fifo;
  }

  std::atomic<std::uintptr_t> top_{empty_word};
};

class inbox {
 public:
  enum class push_result { queued, woke, closed };
  struct nothing_before_publish {
    void operator()(std::uint16_t) const noexcept {}
  };

  /// The actor's place in the queue: the next message to take, when it is known. Owned by the
  /// consumer and kept apart from the inbox (see the top of this file).
  struct cursor {
    envelope* next = nullptr;
  };

  /// Appends a message (anything but a signal). Returns `woke` to exactly the producer that found
  /// the actor idle. Not for a counting inbox. Any thread.
  push_result push(envelope* e) noexcept {
    e->next = nullptr;  // published by the CAS (release) in push_chain, read after a link
    return push_chain(e, e);
  }

  /// Appends the messages first..last, already linked in order (last->next is null), with one
  /// CAS. On `closed` the caller keeps them all. Not for a counting inbox. Any thread.
  push_result push_chain(envelope* first, envelope* last) noexcept {
    auto h = head_.load(std::memory_order_relaxed);
    for (;;) {
      if (h == closed_word) return closed_push();
      // release: the chain is complete before anyone can reach it; acquire (when it was idle):
      // the actor's last turn happens-before the turn our schedule starts. The signal bit stays.
      if (head_.compare_exchange_weak(h, word_of(last) | (h & signal_bit), std::memory_order_acq_rel,
                                      std::memory_order_relaxed))
        break;
      pause();  // lost to another producer: let it finish with the line before taking it back
    }
    return linked<false>(h, first);
  }

  /// push_chain for a counting inbox: the count goes up by `count` (the envelopes in the chain),
  /// and `wrapped` says whether it passed a multiple of 2^16. `before_publish(pushed)` runs once,
  /// before the messages can be reached, with the count (modulo 2^16) the head had when first
  /// read: the count before these unless another producer's push comes in between, which is
  /// good enough to pick a sample by (cell.cpp, sampled mailboxes). Any thread.
  template <class BeforePublish = nothing_before_publish>
  push_result push_counted(envelope* first, envelope* last, std::uintptr_t count, bool& wrapped,
                           BeforePublish&& before_publish = {}) noexcept {
    wrapped = false;
    auto h = head_.load(std::memory_order_relaxed);
    before_publish(static_cast<std::uint16_t>(h >> count_shift));
    const auto added = count << count_shift;
    for (;;) {
      if (h == closed_word) return closed_push();
      // The signal bit stays. A carry out of the top bit is the count wrapping around.
      auto counted = h & (count_mask | signal_bit);
      wrapped = __builtin_add_overflow(counted, added, &counted);
      // release, acquire: as in push_chain.
      if (head_.compare_exchange_weak(h, word_of(last) | counted, std::memory_order_acq_rel, std::memory_order_relaxed))
        break;
      pause();
    }
    return linked<true>(h, first);
  }

  /// After a push onto the actor's signal_stack: sets the signal bit, so the actor cannot go
  /// idle before it has looked at the stack, and wakes it if it is idle. Returns true for
  /// exactly the caller that woke it. Any thread.
  bool note_signal() noexcept {
    auto h = head_.load(std::memory_order_relaxed);
    for (;;) {
      // Closed: the actor's end takes the signal off the stack and answers it.
      if (h == closed_word) return false;
      // release: the signal's push happens-before the actor's clear_signal_bit() that reads
      // this bit; acquire (when it was idle): as in push().
      if (head_.compare_exchange_weak(h, (h | signal_bit) & ~blocked_bit, std::memory_order_acq_rel,
                                      std::memory_order_relaxed))
        return (h & blocked_bit) != 0;
    }
  }

  /// Clears the signal bit; the caller then takes the signal stack. A signal pushed after this
  /// sets the bit again. Consumer only.
  void clear_signal_bit() noexcept {
    // acq_rel: the acquire pairs with note_signal()'s release, so the signals it noted are on
    // the stack when the caller takes it.
    head_.fetch_and(~signal_bit, std::memory_order_acq_rel);
  }

  /// The oldest message, or nullptr when there is none or the next one is still being linked by
  /// its producer (then the head is not empty, so try_block() fails and the actor runs again).
  /// Consumer only.
  envelope* take(cursor& at, bool counting = false) noexcept {
    return take(at, [counting] { return counting; });
  }
  /// take() for a consumer that says only when asked whether its inbox counts (`counting()`):
  /// most takes never ask, and the turn's hot loop stays as short as a plain inbox's.
  template <class Counting>
    requires std::is_invocable_r_v<bool, Counting>
  envelope* take(cursor& at, Counting&& counting) noexcept {
    envelope* n = at.next;
    const bool in_a_run = n != nullptr;  // the previous message had a successor linked
    if (n == nullptr) {
      // acquire: pairs with the release store in push().
      n = first_.load(std::memory_order_acquire);
      if (n == nullptr) return nullptr;
      // relaxed: producers write first_ only after finding no node at the head, and there is
      // one until the detaching CAS in settle_newest() (release), which orders this store first.
      first_.store(nullptr, std::memory_order_relaxed);
      at.next = n;
    }
    envelope* after = link_of(*n).load(std::memory_order_acquire);
    if (after == nullptr) {
      bool detached = false;
      after = settle_newest(n, in_a_run, counting, detached);
      if (detached) {  // it was the newest
        at.next = nullptr;
        return n;
      }
      if (after == nullptr) return nullptr;  // its producer is still linking it: try again later
    }
    at.next = after;
    return n;
  }

  /// Marks the actor idle if no message is queued and no signal is noted. Returns false when it
  /// must run again. The CAS is the actor's last touch of its cell: once it is idle, a push may
  /// run it elsewhere, and its end may free the cell. Consumer only.
  bool try_block(bool counting = false) noexcept {
    // Empty: nothing but a count, which only a push (which also leaves a node) changes.
    auto h = counting ? head_.load(std::memory_order_relaxed) & count_mask : empty_word;
    // release: this turn's writes happen-before the turn a later push schedules.
    if (head_.compare_exchange_strong(h, h | blocked_bit, std::memory_order_acq_rel, std::memory_order_relaxed))
      return true;
    // Only a signal bit in the way: the next turn takes the stack (whose signals it may have
    // taken already, so the bit goes now; a signal noted after this sets it again).
    if ((h & ~count_mask) == signal_bit) clear_signal_bit();
    return false;
  }

  /// Marks the actor idle even though messages are queued: a stopping actor handles none and
  /// waits only for signals (its children's ends). A new message wakes it too. False when a
  /// signal is noted: the actor must run again. Consumer only.
  bool try_block_keeping_messages() noexcept {
    auto h = head_.load(std::memory_order_relaxed);
    do {
      if ((h & signal_bit) != 0) {
        clear_signal_bit();  // as in try_block()
        return false;
      }
    } while (!head_.compare_exchange_weak(h, h | blocked_bit, std::memory_order_acq_rel, std::memory_order_relaxed));
    return true;
  }

  /// Marks the actor runnable without a message (its first turn). Returns true if it was idle.
  bool try_unblock() noexcept {
    auto h = head_.load(std::memory_order_relaxed);
    return (h & ~count_mask) == blocked_bit &&
           head_.compare_exchange_strong(h, h & count_mask, std::memory_order_acq_rel, std::memory_order_relaxed);
  }

  /// Closes the inbox for good and returns the messages still in it, oldest first. Consumer
  /// only. After this every push fails.
  envelope* close(cursor& at) noexcept {
    // acquire: as in take(); release: the actor's final state (its exit reason) is visible to
    // any pusher that finds the inbox closed.
    auto* last = node_of(head_.exchange(closed_word, std::memory_order_acq_rel));
    envelope* messages = nullptr;
    if (last != nullptr) {
      // Producers that swung the head before the close may still be linking: wait for them
      // (they are between two instructions; the wait ends unless one was preempted there).
      messages = at.next != nullptr ? at.next : wait_for(first_);
      for (auto* e = messages; e != last;) e = wait_for(link_of(*e));
    }
    at.next = nullptr;
    first_.store(nullptr, std::memory_order_relaxed);
    return messages;
  }

  bool closed() const noexcept { return head_.load(std::memory_order_acquire) == closed_word; }
  /// closed(), read with a read-modify-write that changes nothing, for a handshake with close():
  /// what the caller stored before this call is seen by a close() that comes after it in the
  /// head's order, and a close() that comes before it is seen here. A plain load would let both
  /// sides miss each other (system_core::register_name). Any thread; rare.
  bool closed_handshake() noexcept { return head_.fetch_add(0, std::memory_order_acq_rel) == closed_word; }
  /// True while the actor is idle (marked blocked), closed or not. A snapshot for introspection:
  /// relaxed, as it publishes nothing. Any thread.
  bool idle() const noexcept { return (head_.load(std::memory_order_relaxed) & blocked_bit) != 0; }
  /// The envelopes ever pushed, modulo 2^16; nullopt once closed. A snapshot (relaxed: a number,
  /// not a publication). Any thread.
  std::optional<std::uint16_t> pushes() const noexcept {
    const auto h = head_.load(std::memory_order_relaxed);
    if (h == closed_word) return std::nullopt;
    return static_cast<std::uint16_t>(h >> count_shift);
  }

 private:
  static constexpr std::uintptr_t empty_word = 0;   // running or scheduled, nothing queued
  static constexpr std::uintptr_t blocked_bit = 1;  // idle: the next push must schedule
  static constexpr std::uintptr_t signal_bit = 2;   // a signal waits on the signal stack
  static constexpr std::uintptr_t closed_word = 4;  // terminated: pushes fail; no count
  static constexpr int count_shift = 48;
  static constexpr std::uintptr_t count_mask = ~std::uintptr_t{0} << count_shift;  // pushes, mod 2^16
  static constexpr std::uintptr_t node_mask = ~count_mask & ~std::uintptr_t{7};
  static constexpr int link_spins = 64;  // waiting for a link that a producer is writing
  static constexpr int run_spins = 64;   // waiting for a flood's next message

  static std::uintptr_t word_of(envelope* e) noexcept { return reinterpret_cast<std::uintptr_t>(e); }
  // Envelopes are 8-byte aligned, so the low three bits are free for the state.
  static envelope* node_of(std::uintptr_t h) noexcept {
    return h == closed_word ? nullptr : reinterpret_cast<envelope*>(h & node_mask);
  }
  // The producer that pushed after `e` writes e->next while the consumer may read it.
  static std::atomic_ref<envelope*> link_of(envelope& e) noexcept { return std::atomic_ref<envelope*>(e.next); }
  static void pause() noexcept {
#if defined(__x86_64__) || defined(__i386__)
    __builtin_ia32_pause();
#endif
  }
  template <class Link>
  static envelope* wait_for(Link&& link) noexcept {
    for (int spin = 0;; ++spin) {
      if (auto* e = link.load(std::memory_order_acquire)) return e;
      if (spin < link_spins) pause();
      else std::this_thread::yield();
    }
  }

  // The link out of `n`, looked at up to `spins` times with a pause between; nullptr if unset.
  static envelope* poll_link(envelope& n, int spins) noexcept {
    for (int spin = 0;; ++spin) {
      if (auto* after = link_of(n).load(std::memory_order_acquire)) return after;
      if (spin == spins) return nullptr;
      pause();
    }
  }

  push_result closed_push() const noexcept {
    // acquire: pairs with close(), so the caller sees the terminated actor's exit reason.
    (void)head_.load(std::memory_order_acquire);
    return push_result::closed;
  }

  // After the CAS that swung the head from `h` to a chain starting at `first`: links it.
  template <bool Counting>
  push_result linked(std::uintptr_t h, envelope* first) noexcept {
    // The consumer reaches `first` through its predecessor, or through first_ when it has none.
    // release: publishes the chain to the consumer's acquiring load of the link. `h` is not
    // closed_word (the CAS matched it), and a plain inbox's has no count to mask.
    constexpr auto mask = Counting ? node_mask : ~std::uintptr_t{7};
    if (auto* prev = reinterpret_cast<envelope*>(h & mask)) link_of(*prev).store(first, std::memory_order_release);
    else first_.store(first, std::memory_order_release);
    return (h & blocked_bit) != 0 ? push_result::woke : push_result::queued;
  }

  // `n` has no successor yet. Returns its successor once linked; or detaches `n` (the newest),
  // so that no producer will link to it after it is freed, and sets `detached`; or returns
  // nullptr while a producer is still linking.
  template <class Counting>
  envelope* settle_newest(envelope* n, bool in_a_run, Counting& counting, bool& detached) noexcept {
    if (in_a_run && worker_has_nothing_else()) {
      // The actor has caught up with a flood: its next message is usually nanoseconds away.
      // Waiting for it a little costs less than detaching at once: that CAS, and the push
      // that must take the head's cache line back, would slow the producer down. A lone
      // message (no run) is detached at once, so a conversation never waits here, and nor
      // does anyone while other actors wait for this worker.
      if (auto* after = poll_link(*n, run_spins)) return after;
    }
    // Detach: the head goes back to empty, keeping the signal bit and the count. acq_rel: the
    // release orders the clearing of first_ in take() before any producer's next store to it.
    // A plain inbox's head is `n` itself unless something changed; a counting one's has a count
    // too, so it is read first.
    auto h = word_of(n);
    if (counting()) {
      h = head_.load(std::memory_order_relaxed);
      if (node_of(h) != n) return poll_link(*n, link_spins);  // as below
    }
    for (;;) {
      auto desired = h & (signal_bit | count_mask);
      if (head_.compare_exchange_weak(h, desired, std::memory_order_acq_rel, std::memory_order_relaxed)) {
        detached = true;
        return nullptr;
      }
      if (node_of(h) != n) break;  // a producer swung the head past `n`
    }
    // ... and is about to link it: usually a few nanoseconds.
    return poll_link(*n, link_spins);
  }

  std::atomic<std::uintptr_t> head_{blocked_bit};
  std::atomic<envelope*> first_{nullptr};  // the oldest message, when it has no predecessor
};

}  // namespace troupe::detail
