// docs_snippets: every code snippet of docs/core.md, compiled and run.
// A snippet in the guide must appear here line for line (check_snippets, run as a test, says so),
// so an API change that breaks the guide breaks the build. Each section checks what the guide
// claims about it; the program fails loudly if a claim is false. Not an example to copy from:
// it is the guide's test. Read docs/core.md instead.
#include <atomic>
#include <chrono>
#include <cstdint>
#include <future>
#include <iostream>
#include <memory>
#include <mutex>
#include <stdexcept>
#include <string>
#include <string_view>
#include <thread>
#include <unordered_map>
#include <variant>
#include <vector>

#include <pthread.h>

#include "troupe/troupe.hpp"

using namespace std::chrono_literals;

namespace {

int failures = 0;

void check(bool ok, std::string_view what) {
  std::cout << (ok ? "ok      " : "FAILED  ") << what << '\n';
  if (!ok) ++failures;
}

// A small system for each section, so sections cannot disturb each other.
troupe::system_config small_config() {
  troupe::system_config cfg;
  cfg.worker_threads = 2;
  cfg.blocking_threads = 1;
  return cfg;
}

}  // namespace

// Watches one actor and hands its exit reason to the test.
using monitor_msg = std::variant<troupe::terminated>;

template <class P>
troupe::behavior<monitor_msg> monitor(troupe::ref<P> target, std::promise<troupe::exit_reason>& out) {
  return troupe::setup<monitor_msg>([target, &out](troupe::actor_context<monitor_msg>& ctx) {
    ctx.watch(target);
    return troupe::receive<monitor_msg>([&out](const troupe::terminated& t) -> troupe::behavior<monitor_msg> {
      out.set_value(t.reason);
      return troupe::stopped;
    });
  });
}

// --- Quick start -----------------------------------------------------------------------------
namespace quick_start {

struct add { int n; };
struct get_total { troupe::ref<int> reply_to; };
using counter_msg = std::variant<add, get_total>;

troupe::behavior<counter_msg> counter(int total) {
  return troupe::receive<counter_msg>(
      [=](const add& m) { return counter(total + m.n); },   // become: the behaviour for the next message
      [=](const get_total& m) { m.reply_to.tell(total); return troupe::same; });
}

void run() {
  troupe::system sys;  // one worker thread per core
  auto c = sys.spawn(counter(0));
  c.tell(add{5});
  c.tell(add{2});
  troupe::result<int> total = c.ask([](troupe::ref<int> r) { return get_total{r}; }, 1s).get();
  if (total) std::cout << "total: " << *total << '\n';  // total: 7
  else std::cout << "no total: " << total.error().message() << '\n';
  check(total && *total == 7, "quick start: the counter adds up to 7");
}

}  // namespace quick_start

// --- The system ----------------------------------------------------------------------------------
namespace the_system {

void run() {
  troupe::system_config cfg;
  cfg.worker_threads = 2;             // 0 (the default): one per core
  cfg.blocking_threads = 1;           // the pool for spawn_options{.blocking = true}
  cfg.messages_per_turn = 64;         // fairness: messages per turn before the worker moves on
  cfg.long_turn_threshold = 100ms;    // the watchdog reports longer turns; 0 turns it off
  cfg.logger = [](troupe::log_level, std::string_view line) { std::clog << line << '\n'; };
  troupe::system sys{cfg};

  troupe::system other{small_config()};  // another system: nothing is shared with `sys`
  check(sys.config().worker_threads == 2 && !sys.stopping(), "system: built from its config");

  sys.shutdown();  // stops every actor, children first, then the threads; idempotent
  check(sys.stopping(), "system: stopping() after shutdown()");
  bool refused = false;
  try {
    sys.spawn(quick_start::counter(0));
  } catch (const troupe::usage_error&) {
    refused = true;
  }
  check(refused, "system: spawning on a stopped system throws usage_error");
}

}  // namespace the_system

