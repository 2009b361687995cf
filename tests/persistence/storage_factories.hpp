// storage_factories.hpp: makes an empty store of a kind by name, for the journal contract.
// "postgres" uses the throwaway server of scripts/pg-test-cluster.sh (TROUPE_PG_CONNINFO) and
// gives each test its own schema, so tests may run side by side.
#pragma once

#include <string>
#include <vector>

#include "journal_fixture.hpp"

namespace troupe_test {

inline std::vector<std::string> local_stores() { return {"memory", "sqlite"}; }

inline troupe::result<std::shared_ptr<persistence::storage>> make_storage(const std::string& kind, const temp_dir& dir) {
  if (kind == "memory") return std::shared_ptr<persistence::storage>(std::make_shared<persistence::memory_storage>());
  if (kind == "sqlite") {
    auto s = persistence::sqlite_storage::open((dir.path() / "journal.db").string());
    if (!s) return s.error();
    return std::shared_ptr<persistence::storage>(*s);
  }
  return troupe::error{persistence::errc::unavailable, "no store named " + kind};
}

}  // namespace troupe_test
