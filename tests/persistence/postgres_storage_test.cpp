// What the PostgreSQL store adds to the journal contract (which runs against it in
// journal_test.cpp): a server that cannot be reached is an error at once, never a hang.
#include "troupe/persistence/postgres_storage.hpp"

#include <gtest/gtest.h>

#include <thread>

#include "storage_factories.hpp"

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

}  // namespace
