// membership_store_test.cpp: the membership table and grain directory against SQLite and a real
// PostgreSQL: conditional writes, racing registrations, take-over from dead members only; the
// remembered entities of sharding.
#include "troupe/cluster/membership_store.hpp"

#include <gtest/gtest.h>

#include <atomic>
#include <chrono>
#include <fstream>
#include <functional>
#include <string>
#include <thread>
#include <vector>

#include "cluster/cluster_process.hpp"

namespace tc = troupe::cluster;
using tc::testing::store_kind;

namespace {

class MembershipStore : public ::testing::TestWithParam<store_kind> {
 protected:
  void SetUp() override {
    cluster_ = std::string(::testing::UnitTest::GetInstance()->current_test_info()->name()) + "-" +
               std::to_string(::getpid()) + "-" +
               std::to_string(std::chrono::steady_clock::now().time_since_epoch().count());
    arg_ = tc::testing::store_arg(GetParam(), "store");
  }
  void TearDown() override { tc::testing::remove_store(arg_); }
  std::unique_ptr<tc::membership_store> open() {
    auto s = arg_.rfind("sqlite:", 0) == 0 ? tc::membership_store::open_sqlite(arg_.substr(7)) : open_pg();
    if (!s) throw std::runtime_error(s.error().message());
    return std::move(*s);
  }
  troupe::result<std::unique_ptr<tc::membership_store>> open_pg() {
    std::ifstream f(arg_.substr(7));
    std::string conninfo;
    std::getline(f, conninfo);
    return tc::membership_store::open_postgres(conninfo);
  }
  tc::member row(tc::membership_store& s, const std::string& node) {
    auto rows = s.members(cluster_).value();
    for (auto& m : rows)
      if (m.node == node) return m;
    throw std::runtime_error("no row for " + node);
  }
  // Nodes a and b, each on a connection of its own (as node processes have), run `register_all`
  // at once (`first_node` is true for a) over keys 0..keys-1, writing the holder each was told
  // of per key; then both must have been told the same holder, the one the directory holds.
  using registrar = std::function<void(tc::membership_store&, const std::string&, std::vector<std::string>&, bool)>;
  void race_a_and_b(int keys, const registrar& register_all) {
    auto s1 = open();
    auto s2 = open();
    ASSERT_TRUE(s1->join(cluster_, "a", "a@127.0.0.1:1", 1));
    ASSERT_TRUE(s1->join(cluster_, "b", "b@127.0.0.1:2", 1));
    std::vector<std::string> won_a(keys), won_b(keys);
    std::atomic<bool> go{false};
    auto race = [&](tc::membership_store& s, const std::string& me, std::vector<std::string>& out, bool first_node) {
      while (!go.load(std::memory_order_acquire)) {  // acquire: pairs with the release below
      }
      register_all(s, me, out, first_node);
    };
    std::thread ta(race, std::ref(*s1), "a", std::ref(won_a), true);
    std::thread tb(race, std::ref(*s2), "b", std::ref(won_b), false);
    go.store(true, std::memory_order_release);  // release: both threads start after the joins above
    ta.join();
    tb.join();
    for (int k = 0; k < keys; ++k) {
      EXPECT_EQ(won_a[k], won_b[k]) << "key " << k;
      EXPECT_EQ(s1->lookup_grain(cluster_, "device", std::to_string(k)).value(), won_a[k]);
    }
  }
  std::string cluster_, arg_;
};

TEST_P(MembershipStore, AWriteAtAStaleVersionLosesAndChangesNothing) {
  auto s = open();
  ASSERT_TRUE(s->join(cluster_, "a", "a@127.0.0.1:1", 1));
  auto seen = row(*s, "a");
  auto first = seen;
  first.suspicions = "b=1";
  ASSERT_TRUE(s->update_if(cluster_, first).value());
  auto second = seen;  // read before the first write: its version is stale now
  second.status = tc::member_status::dead;
  EXPECT_FALSE(s->update_if(cluster_, second).value());
  auto now = row(*s, "a");
  EXPECT_EQ(now.status, tc::member_status::up);
  EXPECT_EQ(now.suspicions, "b=1");
  EXPECT_EQ(now.version, seen.version + 1);
}

TEST_P(MembershipStore, AHeartbeatOfAMemberVotedOutTellsItSo) {
  auto s = open();
  ASSERT_TRUE(s->join(cluster_, "a", "a@127.0.0.1:1", 1));
  EXPECT_TRUE(s->heartbeat(cluster_, "a", 2).value());
  auto m = row(*s, "a");
  m.status = tc::member_status::dead;
  ASSERT_TRUE(s->update_if(cluster_, m).value());
  EXPECT_FALSE(s->heartbeat(cluster_, "a", 3).value());
}

TEST_P(MembershipStore, TwoNodesRacingToRegisterEachKeyEndWithOneHolderBothAgreeOn) {
  race_a_and_b(100, [&](tc::membership_store& s, const std::string& me, std::vector<std::string>& out, bool) {
    for (int k = 0; k < 100; ++k) out[k] = s.register_grain(cluster_, "device", std::to_string(k), me).value();
  });
}

TEST_P(MembershipStore, TwoNodesRacingWithBatchesOfRegistrationsEndWithOneHolderPerKeyBothAgreeOn) {
  constexpr int keys = 200, batch = 10;
  // a goes up the keys and b down them, so their batches overlap in the middle.
  race_a_and_b(keys, [&](tc::membership_store& s, const std::string& me, std::vector<std::string>& out, bool first_node) {
    for (int first = 0; first < keys; first += batch) {
      std::vector<tc::grain_id> grains;
      std::vector<int> order;
      for (int i = 0; i < batch; ++i) {
        int k = first_node ? first + i : keys - 1 - first - i;
        grains.push_back({"device", std::to_string(k)});
        order.push_back(k);
      }
      auto holders = s.register_grains(cluster_, grains, me).value();
      ASSERT_EQ(holders.size(), grains.size());
      for (int i = 0; i < batch; ++i) out[order[i]] = holders[i].value();
    }
  });
}

TEST_P(MembershipStore, ABatchAnswersEachGrainAsOneRegistrationWould) {
  auto s = open();
  ASSERT_TRUE(s->join(cluster_, "a", "a@127.0.0.1:1", 1));
  ASSERT_TRUE(s->join(cluster_, "b", "b@127.0.0.1:2", 1));
  ASSERT_EQ(s->register_grain(cluster_, "device", "held", "a").value(), "a");
  auto holders = s->register_grains(cluster_, {{"device", "new"}, {"device", "held"}, {"device", "new"}}, "b").value();
  ASSERT_EQ(holders.size(), 3u);
  EXPECT_EQ(holders[0].value(), "b");
  EXPECT_EQ(holders[1].value(), "a");  // a is up: it keeps it
  EXPECT_EQ(holders[2].value(), "b");  // twice in one batch: still b's
  auto b = row(*s, "b");
  b.status = tc::member_status::left;
  ASSERT_TRUE(s->update_if(cluster_, b).value());
  // A node that is not up: each grain says so, and the batch itself is no failure.
  auto refused = s->register_grains(cluster_, {{"device", "other"}, {"device", "held"}}, "b").value();
  ASSERT_EQ(refused.size(), 2u);
  EXPECT_TRUE(!refused[0] && refused[0].error() == tc::errc::not_a_member);
  EXPECT_FALSE(s->lookup_grain(cluster_, "device", "other").value());
}

TEST_P(MembershipStore, AGrainOfADeadMemberIsTakenOverAndOfAnUpMemberIsNot) {
  auto s = open();
  ASSERT_TRUE(s->join(cluster_, "a", "a@127.0.0.1:1", 1));
  ASSERT_TRUE(s->join(cluster_, "b", "b@127.0.0.1:2", 1));
  EXPECT_EQ(s->register_grain(cluster_, "device", "k", "a").value(), "a");
  EXPECT_EQ(s->register_grain(cluster_, "device", "k", "b").value(), "a");  // a is up: it keeps it
  auto a = row(*s, "a");
  a.status = tc::member_status::dead;
  ASSERT_TRUE(s->update_if(cluster_, a).value());
  EXPECT_EQ(s->register_grain(cluster_, "device", "k", "b").value(), "b");  // a is dead: b takes it
  s->unregister_grain(cluster_, "device", "k", "a").value();  // not a's any more: nothing happens
  EXPECT_EQ(s->lookup_grain(cluster_, "device", "k").value(), "b");
}

TEST_P(MembershipStore, ADeadHoldersGrainIsTakenOverOnlyOnceItsLastHeartbeatIsOlderThanTheFence) {
  auto s = open();
  ASSERT_TRUE(s->join(cluster_, "a", "a@127.0.0.1:1", 1000));
  ASSERT_TRUE(s->join(cluster_, "b", "b@127.0.0.1:2", 1000));
  ASSERT_TRUE(s->heartbeat(cluster_, "a", 5000).value());
  EXPECT_EQ(s->register_grain(cluster_, "device", "k", "a").value(), "a");
  auto a = row(*s, "a");
  a.status = tc::member_status::dead;
  ASSERT_TRUE(s->update_if(cluster_, a).value());
  // a's last heartbeat (5000) is not older than the fence: a may not have found itself out yet.
  EXPECT_EQ(s->register_grain(cluster_, "device", "k", "b", 5000).value(), "a");
  EXPECT_EQ(s->register_grains(cluster_, {{"device", "k"}}, "b", 4000).value().at(0).value(), "a");
  // Older than the fence: b takes it over.
  EXPECT_EQ(s->register_grains(cluster_, {{"device", "k"}}, "b", 5001).value().at(0).value(), "b");
}

TEST_P(MembershipStore, ANodeThatIsNotUpCannotRegisterAGrain) {
  auto s = open();
  ASSERT_TRUE(s->join(cluster_, "a", "a@127.0.0.1:1", 1));
  auto a = row(*s, "a");
  a.status = tc::member_status::left;
  ASSERT_TRUE(s->update_if(cluster_, a).value());
  auto r = s->register_grain(cluster_, "device", "k", "a");
  ASSERT_FALSE(r);
  EXPECT_TRUE(r.error() == tc::errc::not_a_member) << r.error().message();
  EXPECT_FALSE(s->lookup_grain(cluster_, "device", "k").value());
}

TEST(MembershipStoreOpen, AFileThatCannotBeCreatedIsStoreUnavailable) {
  auto s = tc::membership_store::open_sqlite("/nonexistent-dir/x.cluster");
  ASSERT_FALSE(s);
  EXPECT_TRUE(s.error() == tc::errc::store_unavailable) << s.error().message();
}

TEST_P(MembershipStore, RememberedEntitiesAreListedPerShardOnceEachUntilForgotten) {
  auto s = open();
  ASSERT_TRUE(s->remember_entity(cluster_, "cart", "3", "u1"));
  ASSERT_TRUE(s->remember_entity(cluster_, "cart", "3", "u1"));  // idempotent
  ASSERT_TRUE(s->remember_entity(cluster_, "cart", "3", "u0"));
  ASSERT_TRUE(s->remember_entity(cluster_, "cart", "12", "u9"));
  ASSERT_TRUE(s->remember_entity(cluster_, "other", "5", "u1"));
  EXPECT_EQ(s->remembered_entities(cluster_, "cart", "3").value(), (std::vector<std::string>{"u0", "u1"}));
  EXPECT_EQ(s->remembered_shards(cluster_, "cart").value(), (std::vector<std::string>{"12", "3"}));
  ASSERT_TRUE(s->forget_entity(cluster_, "cart", "3", "u1"));
  ASSERT_TRUE(s->forget_entity(cluster_, "cart", "3", "u7"));  // never remembered: nothing
  EXPECT_EQ(s->remembered_entities(cluster_, "cart", "3").value(), (std::vector<std::string>{"u0"}));
  EXPECT_EQ(s->remembered_entities(cluster_, "other", "5").value(), (std::vector<std::string>{"u1"}));
  EXPECT_TRUE(s->remembered_entities(cluster_ + "-another", "cart", "3").value().empty());
}

INSTANTIATE_TEST_SUITE_P(Sqlite, MembershipStore, ::testing::Values(store_kind::sqlite), troupe::cluster::testing::store_name);
INSTANTIATE_TEST_SUITE_P(Postgres, MembershipStore, ::testing::Values(store_kind::postgres), troupe::cluster::testing::store_name);

}  // namespace