// --- Protocols and refs ----------------------------------------------------------------------------
namespace protocols {

struct deposit { long cents; };
struct balance { troupe::ref<long> reply_to; };
using account_msg = std::variant<deposit, balance>;

static_assert(troupe::accepts<account_msg, deposit>);
static_assert(!troupe::accepts<account_msg, int>);  // account.tell(42) does not compile
static_assert(troupe::accepts<long, int>);          // a one-type protocol takes what converts
static_assert(!troupe::accepts<int, long>);         // ... without narrowing

troupe::behavior<account_msg> account(long cents) {
  return troupe::receive<account_msg>(
      [=](const deposit& d) { return account(cents + d.cents); },
      [=](const balance& b) { b.reply_to.tell(cents); });
}

void run() {
  troupe::system sys{small_config()};
  troupe::ref<account_msg> a = sys.spawn(account(0));
  troupe::ref<account_msg> b = a;  // a copy: the same actor
  check(a == b && a.id() == b.id() && static_cast<bool>(a), "refs: copies compare equal");
  std::unordered_map<troupe::ref<account_msg>, long> balances;  // refs as keys
  balances[a] = 10;
  check(balances.at(b) == 10, "refs: equal refs are one key");  // b is a copy of a
  troupe::ref<account_msg> none;  // empty: telling through it throws usage_error
  bool threw = false;
  try {
    none.tell(deposit{1});
  } catch (const troupe::usage_error&) {
    threw = true;
  }
  check(threw && !none && none.id() == troupe::actor_id{}, "refs: an empty ref throws usage_error on tell");
  b.tell(deposit{250});
  auto r = a.ask<long>([](troupe::ref<long> reply_to) { return balance{reply_to}; }, 1s).get();
  check(r && *r == 250, "refs: the account holds 250");
}

}  // namespace protocols

// --- Behaviours ----------------------------------------------------------------------------------
namespace behaviours {

using protocols::account_msg;
using protocols::balance;
using protocols::deposit;

troupe::behavior<account_msg> strict_account(long cents) {
  return troupe::receive<account_msg>(
      // A handler that returns both `stopped` (or `same`) and a behaviour names its return type.
      [=](const deposit& d) -> troupe::behavior<account_msg> {
        if (d.cents <= 0) return troupe::stopped;
        return strict_account(cents + d.cents);
      },
      [=](const balance& b) { b.reply_to.tell(cents); });
}

// Wrong: `seen` in the first handler and `seen` in the second are two different counters.
troupe::behavior<account_msg> forgetful_account() {
  return troupe::receive<account_msg>(
      [seen = 0L](const deposit& d) mutable { seen += d.cents; std::cout << seen << " in\n"; },
      [seen = 0L](const balance& b) { b.reply_to.tell(seen); });  // always 0
}

troupe::behavior<account_msg> deposits_only() {
  return troupe::receive<account_msg>(
      [](const deposit& d) { std::cout << "deposit of " << d.cents << '\n'; },
      [](const auto&) {});  // every other message: ignored
}

void run() {
  troupe::system sys{small_config()};
  auto a = sys.spawn(strict_account(0));
  a.tell(deposit{10});
  auto r = a.ask<long>([](troupe::ref<long> reply_to) { return balance{reply_to}; }, 1s).get();
  check(r && *r == 10, "behaviours: become keeps the new state");
  a.tell(deposit{-1});
  r = a.ask<long>([](troupe::ref<long> reply_to) { return balance{reply_to}; }, 1s).get();
  check(!r && r.error() == troupe::errc::receiver_dead, "behaviours: stopped stops the actor");

  auto f = sys.spawn(forgetful_account());
  f.tell(deposit{10});
  r = f.ask<long>([](troupe::ref<long> reply_to) { return balance{reply_to}; }, 1s).get();
  check(r && *r == 0, "behaviours: a mutable capture is its own handler's copy");

  auto d = sys.spawn(deposits_only());
  r = d.ask<long>([](troupe::ref<long> reply_to) { return balance{reply_to}; }, 1s).get();
  check(!r && r.error() == troupe::errc::request_dropped,
        "behaviours: a request the catch-all ignores completes with request_dropped");

  // A catch-all is invocable with anything, a context included: it must still be handlers.
  auto t = sys.spawn(troupe::receive<account_msg>([](const balance& b) { b.reply_to.tell(7L); },
                                                  [](const auto&) { return troupe::same; }));
  r = t.ask<long>([](troupe::ref<long> reply_to) { return balance{reply_to}; }, 1s).get();
  check(r && *r == 7, "behaviours: a catch-all leaves the other handlers alone");
}

}  // namespace behaviours

