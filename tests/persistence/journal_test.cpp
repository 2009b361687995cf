// The journal's contract, run against every store: memory, SQLite, and (in the postgres tests)
// PostgreSQL. Each test starts with an empty store.
#include "troupe/persistence/journal.hpp"

#include <gtest/gtest.h>

#include <atomic>
#include <condition_variable>
#include <future>
#include <mutex>
#include <thread>

#include "core/test_support.hpp"
#include "journal_fixture.hpp"
#include "memory_backed_storage.hpp"
#include "storage_factories.hpp"

namespace {

using namespace troupe_test;
using persistence::errc;

class Journal : public ::testing::TestWithParam<std::string> {
 protected:
  void SetUp() override {
    auto s = make_storage(GetParam(), dir_);
    ASSERT_TRUE(s) << s.error().message();
    storage_ = *s;
    j_ = persistence::journal::start(storage_);
  }

  troupe::result<void> write(std::string id, std::uint64_t next, std::vector<persistence::persistent_event> evs) {
    persistence::write_request w{std::move(id), next, std::move(evs)};
    return await<void>([&](auto d) { j_->async_write(std::move(w), std::move(d)); });
  }
  std::vector<persistence::persistent_event> read(std::string id, std::uint64_t from = 1) {
    auto r = await<std::vector<persistence::persistent_event>>(
        [&](auto d) { j_->async_read(id, from, UINT64_MAX, UINT64_MAX, std::move(d)); });
    EXPECT_TRUE(r) << r.error().message();
    return r ? *r : std::vector<persistence::persistent_event>{};
  }

