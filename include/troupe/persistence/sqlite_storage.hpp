// sqlite_storage.hpp: the embedded default store: one SQLite file in WAL mode, no extra process.
// Each journal write is one transaction holding every request queued meanwhile (group commit);
// with `durable` (the default) it syncs apart: committed with synchronous=NORMAL, then the WAL
// fdatasynced by the journal's completer (sync()) before any of its completions runs, while the
// journal's thread writes the next batch.
// Layout: events are appended in commit order under an integer key (the offset), with an index
// on (persistence id, sequence number); see docs/persistence.md for why. Called from the journal's
// thread only. The tables are created on first use; another process may share the file.
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
  // Expected sequence number and numbering; a request that passes is counted in highest_.
  result<void> check(const write_request& w);
  result<std::uint64_t> next_offset();  // above every offset ever handed out, deleted ones too
  // Both give each row the offset `next` and count it up.
  result<void> insert(write_request& w, std::uint64_t& next);  // a checked request, a row per statement
  result<void> insert_fast(std::span<persistent_event* const> rows, std::uint64_t next);  // many per statement
  result<std::uint64_t*> highest_for_write(const std::string& persistence_id);  // its entry in highest_
  sqlite3* db_;
  std::unique_ptr<statements> st_;
  // The highest sequence number per id as this connection last wrote or read it, so that a write
  // costs no lookup. Another process writing the same id makes it stale, which the unique index
  // still catches (errc::sequence_conflict, and the entry is dropped). Cleared when a commit fails.
  std::unordered_map<std::string, std::uint64_t> highest_;
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