// --- setup -----------------------------------------------------------------------------------------
namespace with_setup {

struct ping { troupe::ref<std::string> reply_to; };

troupe::behavior<ping> greeter(std::string greeting) {
  return troupe::setup<ping>([greeting](troupe::actor_context<ping>& ctx) {
    // Runs once, on the actor's first turn. The context lives as long as the actor:
    // handlers may hold it by reference.
    std::string me = "#" + std::to_string(ctx.id().serial);
    return troupe::receive<ping>([greeting, me](const ping& p) { p.reply_to.tell(greeting + " from " + me); });
  });
}

void run() {
  troupe::system sys{small_config()};
  auto g = sys.spawn(greeter("hello"));
  auto r = g.ask<std::string>([](troupe::ref<std::string> r) { return ping{r}; }, 1s).get();
  check(r && r->rfind("hello from #", 0) == 0, "setup: the greeting names the actor");
}

}  // namespace with_setup

// --- Class style -------------------------------------------------------------------------------------
namespace class_style {

using protocols::account_msg;
using protocols::balance;
using protocols::deposit;

class account : public troupe::actor<account_msg> {
 public:
  explicit account(long opening) : cents_(opening) {}
  void on(const deposit& d) { cents_ += d.cents; }
  void on(const balance& b) { b.reply_to.tell(cents_); }

 private:
  long cents_;
};

struct line { std::string text; };
struct idle {};
using session_msg = std::variant<line, idle>;

class session : public troupe::actor<session_msg> {
 public:
  // Taking the context first gives it to the constructor too; later, context() returns it.
  session(troupe::actor_context<session_msg>& ctx, std::string user) : user_(std::move(user)) {
    ctx.start_timer("idle", idle{}, 30s);
  }
  void on(const line& l) {
    std::cout << user_ << ": " << l.text << '\n';
    context().start_timer("idle", idle{}, 30s);  // restarting a key replaces the timer
  }
  troupe::behavior<session_msg> on(const idle&) { return troupe::stopped; }

 private:
  std::string user_;
};

class tolerant_account : public troupe::actor<account_msg> {
 public:
  void on(const balance& b) { b.reply_to.tell(7L); }
  template <class M>
  void on(const M&) {}  // the rest
};

void run() {
  troupe::system sys{small_config()};
  auto a = sys.spawn(troupe::actor_of<account>(100L));  // arguments go to the constructor
  a.tell(deposit{50});
  auto r = a.ask<long>([](troupe::ref<long> reply_to) { return balance{reply_to}; }, 1s).get();
  check(r && *r == 150, "class style: 100 + 50");

  auto s = sys.spawn(troupe::actor_of<session>(std::string("ada")));
  std::promise<troupe::exit_reason> session_exit;
  sys.spawn(monitor(s, session_exit));
  s.tell(line{"hi"});
  s.tell(idle{});
  auto f = session_exit.get_future();
  bool seen = f.wait_for(5s) == std::future_status::ready;
  check(seen && f.get().what == troupe::exit_reason::kind::normal, "class style: returning stopped from on() stops");

  auto t = sys.spawn(troupe::actor_of<tolerant_account>());
  t.tell(deposit{1});
  r = t.ask<long>([](troupe::ref<long> reply_to) { return balance{reply_to}; }, 1s).get();
  check(r && *r == 7, "class style: a template on() catches the rest and only the rest");
}

}  // namespace class_style

// --- Spawning, children and names --------------------------------------------------------------------
namespace spawning {

using protocols::account;
using protocols::account_msg;

struct open_account { std::string owner; troupe::ref<troupe::ref<account_msg>> reply_to; };
using bank_msg = std::variant<open_account>;

troupe::behavior<bank_msg> bank() {
  return troupe::setup<bank_msg>([](troupe::actor_context<bank_msg>& ctx) {
    return troupe::receive<bank_msg>([&ctx](const open_account& m) {
      // A child: it stops when the bank stops, before the bank's own state is destroyed.
      m.reply_to.tell(ctx.spawn(account(0)));
    });
  });
}

void run() {
  troupe::system sys{small_config()};
  auto bank_ref = sys.spawn(bank(), {.name = "bank"});  // registered while it lives

  troupe::result<troupe::ref<bank_msg>> found = sys.lookup<bank_msg>("bank");
  auto wrong = sys.lookup<account_msg>("bank");   // fails: errc::wrong_protocol
  auto missing = sys.lookup<bank_msg>("vault");   // fails: errc::name_not_found
  check(found && *found == bank_ref, "names: lookup finds the bank");
  check(!wrong && wrong.error() == troupe::errc::wrong_protocol, "names: lookup checks the protocol");
  check(!missing && missing.error() == troupe::errc::name_not_found, "names: unknown name");

  try {
    sys.spawn(bank(), {.name = "bank"});  // a bug: the name is taken
  } catch (const troupe::usage_error& e) {
    std::cout << e.what() << '\n';
  }

  auto spare = sys.spawn(bank());
  troupe::result<void> r = sys.register_name("bank", spare);  // an expected failure: a result
  if (!r) std::cout << r.error().message() << '\n';           // name taken: 'bank' is held by actor #...
  check(!r && r.error() == troupe::errc::name_taken, "names: register_name reports a taken name");
  sys.unregister_name("bank");
  check(static_cast<bool>(sys.register_name("bank", spare)), "names: a freed name can be registered");

  auto acc = bank_ref
                 .ask<troupe::ref<account_msg>>(
                     [](troupe::ref<troupe::ref<account_msg>> r) { return open_account{"ada", r}; }, 1s)
                 .get();
  check(acc && static_cast<bool>(*acc), "spawning: the bank opened a child account");
}

}  // namespace spawning

