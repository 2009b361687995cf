// mailbox_test.cpp: the mailbox: the lock-free inbox under it, FIFO per sender, one message
// at a time. The concurrency tests are stress tests meant to run under ThreadSanitizer too.
#include "troupe/core/detail/inbox.hpp"

#include <gtest/gtest.h>

#include <algorithm>
#include <thread>
#include <variant>
#include <vector>

#include "test_support.hpp"
#include "troupe/troupe.hpp"

namespace {

using namespace troupe_test;
using troupe::detail::envelope;
using troupe::detail::inbox;
using troupe::detail::signal_stack;

// --- the inbox alone ----------------------------------------------------------------------------

struct numbered : envelope {
  unsigned producer = 0;
  unsigned seq = 0;
};

// An inbox with its consumer's parts, as a cell holds them.
struct mailbox_parts {
  inbox box;
  signal_stack signals;
  inbox::cursor at;
  bool counting = false;  // a counting inbox (cell::tallied_): pushes through push_counted

  // A push as the cell makes it.
  inbox::push_result push(envelope* e, bool& wrapped) {
    wrapped = false;
    if (!counting) return box.push(e);
    e->next = nullptr;
    return box.push_counted(e, e, 1, wrapped);
  }
  // Everything the consumer can take now, oldest first.
  std::vector<envelope*> take_all() {
    std::vector<envelope*> out;
    while (auto* e = box.take(at, counting)) out.push_back(e);
    return out;
  }
  // A signal's push, as cell::post_signal does it.
  inbox::push_result push_signal(envelope* s) {
    if (!signals.push(s)) return inbox::push_result::closed;
    return box.note_signal() ? inbox::push_result::woke : inbox::push_result::queued;
  }
  // The actor's look at its signals, as cell::handle_signals does it.
  envelope* take_signals() {
    if (!signals.waiting()) return nullptr;
    box.clear_signal_bit();
    return signals.take_all();
  }
};

std::vector<envelope*> list_of(envelope* e) {
  std::vector<envelope*> out;
  for (; e != nullptr; e = e->next) out.push_back(e);
  return out;
}

TEST(Mailbox, InboxWakesOnlyThePushThatFindsItIdle) {
  mailbox_parts m;  // a new inbox is idle: its actor has not been scheduled
  numbered a, b, c;
  EXPECT_EQ(m.box.push(&a), inbox::push_result::woke);
  EXPECT_EQ(m.box.push(&b), inbox::push_result::queued);
  EXPECT_EQ(m.take_all(), (std::vector<envelope*>{&a, &b}));
  EXPECT_TRUE(m.box.try_block());  // empty: the actor goes idle
  EXPECT_EQ(m.box.push(&c), inbox::push_result::woke);
  EXPECT_FALSE(m.box.try_block());  // not empty: the actor must keep running
  EXPECT_EQ(m.take_all(), (std::vector<envelope*>{&c}));
}

TEST(Mailbox, InboxHandsOutMessagesInPushOrderAcrossEmptyPeriods) {
  mailbox_parts m;
  numbered a, b, c, d;
  m.box.push(&a);
  EXPECT_EQ(m.box.take(m.at), &a);  // taken as the newest: detached, so the next push starts afresh
  EXPECT_EQ(m.box.take(m.at), nullptr);
  m.box.push(&b);
  m.box.push(&c);
  EXPECT_EQ(m.box.take(m.at), &b);
  m.box.push(&d);  // pushed while c waits: linked behind it
  EXPECT_EQ(m.take_all(), (std::vector<envelope*>{&c, &d}));
}

TEST(Mailbox, SignalsOvertakeQueuedMessagesAndWakeAnIdleInbox) {
  mailbox_parts m;
  numbered m1, m2, s1, s2;
  m.box.push(&m1);
  m.box.push(&m2);
  EXPECT_EQ(m.push_signal(&s1), inbox::push_result::queued);  // already woken by m1
  EXPECT_EQ(m.push_signal(&s2), inbox::push_result::queued);
  EXPECT_TRUE(m.signals.waiting());
  EXPECT_EQ(list_of(m.take_signals()), (std::vector<envelope*>{&s1, &s2}));  // oldest first
  EXPECT_FALSE(m.signals.waiting());
  EXPECT_EQ(m.take_all(), (std::vector<envelope*>{&m1, &m2}));
  EXPECT_TRUE(m.box.try_block());
  numbered s3;
  EXPECT_EQ(m.push_signal(&s3), inbox::push_result::woke);  // a signal alone wakes it too
  EXPECT_FALSE(m.box.try_block());  // the wake was taken: the actor runs
}

TEST(Mailbox, ANotedSignalKeepsTheActorFromGoingIdleUntilItLooks) {
  mailbox_parts m;
  ASSERT_TRUE(m.box.try_unblock());
  numbered s1, s2;
  EXPECT_EQ(m.push_signal(&s1), inbox::push_result::queued);  // the actor is running
  EXPECT_FALSE(m.box.try_block());  // it has not looked at its signals: it must run again
  EXPECT_EQ(list_of(m.take_signals()), (std::vector<envelope*>{&s1}));
  EXPECT_TRUE(m.box.try_block());
  // A signal taken before its pusher noted it leaves a bit with nothing behind it: it costs the
  // actor one more look, never a sleep with a signal waiting.
  ASSERT_TRUE(m.box.try_unblock());
  ASSERT_TRUE(m.signals.push(&s2));
  EXPECT_EQ(list_of(m.take_signals()), (std::vector<envelope*>{&s2}));
  EXPECT_FALSE(m.box.note_signal());
  EXPECT_FALSE(m.box.try_block());
  EXPECT_EQ(m.take_signals(), nullptr);
  EXPECT_TRUE(m.box.try_block());
}

TEST(Mailbox, AStoppingActorGoesIdleWithMessagesLeftAndAnyPushWakesIt) {
  mailbox_parts m;
  ASSERT_TRUE(m.box.try_unblock());
  numbered m1, m2, s1;
  m.box.push(&m1);
  EXPECT_FALSE(m.box.try_block());                 // a message waits
  EXPECT_TRUE(m.box.try_block_keeping_messages());  // but a stopping actor takes none
  EXPECT_EQ(m.box.push(&m2), inbox::push_result::woke);
  EXPECT_TRUE(m.box.try_block_keeping_messages());
  EXPECT_EQ(m.push_signal(&s1), inbox::push_result::woke);
  EXPECT_EQ(list_of(m.box.close(m.at)), (std::vector<envelope*>{&m1, &m2}));
  EXPECT_EQ(list_of(m.signals.close()), (std::vector<envelope*>{&s1}));
}

TEST(Mailbox, AClosedInboxRefusesPushesAndReturnsWhatWasLeft) {
  mailbox_parts m;
  numbered a, b, c, s, late, late_signal;
  m.box.push(&a);
  m.box.push(&b);
  m.box.push(&c);
  EXPECT_EQ(m.box.take(m.at), &a);
  m.push_signal(&s);
  EXPECT_EQ(list_of(m.box.close(m.at)), (std::vector<envelope*>{&b, &c}));  // from the cursor on
  EXPECT_EQ(list_of(m.signals.close()), (std::vector<envelope*>{&s}));
  EXPECT_TRUE(m.box.closed());
  EXPECT_EQ(m.box.push(&late), inbox::push_result::closed);
  EXPECT_EQ(m.push_signal(&late_signal), inbox::push_result::closed);
}

// Producers race to push (the last one pushes signals); one consumer takes, goes idle when empty
// and waits to be "scheduled" by the single push that gets `woke`. Checks FIFO per producer and
// exactly one wake per idle period, also when a signal races the consumer going idle.
// Counting or not (cell::tallied_), the same: the count rides on the pushes' CAS.
class InboxUnderContention : public ::testing::TestWithParam<bool> {};

TEST_P(InboxUnderContention, KeepsEachProducersOrderAndWakesOncePerIdlePeriod) {
  constexpr unsigned producers = 4;
  constexpr unsigned per_producer = 200'000;
  mailbox_parts m;
  m.counting = GetParam();
  std::vector<std::vector<numbered>> envs(producers, std::vector<numbered>(per_producer));
  std::atomic<unsigned> wakes{0};  // pushes that returned `woke`
  std::atomic<unsigned> wraps{0};  // pushes that wrapped the push count
  std::vector<std::thread> threads;
  for (unsigned p = 0; p < producers; ++p) {
    threads.emplace_back([&, p] {
      for (unsigned i = 0; i < per_producer; ++i) {
        auto& e = envs[p][i];
        e.producer = p;
        e.seq = i;
        bool wrapped = false;
        auto pushed = p == producers - 1 ? m.push_signal(&e) : m.push(&e, wrapped);
        // release: the consumer acquires it below before it counts this wake.
        if (pushed == inbox::push_result::woke) wakes.fetch_add(1, std::memory_order_release);
        if (wrapped) wraps.fetch_add(1, std::memory_order_relaxed);
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
    auto count = [&](envelope* e) {
      auto* n = static_cast<numbered*>(e);
      if (n->seq != next[n->producer]) ++out_of_order;
      next[n->producer] = n->seq + 1;
      ++received;
    };
    for (auto* e = m.take_signals(); e != nullptr; e = e->next) count(e);
    while (auto* e = m.box.take(m.at, m.counting)) count(e);
    if (m.box.try_block(m.counting)) {
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
  // The count of pushes (introspection's) lost none to the races, nor to the consumer's
  // detaching, blocking and signal bits: signals are not pushes.
  constexpr unsigned pushes = (producers - 1) * per_producer;
  EXPECT_EQ(m.box.pushes(), std::optional<std::uint16_t>{m.counting ? pushes % 65'536 : 0});
  EXPECT_EQ(wraps.load(), m.counting ? pushes / 65'536 : 0);
}
INSTANTIATE_TEST_SUITE_P(Mailbox, InboxUnderContention, ::testing::Values(false, true),
                         [](const auto& info) { return info.param ? "Counting" : "Plain"; });

TEST(Mailbox, InboxCountsItsPushesThroughEveryStateAndSaysWhenTheCountWraps) {
  mailbox_parts m;
  m.counting = true;
  numbered a, b, c, d, s;
  bool wrapped = true;
  EXPECT_EQ(m.box.pushes(), std::optional<std::uint16_t>{0});
  EXPECT_EQ(m.push(&a, wrapped), inbox::push_result::woke);  // idle -> running
  EXPECT_FALSE(wrapped);
  EXPECT_EQ(m.box.pushes(), std::optional<std::uint16_t>{1});
  EXPECT_EQ(m.box.take(m.at, true), &a);  // the newest: detached, the head is empty again
  EXPECT_EQ(m.push_signal(&s), inbox::push_result::queued);
  EXPECT_EQ(m.box.pushes(), std::optional<std::uint16_t>{1});  // a signal is not a push
  EXPECT_FALSE(m.box.try_block(true));  // the signal bit holds it, beside the count
  EXPECT_EQ(list_of(m.take_signals()), (std::vector<envelope*>{&s}));
  EXPECT_TRUE(m.box.try_block(true));  // empty but for the count: the actor goes idle
  EXPECT_TRUE(m.box.idle());
  ASSERT_TRUE(m.box.try_unblock());
  EXPECT_TRUE(m.box.try_block(true));
  // A batch adds its count; the push that carries the count past 2^16 says so.
  b.next = nullptr;
  EXPECT_EQ(m.box.push_counted(&b, &b, 65'534, wrapped), inbox::push_result::woke);
  EXPECT_FALSE(wrapped);
  EXPECT_EQ(m.box.pushes(), std::optional<std::uint16_t>{65'535});
  EXPECT_EQ(m.push(&c, wrapped), inbox::push_result::queued);
  EXPECT_TRUE(wrapped);
  EXPECT_EQ(m.box.pushes(), std::optional<std::uint16_t>{0});
  EXPECT_EQ(m.push(&d, wrapped), inbox::push_result::queued);
  EXPECT_FALSE(wrapped);
  EXPECT_EQ(m.take_all(), (std::vector<envelope*>{&b, &c, &d}));  // the count left the links alone
  EXPECT_TRUE(m.box.try_block(true));
  EXPECT_EQ(m.box.pushes(), std::optional<std::uint16_t>{1});
  EXPECT_EQ(m.box.close(m.at), nullptr);
  EXPECT_EQ(m.box.pushes(), std::nullopt);  // closed: no count
}

// Producers keep pushing while the consumer takes a while and then closes the inbox: every
// envelope must end up exactly once with the consumer, in what close() returned, or back with
// its producer (a push that found the inbox closed).
TEST(Mailbox, EveryMessagePushedAroundACloseIsHandedOutExactlyOnce) {
  constexpr unsigned producers = 3;
  constexpr unsigned per_producer = 50'000;
  for (int round = 0; round < 20; ++round) {
    mailbox_parts m;
    ASSERT_TRUE(m.box.try_unblock());
    std::vector<std::vector<numbered>> envs(producers, std::vector<numbered>(per_producer));
    std::vector<std::vector<envelope*>> returned(producers);
    std::atomic<unsigned> started{0};
    std::vector<std::thread> threads;
    for (unsigned p = 0; p < producers; ++p) {
      threads.emplace_back([&, p] {
        started.fetch_add(1);
        for (auto& e : envs[p])
          if (m.box.push(&e) == inbox::push_result::closed)
            for (auto* r = static_cast<envelope*>(&e); r != nullptr; r = r->next) returned[p].push_back(r);
      });
    }
    std::vector<envelope*> handed_out;
    const auto end = std::chrono::steady_clock::now() + deadline;
    while (started.load() < producers && std::chrono::steady_clock::now() < end) std::this_thread::yield();
    for (int i = 0; i < 1000 * round; ++i)
      if (auto* e = m.box.take(m.at)) handed_out.push_back(e);
    for (auto* e = m.box.close(m.at); e != nullptr; e = e->next) handed_out.push_back(e);
    for (auto& t : threads) t.join();
    for (auto& r : returned) handed_out.insert(handed_out.end(), r.begin(), r.end());
    ASSERT_EQ(handed_out.size(), producers * per_producer) << "round " << round;
    std::sort(handed_out.begin(), handed_out.end());
    EXPECT_EQ(std::adjacent_find(handed_out.begin(), handed_out.end()), handed_out.end()) << "round " << round;
  }
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

// A turn that floods one actor has its later messages gathered and pushed in batches (see
// scheduler::thread_hooks::hold_send). Nothing it sends that actor afterwards may overtake
// them: not an ask, not the `terminated` its end sends to a watcher.
namespace flood {
struct count_so_far {
  troupe::ref<unsigned> reply_to;
};
using receiver_msg = std::variant<unsigned, count_so_far, troupe::terminated>;
struct go {
  troupe::ref<receiver_msg> receiver;
};
using sender_msg = std::variant<go, unsigned>;
constexpr unsigned n = 20'000;
}  // namespace flood

TEST(Mailbox, AFloodFromOneTurnStaysAheadOfTheSendersAskAndOfItsEnd) {
  using namespace flood;
  troupe::system sys{small_config()};
  struct state {
    unsigned next = 0;  // plain: the receiver's own
    unsigned violations = 0;
    std::atomic<unsigned> answered{~0u};
    std::atomic<unsigned> seen_at_end{~0u};
  };
  auto st = std::make_shared<state>();
  auto done = std::make_shared<gate>();
  auto other = sys.spawn(troupe::receive<unsigned>([](unsigned) {}));
  auto sender = sys.spawn(troupe::setup<sender_msg>([st, other](troupe::actor_context<sender_msg>& ctx) {
    return troupe::receive<sender_msg>(
        [&ctx, other](const go& g) {
          for (unsigned i = 0; i < n; ++i) {
            g.receiver.tell(i);
            if (i % 5'000 == 4'999) other.tell(i);  // another target ends a batch
          }
          // The ask's request goes out at once: the batch ahead of it must go first.
          ctx.ask<unsigned>(g.receiver, [](troupe::ref<unsigned> r) { return count_so_far{r}; }, deadline,
                            [](troupe::result<unsigned>&& r) { return r ? *r : ~0u; });
          for (unsigned i = n; i < 2 * n; ++i) g.receiver.tell(i);  // a second flood, batched again
        },
        [st](unsigned answer) {
          st->answered.store(answer);
          return troupe::stopped;  // its end must reach the watcher behind the second flood
        });
  }));
  sys.spawn(troupe::setup<receiver_msg>([st, done, sender](troupe::actor_context<receiver_msg>& ctx) {
    ctx.watch(sender);  // a signal: handled by the sender before `go`
    sender.tell(go{ctx.self()});
    return troupe::receive<receiver_msg>(
        [st](unsigned seq) {
          if (seq != st->next) ++st->violations;
          st->next = seq + 1;
        },
        [st](const count_so_far& q) { q.reply_to.tell(st->next); },
        [st, done](const troupe::terminated&) {
          st->seen_at_end.store(st->next);
          done->open();
        });
  }));
  ASSERT_TRUE(done->wait());
  EXPECT_EQ(st->answered.load(), n);  // every message of the first flood came before the ask
  EXPECT_EQ(st->seen_at_end.load(), 2 * n);  // and every one of the second before the end
  EXPECT_EQ(st->violations, 0u);
}

// A turn that sends to many actors in turn (a round-robin, a broadcast) is a spread flood: its
// messages to each receiver are gathered and pushed in batches too (scheduler::thread_hooks::
// hold_send). Per receiver they keep their order, with a run of sends to one of them in
// between, an ask, and the sender's end behind them.
namespace spread {
using receiver_msg = flood::receiver_msg;
struct go {
  std::vector<troupe::ref<receiver_msg>> receivers;
};
using sender_msg = std::variant<go, unsigned>;
constexpr unsigned receivers = 40;
constexpr unsigned rounds = 300;
}  // namespace spread

TEST(Mailbox, ASpreadFloodKeepsEachReceiversOrderAheadOfAnAskAndOfItsEnd) {
  using namespace spread;
  troupe::system sys{small_config()};
  struct state {
    unsigned next[receivers] = {};  // plain: each slot is its receiver's own
    unsigned violations[receivers] = {};
    std::atomic<unsigned> seen_at_end[receivers];
    std::atomic<unsigned> sent[receivers];  // written by the sender before its end
    std::atomic<unsigned> answered{0};  // asks answered with everything sent before them
    std::atomic<unsigned> ended{0};
    std::atomic<unsigned> watching{0};
  };
  auto st = std::make_shared<state>();
  for (auto& a : st->seen_at_end) a.store(~0u);
  auto ready = std::make_shared<gate>();
  auto done = std::make_shared<gate>();
  auto sender = sys.spawn(troupe::setup<sender_msg>([st](troupe::actor_context<sender_msg>& ctx) {
    return troupe::receive<sender_msg>(
        [&ctx, st](const go& g) {
          unsigned seq[receivers] = {};
          auto spread_out = [&](bool with_runs) {
            for (unsigned r = 0; r < rounds; ++r) {
              for (unsigned i = 0; i < receivers; ++i) g.receivers[i].tell(seq[i]++);
              if (with_runs && r % 100 == 50)  // a run to one receiver, batched as a run
                for (unsigned k = 0; k < 100; ++k) g.receivers[r % receivers].tell(seq[r % receivers]++);
            }
          };
          spread_out(false);
          for (unsigned i = 0; i < receivers; ++i) {  // each ask must come after all sent before it
            const unsigned before_ask = seq[i];
            ctx.ask<unsigned>(g.receivers[i], [](troupe::ref<unsigned> r) { return flood::count_so_far{r}; },
                              deadline, [before_ask](troupe::result<unsigned>&& r) {
                                return r && *r == before_ask ? 1u : 0u;
                              });
          }
          spread_out(true);  // a second spread flood, gathered again, with runs in it
          for (unsigned i = 0; i < receivers; ++i) st->sent[i].store(seq[i]);
        },
        [st, answers = 0u](unsigned right) mutable -> troupe::behavior<sender_msg> {
          st->answered.fetch_add(right);
          if (++answers != receivers) return troupe::same;
          return troupe::stopped;  // its end must reach every watcher behind the second flood
        });
  }));
  std::vector<troupe::ref<receiver_msg>> refs;
  for (unsigned i = 0; i < receivers; ++i)
    refs.push_back(sys.spawn(troupe::setup<receiver_msg>([st, ready, done, sender, i](
                                                             troupe::actor_context<receiver_msg>& ctx) {
      ctx.watch(sender);
      if (st->watching.fetch_add(1) + 1 == receivers) ready->open();
      return troupe::receive<receiver_msg>(
          [st, i](unsigned seq) {
            if (seq != st->next[i]) ++st->violations[i];
            st->next[i] = seq + 1;
          },
          [st, i](const flood::count_so_far& q) { q.reply_to.tell(st->next[i]); },
          [st, done, i](const troupe::terminated&) {
            st->seen_at_end[i].store(st->next[i]);
            if (st->ended.fetch_add(1) + 1 == receivers) done->open();
          });
    })));
  ASSERT_TRUE(ready->wait());
  sender.tell(go{refs});
  ASSERT_TRUE(done->wait());
  EXPECT_EQ(st->answered.load(), receivers);
  for (unsigned i = 0; i < receivers; ++i) {
    EXPECT_EQ(st->seen_at_end[i].load(), st->sent[i].load()) << "receiver " << i;
    EXPECT_EQ(st->violations[i], 0u) << "receiver " << i;
  }
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
