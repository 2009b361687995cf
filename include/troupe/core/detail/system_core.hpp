// system_core.hpp: the internals of one actor system that typed templates need to reach:
// its scheduler, timers, registry, dead letters and the list of top-level actors.
// One per `troupe::system`; nothing here is global, so several systems live in one process.
// Every member function may be called from any thread unless it says otherwise.
#pragma once

#include <atomic>
#include <condition_variable>
#include <cstdint>
#include <initializer_list>
#include <memory>
#include <mutex>
#include <string>
#include <string_view>
#include <typeindex>
#include <typeinfo>
#include <unordered_map>
#include <vector>

#include "troupe/core/detail/endpoint.hpp"
#include "troupe/core/spin_mutex.hpp"
#include "troupe/core/log.hpp"
#include "troupe/core/result.hpp"
#include "troupe/core/scheduler.hpp"
#include "troupe/core/signals.hpp"
#include "troupe/core/system_config.hpp"
#include "troupe/core/timer_service.hpp"

namespace troupe {
class actor_observer;  // actor_observer.hpp, which needs ref.hpp, which needs this header
}

namespace troupe::detail {

class cell;
class instruments;  // instruments.hpp: only the runtime's and the observe layer's sources need it

class system_core {
 public:
  explicit system_core(system_config cfg);
  ~system_core();
  system_core(const system_core&) = delete;
  system_core& operator=(const system_core&) = delete;

  const system_config& config() const noexcept { return cfg_; }
  timer_service& timers() noexcept { return *timers_; }
  /// The observer of actors' effects, or null (the default).
  actor_observer* observer() const noexcept { return observer_; }
  /// The system's logger (never null until retire; then one that drops everything).
  troupe::logger& logger() const noexcept { return *logger_; }
  /// Logs a runtime record from `source` (a part of the runtime, or an actor's path).
  void log(log_level level, std::string_view source, std::string_view message,
           std::initializer_list<log_field> fields = {}) const {
    logger_->log(level, source, message, fields);
  }
  /// `c`'s path from its top-level ancestor: "/shop/orders/#41" (names where given, else '#'
  /// and the serial). Any thread: names and parents are immutable after spawn.
  static std::string path_of(const cell& c);
  /// The table of live actors and sampled timings, or null (system_config::introspection off).
  detail::instruments* instruments() const noexcept { return instruments_.get(); }
  /// Counts a supervisor's restart of a child. Any thread.
  void count_restart() noexcept { restarts_.fetch_add(1, std::memory_order_relaxed); }  // relaxed: a statistic
  std::uint64_t restart_count() const noexcept { return restarts_.load(std::memory_order_relaxed); }

  // --- actors --------------------------------------------------------------------------------
  std::uint64_t next_serial() noexcept { return next_serials(1); }
  /// `n` consecutive serials; returns the first. Spawns take them in blocks per thread (cell.cpp).
  std::uint64_t next_serials(std::uint64_t n) noexcept {
    // relaxed: only uniqueness is needed, no ordering with other memory.
    return serial_.fetch_add(n, std::memory_order_relaxed);
  }
  /// Unique in the process, never reused (unlike an address): tells one system from another.
  std::uint64_t instance() const noexcept { return instance_; }
  /// Throws usage_error if the system is stopping. Registers `c` under its name (throwing if
  /// taken), adds it to its parent (on the parent's turn) or to the top level, and starts it.
  void launch(cell& c, cell* parent, const std::type_info& protocol);
  void schedule(cell& c, scheduler::schedule_hint hint) noexcept;
  /// Called by a top-level actor as it terminates.
  void root_terminated(cell& c) noexcept;
  bool stopping() const noexcept { return stopping_.load(std::memory_order_acquire); }
  /// Stops every actor (children before parents), then the timers and the threads. Idempotent.
  void shutdown();
  /// Shuts `core` down and keeps what is left of it, emptied (its threads, scheduler, registry,
  /// observer and logger released), for the life of the process: cells keep a plain pointer to
  /// their system, and a ref may outlive it, so a late tell must still find a system to report
  /// its dead letter to, and a late ask a stopped timer service that fails it at once. Under a
  /// kilobyte per system ever destroyed.
  static void retire(std::unique_ptr<system_core> core);

  // --- registry ------------------------------------------------------------------------------
  result<void> register_name(std::string name, cell& c, const std::type_info& protocol);
  /// Frees `name` if it is held by `c` (or by anyone, when `c` is null).
  void unregister_name(std::string_view name, const cell* c) noexcept;
  /// Frees every name held by `c`; called as it terminates.
  void unregister_all(const cell& c) noexcept;
  /// A new reference to the actor registered under `name`, if it speaks `protocol`.
  result<counted<cell>> lookup(std::string_view name, const std::type_info& protocol) const;