// --- Asking from inside an actor -------------------------------------------------------------------
namespace asking {

using protocols::account_msg;
using protocols::balance;

struct audit {};
struct balance_is { troupe::result<long> cents; };
using auditor_msg = std::variant<audit, balance_is>;

std::promise<long> audited;  // the test's window on the auditor

troupe::behavior<auditor_msg> auditor(troupe::ref<account_msg> account) {
  return troupe::setup<auditor_msg>([account](troupe::actor_context<auditor_msg>& ctx) {
    return troupe::receive<auditor_msg>(
        [&ctx, account](const audit&) {
          // Never blocks: the answer, or why there is none, comes back as a balance_is message.
          ctx.ask(
              account, [](troupe::ref<long> r) { return balance{r}; }, 1s,
              [](troupe::result<long>&& r) { return balance_is{std::move(r)}; });
        },
        [](const balance_is& b) {
          if (b.cents) std::cout << "balance: " << *b.cents << '\n';
          else std::cout << "no balance: " << b.cents.error().message() << '\n';
          audited.set_value(b.cents ? *b.cents : -1);
        });
  });
}

void run() {
  troupe::system sys{small_config()};
  auto acc = sys.spawn(protocols::account(42));
  auto a = sys.spawn(auditor(acc));
  a.tell(audit{});
  auto f = audited.get_future();
  check(f.wait_for(5s) == std::future_status::ready && f.get() == 42, "ask inside: the auditor saw 42");

  // An actor that keeps the reply_to and never answers: the ask times out.
  auto hoard = std::make_shared<std::vector<troupe::ref<long>>>();
  auto silent = sys.spawn(troupe::receive<account_msg>([hoard](const balance& b) { hoard->push_back(b.reply_to); },
                                                       [](const protocols::deposit&) {}));
  auto r = silent.ask<long>([](troupe::ref<long> r) { return balance{r}; }, 50ms).get();
  check(!r && r.error() == troupe::errc::timeout, "ask outside: an unanswered ask times out");
}

}  // namespace asking

