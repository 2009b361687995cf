// envelope.hpp: the header every message carries through a mailbox, and its typed body.
// An envelope belongs to exactly one mailbox at a time; the sender fills it, the push
// publishes it (release), and only the receiving actor reads and frees it.
#pragma once

#include <chrono>
#include <cstdint>
#include <utility>

#include "troupe/core/detail/message_pool.hpp"
#include "troupe/core/scheduler.hpp"
#include "troupe/core/timer_service.hpp"

namespace troupe::detail {

/// What an envelope carries: a user message of the actor's protocol, or a runtime signal.
enum class envelope_kind : std::uint16_t {
  user,             // user_envelope<P>
  timer,            // user_envelope<P> from a keyed timer; `tag` is the timer's id
  signal,           // signal_envelope (stop, watch, link, ...): never dropped, handled first
  notice,           // signal_envelope telling of another actor's end (down, exit): never
                    // dropped, but kept in order behind that actor's earlier messages, as
                    // Erlang orders signals and messages between a pair of processes
  call,             // call_envelope: a function the actor runs on its own turn, in order with
                    // its user messages (the otp layer's coroutine replies and receive timeouts)
  timed_user,       // a user_envelope<P> sampled for the observe layer's timings
                    // (system_config::metrics): `tag`, unused by user messages otherwise, holds
                    // the tell's time in units of 32 ns, modulo 2^32 (137 s). Handled as `user`.
  deadline_user,    // a user_envelope<P> to be handled only before a deadline (tell_before: the
                    // cluster's grain calls carry their caller's): `tag` holds it (deadline_tag).
                    // Handled as `user` while it has not passed; past it, dropped unhandled as a
                    // dead letter (deadline_passed). Never sampled for timings: `tag` is taken.
};
// A turn tells user and timer messages from the rest with one comparison (`kind > timer`).
static_assert(envelope_kind::user < envelope_kind::timer && envelope_kind::timer < envelope_kind::signal &&
              envelope_kind::timer < envelope_kind::timed_user && envelope_kind::timer < envelope_kind::deadline_user);
/// True for the user messages of the actor's protocol, sampled for timings or carrying a
/// deadline or neither.
constexpr bool is_user(envelope_kind k) noexcept {
  return k == envelope_kind::user || k == envelope_kind::timed_user || k == envelope_kind::deadline_user;
}

// The public face a scheduler's thread hooks see is held_message (scheduler.hpp), an empty base.
struct envelope : held_message {
  envelope* next = nullptr;  // intrusive link, owned by whoever holds the envelope
  envelope_kind kind = envelope_kind::user;
  std::uint16_t flags = 0;  // envelope_flags
  std::uint32_t tag = 0;
};

/// Bits of envelope::flags.
enum envelope_flags : std::uint16_t {
  // A user message the runtime delivers on the actor's own behalf (the mapped answer to its
  // ask): a bounded mailbox counts it but never refuses or drops it, so an ask still completes.
  past_bound = 1,
  // An ask's request (kind `user`): `tag` holds the ask's deadline (deadline_tag). Nothing drops
  // it for that: a function ref that forwards the request (a grain ref) reads it and passes the
  // deadline on (call_with_message). A metrics sample of a cell's message may overwrite `tag`;
  // cells never read this flag.
  asked_until = 2,
};

// A deadline in an envelope's 32-bit `tag`: the timer service's clock in milliseconds, modulo
// 2^32 (49 days), rounded up so that a message is never taken as late before its deadline, and
// compared by the signed difference, which is right while the deadline is less than 24 days
// from the clock. Deadlines further ahead than `max_tag_ahead` are not carried (no deadline).
using deadline_clock = timer_service::clock;
inline constexpr std::chrono::milliseconds max_tag_ahead{std::int64_t{1} << 30};  // about 12 days

inline std::uint32_t deadline_tag(deadline_clock::time_point deadline) noexcept {
  return static_cast<std::uint32_t>(
      static_cast<std::uint64_t>(std::chrono::ceil<std::chrono::milliseconds>(deadline.time_since_epoch()).count()));
}
/// The deadline that `tag` stands for, read at `now` (within 24 days of it).
inline deadline_clock::time_point tag_deadline(std::uint32_t tag, deadline_clock::time_point now) noexcept {
  auto now_ms = std::chrono::floor<std::chrono::milliseconds>(now.time_since_epoch());
  auto ahead = static_cast<std::int32_t>(tag - static_cast<std::uint32_t>(static_cast<std::uint64_t>(now_ms.count())));
  return deadline_clock::time_point(std::chrono::duration_cast<deadline_clock::duration>(now_ms + std::chrono::milliseconds(ahead)));
}
/// True if the deadline `tag` stands for is before `now`.
inline bool tag_deadline_passed(std::uint32_t tag, deadline_clock::time_point now) noexcept {
  return now > tag_deadline(tag, now);
}
/// True if `deadline` is near enough to be carried in a tag.
inline bool taggable(deadline_clock::time_point deadline, deadline_clock::time_point now) noexcept {
  return deadline != deadline_clock::time_point::max() && deadline - now < max_tag_ahead;
}

/// The deadline of the message that the calling thread's turn is handling, when it came in a
/// deadline_user envelope; time_point::max() otherwise. Set only around such a message's
/// handler (actor_context::run_turn), so behaviours that keep a message for later (a stash) can
/// keep its deadline too (troupe::deadline_of_message). cell.cpp.
deadline_clock::time_point& turn_deadline() noexcept;

template <class P>
struct user_envelope : envelope {
  template <class M>
  explicit user_envelope(M&& m) : msg(std::forward<M>(m)) {}
  P msg;
};

/// Work for an actor's own turn that is not a message of its protocol: the otp layer resumes a
/// coroutine actor with it when an ask is answered or a receive times out. Queued like a user
/// message (in order, and a keyed timer's `tag` makes a stale one be discarded); if the actor
/// has stopped, it is destroyed without running.
struct call_envelope : envelope {
  call_envelope() noexcept { kind = envelope_kind::call; }
  /// On the actor's turn, while it runs. May throw: the actor then crashes.
  virtual void run() = 0;
  /// Frees the envelope (pool_delete with its own type), run or not.
  virtual void destroy() noexcept = 0;

 protected:
  ~call_envelope() = default;
};

template <class P, class M>
user_envelope<P>* make_user_envelope(M&& m) {
  return pool_new<user_envelope<P>>(std::forward<M>(m));
}

}  // namespace troupe::detail
