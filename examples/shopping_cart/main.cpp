// shopping_cart: Akka's event-sourced shopping cart, kept in a SQLite file across runs.
//   shopping_cart FILE CART add ITEM QUANTITY   add an item (refused if already in the cart)
//   shopping_cart FILE CART adjust ITEM QUANTITY
//   shopping_cart FILE CART remove ITEM
//   shopping_cart FILE CART checkout            no change is accepted after it
//   shopping_cart FILE CART show
// Each run is a new process that recovers the cart from its events, applies one command and
// prints the cart once the command's event is durable. A snapshot is taken at checkout
// (snapshot_when) and every 100 events, keeping the last 2.
#include <cstdio>
#include <cstdlib>
#include <map>
#include <string>
#include <variant>

#include "troupe/core/system.hpp"
#include "troupe/persistence/event_sourced.hpp"
#include "troupe/persistence/serial_codec.hpp"
#include "troupe/persistence/sqlite_storage.hpp"

namespace cart {

// Events: what happened to the cart; they are what is stored.
struct item_added {
  std::string item;
  int quantity;
};
struct item_removed {
  std::string item;
};
struct quantity_adjusted {
  std::string item;
  int quantity;
};
struct checked_out {};
using event = std::variant<item_added, item_removed, quantity_adjusted, checked_out>;

// State: the items and whether the cart is checked out (snapshotted at checkout).
struct state {
  std::map<std::string, int> items;
  bool checked_out = false;
};

// The answer to every command: what the cart holds now, or why the command was refused.
struct summary {
  std::map<std::string, int> items;
  bool checked_out = false;
  std::string refused;  // empty when the command was accepted
};

struct add_item {
  std::string item;
  int quantity;
  troupe::ref<summary> reply_to;
};
struct adjust_quantity {
  std::string item;
  int quantity;
  troupe::ref<summary> reply_to;
};
struct remove_item {
  std::string item;
  troupe::ref<summary> reply_to;
};
struct checkout {
  troupe::ref<summary> reply_to;
};
struct show {
  troupe::ref<summary> reply_to;
};
using command = std::variant<add_item, adjust_quantity, remove_item, checkout, show>;

using fx = troupe::persistence::effect<event, state>;

summary summarize(const state& s) { return {s.items, s.checked_out, ""}; }

fx refuse(const troupe::ref<summary>& reply_to, std::string why) {
  return fx::none().then_reply(reply_to, [why = std::move(why)](const state& s) {
    auto out = summarize(s);
    out.refused = why;
    return out;
  });
}

fx on_command(const state& s, const command& c) {
  return std::visit(
      [&](const auto& m) -> fx {
        using M = std::decay_t<decltype(m)>;
        if constexpr (std::is_same_v<M, show>) {
          return fx::none().then_reply(m.reply_to, summarize);
        } else {
          if (s.checked_out) return refuse(m.reply_to, "the cart is checked out");
          if constexpr (std::is_same_v<M, add_item>) {
            if (s.items.count(m.item)) return refuse(m.reply_to, m.item + " is already in the cart");
            if (m.quantity <= 0) return refuse(m.reply_to, "the quantity must be positive");
            return fx::persist(item_added{m.item, m.quantity}).then_reply(m.reply_to, summarize);
          } else if constexpr (std::is_same_v<M, adjust_quantity>) {
            if (!s.items.count(m.item)) return refuse(m.reply_to, m.item + " is not in the cart");
            if (m.quantity <= 0) return refuse(m.reply_to, "the quantity must be positive");
            return fx::persist(quantity_adjusted{m.item, m.quantity}).then_reply(m.reply_to, summarize);
          } else if constexpr (std::is_same_v<M, remove_item>) {
            if (!s.items.count(m.item)) return refuse(m.reply_to, m.item + " is not in the cart");
            return fx::persist(item_removed{m.item}).then_reply(m.reply_to, summarize);
          } else {
            if (s.items.empty()) return refuse(m.reply_to, "an empty cart cannot be checked out");
            return fx::persist(checked_out{}).then_reply(m.reply_to, summarize);
          }
        }
      },
      c);
}

state on_event(state s, const event& e) {
  std::visit(
      [&](const auto& ev) {
        using E = std::decay_t<decltype(ev)>;
        if constexpr (std::is_same_v<E, item_added> || std::is_same_v<E, quantity_adjusted>)
          s.items[ev.item] = ev.quantity;
        else if constexpr (std::is_same_v<E, item_removed>)
          s.items.erase(ev.item);
        else
          s.checked_out = true;
      },
      e);
  return s;
}

}  // namespace cart

int main(int argc, char** argv) {
  namespace persistence = troupe::persistence;
  if (argc < 4) {
    std::fprintf(stderr, "usage: shopping_cart FILE CART add|adjust ITEM QUANTITY | remove ITEM | checkout | show\n");
    return 2;
  }
  auto store = persistence::sqlite_storage::open(argv[1]);
  if (!store) {
    std::fprintf(stderr, "shopping_cart: %s\n", store.error().message().c_str());
    return 1;
  }
  auto journal = persistence::journal::start(*store);
  troupe::system sys;
  auto c = sys.spawn(persistence::event_sourced(persistence::event_sourced_spec<cart::command, cart::event, cart::state>{
      .persistence_id = std::string("cart-") + argv[2],
      .journal = journal,
      .events = std::make_shared<persistence::serial_codec<cart::event>>(),
      .states = std::make_shared<persistence::serial_codec<cart::state>>(),
      .on_command = cart::on_command,
      .on_event = cart::on_event,
      .snapshots = {.every = 100, .keep = 2, .delete_events = true},
      .snapshot_when = [](const cart::state&, const cart::event& e,
                          std::uint64_t) { return std::holds_alternative<cart::checked_out>(e); }}));

  std::string what = argv[3];
  std::string item = argc > 4 ? argv[4] : "";
  int quantity = argc > 5 ? std::atoi(argv[5]) : 0;
  using reply = troupe::ref<cart::summary>;
  auto ask = [&](auto make) { return c.ask<cart::summary>(make, std::chrono::seconds(30)).get(); };
  troupe::result<cart::summary> r =
      what == "add"        ? ask([&](reply reply_to) { return cart::add_item{item, quantity, reply_to}; })
      : what == "adjust"   ? ask([&](reply reply_to) { return cart::adjust_quantity{item, quantity, reply_to}; })
      : what == "remove"   ? ask([&](reply reply_to) { return cart::remove_item{item, reply_to}; })
      : what == "checkout" ? ask([](reply reply_to) { return cart::checkout{reply_to}; })
                           : ask([](reply reply_to) { return cart::show{reply_to}; });
  if (!r) {
    std::fprintf(stderr, "shopping_cart: %s\n", r.error().message().c_str());
    return 1;
  }
  std::string items;
  for (const auto& [name, n] : r->items) items += " " + name + "x" + std::to_string(n);
  std::printf("cart %s: %s ->%s%s%s\n", argv[2], what.c_str(), items.empty() ? " (empty)" : items.c_str(),
              r->checked_out ? " [checked out]" : "", r->refused.empty() ? "" : (" (refused: " + r->refused + ")").c_str());
  return 0;
}
