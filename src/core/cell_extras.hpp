// cell_extras.hpp: the parts of an actor's control block that most actors never need.
// Made on first use, so an idle actor with no name, children, watchers, links or timers stays
// small. Touched only on the actor's own turn, except `name` and the mailbox's bound, which are
// immutable after spawn, and `queued`, an atomic. An actor with a counted mailbox gets its
// extras at spawn, before any other thread can reach it.
#pragma once

#include <cstdint>
#include <functional>
#include <memory>
#include <string>
#include <vector>

#include "troupe/core/detail/cell.hpp"
#include "troupe/core/detail/instruments.hpp"

namespace troupe::detail {

struct timer_shared {
  // Set by the actor when it cancels; a firing checks it. With service_id, a seq_cst Dekker pair
  // (cell_timers.cpp: retire() and timer_job::arm()) so that a re-arm racing a cancel is undone.
  std::atomic<bool> cancelled{false};
  std::atomic<std::uint64_t> service_id{0};  // the pending entry in the timer service
};

struct timer_record {
  std::string key;
  std::uint32_t tag;
  cell::timer_mode mode;
  std::shared_ptr<timer_shared> shared;
};

struct watch_record {
  counted<cell> target;
  std::function<void(terminated&&)> deliver;
};

struct cell_extras {
  std::string name;
  cell* first_child = nullptr;  // children, linked through their sibling pointers
  std::size_t children = 0;
  std::vector<counted<cell>> watchers;  // told `down` when we terminate
  std::vector<watch_record> watching;   // what we watch, and how to deliver its `terminated`
  std::vector<counted<cell>> links;
  std::function<void(exit_signal&&)> exit_handler;  // set: we trap exits
  exit_reason reason;                               // why we stop (when not plain normal)
  std::vector<timer_record> timers;
  std::uint32_t timer_seq = 0;

  // The mailbox's bound (cell::counted_ only); immutable after spawn.
  std::size_t mailbox_capacity = mailbox_options::unbounded;
  overflow_policy mailbox_overflow = overflow_policy::drop_new;
  // User messages admitted and not yet taken by the actor. Incremented by senders before they
  // push, decremented by the actor as it takes one, so it never goes below the true count of
  // pushed messages; it may briefly count a message admitted but not yet pushed.
  std::atomic<std::size_t> queued{0};
  // Messages drop_oldest took from the inbox to reach older ones and must not drop (timer
  // messages, notices, asks' answers): they come before anything still in the inbox.
  envelope* kept = nullptr;
  // Introspection's figures: made at spawn in an instrumented system (system_config::introspection),
  // null otherwise, so that extras cost one pointer more when introspection is off.
  std::unique_ptr<actor_probe> probe;
};

}  // namespace troupe::detail
