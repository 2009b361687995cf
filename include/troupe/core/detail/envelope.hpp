// envelope.hpp: the header every message carries through a mailbox, and its typed body.
// An envelope belongs to exactly one mailbox at a time; the sender fills it, the push
// publishes it (release), and only the receiving actor reads and frees it.
#pragma once

#include <cstdint>
#include <utility>

#include "troupe/core/detail/message_pool.hpp"
#include "troupe/core/scheduler.hpp"

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
};
// A turn tells user and timer messages from the rest with one comparison (`kind > timer`).
static_assert(envelope_kind::user < envelope_kind::timer && envelope_kind::timer < envelope_kind::signal &&
              envelope_kind::timer < envelope_kind::timed_user);
/// True for the user messages of the actor's protocol, sampled for timings or not.
constexpr bool is_user(envelope_kind k) noexcept { return k == envelope_kind::user || k == envelope_kind::timed_user; }

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
};

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
