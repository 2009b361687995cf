// mailbox_test.cpp: the mailbox: the lock-free inbox under it, FIFO per sender, one message
// at a time. The concurrency tests are stress tests meant to run under ThreadSanitizer too.
#include "troupe/core/detail/inbox.hpp"

#include <gtest/gtest.h>

#include <thread>
#include <variant>
#include <vector>

#include "test_support.hpp"
#include "troupe/troupe.hpp"

namespace {

using namespace troupe_test;
using troupe::detail::envelope;
using troupe::detail::inbox;

// --- the inbox alone ----------------------------------------------------------------------------

struct numbered : envelope {
  unsigned producer = 0;
  unsigned seq = 0;
};

TEST(Mailbox, InboxWakesOnlyThePushThatFindsItIdle) {
  inbox box;  // a new inbox is idle: its actor has not been scheduled
  numbered a, b, c;
  EXPECT_EQ(box.push(&a), inbox::push_result::woke);
  EXPECT_EQ(box.push(&b), inbox::push_result::queued);
  auto* drained = box.drain();
  ASSERT_EQ(drained, &a);
  ASSERT_EQ(drained->next, &b);
  EXPECT_EQ(b.next, nullptr);
  EXPECT_TRUE(box.try_block());  // empty: the actor goes idle
  EXPECT_EQ(box.push(&c), inbox::push_result::woke);
  EXPECT_FALSE(box.try_block());  // not empty: the actor must keep running
  EXPECT_EQ(box.drain(), &c);
}

TEST(Mailbox, AClosedInboxRefusesPushesAndReturnsWhatWasLeft) {
  inbox box;
  numbered a, b, late;
  box.push(&a);
  box.push(&b);
  auto* left = box.close();
  ASSERT_EQ(left, &a);
  EXPECT_EQ(left->next, &b);
  EXPECT_TRUE(box.closed());
  EXPECT_EQ(box.push(&late), inbox::push_result::closed);
  EXPECT_EQ(box.drain(), nullptr);
}

// Producers race to push; one consumer drains, goes idle when empty and waits to be "scheduled"
// by the single push that gets `woke`. Checks FIFO per producer and exactly one wake per idle.
TEST(Mailbox, InboxKeepsEachProducersOrderAndWakesOncePerIdlePeriod) {
  constexpr unsigned producers = 4;
  constexpr unsigned per_producer = 200'000;
  inbox box;
  std::vector<std::vector<numbered>> envs(producers, std::vector<numbered>(per_producer));
  std::atomic<unsigned> wakes{0};  // pushes that returned `woke`
  std::vector<std::thread> threads;
  for (unsigned p = 0; p < producers; ++p) {
    threads.emplace_back([&, p] {
      for (unsigned i = 0; i < per_producer; ++i) {
        auto& e = envs[p][i];
        e.producer = p;
        e.seq = i;
        // release: the consumer acquires it below before it counts this wake.
        if (box.push(&e) == inbox::push_result::woke) wakes.fetch_add(1, std::memory_order_release);
      }
    });
  }
  std::vector<unsigned> next(producers, 0);
  unsigned received = 0, idles = 0, out_of_order = 0;
  bool idle = true;  // a new inbox is idle, so the first push wakes it
  const auto end = std::chrono::steady_clock::now() + deadline;
  while (received < producers * per_producer && std::chrono::steady_clock::now() < end) {
    if (idle) {
      // acquire: pairs with the producers' release; a wake means there is work.
      if (wakes.load(std::memory_order_acquire) == idles + 1) idle = false;
      else std::this_thread::yield();
      continue;
    }
    for (auto* e = box.drain(); e != nullptr; e = e->next) {
      auto* n = static_cast<numbered*>(e);
      if (n->seq != next[n->producer]) ++out_of_order;
      next[n->producer] = n->seq + 1;
      ++received;
    }
    if (box.try_block()) {
      ++idles;
      idle = true;
    }
  }
  for (auto& t : threads) t.join();
  EXPECT_EQ(received, producers * per_producer);
  EXPECT_EQ(out_of_order, 0u);
  // Every idle period ended with exactly one wake (plus the one from the very start).
  if (!idle) EXPECT_EQ(wakes.load(), idles + 1);
  else EXPECT_EQ(wakes.load(), idles);
}

// --- through actors -------------------------------------------------------------------------------

struct sequenced {
  unsigned sender;
  unsigned seq;
};

// Receives sequenced messages, checks each sender's numbers rise by one, and opens `done` after
// `expected` messages.
struct order_checker {
  std::vector<unsigned> next;
  std::size_t received = 0;
  std::size_t violations = 0;
};

troupe::ref<sequenced> spawn_checker(troupe::system& sys, unsigned senders, std::size_t expected,
                                     std::shared_ptr<order_checker> result, std::shared_ptr<gate> done) {
  result->next.assign(senders, 0);
  return sys.spawn(troupe::receive<sequenced>([=](const sequenced& m) {
    // Plain, unsynchronized state: the actor handles one message at a time.
    if (m.seq != result->next[m.sender]) ++result->violations;
    result->next[m.sender] = m.seq + 1;
    if (++result->received == expected) done->open();
  }));
}

TEST(Mailbox, DeliversMessagesFromOneSenderInOrder) {
  troupe::system sys{small_config()};
  constexpr unsigned n = 200'000;
  auto result = std::make_shared<order_checker>();
  auto done = std::make_shared<gate>();
  auto checker = spawn_checker(sys, 1, n, result, done);
  for (unsigned i = 0; i < n; ++i) checker.tell(sequenced{0, i});
  ASSERT_TRUE(done->wait());
  EXPECT_EQ(result->violations, 0u);
  EXPECT_EQ(result->received, n);
}

TEST(Mailbox, DeliversEachOfManyConcurrentThreadsMessagesInOrder) {
  troupe::system sys{small_config()};
  constexpr unsigned senders = 8;
  constexpr unsigned per_sender = 100'000;
  auto result = std::make_shared<order_checker>();
  auto done = std::make_shared<gate>();
  auto checker = spawn_checker(sys, senders, std::size_t{senders} * per_sender, result, done);
  std::vector<std::thread> threads;
  for (unsigned s = 0; s < senders; ++s)
    threads.emplace_back([&, s] {
      for (unsigned i = 0; i < per_sender; ++i) checker.tell(sequenced{s, i});
    });
  for (auto& t : threads) t.join();
  ASSERT_TRUE(done->wait());
  EXPECT_EQ(result->violations, 0u);
  EXPECT_EQ(result->received, std::size_t{senders} * per_sender);
}

TEST(Mailbox, DeliversEachOfManyConcurrentActorsMessagesInOrder) {
  troupe::system sys{small_config(4)};
  constexpr unsigned senders = 8;
  constexpr unsigned per_sender = 100'000;
  auto result = std::make_shared<order_checker>();
  auto done = std::make_shared<gate>();
  auto checker = spawn_checker(sys, senders, std::size_t{senders} * per_sender, result, done);
  struct go {};
  for (unsigned s = 0; s < senders; ++s) {
    // Each sender floods from inside its own turn, in bursts, so the runtime's send paths from
    // worker threads (LIFO slot, flood hand-off, stealing) all get exercised.
    auto sender = sys.spawn(troupe::receive<go>([checker, s, i = 0u](go) mutable {
      for (unsigned burst = 0; burst < 1000 && i < per_sender; ++burst) checker.tell(sequenced{s, i++});
      return i < per_sender ? troupe::behavior<go>(troupe::same) : troupe::behavior<go>(troupe::stopped);
    }));
    for (unsigned k = 0; k < per_sender / 1000 + 1; ++k) sender.tell(go{});
  }
  ASSERT_TRUE(done->wait());
  EXPECT_EQ(result->violations, 0u);
  EXPECT_EQ(result->received, std::size_t{senders} * per_sender);
}

TEST(Mailbox, HandsTheActorOneMessageAtATime) {
  troupe::system sys{small_config(4)};
  constexpr unsigned senders = 8;
  constexpr unsigned per_sender = 20'000;
  struct state {
    std::atomic<bool> inside{false};
    std::atomic<unsigned> overlaps{0};
    unsigned plain_count = 0;  // deliberately not atomic: TSan sees a race if turns overlap
  };
  auto st = std::make_shared<state>();
  auto done = std::make_shared<gate>();
  constexpr unsigned total = senders * per_sender;
  auto a = sys.spawn(troupe::receive<unsigned>([st, done](unsigned) {
    // seq_cst: any two handlers running at once would each see the other's flag.
    if (st->inside.exchange(true)) st->overlaps.fetch_add(1);
    unsigned c = ++st->plain_count;
    st->inside.store(false);
    if (c == total) done->open();
  }));
  std::vector<std::thread> threads;
  for (unsigned s = 0; s < senders; ++s)
    threads.emplace_back([&] {
      for (unsigned i = 0; i < per_sender; ++i) a.tell(i);
    });
  for (auto& t : threads) t.join();
  ASSERT_TRUE(done->wait());
  EXPECT_EQ(st->overlaps.load(), 0u);
  EXPECT_EQ(st->plain_count, total);
}

}  // namespace
