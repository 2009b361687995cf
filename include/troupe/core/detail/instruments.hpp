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
  // in their probes), and actors spawned: each thread counts its own (instruments::count_spawned,
  // count_finished), and these hold only what a thread could not (out of memory for its
  // counts). Read through instruments::spawned() and finished_handled().
  std::atomic<std::uint64_t> finished_handled{0};
  std::atomic<std::uint64_t> spawned{0};
};

/// One thread's counts for one protocol (instruments::count_spawned).
struct protocol_counts {
  explicit protocol_counts(const protocol_stats* s) : stats(s) {}
  const protocol_stats* const stats;
  std::atomic<std::uint64_t> spawned{0};
  std::atomic<std::uint64_t> finished_handled{0};
};

/// An instrumented actor's figures, kept in its extras.
struct actor_probe {
  // From the message pool, as the cell is: one per actor, made and freed by spawn storms.
  static void* operator new(std::size_t size) { return pool_allocate(size); }
  static void operator delete(void* p, std::size_t size) noexcept { pool_deallocate(p, size); }

  protocol_stats* stats = nullptr;  // set at launch, before the actor is reachable; then immutable
  bool timings = false;             // immutable: sample timings (system_config::metrics)
  // Set (release) as the actor finalizes, before anyone is told it ended (instruments::remove):
  // from then on the table's scans pass over its entry, which its spawning thread sweeps later.
  std::atomic<bool> finished{false};
  void* segment = nullptr;  // the table's segment that holds the entry: set at launch, then immutable
  std::size_t slot = 0;     // the entry's index there: guarded by that segment's mutex
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
  ~instruments();

  bool timings() const noexcept { return timings_; }
  unsigned sample_every() const noexcept { return sample_every_; }
  /// sample_every() rounded up to a power of two (at most 2^16, the inbox's count), less one: a
  /// sampled mailbox times the pushes whose count before them, masked with it, is 0.
  std::uint32_t sample_mask() const noexcept { return sample_mask_; }
  /// The stats of a protocol, made on first use (under a mutex: once per spawn).
  protocol_stats& stats_for(const std::type_info& protocol);
  /// Every protocol seen so far, in no order. The pointers live as long as the system.
  std::vector<const protocol_stats*> protocols() const;
  /// Counts an actor of `stats`' protocol launched (on the spawning thread) and the messages a
  /// finished one handled (on the thread that ended it): on the calling thread's own segment,
  /// as a load and a store, where one shared atomic add per actor cost two threads spawning
  /// or ending actors of one protocol a cache miss each (bench skynet).
  void count_spawned(protocol_stats& stats) noexcept;
  void count_finished(protocol_stats& stats, std::uint64_t handled) noexcept;
  /// The totals of those counts over every thread.
  std::uint64_t spawned(const protocol_stats& stats) const;
  std::uint64_t finished_handled(const protocol_stats& stats) const;

  /// Enters an instrumented actor in the calling thread's segment of the table (at launch; may
  /// throw bad_alloc). `queued`: a counted mailbox's count; null for a tallied one.
  void add(cell& c, const std::atomic<std::size_t>* queued);
  /// Takes an actor out as it finalizes. On the thread that spawned it, the entry goes at once
  /// (that thread's own segment); on another, this touches nothing shared: it marks the probe
  /// finished, holds the cell for the table, and counts the removal on the calling thread, and
  /// the entry goes at the next sweep of its segment.
  void remove(cell& c) noexcept;
  /// Takes out an actor whose launch failed, on the thread that added it, at once.
  void remove_unlaunched(cell& c) noexcept;
  /// The live actors: those added less those removed (exact once both have returned).
  std::size_t size() const noexcept;
  /// Drops every finished actor's entry, releasing its cell (retire: nothing runs any more).
  void sweep_all() noexcept;

