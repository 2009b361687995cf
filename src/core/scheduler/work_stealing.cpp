#include "work_stealing.hpp"

#include <pthread.h>

#include "troupe/core/detail/cell.hpp"

namespace troupe::detail {

// --- local queue ------------------------------------------------------------------------------

cell* local_queue::steal_into(local_queue& into) noexcept {
  auto h = head_.load(std::memory_order_acquire);
  for (;;) {
    auto t = tail_.load(std::memory_order_acquire);
    auto n = t - h;
    if (n == 0 || n > capacity) return nullptr;  // empty, or a stale read of a moving queue
    auto take = n - n / 2;                       // at least one
    // Copy first, claim after: if the claim fails nothing was published in `into`.
    auto dt = into.tail_.load(std::memory_order_relaxed);
    auto dh = into.head_.load(std::memory_order_acquire);
    if (take - 1 > capacity - (dt - dh)) take = capacity - (dt - dh) + 1;
    for (std::uint32_t i = 0; i + 1 < take; ++i)
      into.slots_[(dt + i) % capacity].store(slots_[(h + i) % capacity].load(std::memory_order_relaxed),
                                             std::memory_order_relaxed);
    cell* last = slots_[(h + take - 1) % capacity].load(std::memory_order_relaxed);
    // acq_rel: claims [h, h + take); pairs with the owner's acquire of head in push().
    if (head_.compare_exchange_weak(h, h + take, std::memory_order_acq_rel, std::memory_order_acquire)) {
      into.tail_.store(dt + take - 1, std::memory_order_release);  // release: publishes the copies
      return last;
    }
  }
}

std::uint32_t local_queue::take_half(cell** out) noexcept {
  auto h = head_.load(std::memory_order_acquire);
  for (;;) {
    auto t = tail_.load(std::memory_order_relaxed);
    auto n = (t - h) / 2;
    if (n == 0) return 0;
    for (std::uint32_t i = 0; i < n; ++i) out[i] = slots_[(h + i) % capacity].load(std::memory_order_relaxed);
    if (head_.compare_exchange_weak(h, h + n, std::memory_order_acq_rel, std::memory_order_acquire)) return n;
  }
}

// --- workers ----------------------------------------------------------------------------------

namespace {
constexpr unsigned max_deferred = 1024;  // actors a spread flood may keep back (8 KiB a worker)
// Receivers a spread flood gathers batches for at once (32 bytes each a worker); a receiver
// whose slot another holds gets its messages one push at a time, as before the flood.
constexpr unsigned spread_slots = 256;
}  // namespace

struct work_stealing_scheduler::worker final : scheduler::thread_hooks {
  explicit worker(work_stealing_scheduler& s, unsigned i) : owner(&s), index(i), rng(0x9E3779B9u * (i + 1)) {}

