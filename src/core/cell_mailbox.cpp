// cell_mailbox.cpp: counted and bounded mailboxes (spawn_options::mailbox), and the tallied
// mailboxes of an instrumented system. Only actors with one of these come here (cell::counted_),
// so a plain unbounded actor pays one predictable branch per send and per message taken, and
// no atomic operation.
// A counted mailbox's count covers user messages (tells, asks' requests and answers), not timer
// messages, signals or notices: those are never refused or dropped.
// A tallied mailbox (system_config::introspection on an actor that asked for no bound or count)
// has no admission to decide, so it keeps two monotonic tallies instead of a count that both
// sides change. Pushes: the inbox counts every envelope pushed in the top 16 bits of the word
// that each push swings with its CAS anyway (inbox.hpp), and the one push in 65,536 that wraps
// that count adds 1 to the probe's `pushes_carried` (carry_pushes). Takes: the actor adds the
// envelopes it took in a turn to its probe's `handled` once, at the turn's end (a plain store
// on its own turn; the turn counts them anyway, in its budget). So a send does no atomic
// operation for it: an atomic add per tell on a line of the receiver's, which this replaced,
// cost pingpong 8% and fjthroughput 27% of their wall time (bench/results.md).
// The length is pushes less takes, read by anyone: approximate (it counts what a running turn
// took already, up to its budget, and pushes in flight; for a moment after a wrap it may read
// 65,536 short, shown as 0 at worst), and it counts timer messages, calls and notices too.
// With timings (system_config::metrics) the mailbox is also sampled: the push times a message
// when the count it read, plus the actor's sample_phase, masked with sample_mask, is 0: one in
// sample_every (rounded up to a power of two, at most 65,536) of each actor's messages, made
// timed_user. A flood that the
// scheduler batches (hold_send) is sampled as its batch is pushed (sample_batch).
#include <algorithm>
#include <chrono>
#include <limits>

#include "cell_extras.hpp"
#include "troupe/core/detail/cell.hpp"
#include "troupe/core/detail/instruments.hpp"
#include "troupe/core/detail/system_core.hpp"

