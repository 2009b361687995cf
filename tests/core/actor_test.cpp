// actor_test.cpp: class-style actors: one `on` handler per message, built by actor_of.
#include "troupe/core/actor.hpp"

#include <gtest/gtest.h>

#include <string>
#include <variant>

#include "test_support.hpp"
#include "troupe/troupe.hpp"

namespace {

using namespace troupe_test;

struct add {
  int n;
};
struct get_total {
  troupe::ref<int> reply_to;
};
struct quit {};
using counter_msg = std::variant<add, get_total, quit>;

class counter : public troupe::actor<counter_msg> {
 public:
  explicit counter(int start, std::shared_ptr<blocking_queue<std::string>> events = nullptr)
      : total_(start), events_(std::move(events)) {
    note("built on " + current_thread_name());
  }
  ~counter() override { note("destroyed"); }

  void on(const add& m) { total_ += m.n; }
  void on(const get_total& g) { g.reply_to.tell(total_); }
  troupe::stopped_tag on(quit) { return troupe::stopped; }

 private:
  void note(std::string s) {
    if (events_) events_->push(std::move(s));
  }
  int total_;
  std::shared_ptr<blocking_queue<std::string>> events_;
};

int total_of(const troupe::ref<counter_msg>& c) {
  return await(c.ask<int>([](troupe::ref<int> r) { return get_total{r}; }, deadline)).value();
}

TEST(Actor, HandlesEachMessageWithItsOnOverload) {
  troupe::system sys{small_config()};
  auto c = sys.spawn(troupe::actor_of<counter>(10));
  c.tell(add{5});
  c.tell(add{-2});
  EXPECT_EQ(total_of(c), 13);
}

TEST(Actor, IsBuiltOnAWorkerWhenItStartsAndDestroyedWhenItStops) {
  troupe::system sys{small_config()};
  auto events = std::make_shared<blocking_queue<std::string>>();
  auto c = sys.spawn(troupe::actor_of<counter>(0, events));
  auto built = events->pop();
  ASSERT_TRUE(built.has_value());
  EXPECT_EQ(built->rfind("built on troupe-w", 0), 0u) << *built;
  auto w = watch_from_outside(sys, c);
  c.tell(quit{});  // a handler returning `stopped`
  ASSERT_TRUE(w->pop().has_value());
  EXPECT_EQ(events->pop(), "destroyed");
}

// A constructor that takes the context first gets it, followed by the arguments.
struct whoami {
  troupe::ref<troupe::actor_id> reply_to;
};
struct get_name {
  troupe::ref<std::string> reply_to;
};
using introspect_msg = std::variant<whoami, get_name>;

class introspective : public troupe::actor<introspect_msg> {
 public:
  introspective(troupe::actor_context<introspect_msg>& ctx, std::string greeting)
      : id_at_construction_(ctx.self().id()), greeting_(std::move(greeting)) {}

  void on(const whoami& m) {
    // context() works in handlers and names the same actor the constructor saw.
    EXPECT_EQ(context().id(), id_at_construction_);
    m.reply_to.tell(context().self().id());
  }
  void on(const get_name& m) { m.reply_to.tell(greeting_ + " " + context().name()); }

 private:
  troupe::actor_id id_at_construction_;
  std::string greeting_;
};

TEST(Actor, AConstructorTakingTheContextReceivesItBeforeTheArguments) {
  troupe::system sys{small_config()};
  auto a = sys.spawn(troupe::actor_of<introspective>(std::string("hello")), {.name = "intro"});
  auto id = await(a.ask<troupe::actor_id>([](troupe::ref<troupe::actor_id> r) { return whoami{r}; }, deadline));
  EXPECT_EQ(id.value(), a.id());
  auto name = await(a.ask<std::string>([](troupe::ref<std::string> r) { return get_name{r}; }, deadline));
  EXPECT_EQ(name.value(), "hello intro");
}

// A class actor may become a functional behaviour; the object is destroyed then.
struct go_functional {};
struct ping {
  troupe::ref<std::string> reply_to;
};
using shape_msg = std::variant<go_functional, ping>;

class shape_shifter : public troupe::actor<shape_msg> {
 public:
  explicit shape_shifter(std::shared_ptr<blocking_queue<std::string>> events) : events_(std::move(events)) {}
  ~shape_shifter() override { events_->push("object destroyed"); }
  troupe::behavior<shape_msg> on(go_functional) {
    return troupe::receive<shape_msg>([](go_functional) {},
                                      [](const ping& p) { p.reply_to.tell(std::string("functional")); });
  }
  void on(const ping& p) { p.reply_to.tell(std::string("object")); }

 private:
  std::shared_ptr<blocking_queue<std::string>> events_;
};

TEST(Actor, AHandlerReturningABehaviourBecomesItAndDestroysTheObject) {
  troupe::system sys{small_config()};
  auto events = std::make_shared<blocking_queue<std::string>>();
  auto a = sys.spawn(troupe::actor_of<shape_shifter>(events));
  auto ask = [&] { return await(a.ask<std::string>([](troupe::ref<std::string> r) { return ping{r}; }, deadline)).value(); };
  EXPECT_EQ(ask(), "object");
  a.tell(go_functional{});
  EXPECT_EQ(ask(), "functional");
  EXPECT_EQ(events->pop(), "object destroyed");
}

// A template `on` catches every message type without its own overload.
struct apple {};
struct pear {};
struct plum {};
using fruit = std::variant<apple, pear, plum>;

class fruit_sorter : public troupe::actor<fruit> {
 public:
  explicit fruit_sorter(std::shared_ptr<blocking_queue<std::string>> out) : out_(std::move(out)) {}
  void on(const apple&) { out_->push("apple"); }
  template <class M>
  void on(const M&) {
    out_->push("other");
  }

 private:
  std::shared_ptr<blocking_queue<std::string>> out_;
};

TEST(Actor, ATemplateOnHandlerCatchesTheRest) {
  troupe::system sys{small_config()};
  auto out = std::make_shared<blocking_queue<std::string>>();
  auto a = sys.spawn(troupe::actor_of<fruit_sorter>(out));
  a.tell(pear{});
  a.tell(apple{});
  a.tell(plum{});
  EXPECT_EQ(out->pop(), "other");
  EXPECT_EQ(out->pop(), "apple");
  EXPECT_EQ(out->pop(), "other");
}

TEST(Actor, AnExceptionFromTheConstructorStopsTheActorWithThatReason) {
  struct fragile : troupe::actor<add> {
    fragile() { throw std::runtime_error("cannot build"); }
    void on(const add&) {}
  };
  troupe::system sys{small_config()};
  auto a = sys.spawn(troupe::actor_of<fragile>());
  auto t = watch_from_outside(sys, a)->pop();
  ASSERT_TRUE(t.has_value());
  EXPECT_EQ(t->reason.what, troupe::exit_reason::kind::exception);
  EXPECT_NE(t->reason.text.find("cannot build"), std::string::npos) << t->reason.text;
}

}  // namespace
