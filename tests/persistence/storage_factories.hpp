// storage_factories.hpp: makes an empty store of a kind by name, for the journal contract.
// "postgres" uses the throwaway server of scripts/pg-test-cluster.sh (TROUPE_PG_CONNINFO) and
// gives each test its own schema, so tests may run side by side.
#pragma once

#include <string>
#include <vector>

#include <atomic>
#include <fstream>

#include "journal_fixture.hpp"
#include "troupe/persistence/postgres_storage.hpp"

namespace troupe_test {

inline std::vector<std::string> local_stores() { return {"memory", "sqlite"}; }

/// The throwaway server's connection string: $TROUPE_PG_CONNINFO, or the file CTest's fixture
/// names in $TROUPE_PG_CONNINFO_FILE; empty if neither.
inline std::string postgres_conninfo() {
  if (const char* c = std::getenv("TROUPE_PG_CONNINFO")) return c;
  std::string line;
  if (const char* f = std::getenv("TROUPE_PG_CONNINFO_FILE")) {
    std::ifstream in(f);
    std::getline(in, line);
  }
  return line;
}

/// A PostgreSQL schema name no other call makes: unique to this process and call, across
/// --gtest_repeat too, so tests that run side by side (or again) share the server and nothing else.
inline std::string unique_schema(const std::string& prefix) {
  static std::atomic<int> counter{0};
  return prefix + std::to_string(::getpid()) + "_" + std::to_string(counter.fetch_add(1, std::memory_order_relaxed));
}

/// A PostgreSQL store in a schema of its own (unique_schema).
inline troupe::result<std::shared_ptr<persistence::storage>> make_postgres_storage() {
  auto conninfo = postgres_conninfo();
  if (conninfo.empty())
    return troupe::error{persistence::errc::unavailable,
                         "no PostgreSQL test server: run the tests through ctest (fixture PostgresCluster.Start) or set "
                         "TROUPE_PG_CONNINFO"};
  auto s = persistence::postgres_storage::open(
      conninfo, {.schema = unique_schema("t")});
  if (!s) return s.error();
  return std::shared_ptr<persistence::storage>(*s);
}

inline troupe::result<std::shared_ptr<persistence::storage>> make_storage(const std::string& kind, const temp_dir& dir) {
  if (kind == "memory") return std::shared_ptr<persistence::storage>(std::make_shared<persistence::memory_storage>());
  if (kind == "sqlite") {
    auto s = persistence::sqlite_storage::open((dir.path() / "journal.db").string());
    if (!s) return s.error();
    return std::shared_ptr<persistence::storage>(*s);
  }
  if (kind == "postgres") return make_postgres_storage();
  return troupe::error{persistence::errc::unavailable, "no store named " + kind};
}

}  // namespace troupe_test
