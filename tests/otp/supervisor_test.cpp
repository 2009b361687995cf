// supervisor_test.cpp: strategies, restart types, restart limits and escalation, start and stop
// order, shutdown times and the child operations of otp::supervisor.
#include "troupe/otp/supervisor.hpp"

#include <gtest/gtest.h>

#include <algorithm>
#include <any>
#include <cstdint>
#include <functional>
#include <memory>
#include <string>
#include <variant>
#include <vector>

#include "core/test_support.hpp"
#include "otp/worker_actor.hpp"
#include "troupe/testkit/test_system.hpp"
#include "troupe/troupe.hpp"

namespace {

using namespace troupe_test;
using namespace troupe_test::worker_actor;
namespace otp = troupe::otp;
using strings = std::vector<std::string>;

otp::supervisor_spec three_workers(otp::strategy s, std::shared_ptr<event_log> log, int max_restarts = 5) {
  return {.flags = {.strategy = s, .max_restarts = max_restarts, .within = std::chrono::seconds{1}},
          .children = {worker_spec("a", log), worker_spec("b", log), worker_spec("c", log)}};
}

// Spawning is asynchronous: children are spawned (and registered) in order, but their setups
// may run concurrently, so starts are compared as sets. Stops are strictly ordered.
strings sorted(strings v) {
  std::sort(v.begin(), v.end());
  return v;
}

// The actor ids of the children, in start order; 0 for one not running.
std::vector<std::uint64_t> child_serials(const troupe::ref<otp::supervisor_msg>& sup) {
  std::vector<std::uint64_t> out;
  const auto kids = await(otp::which_children_of(sup, deadline)).value();
  for (const auto& c : kids) out.push_back(c.ref.id().serial);
  return out;
}

TEST(Supervisor, SpawnsChildrenInOrderSoALaterChildFindsAnEarlierOneRegistered) {
  troupe::system sys{quiet_config()};
  auto log = std::make_shared<event_log>();
  auto found = std::make_shared<blocking_queue<bool>>();
  using later_msg = std::variant<int>;
  auto later = otp::child("later", [&sys, found] {
    return troupe::setup<later_msg>([&sys, found](troupe::actor_context<later_msg>&) {
      found->push(static_cast<bool>(sys.lookup<worker_msg>("a")));
      return troupe::receive<later_msg>([](int) {});
    });
  });
  auto spec = three_workers(otp::strategy::one_for_one, log);
  spec.children.push_back(later);
  auto sup = sys.spawn(otp::supervisor(spec));
  EXPECT_EQ(sorted(next_events(*log, 3)), (strings{"start:a", "start:b", "start:c"}));
  auto f = found->pop();
  ASSERT_TRUE(f.has_value());
  EXPECT_TRUE(*f);
  const auto serials = child_serials(sup);
  EXPECT_TRUE(std::is_sorted(serials.begin(), serials.end()));
}

TEST(Supervisor, OneForOneRestartsOnlyTheCrashedChild) {
  troupe::system sys{quiet_config()};
  auto log = std::make_shared<event_log>();
  auto sup = sys.spawn(otp::supervisor(three_workers(otp::strategy::one_for_one, log)));
  ASSERT_EQ(next_events(*log, 3).size(), 3u);
  const auto before = child_serials(sup);
  named(sys, "b").tell(crash{});
  EXPECT_EQ(next_events(*log, 2), (strings{"stop:b", "start:b"}));
  const auto after = child_serials(sup);
  EXPECT_EQ(after[0], before[0]);
  EXPECT_NE(after[1], before[1]);
  EXPECT_EQ(after[2], before[2]);
  EXPECT_EQ(log->size(), 0u);
}

TEST(Supervisor, OneForAllStopsTheOthersInReverseOrderThenRestartsAllInOrder) {
  troupe::system sys{quiet_config()};
  auto log = std::make_shared<event_log>();
  auto sup = sys.spawn(otp::supervisor(three_workers(otp::strategy::one_for_all, log)));
  ASSERT_EQ(next_events(*log, 3).size(), 3u);
  const auto before = child_serials(sup);
  named(sys, "b").tell(crash{});
  EXPECT_EQ(next_events(*log, 3), (strings{"stop:b", "stop:c", "stop:a"}));
  EXPECT_EQ(sorted(next_events(*log, 3)), (strings{"start:a", "start:b", "start:c"}));
  const auto after = child_serials(sup);
  for (std::size_t i = 0; i < 3; ++i) EXPECT_NE(after[i], before[i]);
}

TEST(Supervisor, OneForAllDoesNotStartAgainATemporarySiblingItStopped) {
  troupe::system sys{quiet_config()};
  auto log = std::make_shared<event_log>();
  auto spec = three_workers(otp::strategy::one_for_all, log);
  spec.children[2].restart = otp::restart_type::temporary;
  auto sup = sys.spawn(otp::supervisor(spec));
  ASSERT_EQ(next_events(*log, 3).size(), 3u);
  named(sys, "a").tell(crash{});
  EXPECT_EQ(next_events(*log, 3), (strings{"stop:a", "stop:c", "stop:b"}));
  EXPECT_EQ(sorted(next_events(*log, 2)), (strings{"start:a", "start:b"}));
  ASSERT_TRUE(wait_until([&] { return await(otp::count_children_of(sup, deadline)).value().specs == 2; }));
  EXPECT_EQ(log->size(), 0u);
}

TEST(Supervisor, RestForOneRestartsTheCrashedChildAndThoseStartedAfterIt) {
  troupe::system sys{quiet_config()};
  auto log = std::make_shared<event_log>();
  auto sup = sys.spawn(otp::supervisor(three_workers(otp::strategy::rest_for_one, log)));
  ASSERT_EQ(next_events(*log, 3).size(), 3u);
  const auto before = child_serials(sup);
  named(sys, "b").tell(crash{});
  EXPECT_EQ(next_events(*log, 2), (strings{"stop:b", "stop:c"}));
  EXPECT_EQ(sorted(next_events(*log, 2)), (strings{"start:b", "start:c"}));
  const auto after = child_serials(sup);
  EXPECT_EQ(after[0], before[0]);
  EXPECT_NE(after[1], before[1]);
  EXPECT_NE(after[2], before[2]);
}

TEST(Supervisor, SimpleOneForOneStartsChildrenOnDemandFromOneSpecAndRestartsThemWithTheirArguments) {
  troupe::system sys{quiet_config()};
  auto log = std::make_shared<event_log>();
  auto spec = otp::dynamic_child<std::string>("session", [log](const std::string& who) { return worker(who, log); });
  auto sup = sys.spawn(otp::supervisor({.flags = {.strategy = otp::strategy::simple_one_for_one, .max_restarts = 5},
                                        .children = {spec}}));
  EXPECT_EQ(await(otp::count_children_of(sup, deadline)).value().specs, 0u);  // nothing starts at once
  auto x = await(otp::start_dynamic_child_of(sup, std::string("x"), deadline));
  auto y = await(otp::start_dynamic_child_of(sup, std::string("y"), deadline));
  ASSERT_TRUE(x.has_value());
  ASSERT_TRUE(y.has_value());
  EXPECT_EQ(sorted(next_events(*log, 2)), (strings{"start:x", "start:y"}));
  x->as<worker_msg>().value().tell(crash{});
  EXPECT_EQ(next_events(*log, 2), (strings{"stop:x", "start:x"}));
  auto counts = await(otp::count_children_of(sup, deadline)).value();
  EXPECT_EQ(counts.active, 2u);
  EXPECT_EQ(counts.workers, 2u);
  // A wrong argument type fails that start only.
  auto bad = await(otp::start_dynamic_child_of(sup, 42, deadline));
  ASSERT_FALSE(bad.has_value());
  EXPECT_EQ(bad.error().code(), otp::supervisor_errc::start_failed);
  // Stopping one by actor id forgets it.
  ASSERT_TRUE(await(otp::terminate_child_of(sup, y->id(), deadline)).has_value());
  EXPECT_EQ(next_events(*log, 1), (strings{"stop:y"}));
  EXPECT_EQ(await(otp::count_children_of(sup, deadline)).value().specs, 1u);
  EXPECT_EQ(await(otp::restart_child_of(sup, "session", deadline)).error().code(), otp::supervisor_errc::not_supported);
}

TEST(Supervisor, StopTreeStopsChildrenInReverseOrderThenTheSupervisorNormally) {
  troupe::system sys{quiet_config()};
  auto log = std::make_shared<event_log>();
  auto sup = sys.spawn(otp::supervisor(three_workers(otp::strategy::one_for_one, log)));
  ASSERT_EQ(next_events(*log, 3).size(), 3u);
  auto down = watch_from_outside(sys, sup);
  sup.tell(otp::stop_tree{});
  EXPECT_EQ(next_events(*log, 3), (strings{"stop:c", "stop:b", "stop:a"}));
  auto t = down->pop();
  ASSERT_TRUE(t.has_value());
  EXPECT_FALSE(t->reason.is_failure());
}

TEST(Supervisor, StopTreeStopsNestedSupervisorsInOrderDepthFirst) {
  troupe::system sys{quiet_config()};
  auto log = std::make_shared<event_log>();
  otp::supervisor_spec inner{.children = {worker_spec("x", log), worker_spec("y", log)}};
  auto outer = sys.spawn(otp::supervisor(
      {.children = {worker_spec("w1", log), otp::supervisor_child("inner", inner), worker_spec("w2", log)}}));
  ASSERT_EQ(next_events(*log, 4).size(), 4u);
  outer.tell(otp::stop_tree{});
  EXPECT_EQ(next_events(*log, 4), (strings{"stop:w2", "stop:y", "stop:x", "stop:w1"}));
}

TEST(Supervisor, RequestsThatArriveDuringAShutdownAreAnsweredAfterIt) {
  troupe::system sys{quiet_config()};
  auto entered = std::make_shared<gate>();
  auto release = std::make_shared<gate>();
  using stuck_msg = std::variant<int>;
  auto stuck = otp::child("stuck", [=] {
    return troupe::receive<stuck_msg>([=](int) {
      entered->open();
      release->wait();
    });
  }, {.name = "stuck"});
  stuck.shutdown = troupe::infinity;
  auto sup = sys.spawn(otp::supervisor({.children = {stuck}}));
  troupe::ref<stuck_msg> s;
  ASSERT_TRUE(wait_until([&] {
    auto r = sys.lookup<stuck_msg>("stuck");
    if (r) s = *r;
    return static_cast<bool>(r);
  }));
  s.tell(1);
  ASSERT_TRUE(entered->wait());
  auto stopping = sup.ask<troupe::result<void>>(
      [](troupe::ref<troupe::result<void>> r) { return otp::terminate_child{"stuck", {}, r}; }, deadline);
  auto counts = sup.ask<otp::child_counts>([](troupe::ref<otp::child_counts> r) { return otp::count_children{r}; },
                                           deadline);
  // Both wait for the stuck child: a supervisor answers nothing while it waits for a stop.
  EXPECT_EQ(counts.wait_for(std::chrono::milliseconds{20}), std::future_status::timeout);
  release->open();
  EXPECT_TRUE(await(std::move(stopping)).has_value());
  auto n = await(std::move(counts));
  ASSERT_TRUE(n.has_value());
  EXPECT_EQ(n->active, 0u);  // answered after the stop, so it sees it
  EXPECT_EQ(n->specs, 1u);
}

TEST(Supervisor, PermanentChildIsRestartedEvenAfterANormalStop) {
  troupe::system sys{quiet_config()};
  auto log = std::make_shared<event_log>();
  sys.spawn(otp::supervisor({.children = {worker_spec("p", log)}}));
  ASSERT_EQ(next_events(*log, 1).size(), 1u);
  named(sys, "p").tell(quit{});
  EXPECT_EQ(next_events(*log, 2), (strings{"stop:p", "start:p"}));
}

TEST(Supervisor, TransientChildIsRestartedOnlyAfterAFailure) {
  troupe::system sys{quiet_config()};
  auto log = std::make_shared<event_log>();
  auto spec = worker_spec("t", log);
  spec.restart = otp::restart_type::transient;
  auto sup = sys.spawn(otp::supervisor({.children = {spec}}));
  ASSERT_EQ(next_events(*log, 1).size(), 1u);
  named(sys, "t").tell(crash{});
  EXPECT_EQ(next_events(*log, 2), (strings{"stop:t", "start:t"}));
  named(sys, "t").tell(quit{});
  EXPECT_EQ(next_events(*log, 1), (strings{"stop:t"}));
  // Not restarted, but its spec stays: restart_child starts it again.
  ASSERT_TRUE(wait_until([&] { return await(otp::count_children_of(sup, deadline)).value().active == 0; }));
  EXPECT_EQ(await(otp::count_children_of(sup, deadline)).value().specs, 1u);
  ASSERT_TRUE(await(otp::restart_child_of(sup, "t", deadline)).has_value());
  EXPECT_EQ(next_events(*log, 1), (strings{"start:t"}));
}

TEST(Supervisor, TemporaryChildIsNeverRestartedAndItsSpecIsForgotten) {
  troupe::system sys{quiet_config()};
  auto log = std::make_shared<event_log>();
  auto spec = worker_spec("tmp", log);
  spec.restart = otp::restart_type::temporary;
  auto sup = sys.spawn(otp::supervisor({.children = {spec, worker_spec("keep", log)}}));
  ASSERT_EQ(next_events(*log, 2).size(), 2u);
  named(sys, "tmp").tell(crash{});
  EXPECT_EQ(next_events(*log, 1), (strings{"stop:tmp"}));
  ASSERT_TRUE(wait_until([&] { return await(otp::count_children_of(sup, deadline)).value().specs == 1; }));
  EXPECT_EQ(await(otp::which_children_of(sup, deadline)).value().at(0).id, "keep");
}

TEST(Supervisor, ExceedingMaxRestartsStopsTheChildrenInReverseOrderAndFailsTheSupervisor) {
  troupe::system sys{quiet_config()};
  auto log = std::make_shared<event_log>();
  auto sup = sys.spawn(otp::supervisor(three_workers(otp::strategy::one_for_one, log, /*max_restarts=*/2)),
                       {.name = "sup"});
  ASSERT_EQ(next_events(*log, 3).size(), 3u);
  auto down = watch_from_outside(sys, sup);
  for (int i = 0; i < 2; ++i) {  // two restarts are allowed within the window
    named(sys, "b").tell(crash{});
    ASSERT_EQ(next_events(*log, 2), (strings{"stop:b", "start:b"}));
  }
  named(sys, "b").tell(crash{});  // the third is one too many
  EXPECT_EQ(next_events(*log, 3), (strings{"stop:b", "stop:c", "stop:a"}));
  auto t = down->pop();
  ASSERT_TRUE(t.has_value());
  EXPECT_TRUE(t->reason.is_failure());
  EXPECT_NE(t->reason.text.find("supervisor_failure"), std::string::npos) << t->reason.text;
  EXPECT_NE(t->reason.text.find("restart limit"), std::string::npos) << t->reason.text;
  EXPECT_NE(t->reason.text.find("child 'b'"), std::string::npos) << t->reason.text;
}

// In virtual time: a restart leaves the window once it is more than `within` old; one exactly
// `within` old still counts, as in OTP.
TEST(Supervisor, RestartsOlderThanTheWindowNoLongerCountTowardsTheLimit) {
  troupe::testkit::test_system ts;
  auto log = std::make_shared<event_log>();
  auto sup = ts.spawn(otp::supervisor({.flags = {.max_restarts = 1, .within = std::chrono::seconds{1}},
                                       .children = {worker_spec("w", log)}}));
  ts.run_until_idle();
  ASSERT_EQ(log->drain(), (strings{"start:w"}));
  auto down = watch_from_outside(ts.system(), sup);
  auto crash_w = [&] {
    named(ts.system(), "w").tell(crash{});
    ts.run_until_idle();
  };
  crash_w();
  ASSERT_EQ(log->drain(), (strings{"stop:w", "start:w"}));
  ts.advance(std::chrono::seconds{1} + std::chrono::nanoseconds{1});  // the first restart has left
  crash_w();
  ASSERT_EQ(log->drain(), (strings{"stop:w", "start:w"}));
  ts.advance(std::chrono::seconds{1});  // the second is exactly `within` old: it still counts
  crash_w();                            // two within the window: one too many
  EXPECT_EQ(log->drain(), (strings{"stop:w"}));
  ASSERT_EQ(down->size(), 1u);
  EXPECT_TRUE(down->pop()->reason.is_failure());
}

TEST(Supervisor, AnEscalatedFailureIsRestartedByTheParentSupervisor) {
  troupe::system sys{quiet_config()};
  auto log = std::make_shared<event_log>();
  otp::supervisor_spec inner{.flags = {.max_restarts = 0, .within = std::chrono::seconds{1}},
                             .children = {worker_spec("leaf", log)}};
  auto outer = sys.spawn(otp::supervisor({.flags = {.max_restarts = 3, .within = std::chrono::seconds{1}},
                                          .children = {worker_spec("first", log),
                                                       otp::supervisor_child("inner", inner)}}));
  ASSERT_EQ(sorted(next_events(*log, 2)), (strings{"start:first", "start:leaf"}));
  const auto inner_before = await(otp::which_children_of(outer, deadline)).value().at(1).ref.id();
  named(sys, "leaf").tell(crash{});  // max_restarts 0: the inner supervisor gives up at once
  EXPECT_EQ(next_events(*log, 2), (strings{"stop:leaf", "start:leaf"}));
  auto kids = await(otp::which_children_of(outer, deadline)).value();
  EXPECT_EQ(kids.at(1).kind, otp::child_kind::supervisor);
  EXPECT_NE(kids.at(1).ref.id(), inner_before);  // the parent restarted the inner supervisor
  EXPECT_EQ(log->size(), 0u);                    // and nothing else
}

TEST(Supervisor, AChildThatFailsToStartStopsThoseStartedBeforeItAndFailsTheSupervisor) {
  troupe::system sys{quiet_config()};
  auto log = std::make_shared<event_log>();
  otp::child_spec broken{.id = "broken",
                         .start = [](otp::supervisor_context&, const std::any&) -> otp::child_ref {
                           throw std::runtime_error("no database");
                         }};
  auto sup = sys.spawn(otp::supervisor({.children = {worker_spec("a", log), worker_spec("b", log), broken}}));
  auto down = watch_from_outside(sys, sup);
  auto events = next_events(*log, 4);
  EXPECT_EQ(sorted(events), (strings{"start:a", "start:b", "stop:a", "stop:b"}));
  auto at = [&](const std::string& e) { return std::find(events.begin(), events.end(), e) - events.begin(); };
  EXPECT_LT(at("stop:b"), at("stop:a"));  // reverse start order
  auto t = down->pop();
  ASSERT_TRUE(t.has_value());
  EXPECT_TRUE(t->reason.is_failure());
  EXPECT_NE(t->reason.text.find("no database"), std::string::npos) << t->reason.text;
}

TEST(Supervisor, AChildWithShutdownKillImmediatelyIsKilled) {
  troupe::system sys{quiet_config()};
  auto log = std::make_shared<event_log>();
  auto spec = worker_spec("k", log);
  spec.shutdown = otp::kill_immediately;
  auto sup = sys.spawn(otp::supervisor({.children = {spec}}));
  ASSERT_EQ(next_events(*log, 1).size(), 1u);
  auto down = watch_from_outside(sys, named(sys, "k"));
  ASSERT_TRUE(await(otp::terminate_child_of(sup, "k", deadline)).has_value());
  auto t = down->pop();
  ASSERT_TRUE(t.has_value());
  EXPECT_EQ(t->reason.what, troupe::exit_reason::kind::killed);
}

TEST(Supervisor, AChildThatStopsWithinItsShutdownTimeSeesReasonShutdown) {
  troupe::system sys{quiet_config()};
  auto log = std::make_shared<event_log>();
  auto sup = sys.spawn(otp::supervisor({.children = {worker_spec("w", log)}}));
  ASSERT_EQ(next_events(*log, 1).size(), 1u);
  auto down = watch_from_outside(sys, named(sys, "w"));
  ASSERT_TRUE(await(otp::terminate_child_of(sup, "w", deadline)).has_value());
  auto t = down->pop();
  ASSERT_TRUE(t.has_value());
  EXPECT_EQ(t->reason.what, troupe::exit_reason::kind::shutdown);
}

// A nested supervisor whose last worker is stuck in a handler cannot finish its ordered stop;
// its parent kills it when its shutdown time runs out, which kills the nested workers that
// were still waiting their turn to stop (seen here as reason `killed` on the first one).
TEST(Supervisor, AChildThatOverstaysItsShutdownTimeIsKilled) {
  troupe::system sys{quiet_config()};
  auto log = std::make_shared<event_log>();
  auto entered = std::make_shared<gate>();
  auto release = std::make_shared<gate>();
  using stuck_msg = std::variant<int>;
  auto stuck = otp::child("stuck", [=] {
    return troupe::receive<stuck_msg>([=](int) {
      entered->open();
      release->wait();
    });
  }, {.name = "stuck"});
  stuck.shutdown = troupe::infinity;
  auto inner_spec = otp::supervisor_child("inner", {.children = {worker_spec("first", log), stuck}});
  inner_spec.shutdown = std::chrono::milliseconds{20};
  auto outer = sys.spawn(otp::supervisor({.children = {inner_spec}}));
  ASSERT_EQ(next_events(*log, 1), (strings{"start:first"}));
  auto first_down = watch_from_outside(sys, named(sys, "first"));
  troupe::ref<stuck_msg> s;
  ASSERT_TRUE(wait_until([&] {
    auto r = sys.lookup<stuck_msg>("stuck");
    if (r) s = *r;
    return static_cast<bool>(r);
  }));
  s.tell(1);
  ASSERT_TRUE(entered->wait());
  auto inner = await(otp::which_children_of(outer, deadline)).value().at(0).ref;
  auto inner_down = watch_from_outside(sys, inner.as<otp::supervisor_msg>().value());
  outer.tell(otp::stop_tree{});
  auto f = first_down->pop();  // the kill reached it before its turn to stop
  release->open();
  ASSERT_TRUE(f.has_value());
  EXPECT_EQ(f->reason.what, troupe::exit_reason::kind::killed);
  auto i = inner_down->pop();
  ASSERT_TRUE(i.has_value());
  EXPECT_EQ(i->reason.what, troupe::exit_reason::kind::killed);
}

// A child of supervisor kind is stopped with stop_tree; this one never finishes its ordered stop
// (a supervisor stuck on a child), so its parent kills it exactly when its shutdown time ends.
TEST(Supervisor, AChildThatOverstaysItsShutdownTimeIsKilledExactlyWhenItEndsInVirtualTime) {
  troupe::testkit::test_system ts;
  otp::child_spec stubborn{.id = "stubborn",
                           .start = [](otp::supervisor_context& ctx, const std::any&) -> otp::child_ref {
                             return ctx.spawn(troupe::receive<otp::supervisor_msg>([](const auto&) {}),
                                              {.name = "stubborn"});
                           },
                           .shutdown = std::chrono::seconds{2},
                           .kind = otp::child_kind::supervisor};
  auto sup = ts.spawn(otp::supervisor({.children = {stubborn}}));
  ts.run_until_idle();
  auto child = ts.system().lookup<otp::supervisor_msg>("stubborn");
  ASSERT_TRUE(child.has_value());
  auto child_down = watch_from_outside(ts.system(), *child);
  auto sup_down = watch_from_outside(ts.system(), sup);
  sup.tell(otp::stop_tree{});
  ts.run_until_idle();
  ts.advance(std::chrono::seconds{2} - std::chrono::nanoseconds{1});
  EXPECT_EQ(child_down->size(), 0u);  // not a nanosecond early
  ts.advance(std::chrono::nanoseconds{1});
  ASSERT_EQ(child_down->size(), 1u);
  EXPECT_EQ(child_down->pop()->reason.what, troupe::exit_reason::kind::killed);
  ASSERT_EQ(sup_down->size(), 1u);  // and the supervisor's stop goes on
  EXPECT_FALSE(sup_down->pop()->reason.is_failure());
}

// A worker that has not taken its stop when its shutdown time ends (here: the scheduler never
// runs it, as if a handler held it) is killed, and watchers see `killed` (OTP's brutal_kill
// after the timeout), not the `shutdown` of the stop still waiting beside the kill.
TEST(Supervisor, AWorkerThatOverstaysItsShutdownTimeIsSeenKilledInVirtualTime) {
  troupe::testkit::test_system ts;
  using slow_msg = std::variant<int>;
  auto slow = otp::child("slow", [] { return troupe::receive<slow_msg>([](int) {}); }, {.name = "slow"});
  slow.shutdown = std::chrono::seconds{2};
  auto sup = ts.spawn(otp::supervisor({.children = {slow}}));
  ts.run_until_idle();
  auto child = ts.system().lookup<slow_msg>("slow");
  ASSERT_TRUE(child.has_value());
  auto child_down = watch_from_outside(ts.system(), *child);
  ts.run_until_idle();
  sup.tell(otp::stop_tree{});
  // Only the supervisor runs: it asks the child to stop and starts the shutdown timer.
  while (ts.scheduler().run_actor(sup.id().serial)) {
  }
  ts.clock().set_time(ts.now() + std::chrono::seconds{2});
  while (ts.clock().fire_next_due()) {
  }
  while (ts.scheduler().run_actor(sup.id().serial)) {  // the timeout: it kills the child
  }
  ts.run_until_idle();  // the child takes the stop and the kill together
  ASSERT_EQ(child_down->size(), 1u);
  EXPECT_EQ(child_down->pop()->reason.what, troupe::exit_reason::kind::killed);
}

TEST(Supervisor, ChildOperationsFollowOtp) {
  troupe::system sys{quiet_config()};
  auto log = std::make_shared<event_log>();
  auto sup = sys.spawn(otp::supervisor({.children = {worker_spec("a", log)}}));
  ASSERT_EQ(next_events(*log, 1).size(), 1u);

  auto b = await(otp::start_child_of(sup, worker_spec("b", log), deadline));
  ASSERT_TRUE(b.has_value());
  EXPECT_TRUE(b->speaks<worker_msg>());
  EXPECT_EQ(await(b->as<worker_msg>().value().ask<int>([](troupe::ref<int> r) { return ping{r}; }, deadline)).value(), 1);
  EXPECT_EQ(await(otp::start_child_of(sup, worker_spec("b", log), deadline)).error().code(),
            otp::supervisor_errc::already_started);

  auto kids = await(otp::which_children_of(sup, deadline)).value();
  ASSERT_EQ(kids.size(), 2u);
  EXPECT_EQ(kids[0].id, "a");
  EXPECT_EQ(kids[1].id, "b");
  EXPECT_EQ(kids[1].ref, *b);

  ASSERT_TRUE(await(otp::terminate_child_of(sup, "b", deadline)).has_value());
  EXPECT_EQ(await(otp::count_children_of(sup, deadline)).value().active, 1u);
  EXPECT_EQ(await(otp::start_child_of(sup, worker_spec("b", log), deadline)).error().code(),
            otp::supervisor_errc::already_present);
  EXPECT_EQ(await(otp::delete_child_of(sup, "a", deadline)).error().code(), otp::supervisor_errc::running);
  EXPECT_EQ(await(otp::terminate_child_of(sup, "nope", deadline)).error().code(), otp::supervisor_errc::not_found);

  auto again = await(otp::restart_child_of(sup, "b", deadline));
  ASSERT_TRUE(again.has_value());
  EXPECT_NE(*again, *b);
  EXPECT_EQ(await(otp::restart_child_of(sup, "b", deadline)).error().code(), otp::supervisor_errc::running);
  ASSERT_TRUE(await(otp::terminate_child_of(sup, "b", deadline)).has_value());
  ASSERT_TRUE(await(otp::delete_child_of(sup, "b", deadline)).has_value());
  auto counts = await(otp::count_children_of(sup, deadline)).value();
  EXPECT_EQ(counts.specs, 1u);
  EXPECT_EQ(counts.workers, 1u);
  EXPECT_EQ(counts.supervisors, 0u);
  EXPECT_EQ(next_events(*log, 4), (strings{"start:b", "stop:b", "start:b", "stop:b"}));
}

TEST(Supervisor, AStartFunctionThatReturnsNoChildLeavesTheSpecStopped) {
  troupe::system sys{quiet_config()};
  otp::child_spec ignored{.id = "maybe",
                          .start = [](otp::supervisor_context&, const std::any&) { return otp::child_ref{}; }};
  auto sup = sys.spawn(otp::supervisor({.children = {ignored}}));
  auto counts = await(otp::count_children_of(sup, deadline)).value();
  EXPECT_EQ(counts.specs, 1u);
  EXPECT_EQ(counts.active, 0u);
}

}  // namespace