  work_stealing_scheduler* owner;
  unsigned index;
  local_queue queue;
  // Owner writes; the owner takes it, and so may a thief once the turn that put it there has
  // lasted lifo_steal_delay (steal_lifo).
  std::atomic<cell*> lifo{nullptr};
  unsigned lifo_streak = 0;          // owner only
  unsigned tick = 0;                 // owner only
  unsigned queued_sends = 0;         // owner only: sends to scheduled actors in this turn
  // Owner only: the actor whose turn runs, and the current run of its sends to one target,
  // with the batch gathered for it (see hold_send).
  cell* current = nullptr;
  cell* run_target = nullptr;
  unsigned run_length = 0;
  cell* batch_target = nullptr;  // holds a reference while the batch is not empty
  envelope* batch_first = nullptr;
  envelope* batch_last = nullptr;
  unsigned batch_size = 0;
  // Owner only: the sends of the turn so far, whether one of its runs became a batched flood,
  // and the actors it woke while it was a spread flood (see spread_flood), which wait here for
  // the end of the turn instead of in the local queue where another worker would take them.
  unsigned turn_sends = 0;
  bool run_flooded = false;
  unsigned deferred_count = 0;
  cell* deferred[max_deferred];
  // Owner only: a spread flood's messages gathered per receiver (see hold_send), each slot
  // holding a reference to its receiver while its batch is not empty, and the slots in use.
  struct spread_batch {
    cell* target = nullptr;
    envelope* first = nullptr;
    envelope* last = nullptr;
    unsigned size = 0;
    bool listed = false;  // in spread_used
  };
  spread_batch spread[spread_slots];
  unsigned spread_used_count = 0;
  std::uint16_t spread_used[spread_slots];
  std::uint32_t rng;                 // owner only
  bool is_searching = false;         // owner only
  alignas(64) std::atomic<std::uint32_t> wake{0};  // futex word: 1 = woken
  // Watchdog: written by the owner at each turn (relaxed: a sampled statistic), read by the timer
  // thread. `running` is the serial of the actor in its turn, 0 when none.
  alignas(64) std::atomic<std::uint64_t> turn_seq{0};
  std::atomic<std::uint64_t> running{0};
  // Introspection (worker_statistics): written by the owner off the turn path (a successful
  // steal, a park), read by any thread; relaxed, sampled statistics like turn_seq.
  std::atomic<std::uint64_t> steals{0};
  std::atomic<std::int64_t> parked_ns{0};
  // Watchdog's own bookkeeping (timer thread only).
  std::uint64_t seen_seq = 0;
  std::chrono::steady_clock::time_point seen_at{};
  bool reported = false;
  std::thread thread;

  std::uint32_t next_random() noexcept {
    rng ^= rng << 13;
    rng ^= rng >> 17;
    rng ^= rng << 5;
    return rng;
  }

