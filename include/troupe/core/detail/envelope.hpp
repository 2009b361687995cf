// envelope.hpp: the header every message carries through a mailbox, and its typed body.
// An envelope belongs to exactly one mailbox at a time; the sender fills it, the push
// publishes it (release), and only the receiving actor reads and frees it.
#pragma once

#include <cstdint>
#include <utility>

#include "troupe/core/detail/message_pool.hpp"

namespace troupe::detail {

/// What an envelope carries: a user message of the actor's protocol, or a runtime signal.
enum class envelope_kind : std::uint16_t {
  user,             // user_envelope<P>
  timer,            // user_envelope<P> from a keyed timer; `tag` is the timer's id
  signal,           // signal_envelope (stop, watch, link, ...): never dropped, handled first
  notice,           // signal_envelope telling of another actor's end (down, exit): never
                    // dropped, but kept in order behind that actor's earlier messages, as
                    // Erlang orders signals and messages between a pair of processes
};

struct envelope {
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

template <class P, class M>
user_envelope<P>* make_user_envelope(M&& m) {
  return pool_new<user_envelope<P>>(std::forward<M>(m));
}

}  // namespace troupe::detail