  /// One actor of the table: its cell, its serial, and where its figures live, so that a scan
  /// for the top n by mailbox length or messages reads the entry, the cell's first line (a
  /// tallied mailbox's count of pushes) and the probe, and nothing else of the actor.
  struct entry {
    cell* c;  // alive while the entry is in the table (a finished one's is held for it)
    std::uint64_t serial;
    std::uint64_t parent;  // the parent's serial; 0: top-level
    actor_probe* probe;
    const std::atomic<std::size_t>* queued;  // a counted mailbox's count (in the cell's extras); null: tallied
    // cell::footprint() is fixed + queued * message: both fixed at launch (the name is immutable).
    std::size_t fixed_bytes;
    std::size_t message_bytes;
  };
  /// The waiting messages an entry's figures give (a tallied mailbox's length is approximate:
  /// cell::tallied_length()).
  static std::size_t mailbox_length(const entry& e) noexcept;
  /// Calls f(const entry&) for every live actor, one segment at a time under its lock: f must
  /// be quick and must not spawn or stop actors. An entry's cell is alive and had not finalized
  /// when the scan came to it; it may finalize during f (on another thread than its spawner's:
  /// the table then holds it), which then reads an actor on its way out. The segments are arrays, not lists, so the cells' cache misses
  /// overlap instead of following one another (a million actors scan in tens of ms).
  template <class F>
  void for_each(F&& f) {
    for (auto* s : segments()) {
      std::size_t dead = 0;
      {
        std::lock_guard lock(s->mu);
        for (auto& e : s->cells) {
          // acquire: pairs with the release in remove(); what the actor did before it is seen.
          if (e.probe->finished.load(std::memory_order_acquire)) ++dead;
          else f(e);
        }
        if (dead * 2 <= s->cells.size()) continue;
      }
      // A segment whose thread spawns no more (or has left) is swept by the scans that read it.
      sweep(*s);
    }
  }

  std::mutex rate_mu;           // serializes message-rate queries
  std::int64_t rate_mark_ns = 0;  // guarded by rate_mu: the previous query's time (0: none yet)

 private:
  // The entries of the actors one thread spawned. Only that thread adds (so a spawn storm's
  // adds take a lock no one else wants, its line in the spawner's cache). An actor that ends on
  // that thread leaves at once; one that ends on another marks its probe instead of touching
  // the segment, and holds its cell for it, until the owner sweeps the segment (when its
  // entries reach twice the live ones at the last sweep, at least 64) or a scan does (when it
  // finds more finished than live): up to as many finished cells as live ones per spawning
  // thread stay allocated that long. Removal under the shard locks of one shared table cost a
  // spawn storm (bench fjcreate) a third of its time in cache misses on the locks and entries.
  struct alignas(64) segment {
    mutable spin_mutex mu;
    std::vector<entry> cells;  // guarded by mu
    std::size_t sweep_at = 64;  // guarded by mu: the owner sweeps when cells reaches it
    // Written by the owning thread only (relaxed load + store), read by anyone: the actors
    // entered here, less those taken out at once; the actors of other segments that this
    // thread ended.
    std::atomic<std::uint64_t> added{0};
    std::atomic<std::uint64_t> removed{0};
    // This thread's share of its protocols' spawned and finished_handled counts (the list
    // guarded by mu; the counts written by the owning thread only).
    std::vector<std::unique_ptr<protocol_counts>> counts;
  };
  protocol_counts* counts_for(const protocol_stats& stats) noexcept;
  segment& own_segment();
  segment* own_segment_if_any() const noexcept;
  std::vector<segment*> segments() const;
  void sweep(segment& s) noexcept;
  bool take_out(segment& s, cell& c) noexcept;  // false: not in s

  const std::uint64_t serial_;  // unique among all tables ever made (stats_for's and own_segment's caches)
  const bool timings_;
  const unsigned sample_every_;
  const std::uint32_t sample_mask_;
  mutable std::mutex segments_mu_;
  std::vector<std::unique_ptr<segment>> segments_;  // guarded by segments_mu_; never shrinks
  // By the thread's own number (never reused, unlike std::thread::id), so a segment has one
  // writer for good; a thread that ended leaves its segment to the scans' sweeps.
  std::unordered_map<std::uint64_t, segment*> by_thread_;  // guarded by segments_mu_
  // Removals on a thread that could not get a segment (out of memory): rare.
  std::atomic<std::uint64_t> removed_elsewhere_{0};
  mutable std::mutex stats_mu_;
  std::unordered_map<std::type_index, std::unique_ptr<protocol_stats>> stats_;  // guarded by stats_mu_
};

}  // namespace troupe::detail
