// instruments.hpp: what a system records about its actors for the observe layer, when asked
// (system_config::introspection, system_config::metrics): a table of live actors, each with a
// probe of its figures, and sampled timings per protocol. Null in a system that did not ask, so
// that spawn and tell pay nothing for it there. Any thread may read; who writes each field says
// so beside it. Not for user code: troupe::observe's functions are the public face.
#pragma once

#include <array>
#include <atomic>
#include <cstddef>
#include <cstdint>
#include <memory>
#include <mutex>
#include <string>
#include <typeindex>
#include <typeinfo>
#include <unordered_map>
#include <vector>

#include "troupe/core/actor_id.hpp"
#include "troupe/core/detail/message_pool.hpp"
#include "troupe/core/spin_mutex.hpp"

namespace troupe::detail {

class cell;

/// Counts durations into fixed buckets (nanoseconds, 1-2.5-5 per decade from 250 ns to 10 s).
/// Any thread records; relaxed atomic adds, since a sample of a statistic orders nothing.
class time_histogram {
 public:
  static constexpr std::size_t bounds = 23;
  static const std::array<std::int64_t, bounds>& bounds_ns() noexcept;
  void record(std::int64_t ns) noexcept;
  struct snapshot {
    std::array<std::uint64_t, bounds + 1> counts{};  // per bucket; the last is above every bound
    std::int64_t sum_ns = 0;
  };
  snapshot read() const noexcept;

 private:
  std::array<std::atomic<std::uint64_t>, bounds + 1> counts_{};
  std::atomic<std::int64_t> sum_ns_{0};
};

/// The figures of every actor of one protocol (for metrics per actor type).
struct protocol_stats {
  explicit protocol_stats(const std::type_info& t);
  const std::type_info& protocol;
  const std::string name;  // demangled
  time_histogram mailbox_time;   // sampled: from the tell to the take
  time_histogram handling_time;  // sampled: from the take to the next take or the turn's end
  // Messages handled by actors of this protocol that have terminated (the live ones' counts are
  // in their probes). Added once per actor, at its end.
  std::atomic<std::uint64_t> finished_handled{0};
  std::atomic<std::uint64_t> spawned{0};
};

/// An instrumented actor's figures, kept in its extras.
struct actor_probe {
  // From the message pool, as the cell is: one per actor, made and freed by spawn storms.
  static void* operator new(std::size_t size) { return pool_allocate(size); }
  static void operator delete(void* p, std::size_t size) noexcept { pool_deallocate(p, size); }

  protocol_stats* stats = nullptr;  // set at launch, before the actor is reachable; then immutable
  bool timings = false;             // immutable: sample timings (system_config::metrics)
  std::size_t slot = 0;             // index in the table's shard: guarded by the shard's mutex
  // Written only on the actor's own turn (load + store, no read-modify-write), read by anyone:
  // relaxed, as each is a number on its own and nothing is published through it.
  // `handled` counts every envelope the actor took (messages, timer messages, calls, notices).
  std::atomic<std::uint64_t> handled{0};
  // A tallied mailbox's pushes past its inbox's 16-bit count, in units of 2^16: added by the
  // push that wraps the count (relaxed; once in 65,536 pushes). cell::tallied_length().
  std::atomic<std::uint64_t> pushes_carried{0};
  std::atomic<std::uint64_t> restarts{0};
  // Written by top_actors(message_rate) under instruments::rate_mu.
  std::atomic<std::uint64_t> rate_mark{0};

  /// The actor's links and monitors, by serial. The lists themselves belong to the actor's turn
  /// (cell_extras); the turn that changes one (link, watch, their undoing, a down or an exit:
  /// rare) copies them here, so that introspection can read them from any thread.
  struct relations {
    std::vector<std::uint64_t> links;
    std::vector<std::uint64_t> monitors;      // actors it watches
    std::vector<std::uint64_t> monitored_by;  // actors that watch it
  };
  mutable spin_mutex relations_mu;
  std::unique_ptr<relations> related;  // guarded by relations_mu; null until the first change

