// instruments.cpp: the table of live actors and the sampled timings (system_config::introspection
// and ::metrics). Only instrumented systems come here.
#include "troupe/core/detail/instruments.hpp"

#include <algorithm>
#include <bit>

#include "cell_extras.hpp"
#include "demangle.hpp"
#include "troupe/core/detail/cell.hpp"

namespace troupe::detail {

const std::array<std::int64_t, time_histogram::bounds>& time_histogram::bounds_ns() noexcept {
  static const auto b = [] {
    std::array<std::int64_t, bounds> a{};
    std::size_t i = 0;
    a[i++] = 250;
    a[i++] = 500;
    for (std::int64_t decade = 1'000; i < bounds; decade *= 10)
      for (std::int64_t m : {10, 25, 50})
        if (i < bounds) a[i++] = decade * m / 10;
    return a;
  }();
  return b;
}

void time_histogram::record(std::int64_t ns) noexcept {
  const auto& b = bounds_ns();
  auto i = static_cast<std::size_t>(std::lower_bound(b.begin(), b.end(), ns) - b.begin());
  counts_[i].fetch_add(1, std::memory_order_relaxed);  // relaxed: a statistic
  sum_ns_.fetch_add(ns, std::memory_order_relaxed);
}

time_histogram::snapshot time_histogram::read() const noexcept {
  snapshot s;
  for (std::size_t i = 0; i < counts_.size(); ++i) s.counts[i] = counts_[i].load(std::memory_order_relaxed);
  s.sum_ns = sum_ns_.load(std::memory_order_relaxed);
  return s;
}

protocol_stats::protocol_stats(const std::type_info& t) : protocol(t), name(demangle(t.name())) {}

namespace {
std::atomic<std::uint64_t> next_table{1};
}  // namespace

instruments::instruments(bool timings, unsigned sample_every)
    : serial_(next_table.fetch_add(1, std::memory_order_relaxed)),  // relaxed: only unique
      timings_(timings),
      sample_every_(std::max(1u, sample_every)),
      sample_mask_(static_cast<std::uint32_t>(std::bit_ceil(std::min(sample_every_, 1u << 16)) - 1)) {}

protocol_stats& instruments::stats_for(const std::type_info& protocol) {
  // A spawn storm spawns one protocol again and again: the thread's last answer skips the mutex
  // and the hash, which two workers spawning at once contend for. Keyed by the table's serial,
  // never reused, not by its address, which a later system's table may take; the stats live as
  // long as their table. A miss (another protocol or table) takes the slow path.
  struct last_answer {
    std::uint64_t table;
    const std::type_info* protocol;
    protocol_stats* stats;
  };
  constinit thread_local last_answer last{0, nullptr, nullptr};
  if (last.table == serial_ && last.protocol == &protocol) return *last.stats;
  std::lock_guard lock(stats_mu_);
  auto& p = stats_[std::type_index(protocol)];
  if (!p) p = std::make_unique<protocol_stats>(protocol);
  last = {serial_, &protocol, p.get()};
  return *p;
}

std::vector<const protocol_stats*> instruments::protocols() const {
  std::lock_guard lock(stats_mu_);
  std::vector<const protocol_stats*> out;
  out.reserve(stats_.size());
  for (auto& [k, p] : stats_) out.push_back(p.get());
  return out;
}

namespace {
// The calling thread's segment of the table it last spawned into or ended an actor of: keyed
// by the table's serial, as stats_for's cache is.
struct segment_answer {
  std::uint64_t table;
  void* seg;
};
constinit thread_local segment_answer tls_segment{0, nullptr};
std::atomic<std::uint64_t> next_thread{1};
constinit thread_local std::uint64_t tls_thread = 0;  // this thread's number; 0: none yet

// The calling thread's counts for the protocol it last counted, keyed as tls_segment.
struct counts_answer {
  std::uint64_t table;
  const protocol_stats* stats;
  protocol_counts* counts;
};
constinit thread_local counts_answer tls_counts{0, nullptr, nullptr};
}  // namespace

instruments::segment* instruments::own_segment_if_any() const noexcept {
  return tls_segment.table == serial_ ? static_cast<segment*>(tls_segment.seg) : nullptr;
}

instruments::segment& instruments::own_segment() {
  if (auto* s = own_segment_if_any()) return *s;
  std::lock_guard lock(segments_mu_);
  if (tls_thread == 0) tls_thread = next_thread.fetch_add(1, std::memory_order_relaxed);  // relaxed: only unique
  auto& s = by_thread_[tls_thread];
  if (s == nullptr) {
    segments_.reserve(segments_.size() + 1);  // so that push_back cannot throw after make_unique
    auto made = std::make_unique<segment>();
    s = made.get();
    segments_.push_back(std::move(made));
  }
  tls_segment = {serial_, s};
  return *s;
}

std::vector<instruments::segment*> instruments::segments() const {
  std::lock_guard lock(segments_mu_);
  std::vector<segment*> out;
  out.reserve(segments_.size());
  for (auto& s : segments_) out.push_back(s.get());
  return out;
}

void instruments::add(cell& c, const std::atomic<std::size_t>* queued) {
  auto& s = own_segment();
  auto* p = c.probe();
  entry e{&c, c.serial(), c.parent() != nullptr ? c.parent()->serial() : 0, p, queued, 0, c.message_size()};
  e.fixed_bytes = c.footprint() - mailbox_length(e) * c.message_size();
  p->segment = &s;
  bool full;
  {
    std::lock_guard lock(s.mu);
    p->slot = s.cells.size();
    s.cells.push_back(e);
    full = s.cells.size() >= s.sweep_at;
    // relaxed: a number (size()), written by this thread only.
    s.added.store(s.added.load(std::memory_order_relaxed) + 1, std::memory_order_relaxed);
  }
  if (full) sweep(s);
}

bool instruments::take_out(segment& s, cell& c) noexcept {
  auto* p = c.probe();
  std::lock_guard lock(s.mu);
  if (p->slot >= s.cells.size() || s.cells[p->slot].c != &c) return false;  // not in s
  auto last = s.cells.back();
  s.cells[p->slot] = last;
  last.probe->slot = p->slot;  // through the entry: the moved actor's cell stays untouched
  s.cells.pop_back();
  s.added.store(s.added.load(std::memory_order_relaxed) - 1, std::memory_order_relaxed);  // as in add
  return true;
}

void instruments::remove(cell& c) noexcept {
  auto* p = c.probe();
  segment* s = own_segment_if_any();
  // An actor ended by the thread that spawned it (children that run where their parent did:
  // skynet) leaves its segment at once, under a lock no one else wants, while its lines are in
  // this cache; nothing else is needed, as scans read the actor only under that lock.
  if (p->segment == s && take_out(*s, c)) return;
  // Ended elsewhere: the entry stays until its segment's next sweep, and the table holds the
  // cell until then (the runtime drops its own reference after this turn), so that a scan that
  // read the mark before it was set may still read the actor.
  c.add_ref();
  // release: a scan or sweep that sees the mark sees the reference and the actor's end.
  p->finished.store(true, std::memory_order_release);
  if (s == nullptr) {
    try {
      s = &own_segment();
    } catch (...) {
      removed_elsewhere_.fetch_add(1, std::memory_order_relaxed);  // relaxed: a number
      return;
    }
  }
  // relaxed: a number (size()), written by this thread only.
  s->removed.store(s->removed.load(std::memory_order_relaxed) + 1, std::memory_order_relaxed);
}

void instruments::remove_unlaunched(cell& c) noexcept {
  if (auto* s = own_segment_if_any()) take_out(*s, c);  // add() made it on this thread
}

void instruments::sweep(segment& s) noexcept {
  // The cells are released after the lock: the last release destroys a cell, which is no work
  // to do while scans and the owner's adds wait.
  std::vector<cell*> gone;
  {
    std::lock_guard lock(s.mu);
    std::size_t kept = 0;
    for (auto& e : s.cells) {
      // acquire: as in for_each; the sweep's release of the cell follows the actor's end.
      bool finished = e.probe->finished.load(std::memory_order_acquire);
      if (finished) {
        try {
          gone.push_back(e.c);
          continue;
        } catch (...) {
          // Out of memory: keep the entry (scans pass over it) for another sweep.
        }
      }
      e.probe->slot = kept;  // a line the load above has just read
      s.cells[kept++] = e;
    }
    s.cells.resize(kept);
    s.sweep_at = std::max<std::size_t>(64, 2 * kept);
  }
  for (auto* c : gone) c->release();
}

void instruments::sweep_all() noexcept {
  std::lock_guard lock(segments_mu_);
  for (auto& s : segments_) sweep(*s);
}

instruments::~instruments() { sweep_all(); }

protocol_counts* instruments::counts_for(const protocol_stats& stats) noexcept {
  auto& last = tls_counts;
  if (last.table == serial_ && last.stats == &stats) return last.counts;
  try {
    auto& s = own_segment();
    protocol_counts* found = nullptr;
    {
      std::lock_guard lock(s.mu);
      for (auto& c : s.counts)
        if (c->stats == &stats) found = c.get();
      if (found == nullptr) {
        s.counts.push_back(std::make_unique<protocol_counts>(&stats));
        found = s.counts.back().get();
      }
    }
    last = {serial_, &stats, found};
    return found;
  } catch (...) {
    return nullptr;  // out of memory: the caller counts on the shared total
  }
}

void instruments::count_spawned(protocol_stats& stats) noexcept {
  // relaxed, here and below: numbers, written by this thread only (or added atomically).
  if (auto* c = counts_for(stats)) c->spawned.store(c->spawned.load(std::memory_order_relaxed) + 1, std::memory_order_relaxed);
  else stats.spawned.fetch_add(1, std::memory_order_relaxed);
}

void instruments::count_finished(protocol_stats& stats, std::uint64_t handled) noexcept {
  if (handled == 0) return;
  if (auto* c = counts_for(stats))
    c->finished_handled.store(c->finished_handled.load(std::memory_order_relaxed) + handled, std::memory_order_relaxed);
  else stats.finished_handled.fetch_add(handled, std::memory_order_relaxed);
}

std::uint64_t instruments::spawned(const protocol_stats& stats) const {
  std::uint64_t n = stats.spawned.load(std::memory_order_relaxed);
  for (auto* s : segments()) {
    std::lock_guard lock(s->mu);
    for (auto& c : s->counts)
      if (c->stats == &stats) n += c->spawned.load(std::memory_order_relaxed);
  }
  return n;
}

std::uint64_t instruments::finished_handled(const protocol_stats& stats) const {
  std::uint64_t n = stats.finished_handled.load(std::memory_order_relaxed);
  for (auto* s : segments()) {
    std::lock_guard lock(s->mu);
    for (auto& c : s->counts)
      if (c->stats == &stats) n += c->finished_handled.load(std::memory_order_relaxed);
  }
  return n;
}

std::size_t instruments::mailbox_length(const entry& e) noexcept {
  // relaxed: a snapshot of a number (see cell::admit()).
  return e.queued != nullptr ? e.queued->load(std::memory_order_relaxed) : e.c->tallied_length();
}

std::size_t instruments::size() const noexcept {
  std::uint64_t added = 0;
  std::uint64_t removed = removed_elsewhere_.load(std::memory_order_relaxed);
  {
    std::lock_guard lock(segments_mu_);
    // relaxed: numbers, exact for the adds and removals that happened before this call; one
    // racing with it may be seen without the other (an end without its spawn: 0 at worst).
    for (auto& s : segments_) removed += s->removed.load(std::memory_order_relaxed);
    for (auto& s : segments_) added += s->added.load(std::memory_order_relaxed);
  }
  return added > removed ? static_cast<std::size_t>(added - removed) : 0;
}

}  // namespace troupe::detail
