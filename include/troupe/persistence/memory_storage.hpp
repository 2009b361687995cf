// memory_storage.hpp: a storage kept in memory, for tests and for entities that may forget.
// It keeps the same promises as the durable stores (sequence and revision checks, all-or-none
// writes, offsets, snapshot retention) so that tests of actors over it hold for SQLite and
// PostgreSQL. A test may make its next writes fail, to see an actor stop with the reason.
// Thread-safe: the journal's thread calls it, a test may inject failures from another.
#pragma once

#include <cstdint>
#include <map>
#include <mutex>
#include <optional>
#include <string>
#include <vector>

#include "troupe/persistence/storage.hpp"

namespace troupe::persistence {

/// An in-memory storage; nothing survives the process.
///
///     auto mem = std::make_shared<persistence::memory_storage>();
///     auto j = persistence::journal::start(mem);
///     mem->fail_next_writes(1, {persistence::errc::storage_full, "test"});
class memory_storage final : public storage {
 public:
  /// The next `n` write requests fail with `e` (the journal's answer when its disk is full).
  void fail_next_writes(int n, troupe::error e);
  /// Puts a stored event as it is, bypassing the checks: to stage a journal written by an older
  /// version of a program, or a corrupt row.
  void put_raw(persistent_event e);

  std::vector<result<void>> write(std::span<write_request> requests) override;
  result<std::vector<persistent_event>> read(const std::string& persistence_id, std::uint64_t from, std::uint64_t to,
                                             std::uint64_t max) override;
  result<std::uint64_t> highest_sequence_nr(const std::string& persistence_id) override;
  result<void> delete_up_to(const std::string& persistence_id, std::uint64_t to) override;
  result<std::vector<persistent_event>> read_by_tag(const std::string& tag, std::uint64_t after,
                                                    std::uint64_t max) override;
  result<void> save_snapshot(const snapshot& s, std::uint32_t keep) override;
  result<std::optional<snapshot>> load_snapshot(const std::string& persistence_id) override;
  result<std::optional<durable_state>> get_state(const std::string& persistence_id) override;
  result<void> upsert_state(const durable_state& s) override;

 private:
  struct entity {
    std::map<std::uint64_t, persistent_event> events;  // by sequence number
    std::uint64_t highest = 0;
  };
  std::mutex mu_;
  std::map<std::string, entity> entities_;                     // guarded by mu_
  std::map<std::uint64_t, std::pair<std::string, std::uint64_t>> by_offset_;  // guarded by mu_
  std::map<std::string, std::map<std::uint64_t, snapshot>> snapshots_;        // guarded by mu_
  std::map<std::string, durable_state> states_;                               // guarded by mu_
  std::uint64_t next_offset_ = 1;                                             // guarded by mu_
  int failures_left_ = 0;                                                     // guarded by mu_
  troupe::error failure_;                                                     // guarded by mu_
};

}  // namespace troupe::persistence
