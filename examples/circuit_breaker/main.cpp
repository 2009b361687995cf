// circuit_breaker: a client calls a flaky price service through a circuit breaker.
//
// The service answers its first three requests, then goes down for 250 ms: it keeps the
// requests and never answers, so they time out. After three failures in a row the breaker
// opens, and the client's calls fail at once (errc::circuit_open) instead of waiting on a
// service that cannot answer. After the reset timeout one trial call passes; the service has
// recovered by then, so the trial succeeds and the circuit closes. Timers pace everything;
// main waits on the client's promise, never by sleeping.
// Run it: <build>/examples/circuit_breaker/circuit_breaker
#include <chrono>
#include <future>
#include <iostream>
#include <memory>
#include <string>
#include <variant>
#include <vector>

#include "troupe/otp/circuit_breaker.hpp"
#include "troupe/troupe.hpp"

using namespace std::chrono_literals;
namespace otp = troupe::otp;

// Several workers print at once: one write per line keeps lines whole.
void print(const std::string& line) { std::cout << line + '\n'; }

const char* name_of(otp::circuit_state s) {
  switch (s) {
    case otp::circuit_state::closed: return "closed";
    case otp::circuit_state::open: return "open";
    case otp::circuit_state::half_open: return "half-open";
  }
  return "?";
}

// --- the flaky service ---------------------------------------------------------------------------

struct quote {
  std::string symbol;
  troupe::ref<long> reply_to;
};
struct recovered {};
using service_msg = std::variant<quote, recovered>;

troupe::behavior<service_msg> flaky_prices() {
  return troupe::setup<service_msg>([](troupe::actor_context<service_msg>& ctx) {
    auto answered = std::make_shared<int>(0);
    auto down = std::make_shared<bool>(false);
    auto kept = std::make_shared<std::vector<troupe::ref<long>>>();  // requests it never answers
    return troupe::receive<service_msg>(
        [&ctx, answered, down, kept](const quote& q) {
          if (*answered == 3 && !*down) {
            *down = true;
            print("service: down for 250 ms");
            ctx.start_timer("recover", recovered{}, 250ms);
          }
          if (*down) {
            kept->push_back(q.reply_to);  // kept, not dropped: the caller times out
            return;
          }
          ++*answered;
          q.reply_to.tell(10'000L + *answered);
        },
        [answered, down, kept](const recovered&) {
          print("service: up again");
          *down = false;
          *answered = 4;  // no second outage
          kept->clear();
        });
  });
}

// --- the client ----------------------------------------------------------------------------------

struct tick {};
struct outcome {
  int call;
  troupe::result<long> price;
};
using client_msg = std::variant<tick, outcome>;

troupe::behavior<client_msg> client(troupe::ref<service_msg> prices, otp::circuit_breaker breaker,
                                    std::shared_ptr<std::promise<bool>> done) {
  return troupe::setup<client_msg>([=](troupe::actor_context<client_msg>& ctx) {
    ctx.start_timer("tick", tick{}, 20ms, troupe::timer_mode::fixed_delay);
    struct progress {
      int calls = 0;
      bool opened = false;
      bool closed_again = false;
      int good_after = 0;
    };
    auto p = std::make_shared<progress>();
    return troupe::receive<client_msg>(
        [&ctx, prices, breaker, p, done](const tick&) -> troupe::behavior<client_msg> {
          if (++p->calls > 200) {
            print("client: gave up");
            done->set_value(false);
            return troupe::stopped;
          }
          int n = p->calls;
          // The breaker's ask: like ctx.ask with the breaker's call timeout, and an open
          // circuit answers at once with errc::circuit_open.
          breaker.ask<long>(
              ctx, prices, [](troupe::ref<long> r) { return quote{"ACME", r}; },
              [n](troupe::result<long>&& r) { return outcome{n, std::move(r)}; });
          return troupe::same;
        },
        [breaker, p, done](const outcome& o) -> troupe::behavior<client_msg> {
          auto state = breaker.state();
          if (o.price) print("client: call " + std::to_string(o.call) + ": " + std::to_string(*o.price) + " [" + name_of(state) + "]");
          else print("client: call " + std::to_string(o.call) + " failed: " + o.price.error().message() + " [" + name_of(state) + "]");
          if (state == otp::circuit_state::open) p->opened = true;
          if (p->opened && state == otp::circuit_state::closed && o.price) p->closed_again = true;
          if (p->closed_again && o.price && ++p->good_after == 3) {
            print("client: the circuit opened, let a trial through and closed again");
            done->set_value(true);
            return troupe::stopped;
          }
          return troupe::same;
        });
  });
}

int main() {
  troupe::system sys;
  auto prices = sys.spawn(flaky_prices());
  otp::circuit_breaker breaker{sys, {.max_failures = 3,
                                     .call_timeout = 50ms,
                                     .reset_timeout = 200ms,
                                     .on_transition = [](otp::circuit_state from, otp::circuit_state to) {
                                       print(std::string("breaker: ") + name_of(from) + " -> " + name_of(to));
                                     }}};
  auto done = std::make_shared<std::promise<bool>>();
  auto finished = done->get_future();
  sys.spawn(client(prices, breaker, done));
  if (finished.wait_for(30s) != std::future_status::ready) {
    print("main: no answer within 30 s");
    return 1;
  }
  return finished.get() ? 0 : 1;
}
