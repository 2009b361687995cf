// PostgreSQL going down in the middle of a run, on a server of this test's own (the fixture's
// server stays up for the other tests): persisting actors see the outage as an error, never a
// hang, and stop with a reason that says so; their backoff supervisors restart them, and once
// the server is back they recover with every acknowledged deposit there, none twice.
#include <gtest/gtest.h>

#include <cstdio>
#include <cstdlib>
#include <map>
#include <mutex>

#include "bank_account.hpp"
#include "core/test_support.hpp"
#include "journal_fixture.hpp"
#include "troupe/otp/backoff_supervisor.hpp"
#include "troupe/persistence/postgres_storage.hpp"

namespace {

using namespace troupe_test;
using namespace std::chrono_literals;

// A throwaway server of scripts/pg-test-cluster.sh that this test may kill and bring back.
class own_cluster {
 public:
  own_cluster() : dir_("/tmp/troupe-pgdown-" + std::to_string(::getpid())) {
    std::string out;
    ok_ = run("start", &out) == 0;
    while (!out.empty() && (out.back() == '\n' || out.back() == ' ')) out.pop_back();
    conninfo_ = out;
  }
  ~own_cluster() { run("stop"); }
  bool ok() const { return ok_ && !conninfo_.empty(); }
  const std::string& conninfo() const { return conninfo_; }
  int down() { return run("down"); }
  int up() { return run("up"); }

 private:
  int run(const std::string& cmd, std::string* out = nullptr) {
    std::string line = std::string(TROUPE_PG_CLUSTER_SCRIPT) + " " + cmd + " " + dir_;
    FILE* p = ::popen(line.c_str(), "r");
    if (!p) return -1;
    char buf[512];
    while (std::fgets(buf, sizeof buf, p))
      if (out) *out += buf;
    return ::pclose(p);
  }
  std::string dir_;
  std::string conninfo_;
  bool ok_ = false;
};

TEST(PostgresOutage, ActorsStopWithAClearReasonWhileTheServerIsDownAndRecoverAllAcknowledgedOnceItIsBack) {
  own_cluster pg;
  ASSERT_TRUE(pg.ok()) << "scripts/pg-test-cluster.sh could not start a server";
  auto store = persistence::postgres_storage::open(pg.conninfo());
  ASSERT_TRUE(store) << store.error().message();
  auto j = persistence::journal::start(*store);
  auto cfg = small_config();
  // The crash reasons, shown if the test fails.
  auto log = std::make_shared<std::pair<std::mutex, std::vector<std::string>>>();
  cfg.logger = [log](troupe::log_level, std::string_view m) {
    std::lock_guard lock(log->first);
    log->second.emplace_back(m);
  };
  auto last_logs = [log] {
    std::lock_guard lock(log->first);
    std::string out;
    auto n = log->second.size();
    for (auto i = n > 8 ? n - 8 : 0; i < n; ++i) out += "\n  " + log->second[i];
    return out;
  };
  troupe::system sys{cfg};

  const std::vector<std::string> ids{"acct-a", "acct-b", "acct-c"};
  for (const auto& id : ids)
    sys.spawn(troupe::otp::backoff_supervisor([j, id] { return persistence::event_sourced(bank::spec(id, j)); },
                                              {.min_backoff = 20ms, .max_backoff = 200ms}, {.spawn = {.name = id}}));
  auto current = [&](const std::string& id) {
    troupe::ref<bank::command> out;
    EXPECT_TRUE(wait_until([&] {
      auto r = sys.lookup<bank::command>(id);
      if (r) out = *r;
      return static_cast<bool>(r);
    })) << id;
    return out;
  };
  std::map<std::string, long> acknowledged;  // cents whose deposit was answered
  auto deposit = [&](const std::string& id, long cents) {
    auto r = current(id).ask<long>([cents](troupe::ref<long> rr) { return bank::deposit{cents, rr}; }, 20s).get();
    ASSERT_TRUE(r) << id << ": " << r.error().message();
    acknowledged[id] += cents;
    EXPECT_EQ(*r, acknowledged[id]);
  };
  for (int round = 0; round < 5; ++round)
    for (const auto& id : ids) deposit(id, 1 + round);

  // The server dies. Each actor's next deposit fails: the actor stops with the store's reason.
  std::vector<std::shared_ptr<blocking_queue<troupe::terminated>>> downs;
  std::vector<troupe::ref<bank::command>> before;
  for (const auto& id : ids) {
    before.push_back(current(id));
    downs.push_back(watch_from_outside(sys, before.back()));
  }
  ASSERT_EQ(pg.down(), 0);
  std::vector<std::future<troupe::result<long>>> unanswered;
  for (auto& a : before)
    unanswered.push_back(a.ask<long>([](troupe::ref<long> rr) { return bank::deposit{1000, rr}; }, 2s));
  for (std::size_t i = 0; i < ids.size(); ++i) {
    auto t = downs[i]->pop();  // a deadline: an actor waiting on a dead server forever fails here
    ASSERT_TRUE(t) << ids[i] << " did not stop while the server was down";
    EXPECT_TRUE(t->reason.is_failure());
    EXPECT_NE(t->reason.text.find("store unavailable"), std::string::npos) << t->reason.text;
    EXPECT_NE(t->reason.text.find(ids[i]), std::string::npos) << t->reason.text;
  }
  for (auto& f : unanswered) EXPECT_FALSE(f.get()) << "a deposit was acknowledged while the server was down";

  // Restarted meanwhile, the actors cannot recover yet: each incarnation stops and is restarted
  // later (backoff). Once the server is back, one recovers with exactly the acknowledged deposits.
  ASSERT_EQ(pg.up(), 0);
  for (const auto& id : ids) {
    long balance = -1;
    ASSERT_TRUE(wait_until([&] {
      auto r = sys.lookup<bank::command>(id);
      if (!r) return false;
      auto b = r->ask<long>([](troupe::ref<long> rr) { return bank::get_balance{rr}; }, 2s).get();
      if (!b) return false;
      balance = *b;
      return true;
    })) << id << " did not recover after the server came back; last log lines:" << last_logs();
    EXPECT_EQ(balance, acknowledged[id]) << id;
  }
  for (const auto& id : ids) deposit(id, 7);

  // What is stored: each id's events numbered 1..n without a gap or a duplicate, summing to
  // what was acknowledged (nothing acknowledged lost, the unanswered deposits absent).
  auto check = persistence::postgres_storage::open(pg.conninfo());
  ASSERT_TRUE(check) << check.error().message();
  auto codec = bank::event_codec();
  for (const auto& id : ids) {
    auto evs = (*check)->read(id, 1, UINT64_MAX, UINT64_MAX);
    ASSERT_TRUE(evs) << evs.error().message();
    long sum = 0;
    for (std::size_t k = 0; k < evs->size(); ++k) {
      EXPECT_EQ((*evs)[k].sequence_nr, k + 1) << id;
      auto e = codec->decode((*evs)[k].manifest, (*evs)[k].version, (*evs)[k].payload);
      ASSERT_TRUE(e);
      sum += std::get<bank::deposited>(*e).cents;
    }
    EXPECT_EQ(evs->size(), 6u) << id;
    EXPECT_EQ(sum, acknowledged[id]) << id;
  }
  j->close();
}

}  // namespace
