// supervision_tree: a small shop as an OTP-style supervision tree. The payments worker crashes
// on a bad card; its supervisor restarts it, and the inventory next to it keeps serving with
// its state intact. main reaches the restarted worker by its registered name, as in Erlang,
// and ends the application, which stops the tree in reverse start order.
// Run it: <build>/examples/supervision_tree/supervision_tree
#include <chrono>
#include <iostream>
#include <stdexcept>
#include <string>
#include <thread>
#include <variant>

#include "troupe/otp/application.hpp"
#include "troupe/otp/supervisor.hpp"
#include "troupe/troupe.hpp"

using namespace std::chrono_literals;
namespace otp = troupe::otp;

void print(const std::string& line) { std::cout << line + '\n'; }

// --- inventory: counts stock; its state must survive a crash next door ------------------------

struct restock {
  int items;
};
struct take {
  troupe::ref<int> reply_to;  // replies the stock left
};
using inventory_msg = std::variant<restock, take>;

troupe::behavior<inventory_msg> inventory(int stock) {
  return troupe::receive<inventory_msg>(
      [=](const restock& r) { return inventory(stock + r.items); },
      [=](const take& t) {
        t.reply_to.tell(stock - 1);
        return inventory(stock - 1);
      });
}

// --- payments: charges cards; a bad card is a bug it does not handle (let it crash) ------------

struct charge {
  std::string card;
  troupe::ref<std::string> reply_to;
};
using payments_msg = std::variant<charge>;

troupe::behavior<payments_msg> payments() {
  return troupe::setup<payments_msg>([](troupe::actor_context<payments_msg>& ctx) {
    print("payments: started as actor " + std::to_string(ctx.id().serial));
    return troupe::receive<payments_msg>([](const charge& c) {
      if (c.card.empty()) throw std::invalid_argument("empty card number");
      c.reply_to.tell("charged " + c.card);
    });
  });
}

// --- the tree --------------------------------------------------------------------------------

otp::supervisor_spec shop_tree() {
  return {.flags = {.strategy = otp::strategy::one_for_one, .max_restarts = 3, .within = 5s},
          .children = {otp::child("inventory", [] { return inventory(10); }, {.name = "inventory"}),
                       otp::child("payments", [] { return payments(); }, {.name = "payments"})}};
}

int main() {
  troupe::system_config cfg;
  cfg.worker_threads = 2;
  cfg.logger = [](troupe::log_level, std::string_view line) { print("log: " + std::string(line)); };
  troupe::system sys{cfg};
  otp::application shop(sys, {.name = "shop", .root = shop_tree()});

  auto stock = sys.lookup<inventory_msg>("inventory").value();
  auto take_one = [&] { return stock.ask<int>([](troupe::ref<int> r) { return take{r}; }, 1s).get().value(); };
  print("inventory: " + std::to_string(take_one()) + " left");

  auto pay = sys.lookup<payments_msg>("payments").value();
  auto crashed = pay.ask<std::string>([](troupe::ref<std::string> r) { return charge{"", r}; }, 1s).get();
  print("main: the bad charge ended with: " + crashed.error().message());

  // The supervisor restarts payments under the same name; wait until the name points at the
  // new incarnation.
  auto deadline = std::chrono::steady_clock::now() + 5s;
  troupe::ref<payments_msg> again;
  do {
    auto r = sys.lookup<payments_msg>("payments");
    if (r && r->id() != pay.id()) again = *r;
    else std::this_thread::yield();
  } while (!again && std::chrono::steady_clock::now() < deadline);
  if (!again) return 1;

  auto ok = again.ask<std::string>([](troupe::ref<std::string> r) { return charge{"4242", r}; }, 1s).get();
  print("main: after the restart: " + ok.value());
  print("inventory: " + std::to_string(take_one()) + " left (it kept serving, its state intact)");

  const troupe::exit_reason why = shop.stop();
  print("main: the shop stopped (" + why.describe() + ")");
}
