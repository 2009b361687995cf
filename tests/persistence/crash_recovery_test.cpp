// No acknowledged event is lost: a child process (crash_writer) persists deposits through
// event-sourced actors and reports each acknowledgement; it is killed with SIGKILL at a random
// moment; then every acknowledged deposit must be in the store, none twice, in order, and a new
// incarnation must recover (a torn tail ignored, not misread). TROUPE_CRASH_TRIALS sets the
// number of trials (CI runs a few per journal; scripts/crash-trials.sh runs 1,000).
#include <gtest/gtest.h>
#include <poll.h>
#include <signal.h>
#include <sys/wait.h>
#include <unistd.h>

#include <filesystem>
#include <map>
#include <random>
#include <sstream>

#include "bank_account.hpp"
#include "core/test_support.hpp"
#include "storage_factories.hpp"

namespace {

using namespace troupe_test;
using namespace std::chrono_literals;

constexpr int accounts = 4;

int trials() {
  if (const char* t = std::getenv("TROUPE_CRASH_TRIALS")) return std::max(1, std::atoi(t));
  return sanitized ? 5 : 20;  // each trial starts a sanitized process, 5-15x slower
}

std::string writer_path() { return (std::filesystem::read_symlink("/proc/self/exe").parent_path() / "troupe_persistence_crash_writer").string(); }

// Runs the writer, kills it after `delay`, and returns the highest acknowledged deposit per account.
std::map<int, long> run_and_kill(std::vector<std::string> args, std::chrono::microseconds delay) {
  int out[2];
  EXPECT_EQ(::pipe(out), 0);
  pid_t pid = ::fork();
  if (pid == 0) {
    ::dup2(out[1], 1);
    ::close(out[0]);
    ::close(out[1]);
    std::vector<char*> argv;
    for (auto& a : args) argv.push_back(a.data());
    argv.push_back(nullptr);
    ::execv(argv[0], argv.data());
    std::_Exit(127);
  }
  ::close(out[1]);
  // Kill while deposits flow: after the first acknowledgement (the writer is up, its store open),
  // plus the random delay. The delay picks the kill point; it synchronizes nothing.
  std::string text;
  char buf[4096];
  pollfd pfd{out[0], POLLIN, 0};
  auto give_up = std::chrono::steady_clock::now() + 30s;
  while (text.find('\n') == std::string::npos && std::chrono::steady_clock::now() < give_up) {
    if (::poll(&pfd, 1, 100) > 0) {
      ssize_t n = ::read(out[0], buf, sizeof buf);
      if (n <= 0) break;
      text.append(buf, static_cast<std::size_t>(n));
    }
  }
  EXPECT_NE(text.find('\n'), std::string::npos) << "the writer acknowledged nothing within 30 s";
  std::this_thread::sleep_until(std::chrono::steady_clock::now() + delay);
  ::kill(pid, SIGKILL);
  int status = 0;
  ::waitpid(pid, &status, 0);
  EXPECT_TRUE(WIFSIGNALED(status)) << "the writer exited by itself (status " << status << ") before the kill";
  for (ssize_t n; (n = ::read(out[0], buf, sizeof buf)) > 0;) text.append(buf, static_cast<std::size_t>(n));
  ::close(out[0]);
  std::map<int, long> acked;
  std::istringstream in(text);
  int a;
  long n;
  while (in >> a >> n) {
    EXPECT_EQ(n, acked[a] + 1) << "acknowledgements of one account come in order";
    acked[a] = n;
  }
  return acked;
}

// Checks the store against the acknowledgements; returns the events found in all.
long check_store(persistence::storage& store, const std::map<int, long>& acked,
                 const std::shared_ptr<persistence::journal>& j) {
  long total = 0;
  troupe::system sys{small_config()};
  for (int a = 0; a < accounts; ++a) {
    std::string id = "acct-" + std::to_string(a);
    auto evs = store.read(id, 1, UINT64_MAX, UINT64_MAX);
    EXPECT_TRUE(evs) << evs.error().message();
    if (!evs) continue;
    auto codec = bank::event_codec();
    long expect = 0;
    for (auto& e : *evs) {
      ++expect;
      EXPECT_EQ(e.sequence_nr, static_cast<std::uint64_t>(expect)) << id << ": a gap or a duplicate";
      auto ev = codec->decode(e.manifest, e.version, e.payload);
      EXPECT_TRUE(ev) << id << " event " << e.sequence_nr << ": " << ev.error().message();
      if (ev) {
        EXPECT_EQ(std::get<bank::deposited>(*ev).cents, expect) << id << ": deposit out of place";
      }
    }
    auto it = acked.find(a);
    long acked_n = it == acked.end() ? 0 : it->second;
    // Acknowledged means durable; one more may be durable whose acknowledgement the kill cut off.
    EXPECT_GE(expect, acked_n) << id << ": an acknowledged deposit is lost";
    EXPECT_LE(expect, acked_n + 1) << id << ": more deposits stored than were sent";
    total += expect;
    // A new incarnation recovers the same balance and goes on.
    auto acct = sys.spawn(persistence::event_sourced(bank::spec(id, j)));
    auto bal = acct.ask<long>([](troupe::ref<long> r) { return bank::get_balance{r}; }, 30s).get();
    EXPECT_TRUE(bal) << id << ": " << bal.error().message();
    if (bal) {
      EXPECT_EQ(*bal, expect * (expect + 1) / 2) << id;
    }
  }
  return total;
}

void run_trials(const std::string& kind) {
  std::mt19937 rng(std::random_device{}());
  long events = 0;
  int n = trials();
  for (int t = 0; t < n && !::testing::Test::HasFailure(); ++t) {
    temp_dir dir;
    std::vector<std::string> args{writer_path(), kind};
    std::string schema = unique_schema("crash");
    if (kind == "sqlite") {
      args.push_back((dir.path() / "j.db").string());
    } else {
      args.push_back(postgres_conninfo());
      args.push_back(schema);
    }
    args.push_back(std::to_string(accounts));
    auto delay = std::chrono::microseconds(std::uniform_int_distribution<int>(0, 100'000)(rng));
    auto acked = run_and_kill(args, delay);
    std::shared_ptr<persistence::storage> store;
    if (kind == "sqlite") {
      auto s = persistence::sqlite_storage::open((dir.path() / "j.db").string());
      ASSERT_TRUE(s) << s.error().message();
      store = *s;
    } else {
      auto s = persistence::postgres_storage::open(postgres_conninfo(), {.schema = schema});
      ASSERT_TRUE(s) << s.error().message();
      store = *s;
    }
    auto j = persistence::journal::start(store);
    events += check_store(*store, acked, j);
  }
  std::printf("crash trials (%s): %d trials, %ld events checked, %s\n", kind.c_str(), n, events,
              ::testing::Test::HasFailure() ? "FAILED" : "no acknowledged event lost");
}

TEST(CrashRecovery, NoAcknowledgedEventIsLostWhenASqliteWriterIsKilled) { run_trials("sqlite"); }

TEST(PostgresCrashRecovery, NoAcknowledgedEventIsLostWhenAPostgresWriterIsKilled) {
  ASSERT_FALSE(postgres_conninfo().empty()) << "no PostgreSQL test server (fixture PostgresCluster.Start)";
  run_trials("postgres");
}

}  // namespace