  temp_dir dir_;
  std::shared_ptr<persistence::storage> storage_;
  std::shared_ptr<persistence::journal> j_;
};

TEST_P(Journal, ReadsBackWrittenEventsInSequenceOrder) {
  ASSERT_TRUE(write("a", 1, {event_of("a", 1, "one", {"t"}), event_of("a", 2, "two")}));
  ASSERT_TRUE(write("a", 3, {event_of("a", 3, "three")}));
  auto evs = read("a");
  ASSERT_EQ(evs.size(), 3u);
  EXPECT_EQ(text_of(evs[0].payload), "one");
  EXPECT_EQ(evs[0].tags, std::vector<std::string>{"t"});
  EXPECT_EQ(evs[0].manifest, "test.text");
  EXPECT_EQ(evs[2].sequence_nr, 3u);
  EXPECT_LT(evs[0].offset, evs[1].offset);
  EXPECT_EQ(read("a", 2).size(), 2u);
  EXPECT_TRUE(read("b").empty());
}

TEST_P(Journal, KeepsEveryByteOfAPayloadAndOfTheEmptyOne) {
  auto e1 = event_of("bin", 1, "");
  e1.payload = std::string("\0\xff\x01\"\\{},\n", 9);
  e1.tags = {"a tag, with \"quotes\" and \\"};
  auto e2 = event_of("bin", 2, "");
  auto w = write("bin", 1, {e1, e2});
  ASSERT_TRUE(w) << w.error().message();
  auto evs = read("bin");
  ASSERT_EQ(evs.size(), 2u);
  EXPECT_EQ(evs[0].payload, e1.payload);
  EXPECT_EQ(evs[0].tags, e1.tags);
  EXPECT_EQ(evs[1].payload, "");
}

TEST_P(Journal, RefusesAWriteWhoseExpectedSequenceNumberIsTaken) {
  ASSERT_TRUE(write("a", 1, {event_of("a", 1, "first writer")}));
  auto r = write("a", 1, {event_of("a", 1, "second writer")});
  ASSERT_FALSE(r);
  EXPECT_EQ(r.error(), errc::sequence_conflict);
  auto evs = read("a");
  ASSERT_EQ(evs.size(), 1u);
  EXPECT_EQ(text_of(evs[0].payload), "first writer");
}

TEST_P(Journal, LetsOnlyOneOfTwoRacingWritersOfOneIdWin) {
  std::atomic<int> wins{0}, conflicts{0};
  std::vector<std::thread> ts;
  for (int w = 0; w < 2; ++w)
    ts.emplace_back([&, w] {
      for (std::uint64_t seq = 1; seq <= 50; ++seq) {
        auto r = write("race", seq, {event_of("race", seq, std::to_string(w))});
        (r ? wins : conflicts)++;
        if (!r) {
          EXPECT_EQ(r.error(), errc::sequence_conflict) << r.error().message();
        }
      }
    });
  for (auto& t : ts) t.join();
  EXPECT_EQ(wins.load(), 50);
  EXPECT_EQ(conflicts.load(), 50);
  EXPECT_EQ(read("race").size(), 50u);
}

TEST_P(Journal, FailsOnlyTheConflictingRequestOfAGroupCommit) {
  // Many requests queued at once land in one transaction; one bad one must not fail the others.
  std::vector<std::future<troupe::result<void>>> fs;
  for (int i = 0; i < 20; ++i) {
    auto p = std::make_shared<std::promise<troupe::result<void>>>();
    fs.push_back(p->get_future());
    std::string id = "g" + std::to_string(i % 10);
    std::uint64_t seq = i < 10 ? 1 : (i == 15 ? 7 : 2);  // request 15 names a wrong sequence number
    j_->async_write({id, seq, {event_of(id, seq, "x")}}, [p](troupe::result<void> r) { p->set_value(std::move(r)); });
  }
  for (int i = 0; i < 20; ++i) {
    ASSERT_EQ(fs[i].wait_for(std::chrono::seconds(30)), std::future_status::ready);
    auto r = fs[i].get();
    if (i == 15)
      EXPECT_EQ(r.error(), errc::sequence_conflict);
    else
      EXPECT_TRUE(r) << i << ": " << r.error().message();
  }
  EXPECT_EQ(read("g5").size(), 1u);
  EXPECT_EQ(read("g4").size(), 2u);
}

TEST_P(Journal, AppendsAnIdsPipelinedRequestsInOneCommitAndFailsAChainWhoseFirstConflicts) {
  // An actor's persist_async writes arrive together, each expecting the number after the
  // previous one's events (PostgreSQL writes them as one statement per chain).
  std::vector<std::future<troupe::result<void>>> fs;
  auto send = [&](const std::string& id, std::uint64_t seq, int n) {
    auto p = std::make_shared<std::promise<troupe::result<void>>>();
    fs.push_back(p->get_future());
    std::vector<persistence::persistent_event> evs;
    for (int k = 0; k < n; ++k) evs.push_back(event_of(id, seq + k, id + std::to_string(seq + k)));
    j_->async_write({id, seq, std::move(evs)}, [p](troupe::result<void> r) { p->set_value(std::move(r)); });
  };
  send("c", 1, 2);
  send("d", 1, 1);
  send("c", 3, 1);
  send("c", 4, 3);
  send("d", 2, 1);
  send("e", 5, 1);  // e is empty: its chain starts wrong
  send("e", 6, 1);  // and so does the request after it
  send("d", 3, 1);
  std::vector<bool> expect_ok{true, true, true, true, true, false, false, true};
  for (std::size_t i = 0; i < fs.size(); ++i) {
    ASSERT_EQ(fs[i].wait_for(std::chrono::seconds(30)), std::future_status::ready);
    auto r = fs[i].get();
    if (expect_ok[i]) {
      EXPECT_TRUE(r) << i << ": " << r.error().message();
    } else {
      EXPECT_EQ(r.error(), errc::sequence_conflict) << i;
    }
  }
  auto c = read("c");
  ASSERT_EQ(c.size(), 6u);
  for (std::size_t k = 0; k < c.size(); ++k) {
    EXPECT_EQ(c[k].sequence_nr, k + 1);
    EXPECT_EQ(text_of(c[k].payload), "c" + std::to_string(k + 1));
    if (k > 0) {
      EXPECT_GT(c[k].offset, c[k - 1].offset);
    }
  }
  EXPECT_EQ(read("d").size(), 3u);
  EXPECT_TRUE(read("e").empty());
}

TEST_P(Journal, KeepsTheHighestSequenceNumberAfterDeletingEvents) {
  ASSERT_TRUE(write("a", 1, {event_of("a", 1, "1"), event_of("a", 2, "2"), event_of("a", 3, "3")}));
  ASSERT_TRUE(await<void>([&](auto d) { j_->async_delete_up_to("a", 3, std::move(d)); }));
  EXPECT_TRUE(read("a").empty());
  auto h = await<std::uint64_t>([&](auto d) { j_->async_highest_sequence_nr("a", std::move(d)); });
  ASSERT_TRUE(h);
  EXPECT_EQ(*h, 3u);
  EXPECT_EQ(write("a", 1, {event_of("a", 1, "again")}).error(), errc::sequence_conflict);
  EXPECT_TRUE(write("a", 4, {event_of("a", 4, "4")}));
}

TEST_P(Journal, ReadsEventsByTagInPagesFromAnOffset) {
  for (std::uint64_t i = 1; i <= 5; ++i) {
    ASSERT_TRUE(write("x", i, {event_of("x", i, "x" + std::to_string(i), {"blue"})}));
    ASSERT_TRUE(write("y", i, {event_of("y", i, "y" + std::to_string(i), i % 2 ? std::vector<std::string>{"blue", "odd"} : std::vector<std::string>{})}));
  }
  std::vector<std::string> seen;
  std::uint64_t offset = 0;
  for (;;) {
    auto page = await<std::vector<persistence::persistent_event>>(
        [&](auto d) { j_->async_read_by_tag("blue", offset, 3, std::move(d)); });
    ASSERT_TRUE(page);
    if (page->empty()) break;
    EXPECT_LE(page->size(), 3u);
    for (auto& e : *page) {
      EXPECT_GT(e.offset, offset);
      offset = e.offset;
      seen.push_back(text_of(e.payload));
    }
  }
  EXPECT_EQ(seen, (std::vector<std::string>{"x1", "y1", "x2", "x3", "y3", "x4", "x5", "y5"}));
}

TEST_P(Journal, NeverReusesTheOffsetOfADeletedEventSoAReaderByTagMissesNothing) {
  // A read model remembers the last offset it saw. Deleting the newest events must not let the
  // next append take an offset at or below it (SQLite hands out max(rowid) + 1), or the
  // reader skips the new event, or reads it again under an offset it had already passed.
  ASSERT_TRUE(write("old", 1, {event_of("old", 1, "o1", {"t"}), event_of("old", 2, "o2", {"t"})}));
  auto seen = await<std::vector<persistence::persistent_event>>(
      [&](auto d) { j_->async_read_by_tag("t", 0, UINT64_MAX, std::move(d)); });
  ASSERT_TRUE(seen);
  ASSERT_EQ(seen->size(), 2u);
  std::uint64_t remembered = seen->back().offset;
  ASSERT_TRUE(await<void>([&](auto d) { j_->async_delete_up_to("old", 2, std::move(d)); }));
  ASSERT_TRUE(write("new", 1, {event_of("new", 1, "n1", {"t"})}));
  ASSERT_TRUE(write("new", 2, {event_of("new", 2, "n2", {"t"}), event_of("new", 3, "n3")}));
  auto next = await<std::vector<persistence::persistent_event>>(
      [&](auto d) { j_->async_read_by_tag("t", remembered, UINT64_MAX, std::move(d)); });
  ASSERT_TRUE(next) << next.error().message();
  ASSERT_EQ(next->size(), 2u);
  EXPECT_EQ(text_of((*next)[0].payload), "n1");
  EXPECT_EQ(text_of((*next)[1].payload), "n2");
  EXPECT_GT((*next)[0].offset, remembered);
  auto evs = read("new");
  ASSERT_EQ(evs.size(), 3u);
  EXPECT_GT(evs[0].offset, remembered);
  EXPECT_LT(evs[0].offset, evs[1].offset);
  EXPECT_LT(evs[1].offset, evs[2].offset);
}

TEST_P(Journal, LoadsTheNewestSnapshotAndKeepsOnlyTheLastK) {
  auto none = await<std::optional<persistence::snapshot>>([&](auto d) { j_->async_load_snapshot("a", std::move(d)); });
  ASSERT_TRUE(none);
  EXPECT_FALSE(none->has_value());
  for (std::uint64_t seq : {10, 20, 30, 40}) {
    persistence::snapshot s{"a", seq, "state", 1, event_of("a", seq, "s" + std::to_string(seq)).payload};
    ASSERT_TRUE(await<void>([&](auto d) { j_->async_save_snapshot(s, 2, std::move(d)); }));
  }
  auto s = await<std::optional<persistence::snapshot>>([&](auto d) { j_->async_load_snapshot("a", std::move(d)); });
  ASSERT_TRUE(s && s->has_value());
  EXPECT_EQ((*s)->sequence_nr, 40u);
  EXPECT_EQ(text_of((*s)->payload), "s40");
}

TEST_P(Journal, SavesDurableStateOnlyOverTheRevisionItRead) {
  persistence::durable_state s{"cart", 1, "cart", 1, event_of("cart", 1, "one item").payload};
  ASSERT_TRUE(await<void>([&](auto d) { j_->async_upsert_state(s, std::move(d)); }));
  auto stale = s;  // a second incarnation that also read "nothing stored" and saves revision 1
  stale.payload = event_of("cart", 1, "other item").payload;
  auto r = await<void>([&](auto d) { j_->async_upsert_state(stale, std::move(d)); });
  ASSERT_FALSE(r);
  EXPECT_EQ(r.error(), errc::revision_conflict);
  s.revision = 2;
  s.payload = event_of("cart", 1, "two items").payload;
  ASSERT_TRUE(await<void>([&](auto d) { j_->async_upsert_state(s, std::move(d)); }));
  auto got = await<std::optional<persistence::durable_state>>([&](auto d) { j_->async_get_state("cart", std::move(d)); });
  ASSERT_TRUE(got && got->has_value());
  EXPECT_EQ((*got)->revision, 2u);
  EXPECT_EQ(text_of((*got)->payload), "two items");
}

TEST_P(Journal, LetsOneOfTwoRacingDurableStateWritersWin) {
  std::atomic<int> wins{0}, conflicts{0};
  std::vector<std::thread> ts;
  for (int w = 0; w < 2; ++w)
    ts.emplace_back([&, w] {
      for (std::uint64_t rev = 1; rev <= 30; ++rev) {
        persistence::durable_state s{"raced", rev, "m", 1, event_of("raced", rev, std::to_string(w)).payload};
        auto r = await<void>([&](auto d) { j_->async_upsert_state(s, std::move(d)); });
        (r ? wins : conflicts)++;
      }
    });
  for (auto& t : ts) t.join();
  EXPECT_EQ(wins.load(), 30);
  EXPECT_EQ(conflicts.load(), 30);
}

TEST_P(Journal, AnswersClosedAfterCloseInsteadOfHanging) {
  j_->close();
  auto r = write("a", 1, {event_of("a", 1, "late")});
  ASSERT_FALSE(r);
  EXPECT_EQ(r.error(), errc::closed);
}

TEST_P(Journal, CompletesEveryQueuedRequestWhenClosed) {
  std::atomic<int> done{0};
  for (std::uint64_t i = 1; i <= 600; ++i)  // more than one pipeline round trip (256)
    j_->async_write({"q", i, {event_of("q", i, "e")}}, [&](troupe::result<void> r) {
      EXPECT_TRUE(r) << r.error().message();
      done++;
    });
  j_->close();
  EXPECT_EQ(done.load(), 600);
}

// An actor's callback can hold the last reference (its behaviour's spec holds the journal), and
// that callback is destroyed on one of the journal's threads (which cannot join itself) when the
// actor has stopped meanwhile: a program that ends right after a reply (examples/shopping_cart)
// did that, and aborted.
TEST_P(Journal, EndsCleanlyWhenACompletionOnItsOwnThreadLetsGoOfTheLastReference) {
  troupe_test::gate go;
  j_->async_highest_sequence_nr("a", [&go](troupe::result<std::uint64_t>) { go.wait(); });  // holds the thread
  auto holder = std::make_shared<std::shared_ptr<persistence::journal>>(std::move(j_));
  (*holder)->async_highest_sequence_nr("a", [holder](troupe::result<std::uint64_t>) { holder->reset(); });
  std::promise<troupe::result<void>> queued_behind;
  (*holder)->async_write({"b", 1, {event_of("b", 1, "after the last reference")}},
                         [&queued_behind](troupe::result<void> r) { queued_behind.set_value(std::move(r)); });
  std::weak_ptr<persistence::storage> store = storage_;
  storage_.reset();
  go.open();
  auto f = queued_behind.get_future();
  ASSERT_EQ(f.wait_for(troupe_test::deadline), std::future_status::ready);
  auto r = f.get();
  EXPECT_TRUE(r) << r.error().message();  // queued before the journal went: completed, not refused
  // Its threads free the journal's state, and with it the store, once they have ended.
  EXPECT_TRUE(troupe_test::wait_until([&] { return store.expired(); }));
}

// A store that syncs apart (as SQLite does when durable), over memory: each sync() waits at a
// gate the test opens, and fails when told to, so the tests can see what the journal completes
// before, and after, a sync.
class syncing_apart_storage final : public troupe_test::memory_backed_storage {
 public:
  std::vector<troupe::result<void>> write(std::span<persistence::write_request> ws) override {
    auto r = memory_backed_storage::write(ws);
    std::lock_guard lock(mu_);
    ++commits_;
    return r;
  }

