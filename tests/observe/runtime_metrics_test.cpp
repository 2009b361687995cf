// runtime_metrics_test.cpp: the runtime's own figures as metric families of a registry.
#include "troupe/observe/runtime_metrics.hpp"

#include <gtest/gtest.h>

#include <algorithm>
#include <string>
#include <vector>

#include "core/test_support.hpp"
#include "troupe/observe/metrics_export.hpp"
#include "troupe/troupe.hpp"

namespace {

using namespace troupe_test;
namespace ob = troupe::observe;

const ob::metric_family* family(const std::vector<ob::metric_family>& all, const std::string& name) {
  auto it = std::find_if(all.begin(), all.end(), [&](auto& f) { return f.name == name; });
  return it == all.end() ? nullptr : &*it;
}

const ob::metric_point* point(const ob::metric_family* f, const ob::labels& l) {
  if (f == nullptr) return nullptr;
  auto it = std::find_if(f->points.begin(), f->points.end(), [&](auto& p) { return p.labels == l; });
  return it == f->points.end() ? nullptr : &*it;
}

TEST(RuntimeMetrics, ExportsActorsMessagesAndSampledTimingsPerProtocol) {
  auto cfg = small_config();
  cfg.metrics = true;
  cfg.metrics_sample_every = 1;  // time every message, so the counts are exact
  troupe::system sys{cfg};
  ob::metrics_registry reg;
  ob::runtime_metrics bound{sys, reg};
  auto q = std::make_shared<blocking_queue<int>>();
  auto a = spawn_probe<int>(sys, q);
  for (int i = 0; i < 20; ++i) a.tell(i);
  for (int i = 0; i < 20; ++i) ASSERT_TRUE(q->pop().has_value());
  // The last message's handling is timed as its handler returns, and its take tallied as its
  // turn ends: both just after the push above.
  ASSERT_TRUE(wait_until([&] {
    auto all = reg.collect();
    auto* h = point(family(all, "troupe_handling_time_seconds"), {{"protocol", "int"}});
    auto* n = point(family(all, "troupe_messages_handled_total"), {{"protocol", "int"}});
    return h != nullptr && h->histogram.count == 20 && n != nullptr && n->value == 20;
  }));
  auto all = reg.collect();
  auto* handled = point(family(all, "troupe_messages_handled_total"), {{"protocol", "int"}});
  ASSERT_NE(handled, nullptr);
  EXPECT_EQ(handled->value, 20);
  auto* mailbox = point(family(all, "troupe_mailbox_time_seconds"), {{"protocol", "int"}});
  ASSERT_NE(mailbox, nullptr);
  EXPECT_EQ(mailbox->histogram.count, 20u);
  EXPECT_GT(mailbox->histogram.sum, 0.0);
  EXPECT_EQ(family(all, "troupe_mailbox_time_seconds")->type, ob::metric_type::histogram);
  auto* actors = point(family(all, "troupe_actors"), {});
  ASSERT_NE(actors, nullptr);
  EXPECT_GE(actors->value, 1);
  EXPECT_NE(family(all, "troupe_scheduler_turns_total"), nullptr);
  auto text = ob::to_prometheus_text(all);
  EXPECT_NE(text.find("# TYPE troupe_handling_time_seconds histogram\n"), std::string::npos);
  EXPECT_NE(text.find("troupe_mailbox_time_seconds_bucket{protocol=\"int\",le=\"+Inf\"} 20\n"), std::string::npos) << text;
}

TEST(RuntimeMetrics, TimesOneMessageInSampleEveryOfEachActor) {
  auto cfg = small_config();
  cfg.metrics = true;
  cfg.metrics_sample_every = 3;  // rounded up to 4: the 1st, 5th, 9th, ... message of each actor
  troupe::system sys{cfg};
  ob::metrics_registry reg;
  ob::runtime_metrics bound{sys, reg};
  auto q = std::make_shared<blocking_queue<int>>();
  auto a = spawn_probe<int>(sys, q);
  auto b = spawn_probe<int>(sys, q);
  for (int i = 0; i < 40; ++i) (i % 2 == 0 ? a : b).tell(i);  // 20 each, from one sender
  for (int i = 0; i < 40; ++i) ASSERT_TRUE(q->pop().has_value());
  ASSERT_TRUE(wait_until([&] {
    auto all = reg.collect();
    auto* h = point(family(all, "troupe_handling_time_seconds"), {{"protocol", "int"}});
    auto* n = point(family(all, "troupe_messages_handled_total"), {{"protocol", "int"}});
    return h != nullptr && h->histogram.count == 10 && n != nullptr && n->value == 40;
  }));
  auto all = reg.collect();
  auto* mailbox = point(family(all, "troupe_mailbox_time_seconds"), {{"protocol", "int"}});
  ASSERT_NE(mailbox, nullptr);
  EXPECT_EQ(mailbox->histogram.count, 10u);  // 5 of each actor's 20, per actor and not per sender
  auto* handled = point(family(all, "troupe_messages_handled_total"), {{"protocol", "int"}});
  ASSERT_NE(handled, nullptr);
  EXPECT_EQ(handled->value, 40);
}

TEST(RuntimeMetrics, TimesOneInSampleEveryOfActorsThatHandleOneMessageEach) {
  // A spawn storm's actors each handle one message: the sample must stay one in
  // metrics_sample_every of them, not every one (which cost a clock read and a histogram
  // record per actor). An actor's phase is its serial, which a thread takes in blocks of 64
  // (aligned to 64), so 64 actors spawned in a row on one thread hold every residue mod 4.
  auto cfg = small_config();
  cfg.metrics = true;
  cfg.metrics_sample_every = 4;
  troupe::system sys{cfg};
  ob::metrics_registry reg;
  ob::runtime_metrics bound{sys, reg};
  auto q = std::make_shared<blocking_queue<int>>();
  std::vector<troupe::ref<int>> actors;
  for (int i = 0; i < 64; ++i) actors.push_back(spawn_probe<int>(sys, q));
  for (auto& a : actors) a.tell(1);
  for (int i = 0; i < 64; ++i) ASSERT_TRUE(q->pop().has_value());
  ASSERT_TRUE(wait_until([&] {
    auto all = reg.collect();
    auto* h = point(family(all, "troupe_handling_time_seconds"), {{"protocol", "int"}});
    auto* n = point(family(all, "troupe_messages_handled_total"), {{"protocol", "int"}});
    return h != nullptr && h->histogram.count >= 16 && n != nullptr && n->value == 64;
  }));
  auto all = reg.collect();
  auto* handling = point(family(all, "troupe_handling_time_seconds"), {{"protocol", "int"}});
  auto* mailbox = point(family(all, "troupe_mailbox_time_seconds"), {{"protocol", "int"}});
  ASSERT_NE(mailbox, nullptr);
  EXPECT_EQ(handling->histogram.count, 16u);
  EXPECT_EQ(mailbox->histogram.count, 16u);
}

struct flood {  // tells `n` messages to an actor, in one turn
  int n;
};

TEST(RuntimeMetrics, TimesOneMessageInSampleEveryOfAFloodFromAnActor) {
  auto cfg = small_config();
  cfg.metrics = true;
  cfg.metrics_sample_every = 4;
  troupe::system sys{cfg};
  ob::metrics_registry reg;
  ob::runtime_metrics bound{sys, reg};
  auto q = std::make_shared<blocking_queue<int>>();
  auto a = spawn_probe<int>(sys, q);
  // The scheduler batches a turn's run of tells to one actor, and the tally counts a batch at a
  // time; the sample stays one in 4 of the actor's messages. (Another protocol than a's, so
  // that the flooder's own message is not in a's figures.)
  auto flooder = sys.spawn(troupe::receive<flood>([a](const flood& f) {
    for (int i = 0; i < f.n; ++i) a.tell(i);
  }));
  flooder.tell(flood{1000});
  for (int i = 0; i < 1000; ++i) ASSERT_TRUE(q->pop().has_value());
  ASSERT_TRUE(wait_until([&] {
    auto all = reg.collect();
    auto* h = point(family(all, "troupe_handling_time_seconds"), {{"protocol", "int"}});
    auto* n = point(family(all, "troupe_messages_handled_total"), {{"protocol", "int"}});
    return h != nullptr && h->histogram.count == 250 && n != nullptr && n->value == 1000;
  }));
  auto all = reg.collect();
  auto* mailbox = point(family(all, "troupe_mailbox_time_seconds"), {{"protocol", "int"}});
  ASSERT_NE(mailbox, nullptr);
  EXPECT_EQ(mailbox->histogram.count, 250u);
}

TEST(RuntimeMetrics, KeepsTheCountOfActorsThatHaveStopped) {
  auto cfg = small_config();
  cfg.introspection = true;
  troupe::system sys{cfg};
  ob::metrics_registry reg;
  ob::runtime_metrics bound{sys, reg};
  auto a = sys.spawn(troupe::receive<int>([](int n) { return n < 0 ? troupe::behavior<int>(troupe::stopped) : troupe::same; }));
  auto end = watch_from_outside(sys, a);
  for (int i = 0; i < 5; ++i) a.tell(i);
  a.tell(-1);
  ASSERT_TRUE(end->pop().has_value());
  ASSERT_TRUE(wait_until([&] {
    auto all = reg.collect();
    auto* h = point(family(all, "troupe_messages_handled_total"), {{"protocol", "int"}});
    return h != nullptr && h->value == 6;
  }));
  auto all = reg.collect();
  EXPECT_EQ(point(family(all, "troupe_actors_spawned_total"), {{"protocol", "int"}})->value, 1);
  // Introspection without metrics: no timings.
  EXPECT_EQ(family(all, "troupe_mailbox_time_seconds"), nullptr);
}

TEST(RuntimeMetrics, LeavesOutActorFiguresWithoutIntrospectionAndUnbindsWhenDestroyed) {
  troupe::system sys{small_config()};
  ob::metrics_registry reg;
  {
    ob::runtime_metrics bound{sys, reg};
    auto all = reg.collect();
    EXPECT_NE(family(all, "troupe_dead_letters_total"), nullptr);
    EXPECT_NE(family(all, "troupe_restarts_total"), nullptr);
    EXPECT_EQ(family(all, "troupe_actors"), nullptr);
    EXPECT_EQ(point(family(all, "troupe_dead_letters_total"), {{"reason", "mailbox_full"}})->value, 0);
  }
  EXPECT_TRUE(reg.collect().empty());
}

}  // namespace
