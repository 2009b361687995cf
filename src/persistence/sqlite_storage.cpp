// sqlite_storage.cpp: prepared statements over one connection, one transaction per batch.
#include "troupe/persistence/sqlite_storage.hpp"

#include <fcntl.h>
#include <sqlite3.h>
#include <unistd.h>

#include <cerrno>
#include <filesystem>

#include <algorithm>
#include <cstring>
#include <limits>

#include "sqlite_schema.hpp"

namespace troupe::persistence {

namespace {

// Tags are kept in the event row too (joined by the unit separator), so a read by id needs no join.
constexpr char tag_separator = '\x1f';

errc code_of(int rc) {
  switch (rc & 0xff) {
    case SQLITE_FULL: return errc::storage_full;
    case SQLITE_CORRUPT:
    case SQLITE_NOTADB: return errc::corrupt;
    case SQLITE_CANTOPEN:
    case SQLITE_PERM:
    case SQLITE_READONLY: return errc::unavailable;
    case SQLITE_CONSTRAINT: return errc::sequence_conflict;
    default: return errc::storage_error;
  }
}

troupe::error fail(sqlite3* db, int rc, const char* what) {
  return troupe::error{code_of(rc), std::string(what) + ": " + (db ? sqlite3_errmsg(db) : sqlite3_errstr(rc))};
}

std::int64_t clamp(std::uint64_t v) {
  return static_cast<std::int64_t>(std::min<std::uint64_t>(v, std::numeric_limits<std::int64_t>::max()));
}

// One prepared statement, reset after each use.
class stmt {
 public:
  stmt() = default;
  stmt(const stmt&) = delete;
  stmt& operator=(const stmt&) = delete;
  ~stmt() { sqlite3_finalize(s_); }
  int prepare(sqlite3* db, const char* sql) { return sqlite3_prepare_v3(db, sql, -1, SQLITE_PREPARE_PERSISTENT, &s_, nullptr); }
  sqlite3_stmt* get() { return s_; }
  stmt& reset() {
    sqlite3_reset(s_);
    sqlite3_clear_bindings(s_);
    return *this;
  }
  // Without clearing the bindings: only for a statement whose every parameter is bound again
  // before each step (the multi-row insert has 448; clearing them twice a statement cost about
  // 200 instructions per event).
  stmt& rewind() {
    sqlite3_reset(s_);
    return *this;
  }
  stmt& bind(int i, std::int64_t v) {
    sqlite3_bind_int64(s_, i, v);
    return *this;
  }
  stmt& bind_null(int i) {
    sqlite3_bind_null(s_, i);
    return *this;
  }
  stmt& bind(int i, const std::string& v) {
    sqlite3_bind_text(s_, i, v.data(), static_cast<int>(v.size()), SQLITE_STATIC);
    return *this;
  }
  stmt& bind_blob(int i, const bytes& v) {
    // A zero-length blob must still be a blob: another type marks a row this store did not write.
    sqlite3_bind_blob(s_, i, v.data(), static_cast<int>(v.size()), SQLITE_STATIC);
    return *this;
  }
  int step() { return sqlite3_step(s_); }

