// ref_test.cpp: typed refs: what they accept, tell, move-only messages, identity and hash.
#include "troupe/core/ref.hpp"

#include <gtest/gtest.h>

#include <memory>
#include <string>
#include <unordered_set>
#include <variant>

#include "test_support.hpp"
#include "troupe/troupe.hpp"

namespace {

using namespace troupe_test;

struct add {
  int n;
};
struct reset {};
struct unrelated {};
using counter_msg = std::variant<add, reset>;

// A ref accepts exactly its protocol's messages (the does-not-compile side is in
// compile_fail/typed_protocol.cpp, run by CTest).
static_assert(troupe::accepts<counter_msg, add>);
static_assert(troupe::accepts<counter_msg, const reset&>);
static_assert(!troupe::accepts<counter_msg, unrelated>);
static_assert(!troupe::accepts<counter_msg, int>);
static_assert(!troupe::accepts<counter_msg, counter_msg>);  // send an alternative, not the variant
// A single-type protocol takes values that convert to it without narrowing.
static_assert(troupe::accepts<long, int>);
static_assert(troupe::accepts<std::string, const char*>);
static_assert(!troupe::accepts<int, double>);
static_assert(!troupe::accepts<int, std::string>);
// A ref is one pointer.
static_assert(sizeof(troupe::ref<counter_msg>) == sizeof(void*));
static_assert(std::is_nothrow_move_constructible_v<troupe::ref<counter_msg>>);

TEST(Ref, TellDeliversTheMessage) {
  troupe::system sys{small_config()};
  auto q = std::make_shared<blocking_queue<counter_msg>>();
  auto probe = spawn_probe(sys, q);
  probe.tell(add{3});
  probe.tell(reset{});
  auto first = q->pop();
  ASSERT_TRUE(first.has_value());
  ASSERT_TRUE(std::holds_alternative<add>(*first));
  EXPECT_EQ(std::get<add>(*first).n, 3);
  auto second = q->pop();
  ASSERT_TRUE(second.has_value());
  EXPECT_TRUE(std::holds_alternative<reset>(*second));
}

TEST(Ref, TellMovesAMoveOnlyMessageIntoTheMailbox) {
  troupe::system sys{small_config()};
  struct boxed {
    std::unique_ptr<int> value;
  };
  using box_msg = std::variant<boxed, std::unique_ptr<std::string>>;
  auto out = std::make_shared<blocking_queue<std::string>>();
  auto a = sys.spawn(troupe::receive<box_msg>([out](boxed&& b) { out->push(std::to_string(*b.value)); },
                                              [out](std::unique_ptr<std::string> s) { out->push(*s); }));
  auto p = std::make_unique<int>(42);
  a.tell(boxed{std::move(p)});
  a.tell(std::make_unique<std::string>("moved"));
  EXPECT_EQ(out->pop(), "42");
  EXPECT_EQ(out->pop(), "moved");

  // A single-type protocol that is itself move-only.
  auto got = std::make_shared<blocking_queue<int>>();
  auto b = sys.spawn(troupe::receive<std::unique_ptr<int>>([got](std::unique_ptr<int>&& v) { got->push(*v); }));
  b.tell(std::make_unique<int>(7));
  EXPECT_EQ(got->pop(), 7);
}

TEST(Ref, TheMessageIsMovedNotCopied) {
  troupe::system sys{small_config()};
  struct counted_copies {
    std::shared_ptr<std::atomic<int>> copies;
    counted_copies(std::shared_ptr<std::atomic<int>> c) : copies(std::move(c)) {}
    counted_copies(const counted_copies& o) : copies(o.copies) { copies->fetch_add(1); }
    counted_copies(counted_copies&&) noexcept = default;
  };
  auto done = std::make_shared<gate>();
  auto a = sys.spawn(troupe::receive<counted_copies>([done](counted_copies&&) { done->open(); }));
  auto copies = std::make_shared<std::atomic<int>>(0);
  a.tell(counted_copies{copies});
  ASSERT_TRUE(done->wait());
  EXPECT_EQ(copies->load(), 0);
}

TEST(Ref, AnEmptyRefThrowsUsageErrorOnTell) {
  troupe::ref<counter_msg> empty;
  EXPECT_FALSE(empty);
  EXPECT_EQ(empty.id(), troupe::actor_id{});
  EXPECT_THROW(empty.tell(add{1}), troupe::usage_error);
}

TEST(Ref, CopiesCompareEqualAndCarryTheActorsId) {
  troupe::system sys{small_config()};
  auto a = sys.spawn(troupe::receive<add>([](const add&) {}));
  auto b = sys.spawn(troupe::receive<add>([](const add&) {}));
  auto a2 = a;
  EXPECT_TRUE(a);
  EXPECT_EQ(a, a2);
  EXPECT_EQ(a.id(), a2.id());
  EXPECT_FALSE(a == b);
  EXPECT_NE(a.id(), b.id());
  EXPECT_EQ(a.id().node, 0u);  // the local node
}

TEST(Ref, EqualRefsHashAlikeSoRefsAreKeysOfUnorderedSets) {
  troupe::system sys{small_config()};
  auto a = sys.spawn(troupe::receive<add>([](const add&) {}));
  auto b = sys.spawn(troupe::receive<add>([](const add&) {}));
  std::hash<troupe::ref<add>> hash;
  EXPECT_EQ(hash(a), hash(troupe::ref<add>(a)));
  std::unordered_set<troupe::ref<add>> set{a, b, a};
  EXPECT_EQ(set.size(), 2u);
  EXPECT_TRUE(set.contains(a));
  EXPECT_TRUE(set.contains(b));
  // An empty ref equals only another empty ref, and hashes to 0.
  troupe::ref<add> none;
  EXPECT_EQ(none, troupe::ref<add>{});
  EXPECT_FALSE(none == a);
  EXPECT_EQ(hash(none), 0u);
  EXPECT_FALSE(set.contains(none));
}

TEST(Ref, KeepsWorkingAfterTheActorStopsAndSendsToDeadLetters) {
  troupe::system sys{small_config()};
  auto a = sys.spawn(troupe::receive<add>([](const add&) { return troupe::stopped; }));
  auto w = watch_from_outside(sys, a);
  a.tell(add{1});
  ASSERT_TRUE(w->pop().has_value());
  const auto before = sys.dead_letter_count();
  a.tell(add{2});
  a.tell(add{3});
  EXPECT_EQ(sys.dead_letter_count(), before + 2);
}

}  // namespace