// --- Failure -------------------------------------------------------------------------------------
namespace failure {

struct work { int n; };
using worker_msg = std::variant<work>;

troupe::behavior<worker_msg> worker() {
  return troupe::receive<worker_msg>([](const work& w) {
    if (w.n < 0) throw std::invalid_argument("negative work");  // stops this actor only
  });
}

struct start {};
struct worker_down { troupe::actor_id who; troupe::exit_reason reason; };
using boss_msg = std::variant<start, worker_down>;

std::promise<troupe::exit_reason> boss_saw;

troupe::behavior<boss_msg> boss() {
  return troupe::setup<boss_msg>([](troupe::actor_context<boss_msg>& ctx) {
    auto w = ctx.spawn(worker());
    // terminated is not in boss_msg: map it into a message that is.
    ctx.watch(w, [](troupe::terminated&& t) { return worker_down{t.who, std::move(t.reason)}; });
    return troupe::receive<boss_msg>(
        [w](const start&) { w.tell(work{-1}); },
        [](const worker_down& d) {
          if (d.reason.is_failure()) std::cout << "worker failed: " << d.reason.describe() << '\n';
          boss_saw.set_value(d.reason);
        });
  });
}

using guardian_msg = std::variant<troupe::exit_signal>;

std::promise<troupe::exit_signal> trapped;

troupe::behavior<guardian_msg> guardian(troupe::ref<worker_msg> w) {
  return troupe::setup<guardian_msg>([w](troupe::actor_context<guardian_msg>& ctx) {
    ctx.link(w);       // if either fails, the other stops too...
    ctx.trap_exits();  // ...unless it traps exits: then every exit arrives as an exit_signal
    return troupe::receive<guardian_msg>([](const troupe::exit_signal& e) {
      std::cout << "linked actor #" << e.from.serial << " exited: " << e.reason.describe() << '\n';
      trapped.set_value(e);
    });
  });
}

using partner_msg = std::variant<std::string>;

troupe::behavior<partner_msg> partner(troupe::ref<worker_msg> w) {
  return troupe::setup<partner_msg>([w](troupe::actor_context<partner_msg>& ctx) {
    ctx.link(w);  // no trap: a failure of w stops this actor, with reason `linked`
    return troupe::receive<partner_msg>([](const std::string&) {});
  });
}

// Records the order in which actors' states are destroyed.
std::mutex order_mu;
std::vector<std::string> destroyed;  // guarded by order_mu
struct noted {
  explicit noted(std::string w) : who(std::move(w)) {}
  noted(const noted&) = delete;
  noted& operator=(const noted&) = delete;
  ~noted() {
    std::lock_guard lock(order_mu);
    destroyed.push_back(who);
  }
  std::string who;
};

struct stop_child {};
using parent_msg = std::variant<stop_child, troupe::terminated>;

troupe::behavior<worker_msg> leaf(std::shared_ptr<noted> n) {
  return troupe::receive<worker_msg>([n](const work&) {});
}

std::promise<troupe::exit_reason> child_reason;

troupe::behavior<parent_msg> parent(std::shared_ptr<noted> n) {
  return troupe::setup<parent_msg>([n](troupe::actor_context<parent_msg>& ctx) {
    auto kept = ctx.spawn(leaf(std::make_shared<noted>("kept child")));
    auto doomed = ctx.spawn(leaf(std::make_shared<noted>("doomed child")));
    ctx.watch(doomed);
    return troupe::receive<parent_msg>(
        [&ctx, doomed, n](const stop_child&) { ctx.stop(doomed); },
        [kept, n](const troupe::terminated& t) { child_reason.set_value(t.reason); });
  });
}

void run() {
  troupe::system sys{small_config()};

  auto b = sys.spawn(boss());
  b.tell(start{});
  auto f = boss_saw.get_future();
  bool seen = f.wait_for(5s) == std::future_status::ready;
  auto reason = seen ? f.get() : troupe::exit_reason{};
  check(seen && reason.what == troupe::exit_reason::kind::exception &&
            reason.text == "std::invalid_argument: negative work",
        "failure: the watcher sees the exception as the exit reason");

  // Link and trap: whether the link is made before or after w fails, g gets one exit_signal.
  auto w = sys.spawn(worker());
  auto g = sys.spawn(guardian(w));
  std::promise<troupe::exit_reason> partner_exit;
  auto p = sys.spawn(partner(w));
  auto pm = sys.spawn(monitor(p, partner_exit));
  w.tell(work{-1});
  auto tf = trapped.get_future();
  seen = tf.wait_for(5s) == std::future_status::ready;
  auto sig = seen ? tf.get() : troupe::exit_signal{};
  check(seen && sig.from == w.id() && sig.reason.what == troupe::exit_reason::kind::exception,
        "failure: a trapping linked actor gets an exit_signal with the reason");
  auto pf = partner_exit.get_future();
  seen = pf.wait_for(5s) == std::future_status::ready;
  reason = seen ? pf.get() : troupe::exit_reason{};
  std::cout << "partner: " << reason.describe() << '\n';
  check(seen && reason.what == troupe::exit_reason::kind::linked, "failure: a linked actor that does not trap stops");
  (void)g;
  (void)pm;

  // Stopping a child, and the shutdown order: children's state goes before their parent's.
  {
    troupe::system local{small_config()};
    auto par = local.spawn(parent(std::make_shared<noted>("parent")));
    par.tell(stop_child{});
    auto cf = child_reason.get_future();
    seen = cf.wait_for(5s) == std::future_status::ready;
    reason = seen ? cf.get() : troupe::exit_reason{};
    check(seen && reason.what == troupe::exit_reason::kind::normal, "failure: ctx.stop(child) stops it with reason normal");
  }
  std::lock_guard lock(order_mu);
  check(destroyed == std::vector<std::string>{"doomed child", "kept child", "parent"},
        "failure: shutdown destroys a child's state before its parent's");
}

}  // namespace failure

