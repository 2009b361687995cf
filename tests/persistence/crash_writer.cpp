// crash_writer: the child process of the kill -9 tests (crash_recovery_test.cpp). It runs
// `accounts` event-sourced bank accounts over one journal; a thread per account deposits 1, 2,
// 3, ... each after the previous one is acknowledged, and prints "<account> <n>" on stdout (one
// write per line, unbuffered) as each acknowledgement arrives, until it is killed.
//   crash_writer sqlite <file> <accounts>
//   crash_writer postgres <conninfo> <schema> <accounts>
#include <unistd.h>

#include <cstdio>
#include <cstdlib>
#include <string>
#include <thread>
#include <vector>

#include "bank_account.hpp"
#include "troupe/core/system.hpp"
#include "troupe/persistence/postgres_storage.hpp"
#include "troupe/persistence/sqlite_storage.hpp"

int main(int argc, char** argv) {
  namespace persistence = troupe::persistence;
  if (argc < 4) {
    std::fprintf(stderr, "usage: crash_writer sqlite FILE ACCOUNTS | postgres CONNINFO SCHEMA ACCOUNTS\n");
    return 2;
  }
  std::string kind = argv[1];
  std::shared_ptr<persistence::storage> store;
  int accounts = 0;
  if (kind == "sqlite") {
    auto s = persistence::sqlite_storage::open(argv[2]);
    if (!s) {
      std::fprintf(stderr, "%s\n", s.error().message().c_str());
      return 1;
    }
    store = *s;
    accounts = std::atoi(argv[3]);
  } else {
    if (argc < 5) return 2;
    auto s = persistence::postgres_storage::open(argv[2], {.schema = argv[3]});
    if (!s) {
      std::fprintf(stderr, "%s\n", s.error().message().c_str());
      return 1;
    }
    store = *s;
    accounts = std::atoi(argv[4]);
  }
  auto j = persistence::journal::start(store);
  troupe::system sys;
  std::vector<std::thread> drivers;
  for (int a = 0; a < accounts; ++a)
    drivers.emplace_back([&, a] {
      auto acct = sys.spawn(persistence::event_sourced(bank::spec("acct-" + std::to_string(a), j)));
      for (long n = 1;; ++n) {
        auto r = acct.ask<long>([n](troupe::ref<long> reply_to) { return bank::deposit{n, reply_to}; },
                                std::chrono::seconds(30))
                     .get();
        if (!r) {
          std::fprintf(stderr, "deposit %ld to acct-%d failed: %s\n", n, a, r.error().message().c_str());
          std::_Exit(1);
        }
        std::string line = std::to_string(a) + " " + std::to_string(n) + "\n";
        if (::write(1, line.data(), line.size()) < 0) std::_Exit(1);
      }
    });
  for (auto& t : drivers) t.join();
}
