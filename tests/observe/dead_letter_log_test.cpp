// dead_letter_log_test.cpp: the last dead letters of a real multi-threaded system, one record
// each, in a ring of fixed size.
#include "troupe/observe/dead_letter_log.hpp"

#include <gtest/gtest.h>

#include <string>
#include <variant>

#include "core/test_support.hpp"
#include "troupe/troupe.hpp"

namespace {

using namespace troupe_test;
namespace ob = troupe::observe;

struct parcel {
  int n;
};

// An actor that stops at its first message, and is known to have stopped when this returns.
troupe::ref<parcel> stopped_actor(troupe::system& sys, const std::string& name) {
  auto a = sys.spawn(troupe::receive<parcel>([](const parcel&) { return troupe::stopped; }), {.name = name});
  auto end = watch_from_outside(sys, a);
  a.tell(parcel{0});
  EXPECT_TRUE(end->pop().has_value());
  return a;
}

TEST(DeadLetterLog, KeepsOneRecordPerDeadLetterWithTimeRecipientTypeAndReason) {
  troupe::system sys{small_config()};
  ob::dead_letter_log log{sys};
  auto a = stopped_actor(sys, "gone");
  auto before = std::chrono::system_clock::now();
  a.tell(parcel{1});
  ASSERT_TRUE(wait_until([&] { return log.seen() == 1; }));
  auto r = log.recent();
  ASSERT_EQ(r.size(), 1u);
  EXPECT_EQ(r[0].recipient, a.id());
  EXPECT_EQ(r[0].recipient_name, "gone");
  EXPECT_NE(r[0].message_type.find("parcel"), std::string::npos) << r[0].message_type;
  EXPECT_EQ(r[0].reason, troupe::dead_letter_reason::receiver_stopped);
  EXPECT_GE(r[0].at, before);
  EXPECT_LE(r[0].at, std::chrono::system_clock::now());
}

TEST(DeadLetterLog, KeepsOnlyTheLastCapacityRecordsOldestFirst) {
  troupe::system sys{small_config()};
  ob::dead_letter_log log{sys, 3};
  auto a = stopped_actor(sys, "");
  for (int i = 1; i <= 5; ++i) a.tell(parcel{i});
  ASSERT_TRUE(wait_until([&] { return log.seen() == 5; }));
  auto r = log.recent();
  ASSERT_EQ(r.size(), 3u);
  EXPECT_TRUE(r[0].at <= r[1].at && r[1].at <= r[2].at);
  EXPECT_TRUE(r[0].recipient_name.empty());
}

TEST(DeadLetterLog, RecordsNothingBeforeItBeganOrAfterItIsDestroyed) {
  troupe::system sys{small_config()};
  auto a = stopped_actor(sys, "gone");
  a.tell(parcel{1});  // before any log: counted by the system only
  ASSERT_TRUE(wait_until([&] { return sys.dead_letter_count() == 1; }));
  {
    ob::dead_letter_log log{sys};
    EXPECT_EQ(log.seen(), 0u);
    EXPECT_TRUE(log.recent().empty());
  }
  a.tell(parcel{2});  // the destroyed log's subscriber takes it and keeps nothing
  ASSERT_TRUE(wait_until([&] { return sys.dead_letter_count() == 2; }));
  ob::dead_letter_log later{sys};
  a.tell(parcel{3});
  ASSERT_TRUE(wait_until([&] { return later.seen() == 1; }));
  EXPECT_EQ(later.recent().size(), 1u);
}

}  // namespace
