// dead_letter_test.cpp: messages that reach no actor are counted and can be observed.
#include "troupe/core/signals.hpp"

#include <gtest/gtest.h>

#include <string>
#include <variant>

#include "test_support.hpp"
#include "troupe/troupe.hpp"

namespace {

using namespace troupe_test;

struct parcel {
  int n;
};
struct quit {};
using mail_msg = std::variant<parcel, quit>;

troupe::behavior<mail_msg> mailbox_owner() {
  return troupe::receive<mail_msg>([](const parcel&) {}, [](quit) { return troupe::stopped; });
}

TEST(DeadLetter, MessagesToAStoppedActorAreCounted) {
  troupe::system sys{small_config()};
  auto a = sys.spawn(mailbox_owner());
  auto end = watch_from_outside(sys, a);
  a.tell(parcel{1});  // handled: not a dead letter
  a.tell(quit{});
  ASSERT_TRUE(end->pop().has_value());
  const auto before = sys.dead_letter_count();
  for (int i = 0; i < 5; ++i) a.tell(parcel{i});
  EXPECT_EQ(sys.dead_letter_count(), before + 5);
}

TEST(DeadLetter, SubscribersReceiveTheRecipientAndTheMessageType) {
  troupe::system sys{small_config()};
  auto letters = std::make_shared<blocking_queue<troupe::dead_letter>>();
  sys.subscribe_dead_letters(spawn_probe(sys, letters));
  auto a = sys.spawn(mailbox_owner(), {.name = "postbox"});
  auto end = watch_from_outside(sys, a);
  a.tell(quit{});
  ASSERT_TRUE(end->pop().has_value());
  a.tell(parcel{7});
  auto d = letters->pop();
  ASSERT_TRUE(d.has_value());
  EXPECT_EQ(d->recipient, a.id());
  EXPECT_EQ(d->recipient_name, "postbox");
  EXPECT_NE(d->message_type.find("parcel"), std::string::npos) << d->message_type;
  EXPECT_EQ(d->message_type.find("variant"), std::string::npos) << "names the alternative: " << d->message_type;
  EXPECT_EQ(letters->pop(0ms), std::nullopt);
}

TEST(DeadLetter, MessagesStillQueuedWhenAnActorStopsBecomeDeadLetters) {
  troupe::system sys{small_config()};
  auto letters = std::make_shared<blocking_queue<troupe::dead_letter>>();
  sys.subscribe_dead_letters(spawn_probe(sys, letters));
  struct hold {
    std::shared_ptr<gate> entered, release;
  };
  using msg = std::variant<hold, parcel>;
  auto a = sys.spawn(troupe::receive<msg>(
      [](const hold& h) {
        h.entered->open();
        h.release->wait();
        return troupe::stopped;
      },
      [](const parcel&) {}));
  auto entered = std::make_shared<gate>(), release = std::make_shared<gate>();
  a.tell(hold{entered, release});
  ASSERT_TRUE(entered->wait());
  const auto before = sys.dead_letter_count();
  a.tell(parcel{1});
  a.tell(parcel{2});
  release->open();
  for (int i = 0; i < 2; ++i) {
    auto d = letters->pop();
    ASSERT_TRUE(d.has_value());
    EXPECT_EQ(d->recipient, a.id());
    EXPECT_NE(d->message_type.find("parcel"), std::string::npos) << d->message_type;
  }
  EXPECT_EQ(sys.dead_letter_count(), before + 2);
}

TEST(DeadLetter, AStoppedSubscriberIsDropped) {
  troupe::system sys{small_config()};
  auto letters = std::make_shared<blocking_queue<troupe::dead_letter>>();
  auto sub = sys.spawn(troupe::receive<troupe::dead_letter>([letters](troupe::dead_letter&& d) {
    letters->push(std::move(d));
    return troupe::stopped;  // takes one, then stops
  }));
  sys.subscribe_dead_letters(sub);
  auto sub_end = watch_from_outside(sys, sub);
  auto a = sys.spawn(mailbox_owner());
  auto a_end = watch_from_outside(sys, a);
  a.tell(quit{});
  ASSERT_TRUE(a_end->pop().has_value());
  a.tell(parcel{1});
  ASSERT_TRUE(letters->pop().has_value());
  ASSERT_TRUE(sub_end->pop().has_value());
  // Further dead letters are still counted, but the dead subscriber is no longer sent any (a
  // letter to it would itself be a dead letter, counted too).
  const auto before = sys.dead_letter_count();
  a.tell(parcel{2});
  a.tell(parcel{3});
  EXPECT_EQ(sys.dead_letter_count(), before + 2);
  EXPECT_EQ(letters->size(), 0u);
}

TEST(DeadLetter, EverySubscriberReceivesEachDeadLetter) {
  troupe::system sys{small_config()};
  auto first = std::make_shared<blocking_queue<troupe::dead_letter>>();
  auto second = std::make_shared<blocking_queue<troupe::dead_letter>>();
  sys.subscribe_dead_letters(spawn_probe(sys, first));
  sys.subscribe_dead_letters(spawn_probe(sys, second));
  auto a = sys.spawn(mailbox_owner());
  auto end = watch_from_outside(sys, a);
  a.tell(quit{});
  ASSERT_TRUE(end->pop().has_value());
  a.tell(parcel{1});
  auto d1 = first->pop();
  auto d2 = second->pop();
  ASSERT_TRUE(d1 && d2);
  EXPECT_EQ(d1->recipient, a.id());
  EXPECT_EQ(d2->recipient, a.id());
}

}  // namespace
