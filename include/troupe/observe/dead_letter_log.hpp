// dead_letter_log.hpp: the most recent dead letters of a system, one record each (when, to whom,
// what type, why), in a ring of fixed size; the counts by reason are in introspection.hpp.
// It records from its construction until its destruction, on the thread that drops the message
// (a short lock, one small copy): a system with no dead letters pays nothing for it. Any thread
// may read it. Destroy it before its system or after, either is fine.
#pragma once

#include <chrono>
#include <cstddef>
#include <cstdint>
#include <memory>
#include <string>
#include <vector>

#include "troupe/core/actor_id.hpp"
#include "troupe/core/signals.hpp"

namespace troupe {
class system;
}

namespace troupe::observe {

/// One message that reached no actor.
///
///     for (auto& d : log.recent()) std::cout << d.message_type << " to #" << d.recipient.serial << '\n';
struct dead_letter_record {
  std::chrono::system_clock::time_point at;  ///< when it was dropped
  actor_id recipient;
  std::string recipient_name;  ///< empty for an unnamed actor
  std::string message_type;    ///< the demangled C++ type
  dead_letter_reason reason = dead_letter_reason::receiver_stopped;
};

/// Keeps the last `capacity` dead letters of a system (the web view keeps the last 100).
///
///     troupe::observe::dead_letter_log log{sys, 100};
///     ...
///     for (auto& d : log.recent()) std::cout << troupe::to_string(d.reason) << '\n';
class dead_letter_log {
 public:
  /// Starts recording. `capacity` 0 is taken as 1.
  explicit dead_letter_log(system& sys, std::size_t capacity = 100);
  /// Stops recording (a dead letter being recorded on another thread finishes first).
  ~dead_letter_log();
  dead_letter_log(const dead_letter_log&) = delete;
  dead_letter_log& operator=(const dead_letter_log&) = delete;

  /// The records kept, oldest first.
  std::vector<dead_letter_record> recent() const;
  /// Dead letters seen since the log began, including those the ring no longer holds.
  std::uint64_t seen() const;

  struct state;

 private:
  std::shared_ptr<state> state_;
};

}  // namespace troupe::observe
