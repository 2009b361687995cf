// persistent_counter: a counter whose whole state is saved with a revision (Akka's
// DurableStateBehavior counter, Orleans' grain state), in a SQLite file across runs.
//   persistent_counter FILE NAME increment [BY]   add BY (default 1); prints the value once saved
//   persistent_counter FILE NAME get              load the counter and print its value
//   persistent_counter FILE NAME race             two incarnations of NAME increment at once:
//                                                 one save wins, the other stops (revision conflict)
#include <cstdio>
#include <cstdlib>
#include <string>
#include <variant>

#include "troupe/core/system.hpp"
#include "troupe/persistence/durable_state_behavior.hpp"
#include "troupe/persistence/serial_codec.hpp"
#include "troupe/persistence/sqlite_storage.hpp"

namespace counter {

struct state {
  long value = 0;
};

struct increment {
  long by;
  troupe::ref<long> reply_to;  // the value, once saved
};
struct get {
  troupe::ref<long> reply_to;
};
using command = std::variant<increment, get>;

using fx = troupe::persistence::effect<state, state>;

fx on_command(const state& s, const command& c) {
  auto value = [](const state& st) { return st.value; };
  if (auto* i = std::get_if<increment>(&c)) return fx::persist(state{s.value + i->by}).then_reply(i->reply_to, value);
  return fx::none().then_reply(std::get<get>(c).reply_to, value);
}

}  // namespace counter

int main(int argc, char** argv) {
  namespace persistence = troupe::persistence;
  if (argc < 4) {
    std::fprintf(stderr, "usage: persistent_counter FILE NAME increment [BY] | get | race\n");
    return 2;
  }
  auto store = persistence::sqlite_storage::open(argv[1]);
  if (!store) {
    std::fprintf(stderr, "persistent_counter: %s\n", store.error().message().c_str());
    return 1;
  }
  auto journal = persistence::journal::start(*store);
  troupe::system sys;
  persistence::durable_state_spec<counter::command, counter::state> spec{
      .persistence_id = std::string("counter-") + argv[2],
      .journal = journal,
      .states = std::make_shared<persistence::serial_codec<counter::state>>(),
      .on_command = counter::on_command};
  std::string what = argv[3];
  auto ask = [](troupe::ref<counter::command> c, auto make) { return c.ask<long>(make, std::chrono::seconds(30)); };

  if (what == "race") {
    // Both load the same revision before either saves (each has answered a get): the store
    // takes only one save over it; the loser stops with a revision conflict (logged).
    auto a = sys.spawn(persistence::durable_state_behavior(spec));
    auto b = sys.spawn(persistence::durable_state_behavior(spec));
    for (auto* c : {&a, &b})
      if (!ask(*c, [](troupe::ref<long> r) { return counter::get{r}; }).get()) return 1;
    auto ra = ask(a, [](troupe::ref<long> r) { return counter::increment{1, r}; });
    auto rb = ask(b, [](troupe::ref<long> r) { return counter::increment{1, r}; });
    int won = ra.get().has_value() + rb.get().has_value();
    std::printf("persistent_counter: race -> %d of 2 increments saved\n", won);
    return 0;
  }
  auto c = sys.spawn(persistence::durable_state_behavior(spec));
  long by = argc > 4 ? std::atol(argv[4]) : 1;
  auto r = what == "increment" ? ask(c, [by](troupe::ref<long> rr) { return counter::increment{by, rr}; }).get()
                               : ask(c, [](troupe::ref<long> rr) { return counter::get{rr}; }).get();
  if (!r) {
    std::fprintf(stderr, "persistent_counter: %s\n", r.error().message().c_str());
    return 1;
  }
  std::printf("persistent_counter: %s -> %ld\n", what.c_str(), *r);
  return 0;
}
