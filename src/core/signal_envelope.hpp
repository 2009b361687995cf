// signal_envelope.hpp: the runtime's own messages between cells (stop, watch, link, exits).
// Private to src/core. A signal carries a counted reference to the other cell, so the other
// cell's control block outlives the signal, and a reason that can cross a network.
#pragma once

#include "troupe/core/detail/cell.hpp"
#include "troupe/core/detail/envelope.hpp"
#include "troupe/core/exit_reason.hpp"

namespace troupe::detail {

struct signal_envelope : envelope {
  enum class what : std::uint8_t {
    stop,              // stop with `reason`
    kill,              // stop at once with `reason` (kind killed), children killed too
    watch,             // `other` watches us
    unwatch,           // `other` no longer watches us
    link,              // `other` links to us
    unlink,            // `other` unlinks from us
    down,              // `other`, which we watch, terminated with `reason`
    exit,              // `other`, linked to us, terminated with `reason`
    child_terminated,  // our child `other` terminated
  };
  signal_envelope(what w, counted<cell> o, exit_reason r = {})
      : kind(w), other(std::move(o)), reason(std::move(r)) {
    envelope::kind = w == what::down || w == what::exit ? envelope_kind::notice : envelope_kind::signal;
  }
  what kind;
  counted<cell> other;
  exit_reason reason;
};

inline signal_envelope* make_signal(signal_envelope::what w, cell& other, exit_reason r = {}) {
  return pool_new<signal_envelope>(w, counted<cell>::share(&other), std::move(r));
}

}  // namespace troupe::detail
