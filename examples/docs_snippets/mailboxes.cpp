// docs_snippets/mailboxes: every code snippet of docs/mailboxes.md, compiled and run.
// A snippet in the page must appear here line for line (check_snippets, run as a test, says so).
// Each section checks what the page claims about it; the program fails loudly if a claim is
// false. Not an example to copy from: it is the page's test. Read docs/mailboxes.md instead.
#include <chrono>
#include <cstddef>
#include <future>
#include <iostream>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <variant>

#include "troupe/otp/circuit_breaker.hpp"
#include "troupe/otp/flow_control.hpp"
#include "troupe/troupe.hpp"

using namespace std::chrono_literals;
namespace otp = troupe::otp;

namespace {

int failures = 0;

void check(bool ok, std::string_view what) {
  std::cout << (ok ? "ok      " : "FAILED  ") << what << '\n';
  if (!ok) ++failures;
}

troupe::system_config small_config() {
  troupe::system_config cfg;
  cfg.worker_threads = 2;
  cfg.blocking_threads = 1;
  return cfg;
}

// A gate the sections use to hold an actor inside one handler, so that its mailbox fills.
struct gate {
  std::promise<void> p;
  std::shared_future<void> f = p.get_future().share();
};

}  // namespace

// --- Bounded mailboxes -------------------------------------------------------------------------
namespace bounded {

struct job {
  int n;
};
struct pause_here {
  std::shared_future<void> until;
};
using job_msg = std::variant<job, pause_here>;

troupe::behavior<job_msg> job_runner() {
  return troupe::receive<job_msg>([](const job&) {}, [](const pause_here& p) { p.until.wait(); });
}

troupe::behavior<std::string> log_sink() {
  return troupe::receive<std::string>([](const std::string&) {});
}

void run() {
  troupe::system sys{small_config()};
  gate g;
  // A log sink that sheds its oldest lines when writing falls behind.
  auto sink = sys.spawn(log_sink(), {.mailbox = {.capacity = 1000, .overflow = troupe::overflow_policy::drop_oldest}});
  sink.tell(std::string("started"));

  auto jobs = sys.spawn(job_runner(), {.mailbox = {.capacity = 64, .overflow = troupe::overflow_policy::reject}});
  jobs.tell(pause_here{g.f});  // holds the runner inside one handler: its mailbox fills
  int refused = 0;
  for (int i = 0; i < 100; ++i) {
    troupe::result<void> sent = jobs.try_tell(job{i});
    if (!sent) ++refused;  // sent.error() == troupe::errc::mailbox_full
  }
  // `pause_here` may still wait in the mailbox, taking one of the 64 places.
  check(refused == 36 || refused == 37, "bounded: try_tell refuses what does not fit in 64");
  check(troupe::mailbox_length(jobs).value_or(0) <= 64, "bounded: never more than the capacity waits");

  auto routee = sys.spawn(job_runner(), {.mailbox = {.counted = true}});  // unbounded, but counted
  std::optional<std::size_t> waiting = troupe::mailbox_length(routee);    // 0 now; nullopt if not counted
  check(waiting == std::optional<std::size_t>{0}, "length: a counted mailbox answers");
  auto plain = sys.spawn(log_sink());
  check(!troupe::mailbox_length(plain), "length: an uncounted mailbox says nullopt");
  g.p.set_value();
}

}  // namespace bounded

// --- Demand-based flow -------------------------------------------------------------------------
namespace flow {

struct item {
  int n;
};
struct attach {
  troupe::ref<otp::demand> source;
};
using sink_msg = std::variant<attach, item>;

// The producer sends only what its consumer has asked for.
troupe::behavior<otp::demand> numbers(troupe::ref<sink_msg> sink, int last) {
  return troupe::setup<otp::demand>([sink, last](troupe::actor_context<otp::demand>&) {
    auto out = std::make_shared<otp::demand_producer<sink_msg>>(sink);
    auto next = std::make_shared<int>(1);
    return troupe::receive<otp::demand>([out, next, last](const otp::demand& d) {
      out->grant(d);
      while (*next <= last && out->send(item{*next})) ++*next;
    });
  });
}

// The consumer grants 32 at first, then 16 more each time it has handled 16.
troupe::behavior<sink_msg> summer(int last, std::shared_ptr<std::promise<long>> total) {
  return troupe::setup<sink_msg>([last, total](troupe::actor_context<sink_msg>&) {
    auto in = std::make_shared<std::optional<otp::demand_consumer<otp::demand>>>();
    auto sum = std::make_shared<long>(0);
    return troupe::receive<sink_msg>(
        [in](const attach& a) {
          in->emplace(a.source, 32);
          (*in)->start();
        },
        [in, sum, last, total](const item& i) {
          *sum += i.n;  // never more than 32 items are granted and not yet handled here
          (*in)->handled();
          if (i.n == last) total->set_value(*sum);
        });
  });
}

void run() {
  troupe::system sys{small_config()};
  auto total = std::make_shared<std::promise<long>>();
  auto result = total->get_future();
  auto sink = sys.spawn(summer(1000, total));
  auto source = sys.spawn(numbers(sink, 1000));
  sink.tell(attach{source});
  check(result.wait_for(30s) == std::future_status::ready && result.get() == 500500, "flow: 1..1000 arrive, 32 at most outstanding");
}

}  // namespace flow

// --- Circuit breaker ---------------------------------------------------------------------------
namespace breaker {

struct quote {
  std::string symbol;
  troupe::ref<long> reply_to;
};

troupe::behavior<quote> prices() {
  return troupe::receive<quote>([](const quote& q) { q.reply_to.tell(101L); });
}

void run() {
  troupe::system sys{small_config()};
  auto quotes = sys.spawn(prices());
  otp::circuit_breaker breaker{sys, {.max_failures = 3, .call_timeout = 100ms, .reset_timeout = 1s}};
  auto price = breaker.ask<long>(quotes, [](troupe::ref<long> r) { return quote{"ACME", r}; }).get();
  if (!price && price.error() == troupe::errc::circuit_open) std::cout << "using the cached price\n";
  check(price && *price == 101 && breaker.state() == otp::circuit_state::closed, "breaker: a good call passes");

  // Around any call, not only asks: a ticket, then the outcome.
  if (auto ticket = breaker.try_acquire()) {
    bool ok = true;  // ... make the call ...
    breaker.record(*ticket, ok);
  }
  check(breaker.failures() == 0, "breaker: a recorded success keeps it closed");
}

}  // namespace breaker

int main() {
  bounded::run();
  flow::run();
  breaker::run();
  if (failures != 0) {
    std::cout << failures << " claim(s) of docs/mailboxes.md do not hold\n";
    return 1;
  }
  return 0;
}