  // --- dead letters --------------------------------------------------------------------------
  void dead_letter(const cell& recipient, const std::type_info& message_type,
                   dead_letter_reason why = dead_letter_reason::receiver_stopped) noexcept;
  /// Counts `d` and tells the subscribers; for messages that never became an envelope.
  void report_dead_letter(troupe::dead_letter d) noexcept;
  void count_dead_letter(dead_letter_reason why) noexcept;
  std::uint64_t dead_letter_count() const noexcept {
    return dead_letters_.load(std::memory_order_relaxed);  // relaxed: a statistic
  }
  std::uint64_t dead_letter_count(dead_letter_reason why) const noexcept {
    return dead_letters_by_reason_[static_cast<unsigned>(why)].load(std::memory_order_relaxed);  // relaxed: a statistic
  }
  /// The schedulers' threads: the workers, then the blocking pool (when it has started and is
  /// not the same scheduler). Empty for schedulers that keep no statistics.
  std::vector<scheduler::worker_stats> worker_statistics(bool blocking_pool) const;
  /// `subscriber` is an endpoint of protocol troupe::dead_letter.
  void subscribe_dead_letters(counted<endpoint> subscriber);

 private:
  void watchdog_tick(bool fired);
  void launch_registered(cell& c, cell* parent, const std::type_info& protocol);

  system_config cfg_;
  std::unique_ptr<troupe::logger> logger_;  // replaced only by retire, when nothing logs any more
  std::shared_ptr<scheduler> workers_;
  std::shared_ptr<scheduler> blocking_;
  std::shared_ptr<timer_service> timers_;
  // Calls to schedule() from threads that are not a scheduler's (main, a journal's, a socket's,
  // the timer thread) still inside the scheduler. Such a thread may wake an actor that then runs
  // to its end, so shutdown can finish while it is still in the scheduler's code: retire() waits
  // for this to fall to 0 before it destroys the schedulers. Workers are joined, so not counted,
  // and nor is a top-level actor's start, which its shard's lock covers (launch_registered).
  std::atomic<std::uint32_t> outside_schedules_{0};
  actor_observer* observer_;  // immutable; owned by cfg_
  // Immutable; kept by a retired system too, since its cells' probes point into it.
  std::unique_ptr<detail::instruments> instruments_;
  std::atomic<std::uint64_t> restarts_{0};
  std::atomic<std::uint64_t> serial_{1};
  const std::uint64_t instance_;
  std::atomic<bool> stopping_{false};
  bool shut_down_ = false;  // guarded by roots_mu_
  // Set under roots_mu_ at the first blocking spawn; release/acquire: a spawn that sees it set
  // sees the started pool.
  std::atomic<bool> blocking_started_{false};
  std::mutex shutdown_mu_;  // held for a whole shutdown: a second caller returns only when done

  // The top-level actors, for shutdown to stop them, in shards chosen by serial: the thread that
  // spawns an actor and the worker that ends it take different shards' locks, and touch
  // different cache lines, where one list under one lock made them meet twice per actor (bench
  // fjcreate). A shard's lock is held for a few instructions; the lists link through the cells'
  // sibling pointers. Made at construction, freed when the system is retired.
  struct alignas(64) root_shard {
    spin_mutex mu;
    cell* first = nullptr;  // guarded by mu
    std::size_t count = 0;  // guarded by mu
  };
  static constexpr std::size_t root_shards = 16;
  root_shard& shard_of(const cell& c) noexcept;
  bool no_roots() noexcept;  // takes each shard's lock in turn
  std::unique_ptr<root_shard[]> roots_;
  // Rare: set stopping_, start the blocking pool, wait for the last top-level actor to end.
  mutable spin_mutex roots_mu_;
  std::condition_variable_any roots_cv_;  // with roots_mu_: the last top-level actor has ended

  struct registration {
    cell* who;
    std::type_index protocol;
  };
  mutable std::mutex registry_mu_;
  std::unordered_map<std::string, registration> names_;  // guarded by registry_mu_

  std::atomic<std::uint64_t> dead_letters_{0};
  std::atomic<std::uint64_t> dead_letters_by_reason_[dead_letter_reasons] = {};
  std::atomic<bool> has_dead_letter_subscribers_{false};
  std::mutex dead_letter_mu_;
  std::vector<counted<endpoint>> dead_letter_subscribers_;  // guarded by dead_letter_mu_
};

}  // namespace troupe::detail
