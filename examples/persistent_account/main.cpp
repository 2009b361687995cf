// persistent_account: an event-sourced bank account in a SQLite file that survives kill -9.
//   persistent_account FILE deposit CENTS    deposit, print the balance once the deposit is
//                                            durable, then die by SIGKILL (no clean shutdown)
//   persistent_account FILE withdraw CENTS   the same for a withdrawal (refused if short)
//   persistent_account FILE balance          recover the account and print its balance
// The account's state is never saved, only its events (Akka Persistence's bank account).
#include <csignal>
#include <cstdio>
#include <cstdlib>
#include <string>
#include <variant>

#include "troupe/core/system.hpp"
#include "troupe/persistence/event_sourced.hpp"
#include "troupe/persistence/serial_codec.hpp"
#include "troupe/persistence/sqlite_storage.hpp"

namespace account {

// Events: what happened, in the past tense; they are what is stored.
struct deposited {
  long cents;
};
struct withdrawn {
  long cents;
};
using event = std::variant<deposited, withdrawn>;

// State: folded from the events, never stored (snapshots could store it).
struct state {
  long cents = 0;
};

// Commands: what is asked; the reply is the balance, or -1 for a refused withdrawal.
struct deposit {
  long cents;
  troupe::ref<long> reply_to;
};
struct withdraw {
  long cents;
  troupe::ref<long> reply_to;
};
struct balance {
  troupe::ref<long> reply_to;
};
using command = std::variant<deposit, withdraw, balance>;

using fx = troupe::persistence::effect<event, state>;

fx on_command(const state& s, const command& c) {
  auto reply_balance = [](const state& st) { return st.cents; };
  if (auto* d = std::get_if<deposit>(&c)) return fx::persist(deposited{d->cents}).then_reply(d->reply_to, reply_balance);
  if (auto* w = std::get_if<withdraw>(&c)) {
    if (w->cents > s.cents) return fx::none().then_reply(w->reply_to, [](const state&) { return -1L; });
    return fx::persist(withdrawn{w->cents}).then_reply(w->reply_to, reply_balance);
  }
  return fx::none().then_reply(std::get<balance>(c).reply_to, reply_balance);
}

state on_event(state s, const event& e) {
  if (auto* d = std::get_if<deposited>(&e)) s.cents += d->cents;
  if (auto* w = std::get_if<withdrawn>(&e)) s.cents -= w->cents;
  return s;
}

}  // namespace account

int main(int argc, char** argv) {
  namespace persistence = troupe::persistence;
  if (argc < 3) {
    std::fprintf(stderr, "usage: persistent_account FILE deposit|withdraw CENTS | FILE balance\n");
    return 2;
  }
  auto store = persistence::sqlite_storage::open(argv[1]);
  if (!store) {
    std::fprintf(stderr, "persistent_account: %s\n", store.error().message().c_str());
    return 1;
  }
  auto journal = persistence::journal::start(*store);
  troupe::system sys;
  auto acct = sys.spawn(persistence::event_sourced(persistence::event_sourced_spec<account::command, account::event, account::state>{
      .persistence_id = "account-1",
      .journal = journal,
      .events = std::make_shared<persistence::serial_codec<account::event>>(),
      .on_command = account::on_command,
      .on_event = account::on_event}));

  std::string what = argv[2];
  long cents = argc > 3 ? std::atol(argv[3]) : 0;
  auto ask = [&](auto make) { return acct.ask<long>(make, std::chrono::seconds(30)).get(); };
  troupe::result<long> r =
      what == "deposit"    ? ask([&](troupe::ref<long> reply_to) { return account::deposit{cents, reply_to}; })
      : what == "withdraw" ? ask([&](troupe::ref<long> reply_to) { return account::withdraw{cents, reply_to}; })
                           : ask([](troupe::ref<long> reply_to) { return account::balance{reply_to}; });
  if (!r) {
    std::fprintf(stderr, "persistent_account: %s\n", r.error().message().c_str());
    return 1;
  }
  std::printf("persistent_account: %s -> balance %ld cents\n", what.c_str(), *r);
  std::fflush(stdout);
  // The reply means the event is durable: die without any cleanup to show it.
  if (what != "balance") std::raise(SIGKILL);
  return 0;
}