 private:
  sqlite3_stmt* s_ = nullptr;
};

std::string column_text(sqlite3_stmt* s, int i) {
  auto p = reinterpret_cast<const char*>(sqlite3_column_text(s, i));
  return p ? std::string(p, static_cast<std::size_t>(sqlite3_column_bytes(s, i))) : std::string{};
}

// Into an existing string: no temporary to build, move and destroy per column.
void assign_value(std::string& to, sqlite3_value* v, bool blob) {
  auto p = blob ? static_cast<const char*>(sqlite3_value_blob(v)) : reinterpret_cast<const char*>(sqlite3_value_text(v));
  to.assign(p ? p : "", p ? static_cast<std::size_t>(sqlite3_value_bytes(v)) : 0);
}

bytes column_bytes(sqlite3_stmt* s, int i) {
  auto p = static_cast<const char*>(sqlite3_column_blob(s, i));
  auto n = static_cast<std::size_t>(sqlite3_column_bytes(s, i));
  return p ? bytes(p, n) : bytes{};
}

// Snapshots and durable states are stored alike: per id, one row of (sequence number or
// revision, manifest, version, payload). Reads the row of `id` with `s` (its query selects those
// four columns), or nothing when there is none; a column of the wrong type is a corrupt row.
template <class Row>
result<std::optional<Row>> read_versioned_row(sqlite3* db, stmt& s, const std::string& id, const char* kind,
                                              const char* what) {
  s.reset().bind(1, id);
  int rc = s.step();
  std::optional<Row> out;
  if (rc == SQLITE_ROW) {
    auto* q = s.get();
    if (sqlite3_column_type(q, 0) != SQLITE_INTEGER || sqlite3_column_type(q, 3) != SQLITE_BLOB) {
      s.reset();
      return troupe::error{errc::corrupt, std::string(kind) + " row of '" + id + "' has a column of the wrong type"};
    }
    out = Row{id, static_cast<std::uint64_t>(sqlite3_column_int64(q, 0)), column_text(q, 1),
              static_cast<std::uint32_t>(sqlite3_column_int64(q, 2)), column_bytes(q, 3)};
  } else if (rc != SQLITE_DONE) {
    s.reset();
    return fail(db, rc, what);
  }
  s.reset();
  return out;
}

std::string join_tags(const std::vector<std::string>& tags) {
  std::string out;
  for (const auto& t : tags) {
    if (!out.empty()) out += tag_separator;
    out += t;
  }
  return out;
}

std::vector<std::string> split_tags(const std::string& s) {
  std::vector<std::string> out;
  if (s.empty()) return out;
  std::size_t start = 0;
  for (;;) {
    auto pos = s.find(tag_separator, start);
    out.push_back(s.substr(start, pos - start));
    if (pos == std::string::npos) break;
    start = pos + 1;
  }
  return out;
}

// Rows per multi-row INSERT on the fast path: the per-statement work (cursors opened and closed,
// the statement halted) is paid once per this many rows. 7 parameters each, well under
// SQLite's limit of 32,766.
constexpr std::size_t rows_per_insert = 64;
// And for a batch's last rows: a statement of 8 before the single-row one (a batch of ~1,500
// left ~30 rows to single-row statements, each paying a whole statement's start and end).
constexpr std::size_t rows_per_small_insert = 8;

std::string multi_row_insert(std::size_t rows) {
  std::string sql =
      "INSERT OR ROLLBACK INTO troupe_events(ordering, persistence_id, sequence_nr, manifest, version, tags, payload) VALUES";
  for (std::size_t i = 0; i < rows; ++i) sql += i ? ",(?,?,?,?,?,?,?)" : "(?,?,?,?,?,?,?)";
  return sql;
}

// The same for runs (sqlite_schema.hpp), 4 parameters a row: a batch of the persist shape (one
// event per id) has as many runs as events, and a statement per run cost about a third more
// instructions per event than the whole write did before runs (callgrind, persist 100 x 100).
std::string multi_run_insert(std::size_t rows) {
  std::string sql = "INSERT OR ROLLBACK INTO troupe_events_by_id(persistence_id, first_seq, last_seq, first_ordering) VALUES";
  for (std::size_t i = 0; i < rows; ++i) sql += i ? ",(?,?,?,?)" : "(?,?,?,?)";
  return sql;
}

// The event columns in the order every event query selects them.
#define TROUPE_EVENT_COLUMNS "ordering, persistence_id, sequence_nr, manifest, version, tags, payload"

// Reads one event row into `e`; a column of the wrong type means the row was not written by
// this store. `id`, when the query selected rows of one persistence id, is copied instead of read
// back. Filled in place: built aside and moved into the page, an event cost two moves of its
// four strings (callgrind, replay).
result<void> event_row(sqlite3_stmt* s, const std::string* id, persistent_event& e) {
  // Each column is fetched once as a value and read through it: every sqlite3_column_* call
  // pays the statement's entry and exit checks, and a type check plus a read per column made
  // fourteen of them a row (callgrind, replay). The values are unprotected, which SQLite's
  // documentation says is not thread-safe: this connection is only ever used by one thread.
  constexpr int types[] = {SQLITE_INTEGER, SQLITE_TEXT, SQLITE_INTEGER, SQLITE_TEXT, SQLITE_INTEGER, SQLITE_TEXT, SQLITE_BLOB};
  sqlite3_value* v[7];
  for (int i = 0; i < 7; ++i) {
    v[i] = sqlite3_column_value(s, i);
    if (sqlite3_value_type(v[i]) != types[i])
      return troupe::error{errc::corrupt, "event row with ordering " + std::to_string(sqlite3_column_int64(s, 0)) +
                                              ": column " + sqlite3_column_name(s, i) + " has the wrong type"};
  }
  e.offset = static_cast<std::uint64_t>(sqlite3_value_int64(v[0]));
  if (id)
    e.persistence_id = *id;
  else
    assign_value(e.persistence_id, v[1], false);
  e.sequence_nr = static_cast<std::uint64_t>(sqlite3_value_int64(v[2]));
  assign_value(e.manifest, v[3], false);
  e.version = static_cast<std::uint32_t>(sqlite3_value_int64(v[4]));
  if (sqlite3_value_bytes(v[5]) > 0) {
    std::string tags;
    assign_value(tags, v[5], false);
    e.tags = split_tags(tags);
  }
  assign_value(e.payload, v[6], true);
  return {};
}

// Runs `s` (bound, its rows events) to the end; a corrupt row or a failed step is the error.
// `expected` rows are reserved for: the exact count when known (no moves as the vector grows),
// else a bound, not to reserve `max` for a read that finds a few.
result<std::vector<persistent_event>> read_events(sqlite3* db, stmt& s, const char* what, std::uint64_t expected,
                                                  const std::string* id = nullptr) {
  std::vector<persistent_event> out;
  out.reserve(static_cast<std::size_t>(expected));
  int rc;
  while ((rc = s.step()) == SQLITE_ROW) {
    if (auto r = event_row(s.get(), id, out.emplace_back()); !r) {
      s.reset();
      return r.error();
    }
  }
  s.reset();
  if (rc != SQLITE_DONE) return fail(db, rc, what);
  return out;
}

// A descriptor of the open file's WAL for sqlite_storage::sync(), or -1 for a database with no
// file of its own (in-memory or temporary: nothing to sync apart, nothing durable past the
// process); an error when a file's WAL cannot be used (journal mode not WAL, as on a VFS
// without shared memory, or the WAL or its directory cannot be opened). The WAL's directory
// entry is synced once here: SQLite does it on its first sync of a new WAL, which under
// synchronous=NORMAL may come only at the first checkpoint.
result<int> open_wal_for_sync(sqlite3* db, const std::string& path) {
  const char* file = sqlite3_db_filename(db, "main");
  if (!file || !*file) return -1;
  sqlite3_stmt* q = nullptr;
  std::string mode = "unknown";
  if (sqlite3_prepare_v2(db, "PRAGMA journal_mode", -1, &q, nullptr) == SQLITE_OK && sqlite3_step(q) == SQLITE_ROW)
    if (auto m = reinterpret_cast<const char*>(sqlite3_column_text(q, 0))) mode = m;
  sqlite3_finalize(q);
  auto refused = [&](const std::string& why) {
    return troupe::error{errc::unavailable, "cannot use a WAL for '" + path + "': " + why +
                                                " (sqlite_options::require_wal = false opens it with synchronous=FULL)"};
  };
  if (mode != "wal") return refused("SQLite left it in journal mode '" + mode + "'");
  const char* wal_path = sqlite3_filename_wal(file);
  if (!wal_path || !*wal_path) return refused("SQLite names no WAL file");
  int fd = ::open(wal_path, O_RDONLY | O_CLOEXEC);
  if (fd < 0) return refused(std::string("opening ") + wal_path + ": " + std::strerror(errno));
  std::string dir = std::filesystem::path(wal_path).parent_path().string();
  int dfd = ::open(dir.empty() ? "." : dir.c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC);
  int err = dfd < 0 || ::fsync(dfd) != 0 ? errno : 0;
  if (dfd >= 0) ::close(dfd);
  if (err != 0) {
    ::close(fd);
    return refused("syncing the directory " + dir + ": " + std::strerror(err));
  }
  return fd;
}

// True when the file's troupe_events_by_id is layout 1's unique index (sqlite_schema.hpp).
result<bool> has_layout_1(sqlite3* db) {
  sqlite3_stmt* q = nullptr;
  int rc = sqlite3_prepare_v2(db, "SELECT type FROM sqlite_master WHERE name = 'troupe_events_by_id'", -1, &q, nullptr);
  bool index = false;
  if (rc == SQLITE_OK && (rc = sqlite3_step(q)) == SQLITE_ROW) {
    auto t = reinterpret_cast<const char*>(sqlite3_column_text(q, 0));
    index = t && std::strcmp(t, "index") == 0;
    rc = SQLITE_DONE;
  }
  sqlite3_finalize(q);
  if (rc != SQLITE_DONE) return fail(db, rc, "reading the journal's schema");
  return index;
}

// Converts a file written with layout 1 (before 2026-12-07: a unique index on the events'
// (persistence_id, sequence_nr)) to runs, once, in one write transaction: of two processes
// opening it at once, the second finds it done. Nothing to do for a new file or layout 2.
result<void> upgrade_layout_1(sqlite3* db, const std::string& path) {
  auto old = has_layout_1(db);
  if (!old || !*old) return old ? result<void>{} : result<void>(old.error());
  int rc = sqlite3_exec(db, "BEGIN IMMEDIATE", nullptr, nullptr, nullptr);
  if (rc == SQLITE_OK && (old = has_layout_1(db)) && *old) {
    for (const char* sql : {"DROP INDEX troupe_events_by_id", detail::sqlite_event_tables, detail::sqlite_fill_runs_from_layout_1})
      if ((rc = sqlite3_exec(db, sql, nullptr, nullptr, nullptr)) != SQLITE_OK) break;
  }
  if (rc == SQLITE_OK && !old) rc = SQLITE_ERROR;
  if (rc == SQLITE_OK) rc = sqlite3_exec(db, "COMMIT", nullptr, nullptr, nullptr);
  if (rc != SQLITE_OK) {
    auto e = old ? fail(db, rc, ("cannot convert '" + path + "' from the journal's layout 1").c_str()) : old.error();
    sqlite3_exec(db, "ROLLBACK", nullptr, nullptr, nullptr);
    return e;
  }
  return {};
}

}  // namespace

struct sqlite_storage::statements {
  stmt begin, begin_read, commit, rollback, savepoint, release, rollback_to, data_version;
  stmt last_seq, deleted_highest, insert_event, insert_tag, insert_tag_fast, max_ordering, keep_deleted_offset;
  stmt insert_rows, insert_rows_small, insert_row;  // fast path: rows_per_insert, rows_per_small_insert, one
  stmt insert_run;  // careful path
  stmt insert_runs, insert_runs_small, insert_run_fast;  // fast path: rows_per_insert, rows_per_small_insert, one
  stmt runs, read_range, read_by_tag, upsert_deleted;
  stmt runs_up_to, tags_in_range, delete_tag, delete_range, delete_run, trim_run;  // delete_up_to
  stmt save_snapshot, trim_snapshots, load_snapshot;
  stmt get_state, insert_state, update_state;
};

result<std::shared_ptr<sqlite_storage>> sqlite_storage::open(const std::string& path, sqlite_options opts) {
  sqlite3* db = nullptr;
  int rc = sqlite3_open_v2(path.c_str(), &db, SQLITE_OPEN_READWRITE | SQLITE_OPEN_CREATE | SQLITE_OPEN_NOMUTEX | SQLITE_OPEN_URI,
                           nullptr);
  if (rc != SQLITE_OK) {
    troupe::error e{errc::unavailable, "cannot open SQLite file '" + path + "': " + (db ? sqlite3_errmsg(db) : sqlite3_errstr(rc))};
    sqlite3_close(db);
    return e;
  }
  auto close_with = [&](troupe::error e) {
    sqlite3_close(db);
    return e;
  };
  sqlite3_busy_timeout(db, static_cast<int>(std::chrono::duration_cast<std::chrono::milliseconds>(opts.busy_timeout).count()));
  std::string pragmas = "PRAGMA journal_mode=WAL; PRAGMA synchronous=";
  pragmas += opts.durable ? "FULL;" : "NORMAL;";
  if (rc = sqlite3_exec(db, pragmas.c_str(), nullptr, nullptr, nullptr); rc != SQLITE_OK)
    return close_with(fail(db, rc, ("cannot set WAL mode on '" + path + "'").c_str()));
  if (auto r = upgrade_layout_1(db, path); !r) return close_with(r.error());
  for (const char* tables : {detail::sqlite_event_tables, detail::sqlite_other_tables})
    if (rc = sqlite3_exec(db, tables, nullptr, nullptr, nullptr); rc != SQLITE_OK)
      return close_with(fail(db, rc, ("cannot create the journal's tables in '" + path + "'").c_str()));
  // Durable writes sync apart (see sync()): SQLite commits without waiting for the disk
  // (synchronous=NORMAL) and the journal's completer fdatasyncs the WAL while the next batch is
  // written. An in-memory database has no WAL: SQLite's own FULL it is. A file whose WAL cannot
  // be used is refused, unless the opener accepts FULL in SQLite's own journal mode instead
  // (it once fell back to that silently, slower and without the promises docs make of the WAL).
  int wal_fd = -1;
  if (opts.durable) {
    auto fd = open_wal_for_sync(db, path);
    if (!fd && opts.require_wal) return close_with(fd.error());
    wal_fd = fd ? *fd : -1;
  }
  sqlite3* checkpointer = nullptr;
  if (wal_fd >= 0) {
    if (rc = sqlite3_exec(db, "PRAGMA synchronous=NORMAL;", nullptr, nullptr, nullptr); rc != SQLITE_OK) {
      ::close(wal_fd);
      return close_with(fail(db, rc, ("cannot set synchronous=NORMAL on '" + path + "'").c_str()));
    }
    // A second connection for WAL checkpoints, run by the completer after a sync (after_sync()),
    // so the journal's thread no longer copies pages into the database file and waits for two
    // more fsyncs every thousand pages. Without one, SQLite's own checkpoints on the writer.
    // NORMAL: a checkpoint syncs the WAL before it copies and the database file after.
    if (sqlite3_open_v2(path.c_str(), &checkpointer, SQLITE_OPEN_READWRITE | SQLITE_OPEN_NOMUTEX, nullptr) != SQLITE_OK ||
        sqlite3_exec(checkpointer, "PRAGMA synchronous=NORMAL;", nullptr, nullptr, nullptr) != SQLITE_OK) {
      sqlite3_close(checkpointer);
      checkpointer = nullptr;
    }
  }

  auto st = std::make_unique<statements>();
  std::string insert_rows_sql = multi_row_insert(rows_per_insert), insert_rows_small_sql = multi_row_insert(rows_per_small_insert);
  std::string insert_runs_sql = multi_run_insert(rows_per_insert), insert_runs_small_sql = multi_run_insert(rows_per_small_insert);
  struct {
    stmt& s;
    const char* sql;
  } all[] = {
      {st->begin, "BEGIN IMMEDIATE"},
      {st->begin_read, "BEGIN"},
      {st->commit, "COMMIT"},
      {st->rollback, "ROLLBACK"},
      {st->savepoint, "SAVEPOINT troupe_write"},
      {st->release, "RELEASE troupe_write"},
      {st->rollback_to, "ROLLBACK TO troupe_write"},
      // Changes whenever another connection has committed since this one last asked (see write()).
      {st->data_version, "PRAGMA data_version"},
      // The id's last run holds its highest sequence number (runs of an id never overlap).
      {st->last_seq, "SELECT last_seq FROM troupe_events_by_id WHERE persistence_id = ?1 ORDER BY first_seq DESC LIMIT 1"},
      {st->deleted_highest, "SELECT highest FROM troupe_deleted WHERE persistence_id = ?1"},
      {st->insert_event, "INSERT INTO troupe_events(ordering, persistence_id, sequence_nr, manifest, version, tags, payload)"
                         " VALUES(?1, ?2, ?3, ?4, ?5, ?6, ?7)"},
      {st->insert_run, "INSERT INTO troupe_events_by_id(persistence_id, first_seq, last_seq, first_ordering)"
                       " VALUES(?1, ?2, ?3, ?4)"},
      {st->insert_run_fast, "INSERT OR ROLLBACK INTO troupe_events_by_id(persistence_id, first_seq, last_seq, first_ordering)"
                            " VALUES(?1, ?2, ?3, ?4)"},
      {st->insert_tag, "INSERT INTO troupe_event_tags(tag, ordering) VALUES(?1, ?2)"},
      // OR ROLLBACK: a conflict ends the whole transaction, so SQLite keeps no statement journal
      // (a copy of every page an insert touches, otherwise made for each statement; see write()).
      {st->insert_row, "INSERT OR ROLLBACK INTO troupe_events(ordering, persistence_id, sequence_nr, manifest, version,"
                       " tags, payload) VALUES(?, ?, ?, ?, ?, ?, ?)"},
      {st->insert_rows, insert_rows_sql.c_str()},
      {st->insert_rows_small, insert_rows_small_sql.c_str()},
      {st->insert_runs, insert_runs_sql.c_str()},
      {st->insert_runs_small, insert_runs_small_sql.c_str()},
      {st->max_ordering, "SELECT max(coalesce((SELECT max(ordering) FROM troupe_events), 0),"
                         " coalesce((SELECT highest FROM troupe_deleted_offset WHERE id = 1), 0))"},
      // Before deleting: every offset handed out so far stays used (the table's max is enough).
      {st->keep_deleted_offset, "INSERT INTO troupe_deleted_offset(id, highest)"
                                " SELECT 1, m FROM (SELECT max(ordering) AS m FROM troupe_events) WHERE m IS NOT NULL"
                                " ON CONFLICT(id) DO UPDATE SET highest = max(highest, excluded.highest)"},
      {st->insert_tag_fast, "INSERT OR ROLLBACK INTO troupe_event_tags(tag, ordering) VALUES(?1, ?2)"},
      // The runs holding from (?2) to (?3): from the last one starting at or before from on.
      {st->runs, "SELECT first_seq, last_seq, first_ordering FROM troupe_events_by_id WHERE persistence_id = ?1"
                 " AND first_seq >= coalesce((SELECT first_seq FROM troupe_events_by_id WHERE persistence_id = ?1"
                 " AND first_seq <= ?2 ORDER BY first_seq DESC LIMIT 1), 0) AND first_seq <= ?3 ORDER BY first_seq"},
      {st->read_range, "SELECT " TROUPE_EVENT_COLUMNS " FROM troupe_events WHERE ordering BETWEEN ?1 AND ?2 ORDER BY ordering"},
      {st->read_by_tag, "SELECT e.ordering, e.persistence_id, e.sequence_nr, e.manifest, e.version, e.tags, e.payload"
                        " FROM troupe_event_tags t JOIN troupe_events e ON e.ordering = t.ordering"
                        " WHERE t.tag = ?1 AND t.ordering > ?2 ORDER BY t.ordering LIMIT ?3"},
      {st->runs_up_to, "SELECT first_seq, last_seq, first_ordering FROM troupe_events_by_id"
                       " WHERE persistence_id = ?1 AND first_seq <= ?2 ORDER BY first_seq"},
      {st->tags_in_range, "SELECT ordering, tags FROM troupe_events WHERE ordering BETWEEN ?1 AND ?2 AND tags <> ''"},
      {st->delete_tag, "DELETE FROM troupe_event_tags WHERE tag = ?1 AND ordering = ?2"},
      {st->delete_range, "DELETE FROM troupe_events WHERE ordering BETWEEN ?1 AND ?2 AND persistence_id = ?3"},
      {st->delete_run, "DELETE FROM troupe_events_by_id WHERE persistence_id = ?1 AND first_seq = ?2"},
      {st->trim_run, "UPDATE troupe_events_by_id SET first_seq = ?3, first_ordering = ?4"
                     " WHERE persistence_id = ?1 AND first_seq = ?2"},
      {st->upsert_deleted, "INSERT INTO troupe_deleted(persistence_id, highest) VALUES(?1, ?2)"
                           " ON CONFLICT(persistence_id) DO UPDATE SET highest = max(highest, excluded.highest)"},
      {st->save_snapshot, "INSERT OR REPLACE INTO troupe_snapshots(persistence_id, sequence_nr, manifest, version, payload)"
                          " VALUES(?1, ?2, ?3, ?4, ?5)"},
      {st->trim_snapshots, "DELETE FROM troupe_snapshots WHERE persistence_id = ?1 AND sequence_nr NOT IN"
                           " (SELECT sequence_nr FROM troupe_snapshots WHERE persistence_id = ?1"
                           " ORDER BY sequence_nr DESC LIMIT ?2)"},
      {st->load_snapshot, "SELECT sequence_nr, manifest, version, payload FROM troupe_snapshots"
                          " WHERE persistence_id = ?1 ORDER BY sequence_nr DESC LIMIT 1"},
      {st->get_state, "SELECT revision, manifest, version, payload FROM troupe_durable_state WHERE persistence_id = ?1"},
      {st->insert_state, "INSERT INTO troupe_durable_state(persistence_id, revision, manifest, version, payload)"
                         " VALUES(?1, ?2, ?3, ?4, ?5) ON CONFLICT(persistence_id) DO NOTHING"},
      {st->update_state, "UPDATE troupe_durable_state SET revision = ?2, manifest = ?3, version = ?4, payload = ?5"
                         " WHERE persistence_id = ?1 AND revision = ?2 - 1"},
  };
  for (auto& [s, sql] : all)
    if (rc = s.prepare(db, sql); rc != SQLITE_OK) {
      auto e = fail(db, rc, (std::string("cannot prepare '") + sql + "'").c_str());
      st.reset();
      return close_with(std::move(e));
    }
  return std::shared_ptr<sqlite_storage>(new sqlite_storage(db, std::move(st), wal_fd, checkpointer));
}

namespace {

// Pages in the WAL before the completer checkpoints them (SQLite's own autocheckpoint default).
constexpr int checkpoint_every = 1000;
// Pages in the WAL before the journal's thread checkpoints itself. The WAL starts over from its
// beginning only when a write transaction begins with every page of it checkpointed; while the
// journal's thread writes batch after batch, the completer's checkpoint is always a batch behind,
// so now and then the writer copies that last batch itself (a few hundred pages) to let it.
constexpr int writer_checkpoint_at = 8 * checkpoint_every;

}  // namespace

sqlite_storage::sqlite_storage(sqlite3* db, std::unique_ptr<statements> st, int wal_fd, sqlite3* checkpointer)
    : db_(db), st_(std::move(st)), wal_fd_(wal_fd), checkpointer_(checkpointer) {
  if (checkpointer_)
    // Replaces SQLite's autocheckpoint on the writer: called on the journal's thread after each
    // commit, with the pages now in the WAL.
    sqlite3_wal_hook(
        db_,
        [](void* self, sqlite3* db, const char*, int pages) {
          // Relaxed: a hint for the completer's next checkpoint; SQLite's own locks order the WAL.
          static_cast<sqlite_storage*>(self)->wal_pages_.store(pages, std::memory_order_relaxed);
          if (pages >= writer_checkpoint_at) sqlite3_wal_checkpoint_v2(db, "main", SQLITE_CHECKPOINT_PASSIVE, nullptr, nullptr);
          return SQLITE_OK;
        },
        this);
}

sqlite_storage::~sqlite_storage() {
  sqlite3_close(checkpointer_);  // first, so that the writer's connection is the last to close
  st_.reset();  // statements are finalized before the connection closes
  sqlite3_close(db_);  // the last connection checkpoints (syncing the WAL first) and removes the WAL
  if (wal_fd_ >= 0) ::close(wal_fd_);
}

void sqlite_storage::after_sync() {
  if (!checkpointer_) return;
  int pages = wal_pages_.load(std::memory_order_relaxed);
  if (pages < checkpointed_) checkpointed_ = 0;  // the WAL started over
  if (pages - checkpointed_ < checkpoint_every) return;
  // PASSIVE: copies what no reader still needs, never waits for the writer. A failure (another
  // checkpoint under way, an I/O error) leaves the WAL as it was: its pages stay the durable copy
  // (SQLite counts them checkpointed only once the database file is synced).
  int log = 0, done = 0;
  if (sqlite3_wal_checkpoint_v2(checkpointer_, "main", SQLITE_CHECKPOINT_PASSIVE, &log, &done) == SQLITE_OK)
    checkpointed_ = done;
}

bool sqlite_storage::syncs_apart() const { return wal_fd_ >= 0; }

result<void> sqlite_storage::sync() {
  // Why an fdatasync of the WAL on a descriptor of our own is enough, with synchronous=NORMAL:
  // a commit appends its frames to the WAL (write(2), no sync) and returns; on Linux fdatasync
  // on any descriptor of the file writes all of its dirty pages, so every commit that returned
  // before this call is on disk after it. SQLite overwrites WAL frames only after a checkpoint
  // has copied them into the database file, and under NORMAL a checkpoint syncs the WAL before
  // copying and the database file after, and the WAL's header is synced when the WAL restarts:
  // frames this call made durable stay durable. A power loss may drop commits no sync covered;
  // their requests were not completed, and SQLite's checksums discard their torn frames.
  if (broken_.load(std::memory_order_acquire))
    return troupe::error{errc::storage_error, "an earlier fdatasync of the WAL failed: reopen the store"};
  int rc;
  do rc = ::fdatasync(wal_fd_);
  while (rc != 0 && errno == EINTR);
  if (rc != 0) {
    int err = errno;
    // Release: write() on the journal's thread refuses from its next batch on (acquire there).
    broken_.store(true, std::memory_order_release);
    return troupe::error{err == ENOSPC || err == EDQUOT ? errc::storage_full : errc::storage_error,
                         std::string("fdatasync of the SQLite WAL failed: ") + std::strerror(err)};
  }
  return {};
}

result<std::uint64_t> sqlite_storage::highest_sequence_nr(const std::string& id) {
  std::uint64_t h = 0;
  for (stmt* s : {&st_->last_seq, &st_->deleted_highest}) {
    s->reset().bind(1, id);
    int rc = s->step();
    if (rc == SQLITE_ROW)
      h = std::max(h, static_cast<std::uint64_t>(sqlite3_column_int64(s->get(), 0)));
    else if (rc != SQLITE_DONE)
      return fail(db_, rc, "reading the highest sequence number");
    s->reset();
  }
  return h;
}

result<sqlite_storage::id_entry*> sqlite_storage::highest_for_write(const std::string& id) {
  if (auto it = highest_.find(id); it != highest_.end()) return &it->second;
  auto h = highest_sequence_nr(id);
  if (!h) return h.error();
  return &highest_.emplace(id, id_entry{*h}).first->second;
}

result<sqlite_storage::id_entry*> sqlite_storage::check(const write_request& w) {
  auto h = highest_for_write(w.persistence_id);
  if (!h) return h.error();
  std::uint64_t& highest = (*h)->highest;
  if (w.expected_next != highest + 1)
    return troupe::error{errc::sequence_conflict, "'" + w.persistence_id + "' expected next " +
                                                      std::to_string(w.expected_next) + ", journal has " + std::to_string(highest)};
  std::uint64_t seq = w.expected_next;
  for (const auto& e : w.events)
    if (e.sequence_nr != seq++ || e.persistence_id != w.persistence_id)
      return troupe::error{errc::sequence_conflict,
                           "events of '" + w.persistence_id + "' must be numbered consecutively from expected_next"};
  // Counted at once: a later request of the id in this batch follows this one. One lookup per
  // request, where a second one to store the count cost about 130 instructions an event.
  highest = w.expected_next + w.events.size() - 1;
  return *h;
}

result<void> sqlite_storage::forget_if_changed() {
  // Inside the write transaction (BEGIN IMMEDIATE): nobody else commits until it ends, and the
  // version read now covers every commit before it.
  int rc = st_->data_version.reset().step();
  if (rc != SQLITE_ROW) {
    st_->data_version.reset();
    return fail(db_, rc, "reading the file's data version");
  }
  auto v = sqlite3_column_int64(st_->data_version.get(), 0);
  st_->data_version.reset();
  if (v != data_version_) {
    highest_.clear();  // another connection committed: any id's highest may have moved
    data_version_ = v;
  }
  return {};
}

result<std::uint64_t> sqlite_storage::next_offset() {
  // Called inside the write transaction: BEGIN IMMEDIATE holds the file's write lock, so nobody
  // else appends or deletes until the batch commits.
  int rc = st_->max_ordering.reset().step();
  if (rc != SQLITE_ROW) {
    st_->max_ordering.reset();
    return fail(db_, rc, "reading the last offset");
  }
  auto next = static_cast<std::uint64_t>(sqlite3_column_int64(st_->max_ordering.get(), 0)) + 1;
  st_->max_ordering.reset();
  return next;
}

result<void> sqlite_storage::insert_fast(std::span<persistent_event* const> rows, std::span<const std::size_t> run_ends,
                                         std::uint64_t next) {
  std::vector<std::string> tags(rows_per_insert);  // bound as SQLITE_STATIC: alive until stepped
  for (std::size_t at = 0; at < rows.size();) {
    const std::size_t left = rows.size() - at;
    const std::size_t n = left >= rows_per_insert ? rows_per_insert : left >= rows_per_small_insert ? rows_per_small_insert : 1;
    stmt& ins = n == rows_per_insert ? st_->insert_rows : n == rows_per_small_insert ? st_->insert_rows_small : st_->insert_row;
    ins.rewind();  // all 7 * n parameters are bound below
    for (std::size_t k = 0; k < n; ++k) {
      persistent_event& e = *rows[at + k];
      e.offset = next++;
      tags[k] = join_tags(e.tags);
      int p = static_cast<int>(k) * 7;
      // Only the batch's first row is given its offset: SQLite numbers a row inserted without
      // one max(rowid) + 1, which is the next offset from then on (offsets are handed out above
      // every one used, and nobody else writes while BEGIN IMMEDIATE holds the lock). That is
      // an append at the table's end, where an explicit key costs a b-tree descent per row.
      if (at + k == 0)
        ins.bind(p + 1, clamp(e.offset));
      else
        ins.bind_null(p + 1);
      ins.bind(p + 2, e.persistence_id)
          .bind(p + 3, clamp(e.sequence_nr))
          .bind(p + 4, e.manifest)
          .bind(p + 5, static_cast<std::int64_t>(e.version))
          .bind(p + 6, tags[k])
          .bind_blob(p + 7, e.payload);
    }
    int rc = ins.step();
    ins.rewind();
    if (rc != SQLITE_DONE) return fail(db_, rc, "appending events");
    // The numbering above, checked: a mismatch (which the lock rules out) sends the batch down
    // the careful path, where every row is given its offset.
    if (static_cast<std::uint64_t>(sqlite3_last_insert_rowid(db_)) != next - 1)
      return troupe::error{errc::storage_error, "SQLite numbered an appended event other than expected"};
    for (std::size_t k = 0; k < n; ++k)
      for (const auto& t : rows[at + k]->tags) {
        rc = st_->insert_tag_fast.reset().bind(1, t).bind(2, clamp(rows[at + k]->offset)).step();
        st_->insert_tag_fast.reset();
        if (rc != SQLITE_DONE) return fail(db_, rc, "tagging an event");
      }
    at += n;
  }
  // One run per id: its rows are consecutive in `rows`, in sequence order, so their offsets are too.
  std::size_t begin = 0;
  for (std::size_t at = 0; at < run_ends.size();) {
    const std::size_t left = run_ends.size() - at;
    const std::size_t n = left >= rows_per_insert ? rows_per_insert : left >= rows_per_small_insert ? rows_per_small_insert : 1;
    stmt& ins = n == rows_per_insert ? st_->insert_runs : n == rows_per_small_insert ? st_->insert_runs_small : st_->insert_run_fast;
    ins.rewind();  // all 4 * n parameters are bound below
    for (std::size_t k = 0; k < n; ++k) {
      const std::size_t end = run_ends[at + k];
      const persistent_event& first = *rows[begin];
      int p = static_cast<int>(k) * 4;
      ins.bind(p + 1, first.persistence_id)
          .bind(p + 2, clamp(first.sequence_nr))
          .bind(p + 3, clamp(rows[end - 1]->sequence_nr))
          .bind(p + 4, clamp(first.offset));
      begin = end;
    }
    int rc = ins.step();
    ins.rewind();
    if (rc != SQLITE_DONE) return fail(db_, rc, "indexing appended events");
    at += n;
  }
  return {};
}

result<void> sqlite_storage::insert(write_request& w, std::uint64_t& next) {
  if (w.events.empty()) return {};
  stmt& insert_event = st_->insert_event;
  stmt& insert_tag = st_->insert_tag;
  for (auto& e : w.events) {
    std::string tags = join_tags(e.tags);
    e.offset = next++;
    auto& ins = insert_event.reset()
                    .bind(1, clamp(e.offset))
                    .bind(2, e.persistence_id)
                    .bind(3, clamp(e.sequence_nr))
                    .bind(4, e.manifest)
                    .bind(5, static_cast<std::int64_t>(e.version))
                    .bind(6, tags)
                    .bind_blob(7, e.payload);
    int rc = ins.step();
    ins.reset();
    if (rc != SQLITE_DONE) return fail(db_, rc, "appending an event");
    for (const auto& t : e.tags) {
      rc = insert_tag.reset().bind(1, t).bind(2, static_cast<std::int64_t>(e.offset)).step();
      insert_tag.reset();
      if (rc != SQLITE_DONE) return fail(db_, rc, "tagging an event");
    }
  }
  int rc = st_->insert_run.reset()
               .bind(1, w.persistence_id)
               .bind(2, clamp(w.expected_next))
               .bind(3, clamp(w.events.back().sequence_nr))
               .bind(4, clamp(w.events.front().offset))
               .step();
  st_->insert_run.reset();
  if (rc != SQLITE_DONE) {
    highest_.erase(w.persistence_id);  // another writer has this id's number: look it up next time
    return fail(db_, rc, "indexing appended events");
  }
  return {};
}

std::optional<std::vector<result<void>>> sqlite_storage::write_batch(std::span<write_request> requests, bool fast) {
  std::vector<result<void>> out;
  out.reserve(requests.size());
  auto rollback = [&] {
    if (!sqlite3_get_autocommit(db_)) {  // OR ROLLBACK may have ended the transaction already
      st_->rollback.reset().step();
      st_->rollback.reset();
    }
    highest_.clear();  // the rows counted there are not in the file
  };
  int rc = st_->begin.reset().step();
  st_->begin.reset();
  if (rc != SQLITE_DONE) {
    out.assign(requests.size(), fail(db_, rc, "beginning a write transaction"));
    return out;
  }
  auto fresh = forget_if_changed();
  auto first_offset = fresh ? next_offset() : result<std::uint64_t>(fresh.error());
  if (!first_offset) {
    rollback();
    out.assign(requests.size(), first_offset.error());
    return out;
  }
  if (fast) {
    // Checked one by one (a later request of an id follows the earlier ones of the batch), then
    // all their rows inserted together, each id's together (one run of offsets per id, see
    // sqlite_schema.hpp), keeping the batch's order among one id's requests; any failed row undoes
    // the batch. The ids are told apart by their entry in highest_, not by comparing strings.
    ++batches_;
    std::size_t groups = 0;
    std::vector<std::pair<std::size_t, std::size_t>> passed;  // (the id's group, request)
    passed.reserve(requests.size());
    for (std::size_t i = 0; i < requests.size(); ++i) {
      auto r = check(requests[i]);  // refused before anything of it is inserted: nothing to undo
      if (r && !requests[i].events.empty()) {
        id_entry& e = **r;
        if (e.batch != batches_) e = id_entry{e.highest, batches_, groups++};
        passed.emplace_back(e.group, i);
      }
      out.push_back(r ? result<void>{} : result<void>(r.error()));
    }
    // Ids in the order of their first request, so that offsets follow the batch's order where
    // each id has one request.
    std::stable_sort(passed.begin(), passed.end(), [](const auto& a, const auto& b) { return a.first < b.first; });
    std::vector<persistent_event*> rows;
    std::vector<std::size_t> run_ends;
    for (std::size_t k = 0; k < passed.size(); ++k) {
      for (auto& e : requests[passed[k].second].events) rows.push_back(&e);
      if (k + 1 == passed.size() || passed[k + 1].first != passed[k].first) run_ends.push_back(rows.size());
    }
    if (auto r = insert_fast(rows, run_ends, *first_offset); !r) {
      rollback();
      return std::nullopt;  // redo the batch request by request
    }
  } else {
    std::uint64_t at = *first_offset;
    for (auto& w : requests) {
      auto r = check(w);
      if (!r) {
        out.push_back(r.error());
        continue;
      }
      // A savepoint per request: one request's conflict undoes only its own rows.
      st_->savepoint.reset().step();
      st_->savepoint.reset();
      std::uint64_t first = at;
      auto ins = insert(w, at);
      if (!ins) {
        at = first;  // the rolled-back rows' offsets were never seen
        highest_.erase(w.persistence_id);  // check() counted the rows rolled back here
        st_->rollback_to.reset().step();
        st_->rollback_to.reset();
      }
      st_->release.reset().step();
      st_->release.reset();
      out.push_back(std::move(ins));
    }
  }
  rc = st_->commit.reset().step();
  st_->commit.reset();
  if (rc != SQLITE_DONE) {
    auto e = fail(db_, rc, "committing a write transaction");
    rollback();
    out.assign(requests.size(), e);
  }
  return out;
}

std::vector<result<void>> sqlite_storage::write(std::span<write_request> requests) {
  if (broken_.load(std::memory_order_acquire))
    return std::vector<result<void>>(requests.size(), troupe::error{errc::storage_error,
                                                                    "an earlier fdatasync of the WAL failed: reopen the store"});
  // Where the time went (callgrind, 100 actors pipelining): a savepoint per request, and a
  // statement journal per inserted row (SQLite copies each page a row touches, in case that one
  // statement must be undone) cost more than the inserts themselves. Conflicts are rare, since
  // the expected sequence number is checked against highest_ before inserting: so the batch is
  // first written with neither (INSERT OR ROLLBACK), and only if a row fails (a full disk) is it
  // rolled back and written again with a savepoint per request, where one request's failure
  // costs only that request.
  if (auto out = write_batch(requests, true)) return std::move(*out);
  return std::move(*write_batch(requests, false));
}

namespace {

// A stretch of one id's events whose sequence numbers and offsets both go up by one.
struct stretch {
  std::uint64_t first_seq, last_seq, first_ordering;
};

}  // namespace

result<std::vector<persistent_event>> sqlite_storage::read(const std::string& id, std::uint64_t from,
                                                           std::uint64_t to, std::uint64_t max) {
  std::vector<persistent_event> out;
  if (max == 0 || from > to) return out;
  // One read transaction for the runs and their rows: another connection deleting events between
  // the two would otherwise look like a missing row.
  if (int rc = st_->begin_read.reset().step(); rc != SQLITE_DONE) {
    st_->begin_read.reset();
    return fail(db_, rc, "beginning a read");
  }
  st_->begin_read.reset();
  struct end_read {
    stmt& commit;
    ~end_read() {
      commit.reset().step();
      commit.reset();
    }
  } end{st_->commit};
  // The id's runs that hold [from, to], cut to it and to `max` events, adjacent ones joined (an
  // actor that wrote alone has one stretch however many batches it took); then each stretch is
  // read as a range of the rowid, in order, without touching an index.
  std::vector<stretch> wanted;
  std::uint64_t count = 0;
  auto& runs = st_->runs.reset().bind(1, id).bind(2, clamp(from)).bind(3, clamp(to));
  int rc = SQLITE_DONE;
  while (count < max && (rc = runs.step()) == SQLITE_ROW) {
    auto* q = runs.get();
    stretch r{static_cast<std::uint64_t>(sqlite3_column_int64(q, 0)), static_cast<std::uint64_t>(sqlite3_column_int64(q, 1)),
              static_cast<std::uint64_t>(sqlite3_column_int64(q, 2))};
    std::uint64_t lo = std::max(from, r.first_seq), hi = std::min(to, r.last_seq);
    if (lo > hi) continue;
    if (hi - lo >= max - count) hi = lo + (max - count - 1);  // at most max in all (no overflow near 2^64)
    stretch s{lo, hi, r.first_ordering + (lo - r.first_seq)};
    count += hi - lo + 1;
    if (!wanted.empty() && wanted.back().last_seq + 1 == s.first_seq &&
        wanted.back().first_ordering + (wanted.back().last_seq - wanted.back().first_seq) + 1 == s.first_ordering)
      wanted.back().last_seq = s.last_seq;
    else
      wanted.push_back(s);
  }
  if (count < max && rc != SQLITE_DONE) {
    runs.reset();
    return fail(db_, rc, "reading events");
  }
  runs.reset();
  out.reserve(static_cast<std::size_t>(std::min<std::uint64_t>(count, 1 << 20)));
  for (const auto& s : wanted) {
    std::uint64_t seq = s.first_seq;
    auto& range = st_->read_range.reset().bind(1, clamp(s.first_ordering)).bind(2, clamp(s.first_ordering + (s.last_seq - s.first_seq)));
    while ((rc = range.step()) == SQLITE_ROW) {
      auto* q = range.get();
      // A row of the run must be the event it stands for: anything else is a damaged file.
      sqlite3_value* pid = sqlite3_column_value(q, 1);
      if (sqlite3_value_type(pid) != SQLITE_TEXT || static_cast<std::size_t>(sqlite3_value_bytes(pid)) != id.size() ||
          std::memcmp(sqlite3_value_text(pid), id.data(), id.size()) != 0 ||
          static_cast<std::uint64_t>(sqlite3_column_int64(q, 2)) != seq) {
        auto e = troupe::error{errc::corrupt, "event row with ordering " + std::to_string(sqlite3_column_int64(q, 0)) +
                                                  " is not event " + std::to_string(seq) + " of '" + id + "'"};
        range.reset();
        return e;
      }
      if (auto r = event_row(q, &id, out.emplace_back()); !r) {
        range.reset();
        return r.error();
      }
      ++seq;
    }
    range.reset();
    if (rc != SQLITE_DONE) return fail(db_, rc, "reading events");
    if (seq != s.last_seq + 1)
      return troupe::error{errc::corrupt, "event " + std::to_string(seq) + " of '" + id + "' is missing from the file"};
  }
  return out;
}

result<void> sqlite_storage::delete_up_to(const std::string& id, std::uint64_t to) {
  auto h = highest_sequence_nr(id);
  if (!h) return h.error();
  int rc = st_->begin.reset().step();
  st_->begin.reset();
  if (rc != SQLITE_DONE) return fail(db_, rc, "beginning a delete");
  auto fail_rollback = [&](int code, const char* what) {
    auto e = fail(db_, code, what);
    st_->rollback.reset().step();
    st_->rollback.reset();
    return e;
  };
  rc = st_->upsert_deleted.reset().bind(1, id).bind(2, clamp(*h)).step();
  st_->upsert_deleted.reset();
  if (rc != SQLITE_DONE) return fail_rollback(rc, "deleting events");
  rc = st_->keep_deleted_offset.reset().step();
  st_->keep_deleted_offset.reset();
  if (rc != SQLITE_DONE) return fail_rollback(rc, "deleting events");
  std::vector<stretch> runs;
  auto& q = st_->runs_up_to.reset().bind(1, id).bind(2, clamp(to));
  while ((rc = q.step()) == SQLITE_ROW)
    runs.push_back({static_cast<std::uint64_t>(sqlite3_column_int64(q.get(), 0)),
                    static_cast<std::uint64_t>(sqlite3_column_int64(q.get(), 1)),
                    static_cast<std::uint64_t>(sqlite3_column_int64(q.get(), 2))});
  q.reset();
  if (rc != SQLITE_DONE) return fail_rollback(rc, "deleting events");
  for (const auto& r : runs) {
    // The run's events up to `to`: their tags (each by its key), the rows, then the run itself,
    // gone or starting after `to`.
    std::uint64_t last = std::min(r.last_seq, to), lo = r.first_ordering, hi = r.first_ordering + (last - r.first_seq);
    std::vector<std::pair<std::int64_t, std::string>> tagged;
    auto& t = st_->tags_in_range.reset().bind(1, clamp(lo)).bind(2, clamp(hi));
    while ((rc = t.step()) == SQLITE_ROW) tagged.emplace_back(sqlite3_column_int64(t.get(), 0), column_text(t.get(), 1));
    t.reset();
    if (rc != SQLITE_DONE) return fail_rollback(rc, "deleting events");
    for (const auto& [ordering, tags] : tagged)
      for (const auto& tag : split_tags(tags)) {
        rc = st_->delete_tag.reset().bind(1, tag).bind(2, ordering).step();
        st_->delete_tag.reset();
        if (rc != SQLITE_DONE) return fail_rollback(rc, "deleting events");
      }
    rc = st_->delete_range.reset().bind(1, clamp(lo)).bind(2, clamp(hi)).bind(3, id).step();
    st_->delete_range.reset();
    if (rc != SQLITE_DONE) return fail_rollback(rc, "deleting events");
    stmt& run = last == r.last_seq ? st_->delete_run.reset().bind(1, id).bind(2, clamp(r.first_seq))
                                   : st_->trim_run.reset().bind(1, id).bind(2, clamp(r.first_seq)).bind(3, clamp(last + 1)).bind(4, clamp(hi + 1));
    rc = run.step();
    run.reset();
    if (rc != SQLITE_DONE) return fail_rollback(rc, "deleting events");
  }
  rc = st_->commit.reset().step();
  st_->commit.reset();
  if (rc != SQLITE_DONE) return fail_rollback(rc, "committing a delete");
  return {};
}

result<std::vector<persistent_event>> sqlite_storage::read_by_tag(const std::string& tag, std::uint64_t after,
                                                                  std::uint64_t max) {
  return read_events(db_, st_->read_by_tag.reset().bind(1, tag).bind(2, clamp(after)).bind(3, clamp(max)),
                     "reading events by tag", std::min<std::uint64_t>(max, 4096));
}

result<void> sqlite_storage::save_snapshot(const snapshot& snap, std::uint32_t keep) {
  // Autocommit: the save is durable on its own; trimming afterwards may be lost, never the save.
  auto& s = st_->save_snapshot.reset()
                .bind(1, snap.persistence_id)
                .bind(2, clamp(snap.sequence_nr))
                .bind(3, snap.manifest)
                .bind(4, static_cast<std::int64_t>(snap.version))
                .bind_blob(5, snap.payload);
  int rc = s.step();
  s.reset();
  if (rc != SQLITE_DONE) return fail(db_, rc, "saving a snapshot");
  if (keep > 0) {
    rc = st_->trim_snapshots.reset().bind(1, snap.persistence_id).bind(2, static_cast<std::int64_t>(keep)).step();
    st_->trim_snapshots.reset();
    if (rc != SQLITE_DONE) return fail(db_, rc, "deleting old snapshots");
  }
  return {};
}

result<std::optional<snapshot>> sqlite_storage::load_snapshot(const std::string& id) {
  return read_versioned_row<snapshot>(db_, st_->load_snapshot, id, "snapshot", "loading a snapshot");
}

result<std::optional<durable_state>> sqlite_storage::get_state(const std::string& id) {
  return read_versioned_row<durable_state>(db_, st_->get_state, id, "durable state", "reading a durable state");
}

result<void> sqlite_storage::upsert_state(const durable_state& st) {
  // Revision 1 inserts (and does nothing if a row exists); later ones update only the row at
  // the previous revision. Either way no changed row means another writer got there first.
  auto& s = (st.revision == 1 ? st_->insert_state : st_->update_state)
                .reset()
                .bind(1, st.persistence_id)
                .bind(2, clamp(st.revision))
                .bind(3, st.manifest)
                .bind(4, static_cast<std::int64_t>(st.version))
                .bind_blob(5, st.payload);
  int rc = s.step();
  s.reset();
  if (rc != SQLITE_DONE) return fail(db_, rc, "saving a durable state");
  if (sqlite3_changes(db_) == 0)
    return troupe::error{errc::revision_conflict, "'" + st.persistence_id + "' is not at revision " +
                                                      std::to_string(st.revision - 1) + "; reload it and retry"};
  return {};
}

}  // namespace troupe::persistence
