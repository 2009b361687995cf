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

void instruments::add(cell& c, const std::atomic<std::size_t>* queued) {
  auto& s = shards_[c.serial() % shard_count];
  auto* p = c.probe();
  std::lock_guard lock(s.mu);
  p->slot = s.cells.size();
  entry e{&c, c.serial(), p, queued, 0, c.message_size()};
  e.fixed_bytes = c.footprint() - mailbox_length(e) * c.message_size();
  s.cells.push_back(e);
}

void instruments::remove(cell& c) noexcept {
  auto& s = shards_[c.serial() % shard_count];
  auto* p = c.probe();
  std::lock_guard lock(s.mu);
  if (p->slot >= s.cells.size() || s.cells[p->slot].c != &c) return;  // never added
  auto last = s.cells.back();
  s.cells[p->slot] = last;
  // Through the entry's probe pointer, not last.c->probe(): that would read the moved actor's
  // cell and extras, two cache misses per actor that stops (bench fjcreate with metrics).
  last.probe->slot = p->slot;
  s.cells.pop_back();
}

std::size_t instruments::mailbox_length(const entry& e) noexcept {
  // relaxed: a snapshot of a number (see cell::admit()).
  return e.queued != nullptr ? e.queued->load(std::memory_order_relaxed) : e.c->tallied_length();
}

std::size_t instruments::size() const noexcept {
  std::size_t n = 0;
  for (auto& s : shards_) {
    std::lock_guard lock(s.mu);
    n += s.cells.size();
  }
  return n;
}

}  // namespace troupe::detail