namespace troupe::detail {

namespace {
// drop_oldest drops on the actor's side, when it next takes a message; a sender cannot reach
// into the inbox. While the actor is inside one long handler, senders may queue up to one
// more capacity before they drop the new message instead: memory stays bounded either way.
std::size_t admission_limit(const cell_extras& x) noexcept {
  if (x.mailbox_overflow != overflow_policy::drop_oldest) return x.mailbox_capacity;
  return x.mailbox_capacity > std::numeric_limits<std::size_t>::max() / 2 ? x.mailbox_capacity
                                                                           : 2 * x.mailbox_capacity;
}

std::int64_t now_ns() noexcept {
  return std::chrono::duration_cast<std::chrono::nanoseconds>(std::chrono::steady_clock::now().time_since_epoch()).count();
}

// Per sending thread: tells to instrumented actors until the next timed one. One counter for
// all targets, so a sender's messages are sampled evenly whoever receives them.
thread_local std::uint32_t tls_until_timed = 0;

// Stamps one tell in `sample_every` with its time, in 32 ns units modulo 2^32 (envelope's tag).
void maybe_stamp(envelope* e, const actor_probe& p, const system_core& sys) noexcept {
  if (!p.timings || e->kind != envelope_kind::user) return;  // a deadline_user's tag is its deadline
  if (tls_until_timed != 0) {
    --tls_until_timed;
    return;
  }
  tls_until_timed = sys.instruments()->sample_every() - 1;
  stamp_timed(*e);
}
}  // namespace

bool cell::admit(envelope* e) noexcept {
  if (!is_user(e->kind)) return true;  // timer messages are neither counted nor bounded
  // acquire: pairs with the release in the constructor (the extras exist before any sender).
  auto& x = *extras_.load(std::memory_order_acquire);
  // relaxed, here and below: the count is a number, not a publication; the envelope itself is
  // published by the inbox's release push. The increment is sequenced before that push, and the
  // actor decrements only after its acquiring drain, so the count never underflows.
  if ((e->flags & past_bound) != 0 || x.mailbox_capacity == mailbox_options::unbounded) {
    x.queued.fetch_add(1, std::memory_order_relaxed);
    if (x.probe) maybe_stamp(e, *x.probe, *sys_);
    return true;
  }
  // A CAS loop rather than add-then-undo: a refused sender never inflates the count, so nobody
  // is refused while fewer than `capacity` messages are counted.
  const auto limit = admission_limit(x);
  auto n = x.queued.load(std::memory_order_relaxed);
  do {
    if (n >= limit) return false;
  } while (!x.queued.compare_exchange_weak(n, n + 1, std::memory_order_relaxed, std::memory_order_relaxed));
  if (x.probe) maybe_stamp(e, *x.probe, *sys_);
  return true;
}

void cell::refuse(envelope* e, bool sender_sees) noexcept {
  auto& x = *extras_.load(std::memory_order_acquire);
  switch (x.mailbox_overflow) {
    case overflow_policy::drop_new:
    case overflow_policy::drop_oldest:  // only past twice the capacity: see admission_limit
      discard_user(e);
      break;
    case overflow_policy::reject:  // try_tell reports it; a plain tell cannot, so dead letters
      if (sender_sees) discard_user(e);
      else drop_user(e, dead_letter_reason::mailbox_full);
      break;
    case overflow_policy::dead_letters:
      drop_user(e, dead_letter_reason::mailbox_full);
      break;
  }
}

envelope* cell::next_user_counted() {
  // As next_user(), plus the count and drop_oldest's trimming.
  if (stop_pending_) return nullptr;
  if (signal_head_ != nullptr || signals_.waiting()) handle_signals();
  auto& x = *extras_.load(std::memory_order_relaxed);  // relaxed: made before our first turn
  if (x.mailbox_overflow == overflow_policy::drop_oldest && x.mailbox_capacity != mailbox_options::unbounded)
    trim_oldest(x);
  if (state_.load(std::memory_order_relaxed) != cell_state::running) return nullptr;
  auto* e = x.kept;
  if (e != nullptr) x.kept = e->next;
  else e = inbox_.take(cursor_);
  if (e != nullptr && is_user(e->kind)) x.queued.fetch_sub(1, std::memory_order_relaxed);
  if (x.probe != nullptr && x.probe->stats != nullptr) probe_take(*x.probe, e);
  return e;
}

void cell::probe_take(actor_probe& p, envelope* e) noexcept {
  if (e == nullptr) return;
  // The own turn writes this; a relaxed store of a number others only read (see actor_probe).
  p.handled.store(p.handled.load(std::memory_order_relaxed) + 1, std::memory_order_relaxed);
}

void cell::sample_batch(envelope* first, std::size_t count, std::uint16_t before) noexcept {
  // acquire: pairs with the release in the constructor (the extras exist before any sender).
  auto& x = *extras_.load(std::memory_order_acquire);
  // The batch's pushes have the counts before .. before + count - 1: time those that one
  // push at a time would have timed. They are stamped now, as they enter the mailbox: a held
  // tell waited in its sender's batch, at most for the rest of its sender's turn.
  std::size_t at = (std::size_t{0} - before - x.sample_phase) & x.sample_mask;  // the first one's place in the batch
  const std::size_t period = x.sample_mask + 1;
  auto* e = first;
  for (std::size_t i = 0; at < count; ++i, e = e->next) {  // at < count: e is in the batch
    if (i != at) continue;
    if (e->kind == envelope_kind::user) stamp_timed(*e);
    at += period;
  }
}

void stamp_timed(envelope& e) noexcept {
  e.tag = static_cast<std::uint32_t>(static_cast<std::uint64_t>(now_ns()) >> 5);
  e.kind = envelope_kind::timed_user;
}

std::int64_t cell::begin_timed(const envelope& e) noexcept {
  const auto now = now_ns();
  // Modulo 2^32 units of 32 ns: right for any stay under 137 s.
  const auto stayed = static_cast<std::uint32_t>(static_cast<std::uint64_t>(now) >> 5) - e.tag;
  if (auto* p = probe()) p->stats->mailbox_time.record(static_cast<std::int64_t>(stayed) << 5);
  return now;
}

void cell::end_timed(std::int64_t taken_at) noexcept {
  if (auto* p = probe()) p->stats->handling_time.record(now_ns() - taken_at);
}

void cell::trim_oldest(cell_extras& x) {
  auto n = x.queued.load(std::memory_order_relaxed);
  if (n <= x.mailbox_capacity) return;
  // Messages counted but not yet pushed cannot be taken yet: dropping only what can be taken
  // never drops more than the excess, and they count as the newest when they arrive.
  auto excess = n - x.mailbox_capacity;
  auto** tail = &x.kept;  // what is kept already is older than anything in the inbox
  while (*tail != nullptr) tail = &(*tail)->next;
  while (excess != 0) {
    auto* e = inbox_.take(cursor_);
    if (e == nullptr) break;
    if (is_user(e->kind) && (e->flags & past_bound) == 0) {
      x.queued.fetch_sub(1, std::memory_order_relaxed);
      --excess;
      discard_user(e);
    } else {
      e->next = nullptr;  // timer messages, notices and asks' answers are never dropped
      *tail = e;
      tail = &e->next;
    }
  }
}

std::size_t cell::tallied_length() const noexcept {
  // acquire: pairs with the release that published the extras (made at construction).
  const auto& p = *extras_.load(std::memory_order_acquire)->probe;
  // relaxed: numbers, not publications. Takes first: they never pass the pushes, which only
  // grow, so a later look at the pushes counts at least as many (but for a wrap not yet
  // carried, and a push and its take that fall between the loads: then 0).
  const auto taken = p.handled.load(std::memory_order_relaxed);
  const auto carried = p.pushes_carried.load(std::memory_order_relaxed);
  const auto low = inbox_.pushes();
  if (!low) return 0;  // terminated: whatever was left went to dead letters
  const auto pushed = (carried << 16) + *low;
  return pushed > taken ? pushed - taken : 0;
}

std::optional<std::size_t> cell::mailbox_length() const noexcept {
  // A tally is not the exact count of user messages this promises: introspection reads it
  // (instruments::mailbox_length), an actor's own code does not.
  if (!counted_ || tallied_) return std::nullopt;
  if (is_terminated()) return 0;
  // acquire: as in admit(); relaxed: a snapshot of a number (see admit()).
  return extras_.load(std::memory_order_acquire)->queued.load(std::memory_order_relaxed);
}

std::optional<std::size_t> mailbox_length_of(endpoint& e) noexcept {
  auto* c = e.as_cell();
  if (c == nullptr) return std::nullopt;
  return c->mailbox_length();
}

}  // namespace troupe::detail