  /// A link or watch across nodes. The remote layer keeps those (not the actor's turn): its
  /// node's thread copies an actor's here after each change (remote/refs.cpp).
  struct remote_relation {
    enum class kind : std::uint8_t { link, monitor, monitored_by };
    kind what;
    std::string node;  // the other actor's node, by name
    actor_id id;       // the other actor as this node addresses it (its proxy's id)
  };
  std::unique_ptr<std::vector<remote_relation>> remote;  // guarded by relations_mu; null: none
};

class instruments {
 public:
  instruments(bool timings, unsigned sample_every);
  instruments(const instruments&) = delete;
  instruments& operator=(const instruments&) = delete;

  bool timings() const noexcept { return timings_; }
  unsigned sample_every() const noexcept { return sample_every_; }
  /// sample_every() rounded up to a power of two (at most 2^16, the inbox's count), less one: a
  /// sampled mailbox times the pushes whose count before them, masked with it, is 0.
  std::uint32_t sample_mask() const noexcept { return sample_mask_; }
  /// The stats of a protocol, made on first use (under a mutex: once per spawn).
  protocol_stats& stats_for(const std::type_info& protocol);
  /// Every protocol seen so far, in no order. The pointers live as long as the system.
  std::vector<const protocol_stats*> protocols() const;

  /// Enters an instrumented actor in the table (at launch; may throw bad_alloc) and takes it out
  /// (as it finalizes, or when its launch fails; a cell not in the table is ignored). `queued`:
  /// a counted mailbox's count; null for a tallied one.
  void add(cell& c, const std::atomic<std::size_t>* queued);
  void remove(cell& c) noexcept;
  std::size_t size() const noexcept;

  /// One actor of the table: its cell, its serial, and where its figures live, so that a scan
  /// for the top n by mailbox length or messages reads the entry, the cell's first line (a
  /// tallied mailbox's count of pushes) and the probe, and nothing else of the actor.
  struct entry {
    cell* c;
    std::uint64_t serial;
    actor_probe* probe;
    const std::atomic<std::size_t>* queued;  // a counted mailbox's count (in the cell's extras); null: tallied
    // cell::footprint() is fixed + queued * message: both fixed at launch (the name is immutable).
    std::size_t fixed_bytes;
    std::size_t message_bytes;
  };
  /// The waiting messages an entry's figures give (a tallied mailbox's length is approximate:
  /// cell::tallied_length()).
  static std::size_t mailbox_length(const entry& e) noexcept;
  /// Calls f(const entry&) for every live actor, one shard at a time under its lock: f must be
  /// quick and must not spawn or stop actors. A cell seen here has not finalized, so its parent
  /// (which finalizes after it) is alive too. The shards are arrays, not lists, so the cells'
  /// cache misses overlap instead of following one another (a million actors scan in tens of ms).
  template <class F>
  void for_each(F&& f) const {
    for (auto& s : shards_) {
      std::lock_guard lock(s.mu);
      for (auto& e : s.cells) f(e);
    }
  }

  std::mutex rate_mu;           // serializes message-rate queries
  std::int64_t rate_mark_ns = 0;  // guarded by rate_mu: the previous query's time (0: none yet)

 private:
  static constexpr std::size_t shard_count = 64;
  struct alignas(64) shard {
    mutable spin_mutex mu;
    std::vector<entry> cells;  // guarded by mu; an actor's probe holds its index
  };
  const std::uint64_t serial_;  // unique among all tables ever made (stats_for's cache)
  const bool timings_;
  const unsigned sample_every_;
  const std::uint32_t sample_mask_;
  std::array<shard, shard_count> shards_;
  mutable std::mutex stats_mu_;
  std::unordered_map<std::type_index, std::unique_ptr<protocol_stats>> stats_;  // guarded by stats_mu_
};

}  // namespace troupe::detail
