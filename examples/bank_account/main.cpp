// bank_account: a gen_server in troupe: an account that answers calls now or later.
//
// The account is a server: deposits are casts, balance and withdraw are calls, and
// wait_for_funds is a call the server keeps and answers later, when a deposit makes it true.
// It starts by loading its opening balance from a ledger actor and stashes the requests that
// arrive before the ledger answers. A teller actor calls it from inside another actor; main
// calls it from a plain thread. Run it: <build>/examples/bank_account/bank_account
#include <chrono>
#include <future>
#include <iostream>
#include <stdexcept>
#include <string>
#include <variant>
#include <vector>

#include "troupe/otp/call.hpp"
#include "troupe/otp/server.hpp"
#include "troupe/otp/stash.hpp"
#include "troupe/troupe.hpp"

using namespace std::chrono_literals;
namespace otp = troupe::otp;

void print(const std::string& line) { std::cout << line + '\n'; }

// --- the ledger: where the account's opening balance comes from -------------------------------

struct opening_balance {
  otp::reply_to<long> reply_to;
};
troupe::behavior<opening_balance> ledger(long cents) {
  return troupe::receive<opening_balance>([cents](const opening_balance& q) { q.reply_to.reply(cents); });
}

// --- the account's protocol: casts, calls, and one info message -------------------------------

struct deposit {  // a cast: no reply
  long cents;
};
struct balance {  // a call
  otp::reply_to<long> reply_to;
};
struct receipt {
  bool accepted;
  long balance;
};
struct withdraw {  // a call whose answer says whether it went through
  long cents;
  otp::reply_to<receipt> reply_to;
};
struct wait_for_funds {  // a call the server keeps until the balance reaches `cents`
  long cents;
  otp::reply_to<long> reply_to;
};
struct loaded {  // info: the ledger's answer, mapped into our protocol
  troupe::result<long> cents;
};
using account_msg = std::variant<deposit, balance, withdraw, wait_for_funds, loaded>;

class account : public otp::server<account_msg> {
 public:
  explicit account(troupe::ref<opening_balance> ledger) : ledger_(std::move(ledger)) {}

  // OTP's init: ask the ledger without blocking; requests wait in the stash meanwhile.
  void init() override {
    otp::call(context(), ledger_, opening_balance{}, [](troupe::result<long> r) { return loaded{std::move(r)}; });
  }

  void on(const loaded& l) {
    cents_ = l.cents.value();  // no ledger, no account: a failed load crashes the server
    ready_ = true;
    waiting_room_.unstash_all([this](account_msg&& m) { std::visit([this](auto&& x) { on(std::move(x)); }, m); });
  }

  void on(deposit d) {
    if (!ready_) return keep(d);
    cents_ += d.cents;
    // Reply later: answer the callers whose condition now holds.
    auto still_waiting = std::vector<wait_for_funds>{};
    for (auto& w : waiting_) {
      if (cents_ >= w.cents) w.reply_to.reply(cents_);
      else still_waiting.push_back(std::move(w));
    }
    waiting_ = std::move(still_waiting);
  }

  void on(balance b) {
    if (!ready_) return keep(std::move(b));
    b.reply_to.reply(cents_);  // reply now
  }

  void on(withdraw w) {
    if (!ready_) return keep(std::move(w));
    const bool ok = w.cents <= cents_;
    if (ok) cents_ -= w.cents;
    w.reply_to.reply(receipt{ok, cents_});
  }

  void on(wait_for_funds w) {
    if (!ready_) return keep(std::move(w));
    if (cents_ >= w.cents) w.reply_to.reply(cents_);
    else waiting_.push_back(std::move(w));  // keep the caller: OTP's {noreply, State}
  }

  void terminate(const troupe::exit_reason& why) override { print("account: closing (" + why.describe() + ")"); }

 private:
  template <class M>
  void keep(M m) {
    if (auto r = waiting_room_.stash(std::move(m)); !r) throw std::runtime_error(r.error().message());
  }

  troupe::ref<opening_balance> ledger_;
  otp::stash_buffer<account_msg> waiting_room_{100};
  std::vector<wait_for_funds> waiting_;
  long cents_ = 0;
  bool ready_ = false;
};

// --- a teller: calls the account from inside an actor -------------------------------------------

struct teller_got {
  troupe::result<receipt> r;
};
troupe::behavior<teller_got> teller(troupe::ref<account_msg> acct, std::promise<std::string>& done) {
  return troupe::setup<teller_got>([acct, &done](troupe::actor_context<teller_got>& ctx) {
    otp::call(ctx, acct, withdraw{500, {}}, [](troupe::result<receipt> r) { return teller_got{std::move(r)}; });
    return troupe::receive<teller_got>([&done](const teller_got& g) {
      done.set_value(g.r && !g.r->accepted ? "refused, balance " + std::to_string(g.r->balance) : "unexpected");
      return troupe::stopped;
    });
  });
}

int main() {
  troupe::system sys;
  auto books = sys.spawn(ledger(100));
  auto acct = sys.spawn(otp::server_of<account>(books));
  acct.tell(deposit{50});  // may arrive before the ledger answers: stashed, then replayed

  long now = otp::call(acct, balance{}).get().value();  // a call from a thread: 5 s by default
  print("main: balance " + std::to_string(now));

  auto rich = otp::call(acct, wait_for_funds{300, {}}, troupe::infinity);  // answered later
  acct.tell(deposit{200});
  print("main: waited for funds, balance " + std::to_string(rich.get().value()));

  receipt r = otp::call(acct, withdraw{120, {}}).get().value();
  print("main: withdrew 120, balance " + std::to_string(r.balance));

  std::promise<std::string> teller_done;
  auto verdict = teller_done.get_future();
  sys.spawn(teller(acct, teller_done));
  print("teller: withdraw 500 " + verdict.get());

  long final_balance = otp::call(acct, balance{}).get().value();
  print("bank_account: final balance " + std::to_string(final_balance) + " cents");
  return final_balance == 230 ? 0 : 1;
}
