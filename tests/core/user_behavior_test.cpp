// user_behavior_test.cpp: a behaviour like otp's, written outside troupe with the public API only
// (issue 12). The namespace `acme` below is what a user would write: a gen_server-like server
// (class callbacks, calls with deadlines, an idle timeout, a callback on every stop), a one-child
// supervisor that keeps its child as an any_ref, a message adapter and a wrapping behaviour.
// Nothing in this file names troupe::detail. Virtual time and a seeded order (test_system).
#include "troupe/core/extension.hpp"

#include <gtest/gtest.h>

#include <chrono>
#include <functional>
#include <memory>
#include <stdexcept>
#include <string>
#include <type_traits>
#include <utility>
#include <variant>
#include <vector>

#include "troupe/core/any_ref.hpp"
#include "troupe/testkit/test_system.hpp"
#include "troupe/troupe.hpp"

namespace acme {

// --- a gen_server -----------------------------------------------------------------------------

/// The server's side of the class: T derives from it and gets ctx(); its handle(m) returns void.
template <class P>
class server {
 public:
  using protocol = P;
  virtual ~server() = default;
  virtual void terminate(const troupe::exit_reason&) {}  // runs on every stop, crash included

 protected:
  troupe::actor_context<P>& ctx() { return *ctx_; }

 private:
  template <class T, class... Args>
  friend troupe::behavior<typename T::protocol> server_of(Args&&...);
  troupe::actor_context<P>* ctx_ = nullptr;
};

template <class T>
struct server_runner {
  // Destroyed with the behaviour, when the actor stops: the place for terminate().
  struct holder {
    holder(std::unique_ptr<T> o, troupe::actor_context<typename T::protocol>* c) : obj(std::move(o)), ctx(c) {}
    holder(const holder&) = delete;
    holder& operator=(const holder&) = delete;
    std::unique_ptr<T> obj;
    troupe::actor_context<typename T::protocol>* ctx;
    ~holder() {
      if (obj) obj->terminate(ctx->stop_reason());
    }
  };
  std::shared_ptr<holder> h;
  template <class M>
  void operator()(M&& m) {
    h->obj->handle(std::forward<M>(m));
  }
};

template <class T, class... Args>
troupe::behavior<typename T::protocol> server_of(Args&&... args) {
  using P = typename T::protocol;
  return troupe::setup<P>([... args = std::forward<Args>(args)](troupe::actor_context<P>& ctx) mutable {
    auto obj = troupe::make_with_context<T>(ctx, std::move(args)...);
    static_cast<server<P>&>(*obj).ctx_ = &ctx;
    auto h = std::make_shared<typename server_runner<T>::holder>(std::move(obj), &ctx);
    return troupe::receive<P>(server_runner<T>{std::move(h)});
  });
}

/// A call from inside an actor: the answer (or the error) runs `on_answer` on the caller's own
/// turn, as otp's coroutine actor resumes its body.
template <class R, class P, class Q, class Make, class F>
void call(troupe::actor_context<P>& ctx, const troupe::ref<Q>& server, Make make, std::chrono::nanoseconds timeout,
          F on_answer) {
  troupe::async_ask<R>(server, make, timeout, [me = ctx.self(), on_answer](troupe::result<R>&& r) mutable {
    troupe::run_on_turn(me, [on_answer, r = std::move(r)]() mutable { on_answer(std::move(r)); });
  });
}

// --- a one-child supervisor -------------------------------------------------------------------

struct child_down {
  troupe::actor_id who;
  troupe::exit_reason reason;
};
struct stop_child {};
using sup_msg = std::variant<child_down, stop_child>;

struct sup_stats {
  int starts = 0;
  troupe::any_ref child;
};

/// Starts the child that `start` spawns and restarts it each time it fails; a normal stop ends
/// the supervisor. The child may speak any protocol: the supervisor keeps it as an any_ref.
inline troupe::behavior<sup_msg> one_for_one(std::function<troupe::any_ref(troupe::actor_context<sup_msg>&)> start,
                                             std::shared_ptr<sup_stats> stats) {
  return troupe::setup<sup_msg>([start, stats](troupe::actor_context<sup_msg>& ctx) {
    auto launch = [&ctx, start, stats] {
      stats->child = start(ctx);
      ++stats->starts;
      ctx.watch(stats->child, [](troupe::terminated&& t) { return child_down{t.who, std::move(t.reason)}; });
    };
    launch();
    return troupe::receive<sup_msg>(
        [&ctx, launch, stats](const child_down& d) {
          if (d.who != stats->child.id()) return;
          if (d.reason.is_failure()) return launch();
          ctx.stop();
        },
        [&ctx, stats](const stop_child&) { ctx.kill(stats->child, "stopped by acme"); });
  });
}

// --- a wrapping behaviour: runs another one by hand, counting its messages ---------------------

template <class P>
troupe::behavior<P> counting(troupe::behavior<P> inner, std::shared_ptr<int> count) {
  auto st = std::make_shared<troupe::behavior<P>>(std::move(inner));
  return troupe::setup<P>([st, count](troupe::actor_context<P>& ctx) {
    while (st->needs_setup()) *st = st->run_setup(ctx);
    return troupe::receive<P>([&ctx, st, count](auto&& m) -> troupe::behavior<P> {
      ++*count;
      troupe::behavior<P> next(troupe::same);
      switch (st->handle(P(std::forward<decltype(m)>(m)), next)) {
        case troupe::transition::same:
          break;
        case troupe::transition::become:
          *st = std::move(next);
          while (st->needs_setup()) *st = st->run_setup(ctx);
          break;
        case troupe::transition::stop:
          return troupe::stopped;
      }
      return troupe::same;
    });
  });
}

}  // namespace acme