// --- Stopping ------------------------------------------------------------------------------------------------
namespace stopping {

struct job { int n; };
struct quit {};
struct count { troupe::ref<int> reply_to; };
using shop_msg = std::variant<job, quit, count>;

std::atomic<int> jobs_done{0};

// `queued`: the shop takes its first message only once the test has queued all of them, so
// the stop always finds job 2 and the request behind it (a request sent after the actor has
// stopped fails at once and is no dead letter).
troupe::behavior<shop_msg> shop(std::shared_future<void> queued) {
  return troupe::setup<shop_msg>([queued](troupe::actor_context<shop_msg>& ctx) {
    queued.wait();
    return troupe::receive<shop_msg>(
        [](const job&) { ++jobs_done; },
        [&ctx](const quit&) { ctx.stop(); },  // like returning troupe::stopped
        [](const count& c) { c.reply_to.tell(jobs_done.load()); });
  });
}

void run() {
  troupe::system sys{small_config()};
  std::promise<void> all_queued;
  auto s = sys.spawn(shop(all_queued.get_future().share()));
  s.tell(job{1});
  s.tell(quit{});
  s.tell(job{2});  // never handled: a dead letter
  auto asked = s.ask<int>([](troupe::ref<int> r) { return count{r}; }, 1s);
  all_queued.set_value();
  auto r = asked.get();
  check(!r && r.error() == troupe::errc::receiver_dead, "stopping: a request queued behind the stop: receiver_dead");
  check(jobs_done == 1, "stopping: nothing is handled after the message that stopped the actor");
  check(sys.dead_letter_count() == 2, "stopping: what was still queued went to dead letters");

  // Starting with `same` is a bug; the actor (only) crashes with a usage_error.
  std::promise<troupe::exit_reason> same_exit;
  auto bad = sys.spawn(troupe::behavior<shop_msg>(troupe::same));
  sys.spawn(monitor(bad, same_exit));
  auto f = same_exit.get_future();
  bool seen = f.wait_for(5s) == std::future_status::ready;
  auto reason = seen ? f.get() : troupe::exit_reason{};
  check(seen && reason.what == troupe::exit_reason::kind::exception && reason.text.find("usage_error") != std::string::npos,
        "stopping: an actor started with troupe::same stops with a usage_error");

  // shutdown() from inside an actor would wait for itself: it throws, and that actor crashes.
  std::promise<troupe::exit_reason> rogue_exit;
  auto rogue = sys.spawn(troupe::receive<quit>([&sys](quit) { sys.shutdown(); }));
  sys.spawn(monitor(rogue, rogue_exit));
  rogue.tell(quit{});
  auto rf = rogue_exit.get_future();
  seen = rf.wait_for(5s) == std::future_status::ready;
  reason = seen ? rf.get() : troupe::exit_reason{};
  check(seen && reason.text.find("usage_error") != std::string::npos && !sys.stopping(),
        "stopping: shutdown() inside an actor throws usage_error");
}

}  // namespace stopping

// --- Dead letters ------------------------------------------------------------------------------------------
namespace dead_letters {

struct note { std::string text; };

std::promise<troupe::dead_letter> first_lost;

void run() {
  troupe::system sys{small_config()};
  auto gone = sys.spawn(troupe::receive<note>([](const note&) { return troupe::stopped; }), {.name = "gone"});

  auto watcher = sys.spawn(troupe::receive<troupe::dead_letter>([](const troupe::dead_letter& d) {
    std::clog << "dead letter: " << d.message_type << " to '" << d.recipient_name << "'\n";
    first_lost.set_value(d);
    return troupe::stopped;
  }));
  sys.subscribe_dead_letters(watcher);

  gone.tell(note{"first"});   // handled: the actor stops
  gone.tell(note{"second"});  // a dead letter: nobody will handle it
  auto f = first_lost.get_future();
  bool seen = f.wait_for(5s) == std::future_status::ready;
  auto d = seen ? f.get() : troupe::dead_letter{};
  check(seen && d.recipient == gone.id() && d.recipient_name == "gone" && d.message_type == "dead_letters::note",
        "dead letters: the subscriber learns who lost what");
  check(sys.dead_letter_count() >= 1, "dead letters: counted");
}

}  // namespace dead_letters

