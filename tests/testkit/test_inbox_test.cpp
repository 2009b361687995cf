// Tests of test_inbox: what is told to its ref is there at once, in order.
#include "troupe/testkit/test_inbox.hpp"

#include <gtest/gtest.h>

#include <string>
#include <vector>

namespace {

using troupe::testkit::test_inbox;

TEST(TestInbox, KeepsWhatIsToldToItsRefInOrder) {
  test_inbox<std::string> inbox;
  EXPECT_FALSE(inbox.has_messages());
  inbox.ref().tell(std::string("a"));
  inbox.ref().tell(std::string("b"));
  EXPECT_TRUE(inbox.has_messages());
  EXPECT_EQ(inbox.try_receive(), "a");
  EXPECT_EQ(inbox.receive_all(), std::vector<std::string>{"b"});
  EXPECT_EQ(inbox.try_receive(), std::nullopt);
}

TEST(TestInbox, ItsRefStillAcceptsMessagesAfterTheInboxIsGone) {
  troupe::ref<int> kept;
  {
    test_inbox<int> inbox;
    kept = inbox.ref();
  }
  kept.tell(1);  // recorded into a queue nobody reads: no crash, no leak
  SUCCEED();
}

}  // namespace
