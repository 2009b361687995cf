// troupe-persist-floor: the plain C++ loop of issue 14's ceiling, inserting the rows troupe's
// SQLite journal writes into the tables it writes them to, with no troupe in it.
//   troupe-persist-floor N B [FULL|NORMAL] [R]
// N events of 100 actors ("e0".."e99", sequence numbers from 1), each with the manifest,
// version, empty tags and 117-byte payload (serial's 17-byte header and 100 bytes) the
// benchmark's events get, in transactions of B rows, WAL mode with the given synchronous
// setting; R rows per prepared INSERT (default 1, sqlitefloor's shape; 64 is the journal's own,
// the tighter ceiling). B must be a multiple of R. Each transaction holds B / 100 events of every
// actor, written as the journal writes a batch: each actor's events together, then one row per
// actor in troupe_events_by_id (its run; see src/persistence/sqlite_schema.hpp, whose tables
// this creates, so that the two cannot drift apart). ../shared/peers/persistence/sqlitefloor's
// `append` loop has neither that lookup nor the text columns; bench/persist.md ("A same-rows
// ceiling") says why both are reported.
// Prints: sqlite journal <SYNC>, <B> rows/txn, <R> rows/insert: insert <rate> rows/s
#include <sqlite3.h>

#include <algorithm>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <string>

#include "sqlite_schema.hpp"

int main(int argc, char** argv) {
  const long n = argc > 1 ? std::atol(argv[1]) : 1'000'000;
  const long b = argc > 2 ? std::atol(argv[2]) : 1000;
  const std::string sync = argc > 3 ? argv[3] : "FULL";
  const long r = argc > 4 ? std::atol(argv[4]) : 1;
  if (r < 1 || b % r != 0 || n % r != 0) {
    std::fprintf(stderr, "rows per insert must divide B and N\n");
    return 2;
  }
  const char* tmp = std::getenv("TMPDIR");
  const std::string path = std::string(tmp ? tmp : "/tmp") + "/troupe-persist-floor.db";
  for (const char* suffix : {"", "-wal", "-shm"}) std::remove((path + suffix).c_str());
  sqlite3* db = nullptr;
  if (sqlite3_open(path.c_str(), &db) != SQLITE_OK) {
    std::fprintf(stderr, "cannot open %s\n", path.c_str());
    return 1;
  }
  const std::string setup = "PRAGMA journal_mode=WAL; PRAGMA synchronous=" + sync + ";" +
                            troupe::persistence::detail::sqlite_event_tables;
  sqlite3_stmt* ins = nullptr;
  sqlite3_stmt* run = nullptr;
  std::string insert = "INSERT INTO troupe_events(persistence_id, sequence_nr, manifest, version, tags, payload) VALUES";
  for (long k = 0; k < r; ++k) insert += k ? ",(?,?,?,?,?,?)" : "(?,?,?,?,?,?)";
  if (sqlite3_exec(db, setup.c_str(), nullptr, nullptr, nullptr) != SQLITE_OK ||
      sqlite3_prepare_v2(db, insert.c_str(), -1, &ins, nullptr) != SQLITE_OK ||
      sqlite3_prepare_v2(db, "INSERT INTO troupe_events_by_id(persistence_id, first_seq, last_seq, first_ordering) VALUES(?,?,?,?)",
                         -1, &run, nullptr) != SQLITE_OK) {
    std::fprintf(stderr, "%s\n", sqlite3_errmsg(db));
    return 1;
  }
  constexpr int actors = 100;
  std::string ids[actors];
  for (int i = 0; i < actors; ++i) ids[i] = "e" + std::to_string(i);
  long next_seq[actors];
  for (long& q : next_seq) q = 1;
  const std::string manifest = "bench_persist::recorded";
  const std::string payload = std::string(17, '\x01') + std::string(100, 'x');
  auto t0 = std::chrono::steady_clock::now();
  for (long i = 0; i < n;) {
    sqlite3_exec(db, "BEGIN", nullptr, nullptr, nullptr);
    const long rows = std::min(b, n - i);
    const sqlite3_int64 first_ordering = sqlite3_last_insert_rowid(db) + 1;
    long first_row[actors] = {}, count[actors] = {};
    for (long j = 0; j < rows; j += r) {
      for (int p = 0; p < 6 * r; p += 6) {
        const long row = j + p / 6;
        const int a = static_cast<int>(row * actors / rows);  // each actor's rows together, as a batch of the journal
        if (count[a]++ == 0) first_row[a] = row;
        sqlite3_bind_text(ins, p + 1, ids[a].data(), static_cast<int>(ids[a].size()), SQLITE_STATIC);
        sqlite3_bind_int64(ins, p + 2, next_seq[a]++);
        sqlite3_bind_text(ins, p + 3, manifest.data(), static_cast<int>(manifest.size()), SQLITE_STATIC);
        sqlite3_bind_int64(ins, p + 4, 1);
        sqlite3_bind_text(ins, p + 5, "", 0, SQLITE_STATIC);
        sqlite3_bind_blob(ins, p + 6, payload.data(), static_cast<int>(payload.size()), SQLITE_STATIC);
      }
      if (sqlite3_step(ins) != SQLITE_DONE) {
        std::fprintf(stderr, "%s\n", sqlite3_errmsg(db));
        return 1;
      }
      sqlite3_reset(ins);
    }
    for (int a = 0; a < actors; ++a) {
      if (count[a] == 0) continue;
      sqlite3_bind_text(run, 1, ids[a].data(), static_cast<int>(ids[a].size()), SQLITE_STATIC);
      sqlite3_bind_int64(run, 2, next_seq[a] - count[a]);
      sqlite3_bind_int64(run, 3, next_seq[a] - 1);
      sqlite3_bind_int64(run, 4, first_ordering + first_row[a]);
      if (sqlite3_step(run) != SQLITE_DONE) {
        std::fprintf(stderr, "%s\n", sqlite3_errmsg(db));
        return 1;
      }
      sqlite3_reset(run);
    }
    i += rows;
    if (sqlite3_exec(db, "COMMIT", nullptr, nullptr, nullptr) != SQLITE_OK) {
      std::fprintf(stderr, "%s\n", sqlite3_errmsg(db));
      return 1;
    }
  }
  const double s = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
  std::printf("sqlite journal %s, %ld rows/txn, %ld rows/insert: insert %.0f rows/s\n", sync.c_str(), b, r,
              static_cast<double>(n) / s);
  sqlite3_finalize(ins);
  sqlite3_finalize(run);
  sqlite3_close(db);
  for (const char* suffix : {"", "-wal", "-shm"}) std::remove((path + suffix).c_str());
  return 0;
}
