// What the SQLite store adds to the journal contract: a file that outlives its journal, WAL,
// and clear errors for a file it cannot open or a row it cannot read.
#include "troupe/persistence/sqlite_storage.hpp"

#include <gtest/gtest.h>
#include <sqlite3.h>

#include <algorithm>
#include <filesystem>
#include <mutex>
#include <functional>
#include <condition_variable>

#include "journal_fixture.hpp"

namespace {

using namespace troupe_test;
using persistence::errc;

void write_request_ok(persistence::storage& s) {
  std::vector<persistence::write_request> ws{{"a", 1, {event_of("a", 1, "one"), event_of("a", 2, "two")}}};
  auto r = s.write(ws);
  ASSERT_EQ(r.size(), 1u);
  ASSERT_TRUE(r[0]) << r[0].error().message();
}

// Two stores on one file, the set-up of the tests of one writer per sequence number: each store
// caches the highest numbers it wrote, which the other's writes make stale.
struct two_stores_on_one_file {
  temp_dir dir;
  std::string path = (dir.path() / "j.db").string();
  decltype(persistence::sqlite_storage::open(path)) a = persistence::sqlite_storage::open(path);
  decltype(persistence::sqlite_storage::open(path)) b = persistence::sqlite_storage::open(path);
};

// Writes event `seq` of id "x" alone and returns its outcome.
auto write_x(persistence::storage& s, std::uint64_t seq) {
  std::vector<persistence::write_request> ws{{"x", seq, {event_of("x", seq, "e")}}};
  return s.write(ws)[0];
}

TEST(SqliteStorage, KeepsEventsInItsFileAcrossJournals) {
  temp_dir dir;
  auto path = (dir.path() / "j.db").string();
  {
    auto s = persistence::sqlite_storage::open(path);
    ASSERT_TRUE(s) << s.error().message();
    auto j = persistence::journal::start(*s);
    persistence::write_request w{"a", 1, {event_of("a", 1, "kept")}};
    ASSERT_TRUE(await<void>([&](auto d) { j->async_write(std::move(w), std::move(d)); }));
  }
  auto s = persistence::sqlite_storage::open(path);
  ASSERT_TRUE(s);
  auto evs = (*s)->read("a", 1, UINT64_MAX, UINT64_MAX);
  ASSERT_TRUE(evs);
  ASSERT_EQ(evs->size(), 1u);
  EXPECT_EQ(text_of((*evs)[0].payload), "kept");
  EXPECT_TRUE(std::filesystem::exists(dir.path() / "j.db-wal") || std::filesystem::exists(dir.path() / "j.db"));
}

TEST(SqliteStorage, ADurableFileSyncsItsWalApartAndANonDurableOrInMemoryOneDoesNot) {
  temp_dir dir;
  auto durable = persistence::sqlite_storage::open((dir.path() / "d.db").string());
  ASSERT_TRUE(durable) << durable.error().message();
  EXPECT_TRUE((*durable)->syncs_apart());
  write_request_ok(**durable);
  auto synced = (*durable)->sync();
  EXPECT_TRUE(synced) << synced.error().message();
  // What a commit that syncs apart leaves in the file is there for another connection at once.
  auto other = persistence::sqlite_storage::open((dir.path() / "d.db").string());
  ASSERT_TRUE(other);
  auto evs = (*other)->read("a", 1, UINT64_MAX, UINT64_MAX);
  ASSERT_TRUE(evs);
  EXPECT_EQ(evs->size(), 2u);

  auto fast = persistence::sqlite_storage::open((dir.path() / "n.db").string(), {.durable = false});
  ASSERT_TRUE(fast);
  EXPECT_FALSE((*fast)->syncs_apart());
  auto memory = persistence::sqlite_storage::open(":memory:");
  ASSERT_TRUE(memory) << memory.error().message();
  EXPECT_FALSE((*memory)->syncs_apart());  // no WAL to sync: SQLite's own synchronous=FULL
  write_request_ok(**memory);
}

TEST(SqliteStorage, CheckpointsApartAndKeepsTheWalBoundedUnderAWriterThatNeverPauses) {
  // Through a journal with requests always in flight, so its thread writes the next batch while
  // the completer syncs and checkpoints the last: the completer's checkpoint is always a batch
  // behind, and without the writer's own occasional one the WAL would never start over (it
  // would hold all 80 MB written here).
  temp_dir dir;
  auto path = dir.path() / "w.db";
  auto s = persistence::sqlite_storage::open(path.string());
  ASSERT_TRUE(s) << s.error().message();
  ASSERT_TRUE((*s)->syncs_apart());
  auto j = persistence::journal::start(*s);
  const std::string payload(8000, 'p');  // two pages or more an event
  constexpr std::uint64_t requests = 200, per_request = 50, window = 3;
  std::mutex mu, first_sent;
  std::condition_variable done_cv;
  std::uint64_t done = 0, failed = 0;
  std::string first_error;
  std::uintmax_t largest_wal = 0;
  std::function<void(std::uint64_t)> send = [&](std::uint64_t i) {
    persistence::write_request w{"a", i * per_request + 1, {}};
    for (std::uint64_t k = 0; k < per_request; ++k) w.events.push_back(event_of("a", i * per_request + 1 + k, payload));
    j->async_write(std::move(w), [&, i](troupe::result<void> r) {
      std::error_code ec;
      auto wal = std::filesystem::file_size(path.string() + "-wal", ec);
      if (i + window < requests) {
        std::lock_guard first(first_sent);  // not before the first `window` are queued, in order
        send(i + window);
      }
      std::lock_guard lock(mu);
      if (!r && failed++ == 0) first_error = r.error().message();
      if (!ec) largest_wal = std::max(largest_wal, wal);
      ++done;
      done_cv.notify_all();
    });
  };
  {
    std::lock_guard first(first_sent);
    for (std::uint64_t i = 0; i < window; ++i) send(i);
  }
  bool all = false;
  {
    std::unique_lock lock(mu);
    all = done_cv.wait_for(lock, std::chrono::seconds(60), [&] { return done == requests; });
  }
  j->close();  // before the test's locals go, which the completions use
  ASSERT_TRUE(all);
  EXPECT_EQ(failed, 0u) << first_error;
  EXPECT_LT(largest_wal, 12'000u * 4096u);  // the bound: about 8,000 pages, plus a batch
  EXPECT_GT(std::filesystem::file_size(path), 8'000u * 4096u);  // checkpointed into the file
  auto evs = (*s)->read("a", 1, UINT64_MAX, UINT64_MAX);
  ASSERT_TRUE(evs);
  EXPECT_EQ(evs->size(), requests * per_request);
}

TEST(SqliteStorage, TwoStoresOnOneFileCannotBothWriteOneSequenceNumber) {
  // Each store remembers the highest sequence number it wrote; the other's writes make that
  // stale, and the store must notice (PRAGMA data_version) and refuse the duplicate.
  two_stores_on_one_file files;
  auto& [dir, path, a, b] = files;
  ASSERT_TRUE(a && b);
  const auto write = write_x;
  ASSERT_TRUE(write(**a, 1));
  EXPECT_EQ(write(**b, 1).error(), errc::sequence_conflict);  // b looks up: 1 is taken
  ASSERT_TRUE(write(**a, 2));
  auto stale = write(**b, 2);  // b believes the highest is 1
  ASSERT_FALSE(stale);
  EXPECT_EQ(stale.error(), errc::sequence_conflict) << stale.error().message();
  EXPECT_TRUE(write(**b, 3));  // and looks again after the conflict
  auto evs = (*a)->read("x", 1, UINT64_MAX, UINT64_MAX);
  ASSERT_TRUE(evs);
  EXPECT_EQ(evs->size(), 3u);
}

TEST(SqliteStorage, AStoreWhoseHighestIsStaleRefusesANumberAnotherStoreWroteAndDeleted) {
  // No row is left for a key to refuse: the store must look up the id again because the other
  // store committed since (PRAGMA data_version), and find the number in troupe_deleted.
  two_stores_on_one_file files;
  auto& [dir, path, a, b] = files;
  ASSERT_TRUE(a && b);
  const auto write = write_x;
  ASSERT_TRUE(write(**b, 1));  // b now knows x's highest as 1
  ASSERT_TRUE(write(**a, 2));
  ASSERT_TRUE((*a)->delete_up_to("x", 2));
  auto stale = write(**b, 2);
  ASSERT_FALSE(stale);
  EXPECT_EQ(stale.error(), errc::sequence_conflict) << stale.error().message();
  EXPECT_TRUE(write(**b, 3));
}

TEST(SqliteStorage, AStaleConflictInABatchFailsOnlyItsRequestAndTheOthersLandWithTheirOffsets) {
  // Another store wrote the id since this one last did: only that request is refused, before
  // anything of the batch is inserted.
  two_stores_on_one_file files;
  auto& [dir, path, a, b] = files;
  ASSERT_TRUE(a && b);
  std::vector<persistence::write_request> first{{"x", 1, {event_of("x", 1, "a1")}}};
  ASSERT_TRUE((*a)->write(first)[0]);
  std::vector<persistence::write_request> other{{"x", 2, {event_of("x", 2, "b2")}}};
  ASSERT_TRUE((*b)->write(other)[0]);
  std::vector<persistence::write_request> batch;
  batch.push_back({"y", 1, {event_of("y", 1, "y1"), event_of("y", 2, "y2", {"t"})}});
  batch.push_back({"x", 2, {event_of("x", 2, "stale")}});  // a believes x's highest is 1
  batch.push_back({"z", 1, {event_of("z", 1, "z1")}});
  auto r = (*a)->write(batch);
  ASSERT_EQ(r.size(), 3u);
  EXPECT_TRUE(r[0]) << r[0].error().message();
  ASSERT_FALSE(r[1]);
  EXPECT_EQ(r[1].error(), errc::sequence_conflict) << r[1].error().message();
  EXPECT_TRUE(r[2]) << r[2].error().message();
  auto x = (*a)->read("x", 1, UINT64_MAX, UINT64_MAX);
  ASSERT_TRUE(x);
  ASSERT_EQ(x->size(), 2u);
  EXPECT_EQ(text_of((*x)[1].payload), "b2");
  auto tagged = (*a)->read_by_tag("t", 0, UINT64_MAX);
  ASSERT_TRUE(tagged);
  ASSERT_EQ(tagged->size(), 1u);
  EXPECT_EQ(text_of((*tagged)[0].payload), "y2");
  EXPECT_EQ((*tagged)[0].offset, batch[0].events[1].offset);  // the offset reported is the stored one
  auto y = (*a)->read("y", 1, UINT64_MAX, UINT64_MAX);
  ASSERT_TRUE(y);
  ASSERT_EQ(y->size(), 2u);
  EXPECT_EQ((*y)[0].offset, batch[0].events[0].offset);
}

TEST(SqliteStorage, ABatchRedoneRequestByRequestTakesNoOffsetOfDeletedEvents) {
  // The batch falls back to a savepoint per request (a stale conflict); that path must hand out
  // offsets above every deleted one too, not SQLite's max(rowid) + 1.
  two_stores_on_one_file files;
  auto& [dir, path, a, b] = files;
  ASSERT_TRUE(a && b);
  std::vector<persistence::write_request> x1{{"x", 1, {event_of("x", 1, "x1")}}};
  ASSERT_TRUE((*a)->write(x1)[0]);
  std::vector<persistence::write_request> x2{{"x", 2, {event_of("x", 2, "x2")}}};
  ASSERT_TRUE((*b)->write(x2)[0]);
  std::vector<persistence::write_request> old{{"old", 1, {event_of("old", 1, "o1"), event_of("old", 2, "o2")}}};
  ASSERT_TRUE((*a)->write(old)[0]);
  std::uint64_t newest = old[0].events[1].offset;
  ASSERT_TRUE((*b)->delete_up_to("old", 2));
  std::vector<persistence::write_request> batch;
  batch.push_back({"x", 2, {event_of("x", 2, "stale")}});  // a believes x's highest is 1
  batch.push_back({"y", 1, {event_of("y", 1, "y1", {"t"})}});
  auto r = (*a)->write(batch);
  ASSERT_EQ(r.size(), 2u);
  EXPECT_FALSE(r[0]);
  ASSERT_TRUE(r[1]) << r[1].error().message();
  EXPECT_GT(batch[1].events[0].offset, newest);
  auto tagged = (*b)->read_by_tag("t", newest, UINT64_MAX);
  ASSERT_TRUE(tagged);
  ASSERT_EQ(tagged->size(), 1u);
  EXPECT_EQ(text_of((*tagged)[0].payload), "y1");
}

TEST(SqliteStorage, ARowThatFailsSendsTheBatchRequestByRequestAndOnlyItsRequestFails) {
  // The fast path inserts a batch without savepoints; a row SQLite refuses (here a trigger, as a
  // full disk would) rolls it back, and it is written again a savepoint per request, each id's
  // events still found through their runs afterwards.
  temp_dir dir;
  auto path = (dir.path() / "j.db").string();
  auto s = persistence::sqlite_storage::open(path);
  ASSERT_TRUE(s);
  std::vector<persistence::write_request> first{{"x", 1, {event_of("x", 1, "x1")}}};
  ASSERT_TRUE((*s)->write(first)[0]);
  sqlite3* db = nullptr;
  ASSERT_EQ(sqlite3_open(path.c_str(), &db), SQLITE_OK);
  ASSERT_EQ(sqlite3_exec(db,
                         "CREATE TRIGGER poison BEFORE INSERT ON troupe_events WHEN NEW.payload = CAST('poison' AS BLOB)"
                         " BEGIN SELECT RAISE(ABORT, 'poisoned row'); END",
                         nullptr, nullptr, nullptr),
            SQLITE_OK);
  sqlite3_close(db);
  std::vector<persistence::write_request> batch;
  batch.push_back({"x", 2, {event_of("x", 2, "x2"), event_of("x", 3, "x3", {"t"})}});
  batch.push_back({"y", 1, {event_of("y", 1, "y1"), event_of("y", 2, "poison")}});
  batch.push_back({"x", 4, {event_of("x", 4, "x4")}});
  auto r = (*s)->write(batch);
  ASSERT_EQ(r.size(), 3u);
  EXPECT_TRUE(r[0]) << r[0].error().message();
  EXPECT_FALSE(r[1]);
  EXPECT_TRUE(r[2]) << r[2].error().message();
  auto x = (*s)->read("x", 2, UINT64_MAX, UINT64_MAX);
  ASSERT_TRUE(x) << x.error().message();
  ASSERT_EQ(x->size(), 3u);
  EXPECT_EQ(text_of((*x)[2].payload), "x4");
  EXPECT_EQ((*x)[1].offset, batch[0].events[1].offset);
  EXPECT_EQ((*(*s)->read_by_tag("t", 0, UINT64_MAX))[0].offset, batch[0].events[1].offset);
  EXPECT_EQ(*(*s)->highest_sequence_nr("y"), 0u);  // nothing of the failed request stayed
  std::vector<persistence::write_request> again{{"y", 1, {event_of("y", 1, "y1")}}, {"x", 5, {event_of("x", 5, "x5")}}};
  r = (*s)->write(again);
  ASSERT_TRUE(r[0] && r[1]);
  x = (*s)->read("x", 1, UINT64_MAX, UINT64_MAX);
  ASSERT_TRUE(x && x->size() == 5u);
}

TEST(SqliteStorage, AReopenedFileHandsOutNoOffsetOfEventsDeletedBeforeItClosed) {
  temp_dir dir;
  auto path = (dir.path() / "j.db").string();
  std::uint64_t newest = 0;
  {
    auto s = persistence::sqlite_storage::open(path);
    ASSERT_TRUE(s);
    std::vector<persistence::write_request> w{{"a", 1, {event_of("a", 1, "1"), event_of("a", 2, "2")}}};
    ASSERT_TRUE((*s)->write(w)[0]);
    newest = w[0].events[1].offset;
    ASSERT_TRUE((*s)->delete_up_to("a", 2));
  }
  auto s = persistence::sqlite_storage::open(path);
  ASSERT_TRUE(s);
  std::vector<persistence::write_request> w{{"b", 1, {event_of("b", 1, "b1")}}};
  ASSERT_TRUE((*s)->write(w)[0]);
  EXPECT_GT(w[0].events[0].offset, newest);
}

TEST(SqliteStorage, ReadsTheSameEventsWhetherAnIdsRowsLieInARunOrInterleavedWithOthers) {
  // A run is read by a range of offsets, interleaved rows through the index: every window of
  // from, to and max must give the same events either way.
  temp_dir dir;
  auto s = persistence::sqlite_storage::open((dir.path() / "j.db").string());
  ASSERT_TRUE(s);
  auto text = [](const std::string& id, std::uint64_t k) { return id + "-" + std::to_string(k); };
  for (std::uint64_t k = 1; k <= 10; ++k) {  // "run" 1-10, then "mixed" and "other" alternating
    std::vector<persistence::write_request> w{{"run", k, {event_of("run", k, text("run", k))}}};
    ASSERT_TRUE((*s)->write(w)[0]);
  }
  for (std::uint64_t k = 1; k <= 10; ++k)
    for (std::string id : {"mixed", "other"}) {
      std::vector<persistence::write_request> w{{id, k, {event_of(id, k, text(id, k))}}};
      ASSERT_TRUE((*s)->write(w)[0]);
    }
  std::vector<persistence::write_request> tail{{"run", 11, {event_of("run", 11, text("run", 11))}}};
  ASSERT_TRUE((*s)->write(tail)[0]);  // after the others: 1-10 are a run, 1-11 are not
  ASSERT_TRUE((*s)->delete_up_to("run", 2));
  for (std::string id : {"run", "mixed"})
    for (std::uint64_t from : {0, 1, 3, 5, 10, 11, 12})
      for (std::uint64_t to : {0, 4, 10, 11, 99})
        for (std::uint64_t max : {0, 1, 3, 100}) {
          auto got = (*s)->read(id, from, to, max);
          ASSERT_TRUE(got) << got.error().message();
          std::vector<std::string> want, seen;
          std::uint64_t lowest = id == "run" ? 3 : 1, highest = id == "run" ? 11 : 10;
          for (std::uint64_t k = std::max(from, lowest); k <= std::min(to, highest) && want.size() < max; ++k)
            want.push_back(text(id, k));
          for (auto& e : *got) {
            seen.push_back(text_of(e.payload));
            EXPECT_EQ(e.persistence_id, id);
          }
          EXPECT_EQ(seen, want) << id << " from " << from << " to " << to << " max " << max;
        }
}

TEST(SqliteStorage, ABatchOfManyRequestsLandsWholeWithIncreasingOffsets) {
  // More rows than one multi-row insert takes, so both statement shapes are used.
  temp_dir dir;
  auto s = persistence::sqlite_storage::open((dir.path() / "j.db").string());
  ASSERT_TRUE(s);
  std::vector<persistence::write_request> batch;
  for (int id = 0; id < 10; ++id) {
    std::string pid = "p" + std::to_string(id);
    persistence::write_request w{pid, 1, {}};
    for (std::uint64_t k = 1; k <= 15; ++k) w.events.push_back(event_of(pid, k, pid + "-" + std::to_string(k)));
    batch.push_back(std::move(w));
  }
  auto r = (*s)->write(batch);
  std::uint64_t last = 0;
  for (std::size_t i = 0; i < batch.size(); ++i) {
    ASSERT_TRUE(r[i]) << r[i].error().message();
    for (auto& e : batch[i].events) {
      EXPECT_GT(e.offset, last);
      last = e.offset;
    }
    auto evs = (*s)->read(batch[i].persistence_id, 1, UINT64_MAX, UINT64_MAX);
    ASSERT_TRUE(evs);
    ASSERT_EQ(evs->size(), 15u);
    for (std::size_t k = 0; k < 15; ++k) {
      EXPECT_EQ((*evs)[k].payload, batch[i].events[k].payload);
      EXPECT_EQ((*evs)[k].offset, batch[i].events[k].offset);
    }
  }
}

// unix-dotfile is a VFS of SQLite's own without the shared memory a WAL needs: SQLite keeps
// such a file in its rollback journal mode, as on some network file systems. It used to open
// with synchronous=FULL without a word.
TEST(SqliteStorage, RefusesADurableFileWhoseWalCannotBeUsedUnlessAskedToSyncEachCommit) {
  temp_dir dir;
  const auto uri = "file:" + (dir.path() / "no-wal.db").string() + "?vfs=unix-dotfile";
  auto refused = persistence::sqlite_storage::open(uri);
  ASSERT_FALSE(refused);
  EXPECT_EQ(refused.error(), errc::unavailable);
  EXPECT_NE(refused.error().message().find("journal mode 'delete'"), std::string::npos) << refused.error().message();
  EXPECT_NE(refused.error().message().find("require_wal"), std::string::npos) << refused.error().message();

  auto full = persistence::sqlite_storage::open(uri, {.require_wal = false});
  ASSERT_TRUE(full) << full.error().message();
  EXPECT_FALSE((*full)->syncs_apart());
  write_request_ok(**full);
  // Not durable: nothing to sync, so nothing to refuse.
  auto fast = persistence::sqlite_storage::open(uri, {.durable = false});
  ASSERT_TRUE(fast) << fast.error().message();
  auto evs = (*fast)->read("a", 1, UINT64_MAX, UINT64_MAX);
  ASSERT_TRUE(evs) << evs.error().message();
  EXPECT_EQ(evs->size(), 2u);
}

TEST(SqliteStorage, SaysUnavailableForAFileItCannotOpen) {
  auto s = persistence::sqlite_storage::open("/nonexistent-dir/for/troupe/j.db");
  ASSERT_FALSE(s);
  EXPECT_EQ(s.error(), errc::unavailable);
  EXPECT_NE(s.error().message().find("/nonexistent-dir/for/troupe/j.db"), std::string::npos);
}

// Layout 1 (before 2026-12-07) kept a unique index on the events' (persistence_id, sequence_nr);
// layout 2 finds an id's events through runs (src/persistence/sqlite_schema.hpp).
TEST(SqliteStorage, ConvertsAFileOfTheEarlierLayoutAndAnEarlierTroupeRefusesANewFile) {
  temp_dir dir;
  auto path = (dir.path() / "old.db").string();
  sqlite3* db = nullptr;
  ASSERT_EQ(sqlite3_open(path.c_str(), &db), SQLITE_OK);
  // Layout 1's event tables, as that version created them, with the rows it wrote: "a" 1-3 and
  // "b" 1 interleaved, "a" 1 deleted.
  const char* layout_1 = R"sql(
CREATE TABLE troupe_events(ordering INTEGER PRIMARY KEY, persistence_id TEXT NOT NULL, sequence_nr INTEGER NOT NULL,
  manifest TEXT NOT NULL, version INTEGER NOT NULL, tags TEXT NOT NULL, payload BLOB NOT NULL);
CREATE UNIQUE INDEX troupe_events_by_id ON troupe_events(persistence_id, sequence_nr);
CREATE TABLE troupe_deleted(persistence_id TEXT PRIMARY KEY, highest INTEGER NOT NULL) WITHOUT ROWID;
INSERT INTO troupe_events VALUES(2, 'a', 2, 'test.text', 1, '', CAST('a2' AS BLOB)),
  (3, 'b', 1, 'test.text', 1, 't', CAST('b1' AS BLOB)), (4, 'a', 3, 'test.text', 1, '', CAST('a3' AS BLOB));
INSERT INTO troupe_deleted VALUES('a', 3);
)sql";
  ASSERT_EQ(sqlite3_exec(db, layout_1, nullptr, nullptr, nullptr), SQLITE_OK) << sqlite3_errmsg(db);
  sqlite3_close(db);
  {
    auto s = persistence::sqlite_storage::open(path);
    ASSERT_TRUE(s) << s.error().message();
    auto a = (*s)->read("a", 1, UINT64_MAX, UINT64_MAX);
    ASSERT_TRUE(a) << a.error().message();
    ASSERT_EQ(a->size(), 2u);
    EXPECT_EQ(text_of((*a)[0].payload), "a2");
    EXPECT_EQ((*a)[1].offset, 4u);
    EXPECT_EQ(*(*s)->highest_sequence_nr("a"), 3u);
    std::vector<persistence::write_request> stale{{"a", 3, {event_of("a", 3, "again")}}};
    EXPECT_EQ((*s)->write(stale)[0].error(), errc::sequence_conflict);
    std::vector<persistence::write_request> next{{"a", 4, {event_of("a", 4, "a4")}}, {"b", 2, {event_of("b", 2, "b2")}}};
    auto r = (*s)->write(next);
    ASSERT_TRUE(r[0] && r[1]);
    EXPECT_GT(next[0].events[0].offset, 4u);
    auto b = (*s)->read("b", 2, UINT64_MAX, UINT64_MAX);
    ASSERT_TRUE(b && b->size() == 1u);
    EXPECT_EQ(text_of((*b)[0].payload), "b2");
  }
  {  // opened again: nothing left to convert, nothing converted twice
    auto s = persistence::sqlite_storage::open(path);
    ASSERT_TRUE(s) << s.error().message();
    auto a = (*s)->read("a", 1, UINT64_MAX, UINT64_MAX);
    ASSERT_TRUE(a && a->size() == 3u);
  }
  // What an earlier troupe runs on open fails on this file, saying why, instead of writing
  // events this version would not find.
  ASSERT_EQ(sqlite3_open(path.c_str(), &db), SQLITE_OK);
  EXPECT_NE(sqlite3_exec(db, "CREATE UNIQUE INDEX IF NOT EXISTS troupe_events_by_id ON troupe_events(persistence_id, sequence_nr)",
                         nullptr, nullptr, nullptr),
            SQLITE_OK);
  EXPECT_NE(std::string(sqlite3_errmsg(db)).find("already a table named troupe_events_by_id"), std::string::npos)
      << sqlite3_errmsg(db);
  sqlite3_close(db);
}

// A row whose run says it is an id's event but holds another: reported, not returned as that event.
TEST(SqliteStorage, ReportsAnEventRowThatIsNotTheEventItsRunNamesAsCorrupt) {
  temp_dir dir;
  auto path = (dir.path() / "j.db").string();
  auto s = persistence::sqlite_storage::open(path);
  ASSERT_TRUE(s);
  write_request_ok(**s);
  sqlite3* db = nullptr;
  ASSERT_EQ(sqlite3_open(path.c_str(), &db), SQLITE_OK);
  ASSERT_EQ(sqlite3_exec(db, "UPDATE troupe_events SET sequence_nr = 7 WHERE sequence_nr = 2", nullptr, nullptr, nullptr), SQLITE_OK);
  sqlite3_close(db);
  auto evs = (*s)->read("a", 1, UINT64_MAX, UINT64_MAX);
  ASSERT_FALSE(evs);
  EXPECT_EQ(evs.error(), errc::corrupt) << evs.error().message();
}

TEST(SqliteStorage, ReportsARowOfTheWrongShapeAsCorrupt) {
  temp_dir dir;
  auto path = (dir.path() / "j.db").string();
  auto s = persistence::sqlite_storage::open(path);
  ASSERT_TRUE(s);
  write_request_ok(**s);
  // Another program damages the row: its payload is no longer a blob.
  sqlite3* db = nullptr;
  ASSERT_EQ(sqlite3_open(path.c_str(), &db), SQLITE_OK);
  ASSERT_EQ(sqlite3_exec(db, "UPDATE troupe_events SET payload = 'not a blob' WHERE sequence_nr = 2", nullptr, nullptr, nullptr),
            SQLITE_OK);
  sqlite3_close(db);
  auto evs = (*s)->read("a", 1, UINT64_MAX, UINT64_MAX);
  ASSERT_FALSE(evs);
  EXPECT_EQ(evs.error(), errc::corrupt);
  EXPECT_NE(evs.error().message().find("payload"), std::string::npos) << evs.error().message();
}

}  // namespace
