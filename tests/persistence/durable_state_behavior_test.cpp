// Durable state actors: load before commands, save with revisions, and two incarnations of one
// id racing: one wins, the other stops with a revision conflict.
#include "troupe/persistence/durable_state_behavior.hpp"

#include <gtest/gtest.h>

#include <algorithm>
#include <atomic>
#include <future>
#include <map>
#include <mutex>
#include <span>
#include <vector>

#include "troupe/core/extension.hpp"

#include "core/test_support.hpp"
#include "journal_fixture.hpp"
#include "memory_backed_storage.hpp"
#include "troupe/persistence/serial_codec.hpp"

namespace cart {
struct state {
  std::map<std::string, int> items;
};
struct add_item {
  std::string item;
  troupe::ref<int> reply_to;  // the cart's item count once saved
};
struct count {
  troupe::ref<int> reply_to;
};
using command = std::variant<add_item, count>;
using fx = troupe::persistence::effect<state, state>;

inline int total(const state& s) {
  int n = 0;
  for (auto& [k, v] : s.items) n += v;
  return n;
}

inline fx handle(const state& s, const command& c) {
  if (auto* a = std::get_if<add_item>(&c)) {
    state next = s;
    ++next.items[a->item];
    return fx::persist(std::move(next)).then_reply(a->reply_to, [](const state& st) { return total(st); });
  }
  return fx::none().then_reply(std::get<count>(c).reply_to, [](const state& st) { return total(st); });
}
}  // namespace cart

namespace {

using namespace troupe_test;
using namespace std::chrono_literals;

troupe::persistence::durable_state_spec<cart::command, cart::state> spec(std::shared_ptr<persistence::journal> j) {
  return {.persistence_id = "cart-1",
          .journal = std::move(j),
          .states = std::make_shared<persistence::serial_codec<cart::state>>(),
          .on_command = cart::handle};
}

troupe::result<int> add(troupe::ref<cart::command> c, std::string item) {
  return c.ask<int>([item](troupe::ref<int> r) { return cart::add_item{item, r}; }, 20s).get();
}

TEST(DurableStateBehavior, SavesEachNewStateAsTheNextRevisionAndLoadsItAgain) {
  auto mem = std::make_shared<persistence::memory_storage>();
  auto j = persistence::journal::start(mem);
  troupe::system sys{small_config()};
  auto c = sys.spawn(persistence::durable_state_behavior(spec(j)));
  EXPECT_EQ(*add(c, "socks"), 1);
  EXPECT_EQ(*add(c, "socks"), 2);
  EXPECT_EQ((*mem->get_state("cart-1"))->revision, 2u);
  auto c2 = sys.spawn(persistence::durable_state_behavior(spec(j)));  // after c: no race yet
  auto n = c2.ask<int>([](troupe::ref<int> r) { return cart::count{r}; }, 20s).get();
  ASSERT_TRUE(n);
  EXPECT_EQ(*n, 2);
}

TEST(DurableStateBehavior, OfTwoIncarnationsThatLoadedTheSameRevisionOnlyOneSaves) {
  auto mem = std::make_shared<persistence::memory_storage>();
  auto j = persistence::journal::start(mem);
  auto cfg = small_config();
  cfg.logger = [](troupe::log_level, std::string_view) {};  // the loser crashes on purpose
  troupe::system sys{cfg};
  auto a = sys.spawn(persistence::durable_state_behavior(spec(j)));
  auto b = sys.spawn(persistence::durable_state_behavior(spec(j)));
  // Both load revision 0 before either saves (a count each waits for the load).
  ASSERT_TRUE(a.ask<int>([](troupe::ref<int> r) { return cart::count{r}; }, 20s).get());
  ASSERT_TRUE(b.ask<int>([](troupe::ref<int> r) { return cart::count{r}; }, 20s).get());
  auto down_a = watch_from_outside(sys, a);
  auto down_b = watch_from_outside(sys, b);
  auto ra = add(a, "from a");
  auto rb = add(b, "from b");
  EXPECT_NE(static_cast<bool>(ra), static_cast<bool>(rb)) << "exactly one save wins";
  auto loser = ra ? down_b->pop() : down_a->pop();
  ASSERT_TRUE(loser);
  EXPECT_NE(loser->reason.text.find("revision conflict"), std::string::npos) << loser->reason.text;
  auto stored = mem->get_state("cart-1");
  ASSERT_TRUE(stored && stored->has_value());
  EXPECT_EQ((*stored)->revision, 1u);
}

// Memory storage whose first get_state waits for the test to open a gate: the actor stays
// loading, so the commands sent meanwhile wait in its stash.
class gated_storage final : public troupe_test::memory_backed_storage {
 public:
  std::promise<void> open;
  std::atomic<bool> loading{false};
  troupe::result<std::optional<persistence::durable_state>> get_state(const std::string& id) override {
    if (!loading.exchange(true)) opened_.wait();
    return memory_backed_storage::get_state(id);
  }

 private:
  std::shared_future<void> opened_ = open.get_future().share();
};

TEST(DurableStateBehavior, ACommandToldWithADeadlineThatPassesWhileItWaitsForTheLoadIsNotHandled) {
  auto gated = std::make_shared<gated_storage>();
  auto j = persistence::journal::start(gated);
  troupe::system sys{small_config()};
  std::mutex mu;
  std::vector<troupe::dead_letter_reason> dead;
  sys.subscribe_dead_letters(troupe::make_function_ref<troupe::dead_letter>([&](troupe::dead_letter&& d) {
    std::lock_guard lk(mu);
    dead.push_back(d.reason);
  }));
  struct open_at_end {  // however the test ends, the journal's thread is not left waiting
    gated_storage& g;
    bool done = false;
    void operator()() {
      if (!done) g.open.set_value();
      done = true;
    }
    ~open_at_end() { (*this)(); }
  } gate{*gated};
  auto c = sys.spawn(persistence::durable_state_behavior(spec(j)));
  ASSERT_TRUE(wait_until([&] { return gated->loading.load(); }));
  auto& clock = troupe::timers_of(sys);
  const auto soon = clock.now() + 200ms;  // ample for the actor to take both into its stash first
  auto ignored = troupe::make_function_ref<int>([](int&&) {});
  troupe::tell_before(c, cart::add_item{"late", ignored}, soon);         // stashed; its deadline passes there
  troupe::tell_before(c, cart::add_item{"in time", ignored}, soon + 1h);  // stashed, handled
  c.tell(cart::add_item{"told", ignored});                                // no deadline: handled
  // The actor took both into its stash at once (not past their deadlines then); let the first's pass.
  ASSERT_TRUE(wait_until([&] { return clock.now() > soon + 2ms; }));
  gate();
  auto n = c.ask<int>([](troupe::ref<int> r) { return cart::count{r}; }, 20s).get();
  ASSERT_TRUE(n) << n.error().message();
  EXPECT_EQ(*n, 2) << "the command whose deadline passed in the stash was handled";
  std::lock_guard lk(mu);
  EXPECT_EQ(std::count(dead.begin(), dead.end(), troupe::dead_letter_reason::deadline_passed), 1);
}

}  // namespace
