// Event-sourced actors over a journal: replies after durability, recovery before commands,
// snapshots, upcasting of old events, and let-it-crash on journal failures.
#include "troupe/persistence/event_sourced.hpp"

#include <gtest/gtest.h>

#include "bank_account.hpp"
#include "core/test_support.hpp"
#include "journal_fixture.hpp"
#include "troupe/otp/backoff_supervisor.hpp"
#include "troupe/otp/ignore_ref.hpp"

namespace {

using namespace troupe_test;
using namespace std::chrono_literals;
using persistence::errc;

troupe::system_config quiet() {
  auto cfg = small_config();
  cfg.logger = [](troupe::log_level, std::string_view) {};
  return cfg;
}

long ask_balance(troupe::ref<bank::command> a) {
  auto r = a.ask<long>([](troupe::ref<long> r) { return bank::get_balance{r}; }, 20s).get();
  EXPECT_TRUE(r) << r.error().message();
  return r ? *r : -999;
}
long deposit(troupe::ref<bank::command> a, long cents) {
  auto r = a.ask<long>([cents](troupe::ref<long> r) { return bank::deposit{cents, r}; }, 20s).get();
  EXPECT_TRUE(r) << r.error().message();
  return r ? *r : -999;
}

struct fixture {
  std::shared_ptr<persistence::memory_storage> mem = std::make_shared<persistence::memory_storage>();
  std::shared_ptr<persistence::journal> j = persistence::journal::start(mem);
  troupe::system sys{quiet()};
};

TEST(EventSourced, RepliesAfterTheEventIsDurableAndRecoversItInANewIncarnation) {
  fixture f;
  auto a = f.sys.spawn(persistence::event_sourced(bank::spec("acct-1", f.j)));
  EXPECT_EQ(deposit(a, 100), 100);
  // The reply came after the write: the event is in the store now.
  EXPECT_EQ(*f.mem->highest_sequence_nr("acct-1"), 1u);
  EXPECT_EQ(deposit(a, 50), 150);
  auto down = watch_from_outside(f.sys, a);
  a.tell(bank::close_account{});
  ASSERT_TRUE(down->pop());
  auto b = f.sys.spawn(persistence::event_sourced(bank::spec("acct-1", f.j)));
  EXPECT_EQ(ask_balance(b), 150);
  EXPECT_EQ(deposit(b, 1), 151);
  EXPECT_EQ(*f.mem->highest_sequence_nr("acct-1"), 3u);
}

TEST(EventSourced, CommandsSentDuringRecoveryWaitForTheRecoveredState) {
  fixture f;
  {
    auto a = f.sys.spawn(persistence::event_sourced(bank::spec("acct-2", f.j)));
    for (int i = 0; i < 300; ++i) a.tell(bank::deposit{1, troupe::otp::ignore_ref<long>()});
    EXPECT_EQ(deposit(a, 1), 301);
    auto down = watch_from_outside(f.sys, a);
    a.tell(bank::close_account{});
    ASSERT_TRUE(down->pop());
  }
  auto spec = bank::spec("acct-2", f.j);
  spec.replay_page = 7;  // recovery takes many round trips; the commands must wait through all
  auto b = f.sys.spawn(persistence::event_sourced(spec));
  auto first = b.ask<long>([](troupe::ref<long> r) { return bank::get_balance{r}; }, 20s);
  auto second = b.ask<long>([](troupe::ref<long> r) { return bank::withdraw{1, r}; }, 20s);
  EXPECT_EQ(*first.get(), 301);
  EXPECT_EQ(*second.get(), 300);
}

TEST(EventSourced, PersistAsyncKeepsTakingCommandsAndRepliesInOrderOnceDurable) {
  fixture f;
  auto a = f.sys.spawn(persistence::event_sourced(bank::spec("acct-async", f.j)));
  std::vector<std::future<troupe::result<long>>> replies;
  for (long i = 1; i <= 200; ++i)
    replies.push_back(a.ask<long>([](troupe::ref<long> r) { return bank::deposit_async{1, r}; }, 20s));
  for (long i = 1; i <= 200; ++i) {
    auto r = replies[static_cast<std::size_t>(i - 1)].get();
    ASSERT_TRUE(r) << r.error().message();
    EXPECT_EQ(*r, i);  // each reply sees its own event applied, in order
  }
  EXPECT_EQ(*f.mem->highest_sequence_nr("acct-async"), 200u);
  EXPECT_EQ(deposit(a, 1), 201);  // a synchronous persist after the asynchronous ones follows them
  auto down = watch_from_outside(f.sys, a);
  a.tell(bank::close_account{});
  ASSERT_TRUE(down->pop());
  auto b = f.sys.spawn(persistence::event_sourced(bank::spec("acct-async", f.j)));
  EXPECT_EQ(ask_balance(b), 201);
}

TEST(EventSourced, SavesSnapshotsEveryNEventsAndRecoversFromTheLatest) {
  fixture f;
  persistence::snapshot_policy snaps{.every = 10, .keep = 2, .delete_events = true};
  auto a = f.sys.spawn(persistence::event_sourced(bank::spec("acct-3", f.j, snaps)));
  for (int i = 0; i < 25; ++i) deposit(a, 2);
  auto s = f.mem->load_snapshot("acct-3");
  ASSERT_TRUE(s && s->has_value());
  EXPECT_EQ((*s)->sequence_nr, 20u);
  // Snapshots 10 and 20 are kept; events up to 10 are covered by the older one and deleted.
  auto evs = f.mem->read("acct-3", 1, UINT64_MAX, UINT64_MAX);
  ASSERT_TRUE(evs);
  ASSERT_FALSE(evs->empty());
  EXPECT_EQ(evs->front().sequence_nr, 11u);
  auto down = watch_from_outside(f.sys, a);
  a.tell(bank::close_account{});
  ASSERT_TRUE(down->pop());
  auto b = f.sys.spawn(persistence::event_sourced(bank::spec("acct-3", f.j, snaps)));
  EXPECT_EQ(ask_balance(b), 50);
  EXPECT_EQ(deposit(b, 1), 51);
  EXPECT_EQ(*f.mem->highest_sequence_nr("acct-3"), 26u);
}

long withdraw(troupe::ref<bank::command> a, long cents) {
  auto r = a.ask<long>([cents](troupe::ref<long> r) { return bank::withdraw{cents, r}; }, 20s).get();
  EXPECT_TRUE(r) << r.error().message();
  return r ? *r : -999;
}

TEST(EventSourced, SavesSnapshotsWhenThePredicateSaysSoWithTheSameRetention) {
  fixture f;
  persistence::snapshot_policy snaps{.every = 0, .keep = 2, .delete_events = true};
  auto spec = bank::spec("acct-when", f.j, snaps);
  std::vector<std::uint64_t> asked;  // the predicate sees each persisted event's sequence number
  spec.snapshot_when = [&asked](const bank::account& a, const bank::event& e, std::uint64_t seq) {
    asked.push_back(seq);
    return std::holds_alternative<bank::withdrawn>(e) && a.cents >= 0;
  };
  auto a = f.sys.spawn(persistence::event_sourced(spec));
  for (int i = 0; i < 3; ++i) deposit(a, 10);  // 1..3
  EXPECT_EQ(withdraw(a, 5), 25);               // 4: snapshot
  // Snapshots and deletions are saved after the reply: wait for them.
  auto newest_snapshot = [&] {
    auto s = f.mem->load_snapshot("acct-when");
    return s && s->has_value() ? (*s)->sequence_nr : 0;
  };
  auto first_event = [&] {
    auto evs = f.mem->read("acct-when", 1, UINT64_MAX, UINT64_MAX);
    return evs && !evs->empty() ? evs->front().sequence_nr : 0;
  };
  ASSERT_TRUE(wait_until([&] { return newest_snapshot() == 4; })) << newest_snapshot();
  EXPECT_EQ(first_event(), 1u);  // one snapshot known, two kept: nothing deleted yet
  deposit(a, 1);                  // 5
  EXPECT_EQ(withdraw(a, 1), 25);  // 6: snapshot; 4 and 6 kept, events up to 4 deleted
  ASSERT_TRUE(wait_until([&] { return first_event() == 5; })) << first_event();
  deposit(a, 2);                  // 7
  deposit(a, 2);                  // 8
  EXPECT_EQ(withdraw(a, 4), 25);  // 9: snapshot; 6 and 9 kept, events up to 6 deleted
  ASSERT_TRUE(wait_until([&] { return first_event() == 7; })) << first_event();
  EXPECT_EQ(newest_snapshot(), 9u);
  std::vector<std::uint64_t> expected{1, 2, 3, 4, 5, 6, 7, 8, 9};
  EXPECT_EQ(asked, expected);
  auto down = watch_from_outside(f.sys, a);
  a.tell(bank::close_account{});
  ASSERT_TRUE(down->pop());
  auto b = f.sys.spawn(persistence::event_sourced(bank::spec("acct-when", f.j, snaps)));
  EXPECT_EQ(ask_balance(b), 25);
  EXPECT_EQ(deposit(b, 1), 26);
  EXPECT_EQ(*f.mem->highest_sequence_nr("acct-when"), 10u);
}

// Writes events as the program of version 1 did: its deposited had no memo.
void write_as_version_1(persistence::storage& s, const std::string& id) {
  persistence::serial_codec<bank::v1::event> old;
  std::vector<bank::v1::event> evs{bank::v1::deposited{70}, bank::withdrawn{20}, bank::v1::deposited{5}};
  persistence::write_request w{id, 1, {}};
  std::uint64_t seq = 0;
  for (auto& e : evs) {
    auto enc = old.encode(e);
    ASSERT_TRUE(enc) << enc.error().message();
    w.events.push_back({id, ++seq, enc->manifest, enc->version, {}, enc->payload, 0});
  }
  std::vector<persistence::write_request> ws{w};
  ASSERT_TRUE(s.write(ws)[0]);
}

TEST(EventSourced, UpcastsEventsWrittenByAnOlderVersionOfTheirType) {
  fixture f;
  write_as_version_1(*f.mem, "acct-4");
  EXPECT_EQ(f.mem->read("acct-4", 1, 1, 1)->front().version, 1u);
  auto a = f.sys.spawn(persistence::event_sourced(bank::spec("acct-4", f.j)));
  EXPECT_EQ(ask_balance(a), 55);
  EXPECT_EQ(deposit(a, 5), 60);
  EXPECT_EQ(f.mem->read("acct-4", 4, 4, 1)->front().version, 2u);  // new events at version 2
}

std::string stop_reason_of(fixture& f, persistence::event_sourced_spec<bank::command, bank::event, bank::account> spec) {
  auto a = f.sys.spawn(persistence::event_sourced(std::move(spec)));
  auto down = watch_from_outside(f.sys, a);
  a.tell(bank::get_balance{troupe::otp::ignore_ref<long>()});
  auto t = down->pop();
  if (!t) return "did not stop";
  EXPECT_TRUE(t->reason.is_failure());
  return t->reason.text;
}

TEST(EventSourced, StopsWithAClearReasonWhenAnOldEventHasNoUpcaster) {
  fixture f;
  write_as_version_1(*f.mem, "acct-5");
  auto spec = bank::spec("acct-5", f.j);
  spec.events = bank::event_codec(/*with_upcaster=*/false);
  auto reason = stop_reason_of(f, spec);
  EXPECT_NE(reason.find("missing upcaster"), std::string::npos) << reason;
  EXPECT_NE(reason.find("acct-5"), std::string::npos) << reason;
}

TEST(EventSourced, StopsWithAClearReasonWhenAStoredEventIsUnknownOrCorrupt) {
  fixture f;
  f.mem->put_raw({"acct-6", 1, "bank::refunded", 1, {}, "whatever", 0});
  auto reason = stop_reason_of(f, bank::spec("acct-6", f.j));
  EXPECT_NE(reason.find("unknown event type"), std::string::npos) << reason;
  // A withdrawn whose last byte was lost: the right type, but its fields cannot be read.
  auto enc = bank::event_codec()->encode(bank::withdrawn{1000});
  ASSERT_TRUE(enc);
  enc->payload.pop_back();
  f.mem->put_raw({"acct-7", 1, enc->manifest, enc->version, {}, enc->payload, 0});
  reason = stop_reason_of(f, bank::spec("acct-7", f.j));
  EXPECT_NE(reason.find("corrupt"), std::string::npos) << reason;
}

TEST(EventSourced, StopsWithTheJournalsReasonWhenAWriteFailsAndNeverReplies) {
  fixture f;
  auto a = f.sys.spawn(persistence::event_sourced(bank::spec("acct-8", f.j)));
  EXPECT_EQ(deposit(a, 10), 10);
  auto down = watch_from_outside(f.sys, a);
  f.mem->fail_next_writes(1, {errc::storage_full, "disk full (injected)"});
  auto r = a.ask<long>([](troupe::ref<long> r) { return bank::deposit{5, r}; }, 20s).get();
  EXPECT_FALSE(r);  // never acknowledged
  auto t = down->pop();
  ASSERT_TRUE(t);
  EXPECT_NE(t->reason.text.find("store full"), std::string::npos) << t->reason.text;
  EXPECT_NE(t->reason.text.find("disk full (injected)"), std::string::npos) << t->reason.text;
}

TEST(EventSourced, IsRestartedByABackoffSupervisorAfterAFailedWriteAndRecovers) {
  fixture f;
  auto sup = f.sys.spawn(troupe::otp::backoff_supervisor(
      [j = f.j] { return persistence::event_sourced(bank::spec("acct-9", j)); }, {.min_backoff = 1ms},
      {.spawn = {.name = "acct-9"}}));
  auto find = [&] {
    troupe::ref<bank::command> out;
    EXPECT_TRUE(wait_until([&] {
      auto r = f.sys.lookup<bank::command>("acct-9");
      if (r) out = *r;
      return static_cast<bool>(r);
    }));
    return out;
  };
  auto a = find();
  EXPECT_EQ(deposit(a, 10), 10);
  f.mem->fail_next_writes(1, {errc::unavailable, "server down (injected)"});
  auto down = watch_from_outside(f.sys, a);
  a.tell(bank::deposit{5, troupe::otp::ignore_ref<long>()});
  ASSERT_TRUE(down->pop());
  long balance = -1;
  ASSERT_TRUE(wait_until([&] {
    auto r = f.sys.lookup<bank::command>("acct-9");
    if (!r) return false;
    auto b = r->ask<long>([](troupe::ref<long> rr) { return bank::get_balance{rr}; }, 20s).get();
    if (!b) return false;
    balance = *b;
    return true;
  }));
  EXPECT_EQ(balance, 10);  // the failed deposit was never applied
  (void)sup;
}

}  // namespace