  bool syncs_apart() const override { return true; }
  troupe::result<void> sync() override {
    std::unique_lock lock(mu_);
    ++syncs_started_;
    commits_at_sync_.push_back(commits_);
    changed_.notify_all();
    changed_.wait(lock, [&] { return open_; });
    if (fail_) return troupe::error{errc::storage_error, "the test failed this sync"};
    return {};
  }

  // The test's side.
  void close_gate() {
    std::lock_guard lock(mu_);
    open_ = false;
  }
  void open_gate(bool fail = false) {
    {
      std::lock_guard lock(mu_);
      open_ = true;
      fail_ = fail;
    }
    changed_.notify_all();
  }
  // Waits (at most 30 s) until `n` syncs have begun; false on the deadline.
  bool wait_for_syncs(int n) {
    std::unique_lock lock(mu_);
    return changed_.wait_for(lock, std::chrono::seconds(30), [&] { return syncs_started_ >= n; });
  }
  // The commits made before each sync began.
  std::vector<int> commits_at_sync() {
    std::lock_guard lock(mu_);
    return commits_at_sync_;
  }

 private:
  std::mutex mu_;
  std::condition_variable changed_;
  int commits_ = 0;
  int syncs_started_ = 0;
  std::vector<int> commits_at_sync_;
  bool open_ = true;
  bool fail_ = false;
};

// Opens the store's gate when a test ends early, so that closing its journal cannot hang.
struct gate_opener {
  syncing_apart_storage& store;
  ~gate_opener() { store.open_gate(); }
};

TEST(JournalOverAStoreThatSyncsApart, CompletesAWriteOnlyAfterASyncThatBeganAfterItsCommit) {
  auto store = std::make_shared<syncing_apart_storage>();
  store->close_gate();
  std::promise<troupe::result<void>> p;  // before the journal: its completion may outlive a failed test
  auto f = p.get_future();
  auto j = persistence::journal::start(store);
  gate_opener opener{*store};
  j->async_write({"a", 1, {event_of("a", 1, "one")}}, [&](troupe::result<void> r) { p.set_value(std::move(r)); });
  ASSERT_TRUE(store->wait_for_syncs(1));
  // The sync has begun and waits at the gate: nothing may be completed yet.
  EXPECT_EQ(f.wait_for(std::chrono::seconds(0)), std::future_status::timeout);
  EXPECT_EQ(store->commits_at_sync().at(0), 1);
  store->open_gate();
  ASSERT_EQ(f.wait_for(std::chrono::seconds(30)), std::future_status::ready);
  auto r = f.get();
  EXPECT_TRUE(r) << r.error().message();
}

TEST(JournalOverAStoreThatSyncsApart, KeepsCompletionsInRequestOrderAcrossWritesReadsAndChanges) {
  auto store = std::make_shared<syncing_apart_storage>();
  auto j = persistence::journal::start(store);
  std::mutex mu;
  std::vector<std::string> order;
  auto note = [&](std::string what) {
    std::lock_guard lock(mu);
    order.push_back(std::move(what));
  };
  std::vector<std::string> expected;
  for (std::uint64_t i = 1; i <= 200; ++i) {
    j->async_write({"a", i, {event_of("a", i, "e")}}, [&, i](troupe::result<void> r) {
      EXPECT_TRUE(r) << r.error().message();
      note("w" + std::to_string(i));
    });
    expected.push_back("w" + std::to_string(i));
    if (i % 50 == 0) {
      j->async_read("a", 1, UINT64_MAX, UINT64_MAX, [&, i](troupe::result<std::vector<persistence::persistent_event>> r) {
        // A read sees every write made before it.
        EXPECT_TRUE(r && r->size() == i);
        note("r" + std::to_string(i));
      });
      expected.push_back("r" + std::to_string(i));
      j->async_upsert_state({"s", i / 50, "m", 1, "x"}, [&, i](troupe::result<void> r) {
        EXPECT_TRUE(r) << r.error().message();
        note("s" + std::to_string(i));
      });
      expected.push_back("s" + std::to_string(i));
    }
  }
  j->close();
  EXPECT_EQ(order, expected);
}

TEST(JournalOverAStoreThatSyncsApart, FailsTheWritesAFailedSyncLeavesUnknownAndEveryLaterOneWithoutHanging) {
  auto store = std::make_shared<syncing_apart_storage>();
  store->close_gate();
  std::promise<troupe::result<void>> p;
  auto f = p.get_future();
  auto j = persistence::journal::start(store);
  gate_opener opener{*store};
  j->async_write({"a", 1, {event_of("a", 1, "one")}}, [&](troupe::result<void> r) { p.set_value(std::move(r)); });
  ASSERT_TRUE(store->wait_for_syncs(1));
  store->open_gate(/*fail=*/true);
  ASSERT_EQ(f.wait_for(std::chrono::seconds(30)), std::future_status::ready);
  auto r = f.get();
  ASSERT_FALSE(r);
  EXPECT_EQ(r.error(), errc::storage_error);
  // The store may have lost what it could not sync: nothing later is reported durable either.
  store->open_gate();
  auto later = await<void>([&](auto d) { j->async_write({"b", 1, {event_of("b", 1, "two")}}, std::move(d)); });
  ASSERT_FALSE(later);
  EXPECT_EQ(later.error(), errc::storage_error);
}

INSTANTIATE_TEST_SUITE_P(Stores, Journal, ::testing::ValuesIn(local_stores()),
                         [](const auto& info) { return info.param; });
// Needs the throwaway server (label postgres, fixture PostgresCluster.Start).
INSTANTIATE_TEST_SUITE_P(Postgres, Journal, ::testing::Values(std::string("postgres")),
                         [](const auto& info) { return info.param; });

}  // namespace
