// supervision: every code snippet of docs/supervision.md, compiled and run.
// A snippet in the guide must appear here (or in examples/supervision_tree) line for line;
// check_snippets, run as a test, says so. Each section checks what the guide claims about it.
// Not an example to copy from: it is the guide's test. Read docs/supervision.md instead.
#include <any>
#include <chrono>
#include <iostream>
#include <memory>
#include <stdexcept>
#include <string>
#include <string_view>
#include <thread>
#include <variant>

#include "troupe/otp/application.hpp"
#include "troupe/otp/backoff_supervisor.hpp"
#include "troupe/otp/supervise.hpp"
#include "troupe/otp/supervisor.hpp"
#include "troupe/troupe.hpp"

using namespace std::chrono_literals;
namespace otp = troupe::otp;

namespace {

int failures = 0;

void check(bool ok, std::string_view what) {
  std::cout << (ok ? "ok      " : "FAILED  ") << what << '\n';
  if (!ok) ++failures;
}

troupe::system_config quiet_config() {
  troupe::system_config cfg;
  cfg.worker_threads = 2;
  cfg.blocking_threads = 1;
  cfg.logger = [](troupe::log_level, std::string_view) {};  // the crashes here are on purpose
  return cfg;
}

// --- the workers the snippets supervise ------------------------------------------------------

struct query {
  troupe::ref<int> reply_to;
};
struct poison {};
using db_msg = std::variant<query, poison>;

troupe::behavior<db_msg> db_worker() {
  return troupe::receive<db_msg>([](const query& q) { q.reply_to.tell(42); },
                                 [](const poison&) { throw std::runtime_error("poisoned"); });
}

struct session_info {
  std::string user;
};
using session_msg = std::variant<query>;

troupe::behavior<session_msg> session(const session_info& s) {
  return troupe::receive<session_msg>([len = static_cast<int>(s.user.size())](const query& q) { q.reply_to.tell(len); });
}

template <class P>
troupe::ref<P> await_restart(troupe::system& sys, const std::string& name, const troupe::ref<P>& old) {
  const auto end = std::chrono::steady_clock::now() + 5s;
  for (;;) {
    auto r = sys.lookup<P>(name);
    if (r && r->id() != old.id()) return *r;
    if (std::chrono::steady_clock::now() > end) return {};
    std::this_thread::yield();
  }
}

// --- child specs -------------------------------------------------------------------------------
namespace child_specs {

otp::supervisor_spec db_tree() {
  otp::child_spec db{.id = "db",
                     .start = [](otp::supervisor_context& ctx, const std::any&) -> otp::child_ref {
                       return ctx.spawn(db_worker(), {.name = "db"});
                     },
                     .restart = otp::restart_type::permanent,
                     .shutdown = 2s};
  auto cache = otp::child("cache", [] { return db_worker(); }, {.name = "cache"});
  cache.restart = otp::restart_type::transient;
  return {.flags = {.strategy = otp::strategy::rest_for_one, .max_restarts = 3, .within = 5s},
          .children = {db, cache}};
}

void run() {
  troupe::system sys{quiet_config()};
  auto sup = sys.spawn(otp::supervisor(db_tree()), {.name = "db_sup"});
  auto kids = otp::which_children_of(sup).get().value();
  check(kids.size() == 2 && kids[0].id == "db" && kids[1].id == "cache", "children are listed in start order");
  auto db = kids[0].ref.as<db_msg>().value();
  check(!kids[0].ref.as<session_msg>().has_value(), "as<P>() refuses the wrong protocol");
  db.tell(poison{});
  auto db2 = await_restart(sys, "db", db);
  auto cache2 = await_restart(sys, "cache", kids[1].ref.as<db_msg>().value());
  check(db2 && cache2, "rest_for_one restarts the crashed child and those started after it");
}

}  // namespace child_specs

// --- operations ---------------------------------------------------------------------------------
namespace operations {

void run() {
  troupe::system sys{quiet_config()};
  auto sup = sys.spawn(otp::supervisor({.children = {otp::child("db", [] { return db_worker(); })}}));
  auto extra = otp::start_child_of(sup, otp::child("extra", [] { return db_worker(); })).get();
  auto again = otp::start_child_of(sup, otp::child("extra", [] { return db_worker(); })).get();
  bool already = !again && again.error().code() == otp::supervisor_errc::already_started;
  auto stopped = otp::terminate_child_of(sup, "extra").get();
  auto counts = otp::count_children_of(sup).get().value();
  auto restarted = otp::restart_child_of(sup, "extra").get();
  check(extra.has_value() && already && stopped.has_value() && counts.specs == 2 && counts.active == 1 &&
            restarted.has_value(),
        "start_child, terminate_child, count_children and restart_child behave as in OTP");
}

}  // namespace operations

// --- simple_one_for_one -------------------------------------------------------------------------
namespace dynamic_children {

void run() {
  troupe::system sys{quiet_config()};
  auto sessions = sys.spawn(otp::supervisor(
      {.flags = {.strategy = otp::strategy::simple_one_for_one},
       .children = {otp::dynamic_child<session_info>("session", [](const session_info& s) { return session(s); })}}));
  auto alice = otp::start_dynamic_child_of(sessions, session_info{"alice"}).get().value();
  auto len = alice.as<session_msg>().value().ask<int>([](troupe::ref<int> r) { return query{r}; }, 1s).get();
  check(len.has_value() && *len == 5, "simple_one_for_one starts a child from the template with its arguments");
}

}  // namespace dynamic_children

// --- backoff --------------------------------------------------------------------------------------
namespace backoff {

void run() {
  troupe::system sys{quiet_config()};
  auto db = sys.spawn(otp::backoff_supervisor([] { return db_worker(); },
                                              {.min_backoff = 10ms, .max_backoff = 1s, .random_factor = 0.2},
                                              {.spawn = {.name = "db"}}));
  auto first = sys.lookup<db_msg>("db");
  while (!first) first = sys.lookup<db_msg>("db");
  first->tell(poison{});
  check(static_cast<bool>(await_restart(sys, "db", *first)), "the backoff supervisor restarts its child after a delay");
  db.tell(otp::stop_tree{});
}

}  // namespace backoff

// --- supervise --------------------------------------------------------------------------------------
namespace in_actor {

struct add {
  int n;
};
struct get {
  troupe::ref<int> reply_to;
};
struct bad_input {};
using counter_msg = std::variant<add, get, bad_input>;

troupe::behavior<counter_msg> counter(int total) {
  return troupe::receive<counter_msg>(
      [=](const add& a) { return counter(total + a.n); },
      [=](const get& g) { g.reply_to.tell(total); },
      [](const bad_input&) -> troupe::same_tag { throw std::invalid_argument("bad input"); });
}

void run() {
  troupe::system sys{quiet_config()};
  auto c = sys.spawn(otp::supervise([] { return counter(0); })
                         .on_failure<std::invalid_argument>(otp::failure_directive::resume)
                         .on_failure<std::runtime_error>(otp::failure_directive::restart));
  c.tell(add{2});
  c.tell(bad_input{});
  c.tell(add{3});
  auto total = c.ask<int>([](troupe::ref<int> r) { return get{r}; }, 1s).get();
  check(total.has_value() && *total == 5, "resume keeps the state the failing message found");
}

}  // namespace in_actor

// --- application ---------------------------------------------------------------------------------------
namespace applications {

void run() {
  troupe::system sys{quiet_config()};
  otp::application shop(sys, {.name = "shop",
                              .root = {.flags = {.max_restarts = 0},
                                       .children = {otp::child("db", [] { return db_worker(); }, {.name = "db"})}},
                              .type = otp::application_type::permanent});
  sys.lookup<db_msg>("db").value().tell(poison{});  // max_restarts 0: the root gives up
  troupe::exit_reason why = shop.run();              // blocks; then shuts the system down
  check(why.is_failure() && sys.stopping(), "a permanent application's failure stops the system");
}

}  // namespace applications

}  // namespace

int main() {
  child_specs::run();
  operations::run();
  dynamic_children::run();
  backoff::run();
  in_actor::run();
  applications::run();
  if (failures != 0) {
    std::cout << failures << " claim(s) of docs/supervision.md FAILED\n";
    return 1;
  }
  std::cout << "docs/supervision.md: every snippet compiled and every claim held\n";
  return 0;
}
