// factorial: the recursive factorial of actor-model theory, with continuation actors.
//
// Nobody waits for anybody. To compute n!, the factorial actor does not call itself and wait:
// it spawns a continuation, a small actor that knows n and the customer the answer is for, and
// sends itself the request for (n-1)! with that continuation as the new customer. When the
// request reaches 0, the answer 1 flows back through the chain of continuations, each
// multiplying by its n and passing the product to its own customer, then stopping (Hewitt's
// and Agha's "customer" pattern of the actor model). Meanwhile the factorial actor is
// free to start other requests: several run interleaved. Run it: <build>/examples/factorial/factorial
#include <chrono>
#include <cstdint>
#include <iostream>
#include <string>

#include "troupe/troupe.hpp"

using namespace std::chrono_literals;

// A customer: whoever is waiting for a number.
using customer = troupe::ref<std::uint64_t>;

struct factorial_of {
  std::uint64_t n;
  customer reply_to;
};

// A continuation: waits for (n-1)!, sends n * (n-1)! to its own customer, and stops.
troupe::behavior<std::uint64_t> multiply_by(std::uint64_t n, customer next) {
  return troupe::receive<std::uint64_t>([n, next](std::uint64_t k) {
    next.tell(n * k);
    return troupe::stopped;
  });
}

// The factorial actor keeps no state about requests in flight: the chain of continuations is
// the "stack", and it lives in the actors, not in a thread.
troupe::behavior<factorial_of> factorial() {
  return troupe::setup<factorial_of>([](troupe::actor_context<factorial_of>& ctx) {
    return troupe::receive<factorial_of>([&ctx](const factorial_of& f) {
      if (f.n == 0) {
        f.reply_to.tell(std::uint64_t{1});
        return;
      }
      auto k = ctx.spawn(multiply_by(f.n, f.reply_to));
      ctx.self().tell(factorial_of{f.n - 1, k});
    });
  });
}

int main() {
  troupe::system sys;
  auto fact = sys.spawn(factorial());
  // Two requests at once: their continuations interleave in the one factorial actor.
  auto a = fact.ask<std::uint64_t>([](customer c) { return factorial_of{20, c}; }, 10s);
  auto b = fact.ask<std::uint64_t>([](customer c) { return factorial_of{10, c}; }, 10s);
  auto twenty = a.get();
  auto ten = b.get();
  if (!twenty || !ten) {
    std::cout << "factorial: an ask failed\n";
    return 1;
  }
  std::cout << "20! = " << *twenty << "\n10! = " << *ten << '\n';
  bool ok = *twenty == 2432902008176640000ull && *ten == 3628800ull;
  std::cout << (ok ? "factorial: both answers are right\n" : "factorial: WRONG\n");
  return ok ? 0 : 1;
}
