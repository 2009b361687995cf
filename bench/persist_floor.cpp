// troupe-persist-floor: the plain C++ loop of issue 14's ceiling, inserting the rows troupe's
// SQLite journal writes into the table and index it writes them to, with no troupe in it.
//   troupe-persist-floor N B [FULL|NORMAL] [R]
// N events of 100 actors interleaved ("e0".."e99", sequence numbers from 1), each with the
// manifest, version, empty tags and 117-byte payload (serial's 17-byte header and 100 bytes) the
// benchmark's events get, in transactions of B rows, WAL mode with the given synchronous
// setting; R rows per prepared INSERT (default 1, sqlitefloor's shape; 64 is the journal's own,
// the tighter ceiling). B must be a multiple of R. The table and its unique (persistence_id,
// sequence_nr) index are sqlite_storage's (src/persistence/sqlite_storage.cpp; keep them alike):
// the index is what makes two writers of one id conflict, so a journal that keeps the promise
// cannot skip it. ../shared/peers/persistence/sqlitefloor's `append` loop has neither the index
// nor the text columns; bench/persist.md ("A same-rows ceiling") says why both are reported.
// Prints: sqlite journal <SYNC>, <B> rows/txn, <R> rows/insert: insert <rate> rows/s
#include <sqlite3.h>

#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <string>

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
  const std::string setup = "PRAGMA journal_mode=WAL; PRAGMA synchronous=" + sync + R"sql(;
CREATE TABLE troupe_events(
  ordering INTEGER PRIMARY KEY,
  persistence_id TEXT NOT NULL,
  sequence_nr INTEGER NOT NULL,
  manifest TEXT NOT NULL,
  version INTEGER NOT NULL,
  tags TEXT NOT NULL,
  payload BLOB NOT NULL);
CREATE UNIQUE INDEX troupe_events_by_id ON troupe_events(persistence_id, sequence_nr);
)sql";
  sqlite3_stmt* ins = nullptr;
  std::string insert = "INSERT INTO troupe_events(persistence_id, sequence_nr, manifest, version, tags, payload) VALUES";
  for (long k = 0; k < r; ++k) insert += k ? ",(?,?,?,?,?,?)" : "(?,?,?,?,?,?)";
  if (sqlite3_exec(db, setup.c_str(), nullptr, nullptr, nullptr) != SQLITE_OK ||
      sqlite3_prepare_v2(db, insert.c_str(), -1, &ins, nullptr) != SQLITE_OK) {
    std::fprintf(stderr, "%s\n", sqlite3_errmsg(db));
    return 1;
  }
  std::string ids[100];
  for (int i = 0; i < 100; ++i) ids[i] = "e" + std::to_string(i);
  const std::string manifest = "bench_persist::recorded";
  const std::string payload = std::string(17, '\x01') + std::string(100, 'x');
  auto t0 = std::chrono::steady_clock::now();
  for (long i = 0; i < n;) {
    sqlite3_exec(db, "BEGIN", nullptr, nullptr, nullptr);
    for (long k = 0; k < b && i < n; k += r) {
      for (int p = 0; p < 6 * r; p += 6, ++i) {
        const std::string& id = ids[i % 100];
        sqlite3_bind_text(ins, p + 1, id.data(), static_cast<int>(id.size()), SQLITE_STATIC);
        sqlite3_bind_int64(ins, p + 2, i / 100 + 1);
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
    if (sqlite3_exec(db, "COMMIT", nullptr, nullptr, nullptr) != SQLITE_OK) {
      std::fprintf(stderr, "%s\n", sqlite3_errmsg(db));
      return 1;
    }
  }
  const double s = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
  std::printf("sqlite journal %s, %ld rows/txn, %ld rows/insert: insert %.0f rows/s\n", sync.c_str(), b, r,
              static_cast<double>(n) / s);
  sqlite3_finalize(ins);
  sqlite3_close(db);
  for (const char* suffix : {"", "-wal", "-shm"}) std::remove((path + suffix).c_str());
  return 0;
}
