// sqlite_storage.hpp: the embedded default store: one SQLite file in WAL mode, no extra process.
// Each journal write is one transaction holding every request queued meanwhile (group commit);
// with `durable` (the default) it syncs apart: committed with synchronous=NORMAL, then the WAL
// fdatasynced by the journal's completer (sync()) before any of its completions runs, while the
// journal's thread writes the next batch.
// Layout: events are appended in commit order under an integer key (the offset); an id's events
// are found through runs of consecutive sequence numbers and offsets, one row per id per batch;
// see docs/persistence.md for why. Called from the journal's thread only. The tables are created
// on first use (a file of the earlier layout is converted); another process may share the file.
#pragma once

#include <atomic>
#include <chrono>
#include <memory>
#include <optional>
#include <string>
#include <unordered_map>

#include "troupe/persistence/storage.hpp"

struct sqlite3;

namespace troupe::persistence {

/// How a SQLite store opens its file.
///
///     sqlite_options o{.durable = false};  // no fdatasync: may lose the last commits on power loss
struct sqlite_options {
  /// A completed write survives a power loss: the WAL is fdatasynced after the commit (apart, by
  /// sync(); synchronous=FULL for an in-memory file). false: synchronous=NORMAL and no sync, a
  /// completed write survives a process crash only.
  bool durable = true;
  /// How long a write waits for another process holding the file's write lock.
  std::chrono::nanoseconds busy_timeout = std::chrono::seconds{5};
  /// With `durable`: a file whose WAL cannot be used (a VFS or file system without the shared
  /// memory WAL needs, a WAL that cannot be opened) is refused with errc::unavailable saying why.
  /// false: such a file opens in SQLite's own journal mode with synchronous=FULL (each commit
  /// synced inside it, nothing overlapped; syncs_apart() is false). In-memory databases have no
  /// WAL either way and open with FULL.
  ///
  ///     sqlite_options{.require_wal = false}  // accept a rollback journal on a network share
  bool require_wal = true;
};

/// A storage in one SQLite file.
///
///     auto s = persistence::sqlite_storage::open("app.db");
///     if (!s) return s.error();            // errc::unavailable: the file cannot be opened
///     auto j = persistence::journal::start(*s);
class sqlite_storage final : public storage {
 public:
  /// Opens (creating if needed) the file and its tables. `path` may be a SQLite URI
  /// (`file:...?vfs=...`). errc::unavailable: the file cannot be opened, or (durable, by default)
  /// its WAL cannot be used; see sqlite_options::require_wal.
  static result<std::shared_ptr<sqlite_storage>> open(const std::string& path, sqlite_options opts = {});
  ~sqlite_storage() override;

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
  /// True when durable: commits go to the WAL without a sync and sync() fdatasyncs it.
  bool syncs_apart() const override;
  result<void> sync() override;
  /// Checkpoints the WAL on a second connection when it holds a thousand pages or more.
  void after_sync() override;

  struct statements;

 private:
  sqlite_storage(sqlite3* db, std::unique_ptr<statements> st, int wal_fd, sqlite3* checkpointer);
  // fast: no savepoint, INSERT OR ROLLBACK; nullopt when a row failed and the batch was rolled back.
  std::optional<std::vector<result<void>>> write_batch(std::span<write_request> requests, bool fast);
  // Expected sequence number and numbering; a request that passes is counted in highest_, and
  // its id's entry there is returned (one per id: the fast path groups a batch's ids by it).
  struct id_entry;
  result<id_entry*> check(const write_request& w);
  // Inside a write transaction: forgets highest_ if another connection committed since the last.
  result<void> forget_if_changed();
  result<std::uint64_t> next_offset();  // above every offset ever handed out, deleted ones too
  // Both give each row the offset `next` and count it up.
  result<void> insert(write_request& w, std::uint64_t& next);  // a checked request, a row per statement
  // Many rows per statement; rows[..run_ends[0]], rows[run_ends[0]..run_ends[1]], ... are each
  // one id's, in sequence order, and become one run each (sqlite_schema.hpp).
  result<void> insert_fast(std::span<persistent_event* const> rows, std::span<const std::size_t> run_ends, std::uint64_t next);
  result<id_entry*> highest_for_write(const std::string& persistence_id);  // its entry in highest_
  sqlite3* db_;
  std::unique_ptr<statements> st_;
  // The highest sequence number per id as this connection last wrote or read it, so that a write
  // costs no lookup. Cleared when a commit fails, and when another connection (another process,
  // another store on the file) has committed since this one last wrote.
  struct id_entry {
    std::uint64_t highest = 0;
    std::uint64_t batch = 0;  // the last fast batch that wrote the id (batches_ then)
    std::size_t group = 0;    // the id's place in that batch, by its first request
  };
  std::unordered_map<std::string, id_entry> highest_;
  std::uint64_t batches_ = 0;  // fast batches begun
  // PRAGMA data_version when highest_ was last known right: another connection's commit changes
  // it, and then highest_ is forgotten (forget_if_changed()).
  std::int64_t data_version_ = -1;
  // The WAL, opened apart for sync() (which the journal's completer calls while the journal's
  // thread writes): -1 when commits sync themselves (synchronous=FULL) or are not durable.
  int wal_fd_ = -1;
  // Set by a failed sync(); write() then refuses every batch (see storage::sync).
  std::atomic<bool> broken_{false};
  // Checkpoints the WAL for after_sync(), on the completer's thread only; null when none could be
  // opened (then SQLite checkpoints on db_ as usual).
  sqlite3* checkpointer_ = nullptr;
  std::atomic<int> wal_pages_{0};  // pages in the WAL after the last commit (its WAL hook)
  int checkpointed_ = 0;           // of them, checkpointed by after_sync() (completer only)
};

}  // namespace troupe::persistence