// --- Timers ----------------------------------------------------------------------------------------------
namespace timers {

struct tick {};
struct stop_ticking {};
using metronome_msg = std::variant<tick, stop_ticking>;

std::promise<int> beats_heard;

troupe::behavior<metronome_msg> ticking(troupe::actor_context<metronome_msg>& ctx, int beats) {
  return troupe::receive<metronome_msg>(
      [&ctx, beats](const tick&) -> troupe::behavior<metronome_msg> {
        if (beats + 1 == 3) {
          ctx.cancel_timer("beat");  // a tick it had already sent is discarded, not handled
          beats_heard.set_value(beats + 1);
          return troupe::stopped;
        }
        return ticking(ctx, beats + 1);
      },
      [](const stop_ticking&) { return troupe::stopped; });
}

troupe::behavior<metronome_msg> metronome() {
  return troupe::setup<metronome_msg>([](troupe::actor_context<metronome_msg>& ctx) {
    ctx.start_timer("beat", tick{}, 10ms, troupe::timer_mode::fixed_rate);  // copies tick{} per beat
    ctx.start_timer("give up", stop_ticking{}, 5s);                          // single: fires once
    return ticking(ctx, 0);
  });
}

void run() {
  troupe::system sys{small_config()};
  sys.spawn(metronome());
  auto f = beats_heard.get_future();
  check(f.wait_for(5s) == std::future_status::ready && f.get() == 3, "timers: three beats, then stop");
}

}  // namespace timers

// --- Blocking work ---------------------------------------------------------------------------------------
namespace blocking {

struct read_file { std::string path; troupe::ref<std::string> reply_to; };

std::string thread_name() {
  char name[16] = {};
  pthread_getname_np(pthread_self(), name, sizeof name);
  return name;
}

troupe::behavior<read_file> file_reader() {
  return troupe::receive<read_file>([](const read_file& m) {
    // Blocking calls (files, a database driver, a long computation) are fine here: this actor
    // runs on the blocking pool, never on the workers that run everyone else.
    m.reply_to.tell(thread_name());
  });
}

void run() {
  troupe::system sys{small_config()};
  auto reader = sys.spawn(file_reader(), {.blocking = true});
  auto r = reader.ask<std::string>([](troupe::ref<std::string> r) { return read_file{"/etc/hostname", r}; }, 1s).get();
  check(r && r->rfind("troupe-b", 0) == 0, "blocking: the reader ran on the blocking pool (" + (r ? *r : "?") + ")");
}

}  // namespace blocking

// --- The watchdog --------------------------------------------------------------------------------------------
namespace watchdog {

std::atomic<bool> reported{false};

void run() {
  troupe::system_config cfg = small_config();
  cfg.long_turn_threshold = 50ms;
  cfg.logger = [](troupe::log_level level, std::string_view line) {
    if (level == troupe::log_level::warning && line.find("has held a worker thread") != line.npos)
      reported = true;
    std::clog << line << '\n';
  };
  troupe::system sys{cfg};
  struct hog {};
  auto a = sys.spawn(troupe::receive<hog>([](hog) {
    // Holds its worker until the watchdog speaks up (or 5 s pass): exactly what not to do.
    auto deadline = std::chrono::steady_clock::now() + 5s;
    while (!reported && std::chrono::steady_clock::now() < deadline) std::this_thread::yield();
  }), {.name = "hog"});
  a.tell(hog{});
  auto deadline = std::chrono::steady_clock::now() + 5s;
  while (!reported && std::chrono::steady_clock::now() < deadline) std::this_thread::yield();
  check(reported, "watchdog: a long turn is reported through the logger");
}

}  // namespace watchdog

int main() {
  quick_start::run();
  the_system::run();
  protocols::run();
  behaviours::run();
  with_setup::run();
  class_style::run();
  spawning::run();
  asking::run();
  failure::run();
  stopping::run();
  dead_letters::run();
  timers::run();
  blocking::run();
  watchdog::run();
  if (failures != 0) {
    std::cout << failures << " claim(s) of docs/core.md FAILED\n";
    return 1;
  }
  std::cout << "docs/core.md: every snippet compiled and every claim held\n";
  return 0;
}