namespace {

using namespace std::chrono_literals;

// The user's server: a bank account with an idle timeout.
struct deposit {
  int cents;
};
struct balance {
  troupe::ref<int> reply_to;
};
struct hoard {  // keeps the reply handle and never answers: the caller's deadline decides
  troupe::ref<int> reply_to;
};
struct boom {};
using account_msg = std::variant<deposit, balance, hoard, boom>;

struct journal {
  std::vector<std::string> lines;
  std::vector<troupe::ref<int>> hoarded;
};

class account : public acme::server<account_msg> {
 public:
  account(troupe::actor_context<account_msg>& ctx, std::shared_ptr<journal> j) : j_(std::move(j)) {
    arm_idle(ctx);
  }
  void handle(const deposit& d) {
    cents_ += d.cents;
    arm_idle(ctx());
  }
  void handle(const balance& b) { b.reply_to.tell(cents_); }
  void handle(const hoard& h) { j_->hoarded.push_back(h.reply_to); }
  void handle(const boom&) { throw std::runtime_error("boom"); }
  void terminate(const troupe::exit_reason& why) override { j_->lines.push_back("terminate: " + why.describe()); }

 private:
  void arm_idle(troupe::actor_context<account_msg>& ctx) {
    troupe::start_turn_timer(ctx, "idle", 10s, [j = j_] { j->lines.push_back("idle"); });
  }
  std::shared_ptr<journal> j_;
  int cents_ = 0;
};

// A client that calls the account and writes down what it got.
struct go {
  troupe::ref<account_msg> server;
  std::chrono::nanoseconds timeout;
  bool hoarding;
};
using client_msg = std::variant<go>;

troupe::behavior<client_msg> client(std::shared_ptr<std::vector<troupe::result<int>>> got) {
  return troupe::setup<client_msg>([got](troupe::actor_context<client_msg>& ctx) {
    return troupe::receive<client_msg>([&ctx, got](const go& g) {
      auto on_answer = [got](troupe::result<int>&& r) { got->push_back(std::move(r)); };
      if (g.hoarding)
        acme::call<int>(ctx, g.server, [](troupe::ref<int> r) { return hoard{r}; }, g.timeout, on_answer);
      else
        acme::call<int>(ctx, g.server, [](troupe::ref<int> r) { return balance{r}; }, g.timeout, on_answer);
    });
  });
}

TEST(UserBehavior, AServerWrittenOnThePublicApiAnswersCallsOnTheCallersTurn) {
  troupe::testkit::test_system ts;
  auto j = std::make_shared<journal>();
  auto acct = ts.spawn(acme::server_of<account>(j));
  auto got = std::make_shared<std::vector<troupe::result<int>>>();
  auto c = ts.spawn(client(got));
  acct.tell(deposit{250});
  c.tell(go{acct, 1s, false});
  ts.run_until_idle();
  ASSERT_EQ(got->size(), 1u);
  EXPECT_EQ(got->at(0).value(), 250);
}

TEST(UserBehavior, ACallThatIsNeverAnsweredTimesOutAtItsDeadline) {
  troupe::testkit::test_system ts;
  auto j = std::make_shared<journal>();
  auto acct = ts.spawn(acme::server_of<account>(j));
  auto got = std::make_shared<std::vector<troupe::result<int>>>();
  auto c = ts.spawn(client(got));
  c.tell(go{acct, 50ms, true});
  ts.run_until_idle();
  ts.advance(50ms - 1ns);
  EXPECT_TRUE(got->empty());
  ts.advance(1ns);
  ASSERT_EQ(got->size(), 1u);
  EXPECT_EQ(got->at(0).error(), troupe::errc::timeout);
}

TEST(UserBehavior, TheIdleTimerRunsOnTheServersTurnAndADepositRearmsIt) {
  troupe::testkit::test_system ts;
  auto j = std::make_shared<journal>();
  auto acct = ts.spawn(acme::server_of<account>(j));
  ts.run_until_idle();
  ts.advance(9s);
  acct.tell(deposit{1});  // re-arms the timer under the same key: the first one never fires
  ts.run_until_idle();
  ts.advance(9s);
  EXPECT_TRUE(j->lines.empty());
  ts.advance(1s);
  EXPECT_EQ(j->lines, std::vector<std::string>{"idle"});
}

TEST(UserBehavior, ACrashRunsTerminateAndAOneForOneSupervisorRestartsTheChildByAnyRef) {
  troupe::testkit::test_system ts;
  auto j = std::make_shared<journal>();
  auto stats = std::make_shared<acme::sup_stats>();
  auto sup = ts.spawn(acme::one_for_one(
      [j](troupe::actor_context<acme::sup_msg>& ctx) -> troupe::any_ref { return ctx.spawn(acme::server_of<account>(j)); },
      stats));
  ts.run_until_idle();
  ASSERT_EQ(stats->starts, 1);
  auto first = stats->child.as<account_msg>();
  ASSERT_TRUE(first.has_value());
  first->tell(boom{});
  ts.run_until_idle();
  EXPECT_EQ(stats->starts, 2);  // restarted
  EXPECT_TRUE(troupe::any_ref(*first).has_stopped());
  EXPECT_NE(stats->child.id(), first->id());
  ASSERT_EQ(j->lines.size(), 1u);
  EXPECT_NE(j->lines[0].find("boom"), std::string::npos) << j->lines[0];
  // The supervisor kills its child through the any_ref: a failure, so it restarts it again.
  sup.tell(acme::stop_child{});
  ts.run_until_idle();
  EXPECT_EQ(stats->starts, 3);
  EXPECT_FALSE(stats->child.speaks<acme::sup_msg>());
  EXPECT_TRUE(stats->child.speaks<account_msg>());
}

// The user's message adapter: made with make_function_ref, crashing its owner if it throws.
struct price {
  int cents;
};
struct got_price {
  int cents;
};
using reader_msg = std::variant<got_price>;

template <class From, class P, class F>
troupe::ref<From> adapter(troupe::actor_context<P>& ctx, F map) {
  return troupe::make_function_ref<From>(
      [owner = ctx.self(), map](From&& m) noexcept {
        try {
          owner.tell(map(std::move(m)));
        } catch (const std::exception& e) {
          troupe::request_stop(owner, {troupe::exit_reason::kind::exception, e.what()});
        }
      },
      ctx.id());
}

TEST(UserBehavior, AnAdapterOnAFunctionRefConvertsAndCrashesItsOwnerWhenItThrows) {
  troupe::testkit::test_system ts;
  auto seen = std::make_shared<std::vector<int>>();
  auto handed = std::make_shared<troupe::ref<price>>();
  auto reader = ts.spawn(troupe::setup<reader_msg>([seen, handed](troupe::actor_context<reader_msg>& ctx) {
    *handed = adapter<price>(ctx, [](price p) {
      if (p.cents < 0) throw std::invalid_argument("a negative price");
      return got_price{p.cents};
    });
    return troupe::receive<reader_msg>([seen](const got_price& g) { seen->push_back(g.cents); });
  }));
  ts.run_until_idle();
  ASSERT_TRUE(*handed);
  EXPECT_EQ(handed->id(), reader.id());  // the adapter stands for its owner
  handed->tell(price{101});
  handed->tell(price{102});
  ts.run_until_idle();
  EXPECT_EQ(*seen, (std::vector<int>{101, 102}));
  handed->tell(price{-1});
  ts.run_until_idle();
  EXPECT_TRUE(troupe::any_ref(reader).has_stopped());
}

TEST(UserBehavior, AWrappingBehaviourRunsTheInnerOneByHandFollowingItsBecomes) {
  troupe::testkit::test_system ts;
  struct add {
    int n;
  };
  struct get {
    troupe::ref<int> reply_to;
  };
  using counter_msg = std::variant<add, get>;
  std::function<troupe::behavior<counter_msg>(int)> counter = [&counter](int total) {
    return troupe::receive<counter_msg>([&counter, total](const add& a) { return counter(total + a.n); },
                                        [total](const get& g) {
                                          g.reply_to.tell(total);
                                          return troupe::same;
                                        });
  };
  auto count = std::make_shared<int>(0);
  auto c = ts.spawn(acme::counting<counter_msg>(counter(0), count));
  c.tell(add{2});
  c.tell(add{3});
  auto total = c.ask([](troupe::ref<int> r) { return get{r}; }, 1s);
  ts.run_until_idle();
  EXPECT_EQ(total.get().value(), 5);
  EXPECT_EQ(*count, 3);
}

}  // namespace
