// signals.hpp: what the runtime tells an actor about other actors.
// Signals travel ahead of user messages in a mailbox and are never dropped. An actor receives
// `terminated` for actors it watches and `exit_signal` for linked actors when it traps exits,
// either as an alternative of its own protocol or mapped into it by a function it gave.
#pragma once

#include <string>

#include "troupe/core/actor_id.hpp"
#include "troupe/core/exit_reason.hpp"

namespace troupe {

/// A watched actor has stopped. Put it in a protocol to receive it from `watch(ref)`.
///
///     using room_msg = std::variant<join, say, troupe::terminated>;
///     ctx.watch(member);                       // later: a terminated{member.id(), reason}
struct terminated {
  actor_id who;
  exit_reason reason;
};

/// A linked actor has stopped; delivered only to actors that trap exits.
///
///     ctx.trap_exits();                        // protocol holds troupe::exit_signal
///     [](const troupe::exit_signal& e) { if (e.reason.is_failure()) restart(e.from); ... }
struct exit_signal {
  actor_id from;
  exit_reason reason;
};

/// Why a message went to dead letters.
///
///     if (d.reason == troupe::dead_letter_reason::mailbox_full) slow_down();
enum class dead_letter_reason : unsigned char {
  receiver_stopped,  ///< its receiver had stopped, or stopped before handling it
  mailbox_full,      ///< a bounded mailbox refused it (overflow_policy::dead_letters or reject)
  no_route,          ///< a router or pool had no routee to send it to
  undecodable,       ///< it came from another node and was never made into a message for an actor
                     ///< here: an unknown type or fingerprint, an id not exported, bytes that
                     ///< do not decode (`dead_letter::detail` says which)
  deadline_passed,   ///< its sender's deadline had passed before it was handled: whoever waited
                     ///< for its answer had stopped waiting (a grain call whose ask timed out
                     ///< while the call was queued), so it was dropped unhandled (tell_before)
};
/// How many dead_letter_reason values there are (for tables indexed by reason).
inline constexpr unsigned dead_letter_reasons = 5;

/// "receiver_stopped", "mailbox_full", "no_route", "undecodable" or "deadline_passed".
///
///     std::cout << troupe::to_string(d.reason);
const char* to_string(dead_letter_reason r) noexcept;

/// A message that reached no actor: its receiver had stopped (or never handled it).
/// Subscribe with `system::subscribe_dead_letters`.
struct dead_letter {
  actor_id recipient;
  std::string recipient_name;  ///< empty for unnamed actors
  std::string message_type;    ///< the demangled C++ type of the message
  dead_letter_reason reason = dead_letter_reason::receiver_stopped;
  std::string detail;          ///< why, in words, where the reason needs it (undecodable); else empty
};

}  // namespace troupe
