// What the SQLite store adds to the journal contract: a file that outlives its journal, WAL,
// and clear errors for a file it cannot open or a row it cannot read.
#include "troupe/persistence/sqlite_storage.hpp"

#include <gtest/gtest.h>
#include <sqlite3.h>

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

TEST(SqliteStorage, TwoStoresOnOneFileCannotBothWriteOneSequenceNumber) {
  // Each store remembers the highest sequence number it wrote; the other's writes make that
  // stale, and the unique index must still refuse the duplicate.
  temp_dir dir;
  auto path = (dir.path() / "j.db").string();
  auto a = persistence::sqlite_storage::open(path);
  auto b = persistence::sqlite_storage::open(path);
  ASSERT_TRUE(a && b);
  auto write = [](persistence::storage& s, std::uint64_t seq) {
    std::vector<persistence::write_request> ws{{"x", seq, {event_of("x", seq, "e")}}};
    return s.write(ws)[0];
  };
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

TEST(SqliteStorage, SaysUnavailableForAFileItCannotOpen) {
  auto s = persistence::sqlite_storage::open("/nonexistent-dir/for/troupe/j.db");
  ASSERT_FALSE(s);
  EXPECT_EQ(s.error(), errc::unavailable);
  EXPECT_NE(s.error().message().find("/nonexistent-dir/for/troupe/j.db"), std::string::npos);
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