  // The thread hooks: called from the turns this worker runs, on its thread only.
  bool hold_send(schedulable& target, held_message* m) noexcept override;
  void flush_sends_to(schedulable& target) noexcept override {
    auto& c = static_cast<cell&>(target);
    if (batch_target == &c) flush_batch(*this);
    if (auto& b = spread_slot_of(c); b.target == &c) flush_spread(b);
  }
  void queued_send() noexcept override;
  // Out of line, so that hold_send's paths that hold nothing stay as short as they were.
  [[gnu::noinline]] bool start_run_batch(cell& target, envelope* e) noexcept;
  [[gnu::noinline]] bool gather_spread(cell& target, envelope* e) noexcept;
  spread_batch& spread_slot_of(const cell& c) noexcept {
    // Cells are pool blocks of at least 64 bytes: the bits above the line index tell them apart.
    const auto a = reinterpret_cast<std::uintptr_t>(&c);
    return spread[((a >> 6) ^ (a >> 14)) % spread_slots];
  }
  void flush_spread(spread_batch& b) noexcept {
    auto* target = std::exchange(b.target, nullptr);
    const auto n = std::exchange(b.size, 0u);
    target->push_batch(std::exchange(b.first, nullptr), std::exchange(b.last, nullptr), n);
    target->release();
  }
  [[gnu::noinline]] void flush_all_spread() noexcept {
    for (unsigned i = 0; i < spread_used_count; ++i) {
      auto& b = spread[spread_used[i]];
      b.listed = false;
      if (b.target != nullptr) flush_spread(b);
    }
    spread_used_count = 0;
  }
  bool idle_but_for_this_turn() const noexcept override { return owner->worker_idle_but_for_this_turn(*this); }
};

namespace {
thread_local work_stealing_scheduler* tls_owner = nullptr;
thread_local void* tls_worker = nullptr;  // work_stealing_scheduler::worker*
constexpr unsigned max_lifo_streak = 16;
constexpr unsigned global_check_interval = 61;  // a prime, as in Go and Tokio
constexpr unsigned flood_sends = 64;
constexpr unsigned spin_rounds = 32;
constexpr unsigned flood_run = 64;    // sends in a row to one actor before they are batched
constexpr unsigned batch_limit = 64;  // messages per batched push
// Sends from one turn, none of them in a run of flood_run to one actor, after which the turn is
// a spread flood: the actors it wakes from then on wait for its end (see schedule()).
constexpr unsigned spread_flood = 256;
// How long an actor waits in the LIFO slot behind a turn that does not end before a thief may
// take it (Go waits 3 us before stealing `runnext` from a running P). Long enough that a
// conversation's next hop, a few hundred nanoseconds away, is never stolen; short next to a
// turn that blocks.
constexpr std::chrono::microseconds lifo_steal_delay{50};
}  // namespace

work_stealing_scheduler::work_stealing_scheduler(unsigned threads, unsigned budget, std::string thread_name)
    : budget_(budget == 0 ? 1 : budget), thread_name_(std::move(thread_name)) {
  if (threads == 0) threads = std::max(1u, std::thread::hardware_concurrency());
  for (unsigned i = 0; i < threads; ++i) workers_.push_back(std::make_unique<worker>(*this, i));
}

work_stealing_scheduler::~work_stealing_scheduler() { stop(); }

void work_stealing_scheduler::start() {
  if (started_) return;
  started_ = true;
  for (auto& w : workers_) {
    w->thread = std::thread([this, wp = w.get()] { run(*wp); });
    auto name = thread_name_ + std::to_string(w->index);
    pthread_setname_np(w->thread.native_handle(), name.substr(0, 15).c_str());
  }
}

void work_stealing_scheduler::stop() noexcept {
  if (stopping_.exchange(true)) return;
  for (auto& w : workers_) {
    w->wake.store(1, std::memory_order_release);
    w->wake.notify_one();
  }
  for (auto& w : workers_)
    if (w->thread.joinable()) w->thread.join();
}

bool work_stealing_scheduler::owns_current_thread() const noexcept { return tls_owner == this; }

bool work_stealing_scheduler::worker_idle_but_for_this_turn(const worker& w) const noexcept {
  return w.deferred_count == 0 && w.lifo.load(std::memory_order_relaxed) == nullptr && w.queue.empty() &&
         injected_size_.load(std::memory_order_relaxed) == 0;
}

// A turn that keeps sending to actors that are already scheduled is a flood: what it wakes goes
// where another worker can take it (the receiver in the LIFO slot would wait for the turn).
void work_stealing_scheduler::worker::queued_send() noexcept {
  if (++queued_sends == flood_sends) owner->flush_lifo(*this);
}

// Once a turn (of a non-blocking actor) has sent `flood_run` messages in a row to one actor,
// its next messages to it are gathered and pushed `batch_limit` at a time with one CAS, which
// spares a receiver that several cores flood at once a cache-line fight per message. A batch
// goes out when full, when the turn sends to another actor, when flush_sends_to asks, and when
// the turn ends, so a message waits at most for its sender's turn; order per sender is kept.
bool work_stealing_scheduler::worker::hold_send(schedulable& to, held_message* m) noexcept {
  // Every schedulable is a cell and every held_message an envelope: the public faces are
  // empty bases, so these casts cost nothing.
  cell& target = static_cast<cell&>(to);
  auto* e = static_cast<envelope*>(m);
  auto* w = this;
  if (w->current == nullptr) return false;  // not inside a turn
  ++w->turn_sends;
  if (w->batch_target == &target) {
    e->next = nullptr;
    w->batch_last->next = e;
    w->batch_last = e;
    if (++w->batch_size == batch_limit) flush_batch(*w);
    return true;
  }
  if (w->batch_target != nullptr) flush_batch(*w);  // the turn sends elsewhere now
  // Whether the turn is a spread flood (only then are messages gathered, and the slots empty
  // until the turn ends): a turn of a few sends (a conversation) pays one compare for them.
  const bool spreading = w->turn_sends >= spread_flood;
  if (w->run_target != &target) {
    w->run_target = &target;
    w->run_length = 1;
    if (!spreading) return false;
  } else if (++w->run_length >= flood_run && !w->current->blocking()) {
    return w->start_run_batch(target, e);
  } else if (!spreading) {
    return false;
  }
  return w->gather_spread(target, e);
}

bool work_stealing_scheduler::worker::gather_spread(cell& target, envelope* e) noexcept {
  auto* w = this;
  auto& slot = w->spread_slot_of(target);
  if (slot.target == &target) {  // gathered already: the rest follow in order
    e->next = nullptr;
    slot.last->next = e;
    slot.last = e;
    if (++slot.size == batch_limit) w->flush_spread(slot);
    return true;
  }
  // A spread flood (sends to many actors in turn, as a round-robin or a broadcast): the actors
  // it wakes wait for its end anyway (schedule()), so its messages to each are gathered and
  // pushed batch_limit at a time with one CAS, like a run's. The CAS of every push was the
  // sender's largest cost (fjthroughput: a fifth of its time in cell::push). A blocking actor's
  // turn may wait for the effect of what it sent: never hold its messages.
  if (w->turn_sends >= spread_flood && !w->run_flooded && slot.target == nullptr && !w->current->blocking()) {
    target.add_ref();  // as for a run's batch
    e->next = nullptr;
    slot.target = &target;
    slot.first = slot.last = e;
    slot.size = 1;
    if (!slot.listed) {
      slot.listed = true;
      w->spread_used[w->spread_used_count++] = static_cast<std::uint16_t>(&slot - w->spread);
    }
    return true;
  }
  return false;
}

bool work_stealing_scheduler::worker::start_run_batch(cell& target, envelope* e) noexcept {
  auto* w = this;
  if (w->turn_sends >= spread_flood) {  // its messages gathered so far go first
    if (auto& slot = w->spread_slot_of(target); slot.target == &target) w->flush_spread(slot);
  }
  // A flood by any measure: whatever this turn wakes goes where another worker can take it (a
  // receiver in the LIFO slot would wait for the whole flood), as queued_send() does.
  if (w->queued_sends < flood_sends) {
    w->queued_sends = flood_sends;
    owner->flush_lifo(*w);
  }
  w->run_flooded = true;
  target.add_ref();  // the sender's ref may be gone before the batch goes out
  e->next = nullptr;
  w->batch_target = &target;
  w->batch_first = w->batch_last = e;
  w->batch_size = 1;
  return true;
}

void work_stealing_scheduler::flush_batch(worker& w) noexcept {
  auto* target = std::exchange(w.batch_target, nullptr);
  if (target == nullptr) return;
  const auto n = std::exchange(w.batch_size, 0u);
  target->push_batch(std::exchange(w.batch_first, nullptr), std::exchange(w.batch_last, nullptr), n);
  target->release();
}

void work_stealing_scheduler::flush_lifo(worker& w) noexcept {
  if (w.lifo.load(std::memory_order_relaxed) == nullptr) return;
  if (auto* c = w.lifo.exchange(nullptr, std::memory_order_relaxed)) push_local(w, c);
}

void work_stealing_scheduler::schedule(schedulable& actor, schedule_hint hint) noexcept {
  cell& c = static_cast<cell&>(actor);
  auto* w = tls_owner == this ? static_cast<worker*>(tls_worker) : nullptr;
  if (w == nullptr) {
    inject(&c);
    return;
  }
  if (hint == schedule_hint::woken && w->turn_sends >= spread_flood && !w->run_flooded &&
      w->deferred_count < max_deferred && w->current != nullptr && !w->current->blocking()) {
    // A spread flood: a turn that sends to many actors in turn (round-robin, a broadcast). Its
    // messages to different receivers share cache lines (the pool packs small blocks, and the
    // blocks come back from wherever they were freed), so a receiver run on another core while
    // the turn still writes pulls lines back and forth with it, two or three transfers per
    // message, which costs more than small handlers save by running alongside (fjthroughput:
    // 0.45 s on two workers against 0.21 s on one). Its receivers start when the turn ends,
    // then on every worker. A flood of runs to one actor keeps running alongside: there the
    // lines move whole, one way (counting: twice as fast on two workers as on one).
    w->deferred[w->deferred_count++] = &c;
    return;
  }
  if (hint == schedule_hint::woken && w->queued_sends < flood_sends) {
    // The woken actor runs next on this core; the one it displaces becomes stealable. Not
    // during a flood: a turn that keeps sending would hold the receiver back, so it goes
    // where another worker can take it and run it alongside.
    // release: publishes the woken cell to a thief that takes it (steal_lifo's acquire).
    if (auto* old = w->lifo.exchange(&c, std::memory_order_release)) push_local(*w, old);
    return;
  }
  push_local(*w, &c);
}

void work_stealing_scheduler::push_local(worker& w, cell* c) noexcept {
  if (!w.queue.push(c)) {
    // Full: move half to the injection queue, where every worker can reach it.
    cell* half[local_queue::capacity];
    auto n = w.queue.take_half(half);
    {
      std::lock_guard lock(inject_mu_);
      for (std::uint32_t i = 0; i < n; ++i) injected_.push_back(half[i]);
      injected_.push_back(c);
      injected_size_.store(injected_.size(), std::memory_order_release);
    }
  }
  notify_one();
}

void work_stealing_scheduler::inject(cell* c) noexcept {
  {
    std::lock_guard lock(inject_mu_);
    injected_.push_back(c);
    injected_size_.store(injected_.size(), std::memory_order_release);
  }
  notify_one();
}

cell* work_stealing_scheduler::pop_injected() noexcept {
  if (injected_size_.load(std::memory_order_acquire) == 0) return nullptr;
  std::lock_guard lock(inject_mu_);
  if (injected_.empty()) return nullptr;
  cell* c = injected_.front();
  injected_.pop_front();
  injected_size_.store(injected_.size(), std::memory_order_release);
  return c;
}

// The Dekker pair between a push and a parking worker: the pusher publishes work, then looks at
// `sleeping_`; the parker counts itself in `sleeping_`, then looks for work. One of them must
// see the other. With seq_cst fences each side's store and load are ordered (the fast form).
// ThreadSanitizer does not model fences, so under it both sides use read-modify-writes on
// `sleeping_` instead: the later RMW reads the earlier one's value (acq_rel), which orders the
// pusher's work before the parker's look, or shows the parker to the pusher.
#if defined(__SANITIZE_THREAD__)
#define TROUPE_DEKKER_WITH_RMW 1
#elif defined(__has_feature)
#if __has_feature(thread_sanitizer)
#define TROUPE_DEKKER_WITH_RMW 1
#endif
#endif

void work_stealing_scheduler::notify_one() noexcept {
#ifdef TROUPE_DEKKER_WITH_RMW
  if (sleeping_.fetch_add(0, std::memory_order_acq_rel) == 0) return;
#else
  std::atomic_thread_fence(std::memory_order_seq_cst);
  if (sleeping_.load(std::memory_order_relaxed) == 0) return;
#endif
  if (searching_.load(std::memory_order_relaxed) != 0) return;  // a searcher will find it
  worker* w = nullptr;
  {
    std::lock_guard lock(idle_mu_);
    if (idle_.empty()) return;
    w = idle_.back();
    idle_.pop_back();
    sleeping_.fetch_sub(1, std::memory_order_relaxed);
    searching_.fetch_add(1, std::memory_order_relaxed);  // it wakes up searching
  }
  w->wake.store(1, std::memory_order_release);
  w->wake.notify_one();
}

bool work_stealing_scheduler::has_work() const noexcept {
  if (injected_size_.load(std::memory_order_acquire) != 0) return true;
  for (auto& w : workers_)
    if (!w->queue.empty()) return true;
  return false;
}

cell* work_stealing_scheduler::next_local(worker& w) noexcept {
  if (++w.tick % global_check_interval == 0)
    if (auto* c = pop_injected()) return c;
  // relaxed: the owner takes what it put there itself; a thief's take is the acquire one. The
  // load first spares an exchange (a locked instruction) when the slot is empty.
  if (auto* c = w.lifo.load(std::memory_order_relaxed) != nullptr ? w.lifo.exchange(nullptr, std::memory_order_relaxed)
                                                                   : nullptr) {
    // A conversation may keep the core while nobody else waits here; once others do, it gets
    // a few consecutive turns and then waits behind them.
    if (w.lifo_streak < max_lifo_streak || w.queue.empty()) {
      ++w.lifo_streak;
      return c;
    }
    push_local(w, c);
  }
  w.lifo_streak = 0;
  if (auto* c = w.queue.pop()) return c;
  return pop_injected();
}

cell* work_stealing_scheduler::search(worker& w) noexcept {
  if (!w.is_searching) {
    // Bound the searchers to half the workers, so a burst does not wake everyone to fight.
    if (2 * searching_.load(std::memory_order_relaxed) >= workers_.size()) return nullptr;
    searching_.fetch_add(1, std::memory_order_relaxed);
    w.is_searching = true;
  }
  auto n = static_cast<unsigned>(workers_.size());
  auto start = w.next_random() % n;
  for (unsigned i = 0; i < n; ++i) {
    auto& victim = *workers_[(start + i) % n];
    if (&victim == &w) continue;
    if (auto* c = victim.queue.steal_into(w.queue)) {
      w.steals.store(w.steals.load(std::memory_order_relaxed) + 1, std::memory_order_relaxed);  // owner only writes
      return c;
    }
  }
  if (auto* c = pop_injected()) return c;
  auto* c = steal_lifo(w);
  if (c != nullptr) w.steals.store(w.steals.load(std::memory_order_relaxed) + 1, std::memory_order_relaxed);
  return c;
}

// A turn that blocks (or just runs long) must not hold the actor it woke: after the last pass
// finds nothing else, a thief takes an actor that has sat in a victim's LIFO slot for
// lifo_steal_delay behind the same turn. The thief waits that long itself (it has nothing to
// do); the owner pays nothing. A thief that parks instead is woken by the watchdog's sample
// (check_long_turns), which sees a turn that has not changed with the slot occupied.
cell* work_stealing_scheduler::steal_lifo(worker& w) noexcept {
  worker* victim = nullptr;
  std::uint64_t seq = 0;
  auto n = static_cast<unsigned>(workers_.size());
  auto start = w.next_random() % n;
  for (unsigned i = 0; i < n && victim == nullptr; ++i) {
    auto& v = *workers_[(start + i) % n];
    // relaxed: a hint; the steal below re-checks and the exchange is the synchronization.
    if (&v == &w || v.lifo.load(std::memory_order_relaxed) == nullptr) continue;
    if (v.running.load(std::memory_order_relaxed) == 0) continue;  // between turns: it takes it
    victim = &v;
    seq = v.turn_seq.load(std::memory_order_relaxed);
  }
  if (victim == nullptr) return nullptr;
  std::this_thread::sleep_for(lifo_steal_delay);
  // The same turn still runs: whatever sits in the slot now has waited at least the delay
  // behind it (the turn put it there before we looked).
  if (victim->turn_seq.load(std::memory_order_relaxed) != seq || victim->running.load(std::memory_order_relaxed) == 0)
    return nullptr;
  // acquire: pairs with the release of the owner's put, so the cell's state is visible here.
  return victim->lifo.exchange(nullptr, std::memory_order_acquire);
}

void work_stealing_scheduler::park(worker& w) {
  {
    std::lock_guard lock(idle_mu_);
    idle_.push_back(&w);
    // acq_rel under TSan, else relaxed plus the fence below: the Dekker pair of notify_one().
    sleeping_.fetch_add(1, std::memory_order_acq_rel);
  }
#ifndef TROUPE_DEKKER_WITH_RMW
  std::atomic_thread_fence(std::memory_order_seq_cst);
#endif
  if (has_work() || stopping_.load(std::memory_order_acquire)) {
    std::lock_guard lock(idle_mu_);
    if (auto it = std::find(idle_.begin(), idle_.end(), &w); it != idle_.end()) {
      idle_.erase(it);
      sleeping_.fetch_sub(1, std::memory_order_relaxed);
      return;
    }
    // Someone already chose us: fall through and consume their wake-up.
  }
  const auto parked_at = std::chrono::steady_clock::now();  // only when it really sleeps
  while (w.wake.load(std::memory_order_acquire) == 0) w.wake.wait(0, std::memory_order_acquire);
  const auto slept = std::chrono::duration_cast<std::chrono::nanoseconds>(std::chrono::steady_clock::now() - parked_at);
  w.parked_ns.store(w.parked_ns.load(std::memory_order_relaxed) + slept.count(), std::memory_order_relaxed);  // owner only writes
  w.wake.store(0, std::memory_order_relaxed);
  w.is_searching = true;  // notify_one counted us as searching
}

void work_stealing_scheduler::run(worker& w) {
  tls_owner = this;
  tls_worker = &w;
  set_thread_hooks(&w);
  unsigned idle_rounds = 0;
  while (!stopping_.load(std::memory_order_acquire)) {
    cell* c = next_local(w);
    if (c == nullptr) c = search(w);
    if (c == nullptr) {
      if (w.is_searching) {
        w.is_searching = false;
        searching_.fetch_sub(1, std::memory_order_relaxed);
      }
      if (++idle_rounds < spin_rounds) {
#if defined(__x86_64__) || defined(__i386__)
        __builtin_ia32_pause();
#endif
        continue;
      }
      idle_rounds = 0;
      park(w);
      continue;
    }
    idle_rounds = 0;
    if (w.is_searching) {
      w.is_searching = false;
      // The last searcher to find work wakes another, so work keeps spreading.
      if (searching_.fetch_sub(1, std::memory_order_relaxed) == 1) notify_one();
    }
    w.queued_sends = 0;
    // relaxed: sampled by the watchdog, no data depends on it.
    w.running.store(c->serial(), std::memory_order_relaxed);
    w.turn_seq.store(w.turn_seq.load(std::memory_order_relaxed) + 1, std::memory_order_relaxed);
    w.current = c;
    bool more = c->run_turn(budget_);
    w.current = nullptr;
    flush_batch(w);  // before the actor can run elsewhere, and before anything else runs here
    w.run_target = nullptr;
    w.run_length = 0;
    // Only a spread flood gathers messages per receiver or defers what it wakes.
    if (w.turn_sends >= spread_flood) [[unlikely]] {
      if (w.spread_used_count != 0) w.flush_all_spread();
      // What it woke goes to the local queue now, in the order woken, where the other workers
      // can take it (after the batches' pushes above, which may add to it).
      for (unsigned i = 0; i < w.deferred_count; ++i) push_local(w, w.deferred[i]);
      w.deferred_count = 0;
    }
    w.turn_sends = 0;
    w.run_flooded = false;
    w.running.store(0, std::memory_order_relaxed);
    if (more) push_local(w, c);
  }
  set_thread_hooks(nullptr);
  tls_owner = nullptr;
  tls_worker = nullptr;
}

std::vector<scheduler::worker_stats> work_stealing_scheduler::worker_statistics() const {
  std::vector<worker_stats> out;
  out.reserve(workers_.size());
  for (auto& w : workers_)  // relaxed: sampled statistics (see worker)
    out.push_back({w->turn_seq.load(std::memory_order_relaxed), w->steals.load(std::memory_order_relaxed),
                   std::chrono::nanoseconds{w->parked_ns.load(std::memory_order_relaxed)}});
  return out;
}

void work_stealing_scheduler::check_long_turns(
    std::chrono::nanoseconds threshold, const std::function<void(std::uint64_t, std::chrono::nanoseconds)>& report) {
  auto now = std::chrono::steady_clock::now();
  for (auto& w : workers_) {
    auto seq = w->turn_seq.load(std::memory_order_relaxed);
    auto serial = w->running.load(std::memory_order_relaxed);
    if (serial == 0 || seq != w->seen_seq) {
      w->seen_seq = seq;
      w->seen_at = now;
      w->reported = false;
      continue;
    }
    // The same turn since the last sample, with an actor waiting behind it in the LIFO slot:
    // wake a parked worker to steal it (steal_lifo), since nothing else would.
    if (w->lifo.load(std::memory_order_relaxed) != nullptr) notify_one();
    auto held = now - w->seen_at;
    if (!w->reported && held >= threshold) {
      w->reported = true;
      report(serial, held);
    }
  }
}

}  // namespace troupe::detail
