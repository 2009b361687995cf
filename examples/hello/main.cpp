// hello: the Greeter conversation from Akka's getting-started guide, written with troupe.
//
// greeter_main spawns a greeter and, for each say_hello, a greeter_bot. The greeter greets and
// replies `greeted` to the bot; the bot greets back until it has been greeted `max` times, then
// stops. main waits for the bots by asking greeter_main, never by sleeping. A counter written as
// a class shows the other style, and an ask from main. Run it: <build>/examples/hello/hello
#include <chrono>
#include <iostream>
#include <string>
#include <variant>

#include "troupe/troupe.hpp"

using namespace std::chrono_literals;

// Several workers print at once: one write per line keeps lines whole.
void print(const std::string& line) { std::cout << line + '\n'; }

// --- greeter: greets whoever asks, and tells them who greeted them ----------------------------

struct greeted;
struct greet {
  std::string whom;
  troupe::ref<greeted> reply_to;  // refs travel inside messages: that is how actors meet
};
struct greeted {
  std::string whom;
  troupe::ref<greet> reply_to;
};

troupe::behavior<greet> greeter() {
  // setup hands us the context once; it lives as long as the actor, so handlers may keep a
  // reference to it (here to put our own ref into the reply).
  return troupe::setup<greet>([](troupe::actor_context<greet>& ctx) {
    return troupe::receive<greet>([&ctx](const greet& g) {
      print("greeter: Hello " + g.whom + "!");
      g.reply_to.tell(greeted{g.whom, ctx.self()});
    });  // a handler returning void keeps the same behaviour
  });
}

// --- greeter_bot: greets back until it has been greeted `max` times -------------------------

// The count is state, so it is an argument of the behaviour: each greeting becomes the
// behaviour for the next count, and no state is ever shared or locked.
troupe::behavior<greeted> bot(troupe::actor_context<greeted>& ctx, int count, int max) {
  return troupe::receive<greeted>([&ctx, count, max](const greeted& g) -> troupe::behavior<greeted> {
    print("  bot " + g.whom + ": greeting " + std::to_string(count + 1) + " of " + std::to_string(max));
    if (count + 1 == max) return troupe::stopped;
    g.reply_to.tell(greet{g.whom, ctx.self()});
    return bot(ctx, count + 1, max);
  });
}

troupe::behavior<greeted> greeter_bot(int max) {
  return troupe::setup<greeted>([max](troupe::actor_context<greeted>& ctx) { return bot(ctx, 0, max); });
}

// --- greeter_main: starts a bot per name and says when they are all done -----------------------

struct say_hello {
  std::string name;
};
struct await_bots {
  troupe::ref<int> reply_to;  // answered with the number of bots, once none is running
};
// terminated is in the protocol because greeter_main watches its bots.
using greeter_main_msg = std::variant<say_hello, await_bots, troupe::terminated>;

struct crew {
  troupe::ref<greet> greeter{};
  int running = 0;
  int finished = 0;
  troupe::ref<int> waiting{};  // empty until someone awaits the bots
};

troupe::behavior<greeter_main_msg> greeter_main(troupe::actor_context<greeter_main_msg>& ctx, crew c) {
  return troupe::receive<greeter_main_msg>(
      [&ctx, c](const say_hello& m) {
        auto next = c;
        // A child: it stops when we stop. Watching it tells us when it is done.
        auto b = ctx.spawn(greeter_bot(3));
        ctx.watch(b);
        next.greeter.tell(greet{m.name, b});
        ++next.running;
        return greeter_main(ctx, next);
      },
      [&ctx, c](const await_bots& m) {
        auto next = c;
        // Keep the reply_to until the last bot stops: an ask can be answered later.
        if (c.running == 0) m.reply_to.tell(c.finished);
        else next.waiting = m.reply_to;
        return greeter_main(ctx, next);
      },
      [&ctx, c](const troupe::terminated&) {
        auto next = c;
        --next.running;
        ++next.finished;
        if (next.running == 0 && next.waiting) {
          next.waiting.tell(next.finished);
          next.waiting = {};  // answered: a reply_to counts once
        }
        return greeter_main(ctx, next);
      });
}

troupe::behavior<greeter_main_msg> greeter_main() {
  return troupe::setup<greeter_main_msg>([](troupe::actor_context<greeter_main_msg>& ctx) {
    return greeter_main(ctx, crew{.greeter = ctx.spawn(greeter())});
  });
}

// --- counter: the class style, with state in members -------------------------------------------

struct add {
  int n;
};
struct get_total {
  troupe::ref<int> reply_to;
};
using counter_msg = std::variant<add, get_total>;

class counter : public troupe::actor<counter_msg> {
 public:
  void on(const add& m) { total_ += m.n; }
  void on(const get_total& m) { m.reply_to.tell(total_); }

 private:
  int total_ = 0;
};

int main() {
  int bots = 0;
  int total = 0;
  {
    troupe::system sys;
    auto hello = sys.spawn(greeter_main());
    // The two conversations run at once, so their lines interleave differently from run to
    // run; each conversation's own lines are always in order (one sender, one receiver).
    hello.tell(say_hello{"World"});
    hello.tell(say_hello{"troupe"});
    // Sent after the say_hellos by the same sender, so it arrives after them. The timeout turns
    // a bug into an error instead of a hang.
    auto done = hello.ask<int>([](troupe::ref<int> r) { return await_bots{r}; }, 5s).get();
    if (!done) {
      std::cerr << "main: " << done.error().message() << '\n';
      return 1;
    }
    bots = *done;

    auto c = sys.spawn(troupe::actor_of<counter>());
    for (int n = 1; n <= 4; ++n) c.tell(add{n});
    auto sum = c.ask<int>([](troupe::ref<int> r) { return get_total{r}; }, 1s).get();
    if (!sum) {
      std::cerr << "main: " << sum.error().message() << '\n';
      return 1;
    }
    total = *sum;
  }  // ~system: stops every actor, children before parents, and joins the threads
  // Printed after the system is gone, so the last line also says shutdown went well.
  print("main: " + std::to_string(bots) + " conversations finished; the counter says " + std::to_string(total));
  return 0;
}
