// coroutine_account: an Erlang-style account, written as a receive loop in a C++20 coroutine.
// A withdrawal larger than the balance is not refused: it stays in the mailbox, and the
// receive takes it once deposits cover it (a selective receive with a guard). A customer,
// itself a coroutine, co_awaits asks: it waits without holding a thread.
#include <chrono>
#include <future>
#include <iostream>
#include <memory>
#include <string>
#include <variant>

#include "troupe/otp/coroutine_actor.hpp"
#include "troupe/troupe.hpp"

using namespace std::chrono_literals;

struct deposit {
  long cents;
};
struct withdraw {
  long cents;
  troupe::ref<bool> reply_to;
};
struct balance {
  troupe::ref<long> reply_to;
};
struct close_account {};
using account_msg = std::variant<deposit, withdraw, balance, close_account>;

// The account's state is a local variable of the loop; returning stops the actor normally.
troupe::otp::coroutine<account_msg> account(troupe::otp::coroutine_context<account_msg>& self, long cents) {
  for (bool open = true; open;) {
    co_await self.receive(
        [&](const deposit& d) { cents += d.cents; },
        troupe::otp::when([&](const withdraw& w) { return w.cents <= cents; },  // else it waits
                          [&](const withdraw& w) {
                            cents -= w.cents;
                            w.reply_to.tell(true);
                          }),
        [&](const balance& b) { b.reply_to.tell(cents); },
        [&](close_account) { open = false; });
  }
}

struct start {};

// A customer: withdraws 50, then asks for the balance; reports both.
troupe::otp::coroutine<start> customer(troupe::otp::coroutine_context<start>& self,
                                       troupe::ref<account_msg> acct,
                                       std::shared_ptr<std::promise<std::string>> report) {
  co_await self.receive([](start) {});
  auto take_50 = [](troupe::ref<bool> r) { return withdraw{50, r}; };
  troupe::result<bool> ok = co_await self.ask<bool>(acct, take_50, 5s);  // suspends this actor only
  auto ask_balance = [](troupe::ref<long> r) { return balance{r}; };
  troupe::result<long> left = co_await self.ask<long>(acct, ask_balance, 5s);
  report->set_value(ok && *ok && left ? "withdrew 50 once deposits covered it; balance " + std::to_string(*left)
                                      : "failed");
}

int main() {
  troupe::system sys;
  auto acct = sys.spawn(troupe::otp::coroutine_actor(account, 0L));
  auto report = std::make_shared<std::promise<std::string>>();
  auto done = report->get_future();
  auto who = sys.spawn(troupe::otp::coroutine_actor(customer, acct, report));
  who.tell(start{});
  acct.tell(deposit{30});  // whichever arrives first, the withdrawal waits for 60 cents
  acct.tell(deposit{30});
  if (done.wait_for(10s) != std::future_status::ready) {
    std::cerr << "coroutine_account: no report\n";
    return 1;
  }
  const std::string line = done.get();

  // Closing returns from the loop: the actor stops normally, and a watcher sees why.
  auto closed = std::make_shared<std::promise<troupe::exit_reason>>();
  auto closed_reason = closed->get_future();
  sys.spawn(troupe::setup<troupe::terminated>([acct, closed](troupe::actor_context<troupe::terminated>& ctx) {
    ctx.watch(acct);
    return troupe::receive<troupe::terminated>([closed](troupe::terminated&& t) {
      closed->set_value(t.reason);
      return troupe::stopped;
    });
  }));
  acct.tell(close_account{});
  if (closed_reason.wait_for(10s) != std::future_status::ready) {
    std::cerr << "coroutine_account: the account did not stop\n";
    return 1;
  }
  std::cout << "coroutine_account: " << line << "; account closed: " << closed_reason.get().describe() << '\n';
  return 0;
}
