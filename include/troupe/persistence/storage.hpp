// storage.hpp: the synchronous store under a journal (memory, SQLite, PostgreSQL).
// A storage is called by one thread only, the journal's own (see journal.hpp), so it needs no
// locks and may block on I/O; the one exception is sync(), which a store that syncs apart
// (SQLite) is called on from a second thread, while the journal's thread writes the next batch. Each call returns a result: errc codes, never an exception for a
// failure of the store. Implement it to add a new kind of journal; users call the journal.
#pragma once

#include <cstdint>
#include <optional>
#include <span>
#include <string>
#include <vector>

#include "troupe/core/result.hpp"
#include "troupe/persistence/errc.hpp"
#include "troupe/persistence/records.hpp"

namespace troupe::persistence {

/// A store of events, snapshots and durable states, called from one thread.
///
///     std::unique_ptr<storage> s = std::make_unique<memory_storage>();
///     auto j = journal::start(std::move(s));
class storage {
 public:
  virtual ~storage() = default;

  /// Appends every request's events in one durable transaction (group commit): each request
  /// lands whole or not at all and gets its own result; one request's conflict fails only it.
  /// On success each written event's offset is set. Returns one result per request, in order.
  /// A store that syncs apart returns once the transaction is committed but before it is on
  /// disk: it is durable when a sync() begun after the return has succeeded.
  virtual std::vector<result<void>> write(std::span<write_request> requests) = 0;

  /// Events of `persistence_id` with from <= sequence_nr <= to, in order, at most `max`.
  virtual result<std::vector<persistent_event>> read(const std::string& persistence_id, std::uint64_t from,
                                                     std::uint64_t to, std::uint64_t max) = 0;

  /// The highest sequence number ever written for the id (deleted events count), 0 if none.
  virtual result<std::uint64_t> highest_sequence_nr(const std::string& persistence_id) = 0;

  /// Deletes the id's events up to and including `to`; highest_sequence_nr does not go back.
  virtual result<void> delete_up_to(const std::string& persistence_id, std::uint64_t to) = 0;

  /// Events carrying `tag` with offset > `after`, in offset order, at most `max`.
  virtual result<std::vector<persistent_event>> read_by_tag(const std::string& tag, std::uint64_t after,
                                                            std::uint64_t max) = 0;

  /// Saves a snapshot, then deletes all but the newest `keep` of the id (keep 0: keep all).
  virtual result<void> save_snapshot(const snapshot& s, std::uint32_t keep) = 0;
  /// The newest snapshot of the id, if any.
  virtual result<std::optional<snapshot>> load_snapshot(const std::string& persistence_id) = 0;

  /// The id's durable state, if it was ever saved.
  virtual result<std::optional<durable_state>> get_state(const std::string& persistence_id) = 0;
  /// Saves `s` if the stored revision is `s.revision - 1` (none stored counts as 0); else
  /// errc::revision_conflict and nothing changes.
  virtual result<void> upsert_state(const durable_state& s) = 0;

  /// True for a store whose commits (by write() and the other calls that change it) are made
  /// durable by sync(), not before they return: the journal then completes a request only after
  /// a sync() that began after the request's commit, and the next batch is written while that
  /// sync runs. Fixed for the store's lifetime. False by default: every commit is durable on
  /// return and sync() is never called.
  ///
  ///     bool overlap = store->syncs_apart();  // sqlite_storage with durable = true: yes
  virtual bool syncs_apart() const { return false; }

  /// Makes every commit that returned before this call durable. Called from the journal's
  /// completion thread, concurrently with the other calls (which the journal's own thread
  /// makes), so it may touch nothing they touch. After a failure the store must refuse every
  /// later write and sync: the kernel may have dropped the pages it could not write.
  virtual result<void> sync() { return {}; }

  /// Upkeep a store that syncs apart does off the journal's thread (SQLite: a WAL checkpoint),
  /// called on the completion thread after a sync's completions have run, with the same rules
  /// as sync(). Does nothing by default.
  virtual void after_sync() {}
};

}  // namespace troupe::persistence
