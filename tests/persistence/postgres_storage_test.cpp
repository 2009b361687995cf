// What the PostgreSQL store adds to the journal contract (which runs against it in
// journal_test.cpp): a server that cannot be reached is an error at once, never a hang.
#include "troupe/persistence/postgres_storage.hpp"

#include <gtest/gtest.h>
#include <libpq-fe.h>

#include <chrono>
#include <future>
#include <memory>
#include <thread>

#include "storage_factories.hpp"
#include "troupe/persistence/detail/postgres_connect.hpp"

namespace {

using namespace troupe_test;
using persistence::errc;

TEST(PostgresStorage, SaysUnavailableWhenTheServerCannotBeReached) {
  temp_dir dir;  // a socket directory where no server listens
  auto s = persistence::postgres_storage::open("host=" + dir.path().string() + " port=1 user=postgres connect_timeout=5");
  ASSERT_FALSE(s);
  EXPECT_EQ(s.error(), errc::unavailable);
  EXPECT_NE(s.error().message().find("cannot connect"), std::string::npos) << s.error().message();
}

// What a connection ends up with: troupe's network timeouts, unless the conninfo names its own
// (a key=value string or a URI alike).
TEST(PostgresStorage, ConnectsWithBoundedNetworkWaitsThatTheConninfoMayOverride) {
  auto conninfo = postgres_conninfo();
  ASSERT_FALSE(conninfo.empty()) << "no PostgreSQL test server (fixture PostgresCluster.Start)";
  auto option = [](PGconn* c, const std::string& key) {
    std::unique_ptr<PQconninfoOption, decltype(&PQconninfoFree)> all(PQconninfo(c), &PQconninfoFree);
    for (auto* o = all.get(); o != nullptr && o->keyword != nullptr; ++o)
      if (key == o->keyword) return std::string(o->val != nullptr ? o->val : "");
    return std::string("(no such option)");
  };
  std::unique_ptr<PGconn, decltype(&PQfinish)> plain(persistence::detail::postgres_connect(conninfo), &PQfinish);
  ASSERT_EQ(PQstatus(plain.get()), CONNECTION_OK) << PQerrorMessage(plain.get());
  EXPECT_EQ(option(plain.get(), "connect_timeout"), "5");
  EXPECT_EQ(option(plain.get(), "tcp_user_timeout"), "5000");
  EXPECT_EQ(option(plain.get(), "keepalives_idle"), "5");
  EXPECT_EQ(option(plain.get(), "dbname"), "postgres");  // the conninfo's own settings still apply
  std::unique_ptr<PGconn, decltype(&PQfinish)> own(
      persistence::detail::postgres_connect(conninfo + " tcp_user_timeout=1234 connect_timeout=9"), &PQfinish);
  ASSERT_EQ(PQstatus(own.get()), CONNECTION_OK) << PQerrorMessage(own.get());
  EXPECT_EQ(option(own.get(), "tcp_user_timeout"), "1234");
  EXPECT_EQ(option(own.get(), "connect_timeout"), "9");
  EXPECT_EQ(option(own.get(), "keepalives_count"), "3");
}

TEST(PostgresStorage, CreatesItsTablesOnFirstUseAndFindsThemAgain) {
  auto conninfo = postgres_conninfo();
  ASSERT_FALSE(conninfo.empty()) << "no PostgreSQL test server (fixture PostgresCluster.Start)";
  std::string schema = unique_schema("reopen");
  {
    auto s = persistence::postgres_storage::open(conninfo, {.schema = schema});
    ASSERT_TRUE(s) << s.error().message();
    std::vector<persistence::write_request> ws{{"a", 1, {event_of("a", 1, "kept", {"t"})}}};
    auto r = (*s)->write(ws);
    ASSERT_TRUE(r[0]) << r[0].error().message();
  }
  auto s = persistence::postgres_storage::open(conninfo, {.schema = schema});
  ASSERT_TRUE(s) << s.error().message();
  auto evs = (*s)->read("a", 1, UINT64_MAX, UINT64_MAX);
  ASSERT_TRUE(evs) << evs.error().message();
  ASSERT_EQ(evs->size(), 1u);
  EXPECT_EQ(text_of((*evs)[0].payload), "kept");
  EXPECT_EQ((*evs)[0].tags, std::vector<std::string>{"t"});
}

TEST(PostgresStorage, StoresOpeningOneNewSchemaAtOnceAllSucceed) {
  // CREATE SCHEMA IF NOT EXISTS from two sessions at once can collide in the catalog; a writer
  // killed while opening leaves such a session behind (found by the kill -9 trials).
  auto conninfo = postgres_conninfo();
  ASSERT_FALSE(conninfo.empty()) << "no PostgreSQL test server (fixture PostgresCluster.Start)";
  for (int round = 0; round < 15; ++round) {
    std::string schema = unique_schema("together");
    std::vector<std::thread> ts;
    std::vector<std::string> errors(4);
    for (int t = 0; t < 4; ++t)
      ts.emplace_back([&, t] {
        auto s = persistence::postgres_storage::open(conninfo, {.schema = schema});
        if (!s) errors[static_cast<std::size_t>(t)] = s.error().message();
      });
    for (auto& t : ts) t.join();
    for (auto& e : errors) EXPECT_EQ(e, "") << "round " << round;
  }
}

// A plain connection of the test's own, closed at the end of the scope.
struct raw_connection {
  explicit raw_connection(const std::string& conninfo) : c(PQconnectdb(conninfo.c_str())) {}
  ~raw_connection() { PQfinish(c); }
  // The first value of the first row, or the error text prefixed by "ERROR: ".
  std::string exec(const std::string& sql) {
    std::unique_ptr<PGresult, decltype(&PQclear)> r(PQexec(c, sql.c_str()), &PQclear);
    auto st = PQresultStatus(r.get());
    if (st != PGRES_COMMAND_OK && st != PGRES_TUPLES_OK) return std::string("ERROR: ") + PQerrorMessage(c);
    return PQntuples(r.get()) > 0 ? PQgetvalue(r.get(), 0, 0) : "";
  }
  PGconn* c;
};

TEST(PostgresStorage, FailsOnlyTheCollidingRequestWhenAWriterThatSkipsTheLockGetsThereFirst) {
  // The store's checks run under the writers' advisory lock; a writer outside troupe skips that
  // lock, and its run of events can only show up as a run starting at the same sequence number.
  // The store's run waits for that writer's transaction and then gives way: the colliding request
  // fails as a conflict, the other requests of the batch go in.
  auto conninfo = postgres_conninfo();
  ASSERT_FALSE(conninfo.empty()) << "no PostgreSQL test server (fixture PostgresCluster.Start)";
  std::string schema = unique_schema("skiplock");
  auto s = persistence::postgres_storage::open(conninfo, {.schema = schema});
  ASSERT_TRUE(s) << s.error().message();
  raw_connection other(conninfo), watch(conninfo);
  ASSERT_EQ(PQstatus(other.c), CONNECTION_OK);
  ASSERT_EQ(PQstatus(watch.c), CONNECTION_OK);
  // Uncommitted, so the store's check cannot see it: its insert of ("x", 1) waits on this one.
  ASSERT_EQ(other.exec("SET search_path TO " + schema), "");
  ASSERT_EQ(other.exec("BEGIN"), "");
  ASSERT_EQ(other.exec("WITH e AS (INSERT INTO troupe_events(persistence_id, sequence_nr, manifest, version, tags, payload)"
                       " VALUES ('x', 1, 'theirs', 1, '', '\\x00') RETURNING ordering)"
                       " INSERT INTO troupe_events_by_id(persistence_id, first_seq, last_seq, first_ordering)"
                       " SELECT 'x', 1, 1, ordering FROM e"),
            "");
  auto written = std::async(std::launch::async, [&] {
    std::vector<persistence::write_request> ws{{"x", 1, {event_of("x", 1, "ours")}}, {"y", 1, {event_of("y", 1, "ours")}}};
    return (*s)->write(ws);
  });
  // Wait (with a deadline) until a backend waits on the other writer's transaction.
  const std::string waiting =
      "SELECT count(*) FROM pg_locks w JOIN pg_locks h ON w.locktype = 'transactionid' AND h.locktype = 'transactionid'"
      " AND w.transactionid = h.transactionid WHERE h.pid = " + std::to_string(PQbackendPID(other.c)) +
      " AND h.granted AND NOT w.granted";
  auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(30);
  while (watch.exec(waiting) != "1" && std::chrono::steady_clock::now() < deadline)
    std::this_thread::yield();
  ASSERT_EQ(watch.exec(waiting), "1") << "the store's run never waited on the other writer's";
  ASSERT_EQ(other.exec("COMMIT"), "");
  auto r = written.get();
  ASSERT_EQ(r.size(), 2u);
  ASSERT_FALSE(r[0]);
  EXPECT_EQ(r[0].error(), errc::sequence_conflict) << r[0].error().message();
  EXPECT_TRUE(r[1]) << r[1].error().message();
  auto x = (*s)->read("x", 1, UINT64_MAX, UINT64_MAX);
  ASSERT_TRUE(x) << x.error().message();
  ASSERT_EQ(x->size(), 1u);
  EXPECT_EQ((*x)[0].manifest, "theirs");
  auto y = (*s)->read("y", 1, UINT64_MAX, UINT64_MAX);
  ASSERT_TRUE(y) << y.error().message();
  ASSERT_EQ(y->size(), 1u);
  EXPECT_EQ(text_of((*y)[0].payload), "ours");
  // The store's connection is still usable: the next write goes in.
  std::vector<persistence::write_request> next{{"y", 2, {event_of("y", 2, "after")}}};
  auto n = (*s)->write(next);
  EXPECT_TRUE(n[0]) << n[0].error().message();
}

TEST(PostgresStorage, ConvertsASchemaOfLayout1WhenOpenedAndItsChainsGoOn) {
  // A schema written before 2026-12-07 (layout 1: a unique key on every event's id and sequence
  // number, no runs) is converted on open: every stored event reads back by id and by tag, each
  // id's chain continues after its highest number, and a write at a taken number still fails.
  auto conninfo = postgres_conninfo();
  ASSERT_FALSE(conninfo.empty()) << "no PostgreSQL test server (fixture PostgresCluster.Start)";
  std::string schema = unique_schema("layout1");
  raw_connection old(conninfo);
  ASSERT_EQ(PQstatus(old.c), CONNECTION_OK);
  ASSERT_EQ(old.exec("CREATE SCHEMA " + schema + "; SET search_path TO " + schema), "");
  // Layout 1's tables, as its postgres_schema.sql created them.
  ASSERT_EQ(old.exec(R"sql(
CREATE TABLE troupe_events(
  ordering BIGSERIAL PRIMARY KEY, persistence_id TEXT NOT NULL, sequence_nr BIGINT NOT NULL,
  manifest TEXT NOT NULL, version INTEGER NOT NULL, tags TEXT NOT NULL, payload BYTEA NOT NULL,
  UNIQUE (persistence_id, sequence_nr));
CREATE TABLE troupe_event_tags(tag TEXT NOT NULL, ordering BIGINT NOT NULL, PRIMARY KEY (tag, ordering));
CREATE TABLE troupe_deleted(persistence_id TEXT PRIMARY KEY, highest BIGINT NOT NULL);
CREATE TABLE troupe_snapshots(persistence_id TEXT NOT NULL, sequence_nr BIGINT NOT NULL, manifest TEXT NOT NULL,
  version INTEGER NOT NULL, payload BYTEA NOT NULL, PRIMARY KEY (persistence_id, sequence_nr));
CREATE TABLE troupe_durable_state(persistence_id TEXT PRIMARY KEY, revision BIGINT NOT NULL, manifest TEXT NOT NULL,
  version INTEGER NOT NULL, payload BYTEA NOT NULL);)sql"),
            "");
  // "a" 1..3 and "b" 1..2 interleaved as two batches wrote them, "a" 4 alone later; "a" 2 tagged;
  // "c" had 1..2 deleted and 3 kept; "g" has a gap (no troupe writes one; a page reads past it).
  ASSERT_EQ(old.exec(R"sql(
INSERT INTO troupe_events(persistence_id, sequence_nr, manifest, version, tags, payload) VALUES
  ('a', 1, 'm', 1, '', 'a1'), ('a', 2, 'm', 1, 't', 'a2'), ('b', 1, 'm', 1, '', 'b1'),
  ('a', 3, 'm', 1, '', 'a3'), ('b', 2, 'm', 1, '', 'b2'), ('c', 3, 'm', 1, '', 'c3'), ('a', 4, 'm', 1, '', 'a4'),
  ('g', 1, 'm', 1, '', 'g1'), ('g', 2, 'm', 1, '', 'g2'), ('g', 5, 'm', 1, '', 'g5');
INSERT INTO troupe_event_tags(tag, ordering) SELECT 't', ordering FROM troupe_events WHERE persistence_id = 'a' AND sequence_nr = 2;
INSERT INTO troupe_deleted VALUES ('c', 2);)sql"),
            "");
  auto s = persistence::postgres_storage::open(conninfo, {.schema = schema});
  ASSERT_TRUE(s) << s.error().message();
  auto payloads = [&](const std::string& id, std::uint64_t from, std::uint64_t max = UINT64_MAX) {
    std::string got;
    auto evs = (*s)->read(id, from, UINT64_MAX, max);
    if (!evs) return "ERROR: " + evs.error().message();
    for (const auto& e : *evs) got += text_of(e.payload) + " ";
    return got;
  };
  EXPECT_EQ(payloads("a", 1), "a1 a2 a3 a4 ");
  EXPECT_EQ(payloads("a", 3), "a3 a4 ");
  EXPECT_EQ(payloads("b", 1), "b1 b2 ");
  EXPECT_EQ(payloads("c", 1), "c3 ");
  EXPECT_EQ(payloads("a", 2, 2), "a2 a3 ");
  EXPECT_EQ(payloads("g", 1, 3), "g1 g2 g5 ");
  EXPECT_EQ(payloads("g", 3, 1), "g5 ");
  auto tagged = (*s)->read_by_tag("t", 0, UINT64_MAX);
  ASSERT_TRUE(tagged) << tagged.error().message();
  ASSERT_EQ(tagged->size(), 1u);
  EXPECT_EQ(text_of((*tagged)[0].payload), "a2");
  EXPECT_EQ(*(*s)->highest_sequence_nr("a"), 4u);
  EXPECT_EQ(*(*s)->highest_sequence_nr("c"), 3u);
  std::vector<persistence::write_request> taken{{"a", 4, {event_of("a", 4, "again")}}};
  auto t = (*s)->write(taken);
  ASSERT_FALSE(t[0]) << "a write at a taken number went in";
  EXPECT_EQ(t[0].error(), errc::sequence_conflict) << t[0].error().message();
  std::vector<persistence::write_request> ws{{"a", 5, {event_of("a", 5, "a5"), event_of("a", 6, "a6")}},
                                             {"b", 3, {event_of("b", 3, "b3")}},
                                             {"c", 4, {event_of("c", 4, "c4")}}};
  auto r = (*s)->write(ws);
  ASSERT_EQ(r.size(), 3u);
  for (std::size_t i = 0; i < 3; ++i) EXPECT_TRUE(r[i]) << i << ": " << r[i].error().message();
  EXPECT_EQ(payloads("a", 1), "a1 a2 a3 a4 a5 a6 ");
  EXPECT_EQ(payloads("b", 2), "b2 b3 ");
  EXPECT_EQ(payloads("c", 1), "c3 c4 ");
  // The unique key is gone (writes no longer pay for it); the column that layout 1's statements
  // name is renamed, so an older troupe fails to open the schema instead of writing events
  // without runs; a second open leaves the schema be.
  EXPECT_EQ(old.exec("SELECT count(*) FROM pg_constraint WHERE conrelid = 'troupe_events'::regclass AND contype = 'u'"), "0");
  EXPECT_EQ(old.exec("SELECT highest FROM troupe_deleted").rfind("ERROR", 0), 0u);
  auto runs = old.exec("SELECT count(*) FROM troupe_events_by_id");
  EXPECT_EQ(runs, "11");  // a: 1-2, 3, 4, 5-6; b: 1, 2, 3; c: 3, 4; g: 1-2, 5
  auto again = persistence::postgres_storage::open(conninfo, {.schema = schema});
  ASSERT_TRUE(again) << again.error().message();
  EXPECT_EQ(old.exec("SELECT count(*) FROM troupe_events_by_id"), runs);
}

}  // namespace
