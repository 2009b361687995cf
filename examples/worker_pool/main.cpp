// worker_pool: a poolboy-style pool of workers shared by many clients.
//
// Two "connections" (workers that are expensive to make, so kept and shared) serve six client
// actors. Each client checks a connection out, waiting up to a deadline if both are busy, uses
// it alone, and lets the lease go, which checks the connection back in. One extra (overflow)
// connection may be opened while both are busy; it is closed when it comes back. main asks
// every client for its result, never sleeping. Run it: <build>/examples/worker_pool/worker_pool
#include <chrono>
#include <cstddef>
#include <future>
#include <memory>
#include <iostream>
#include <string>
#include <variant>
#include <vector>

#include "troupe/otp/worker_pool.hpp"
#include "troupe/troupe.hpp"

using namespace std::chrono_literals;

void print(const std::string& line) { std::cout << line + '\n'; }

// --- a connection: answers queries, one at a time ---------------------------------------------
struct query {
  int n;
  troupe::ref<int> reply_to;
};
using connection_msg = std::variant<query>;
using pool_msg = troupe::otp::worker_pool_msg<connection_msg>;

troupe::behavior<connection_msg> connection(int id) {
  print("pool: opened connection " + std::to_string(id));
  return troupe::receive<connection_msg>([](const query& q) { q.reply_to.tell(q.n * q.n); });
}

// --- a client: checks out, queries, checks in (by dropping the lease), answers main ----------
using lease = troupe::otp::lease<connection_msg>;
struct start {
  troupe::ref<std::string> reply_to;
};
struct got_connection {
  troupe::result<lease> conn;
};
struct got_answer {
  troupe::result<int> answer;
};
using client_msg = std::variant<start, got_connection, got_answer>;

troupe::behavior<client_msg> client(int n, troupe::ref<pool_msg> pool) {
  return troupe::setup<client_msg>([n, pool](troupe::actor_context<client_msg>& ctx) {
    auto held = std::make_shared<lease>();
    auto main_ref = std::make_shared<troupe::ref<std::string>>();
    return troupe::receive<client_msg>(
        [&ctx, pool, main_ref](const start& s) {
          *main_ref = s.reply_to;
          // Waits up to 2 s for a connection when all are busy.
          troupe::otp::checkout(ctx, pool, 2s, [](troupe::result<lease>&& l) { return got_connection{std::move(l)}; });
        },
        [&ctx, n, held, main_ref](got_connection&& g) {
          if (!g.conn) {
            main_ref->tell("no connection: " + g.conn.error().message());
            return;
          }
          *held = std::move(*g.conn);
          ctx.ask<int>(held->worker(), [n](troupe::ref<int> r) { return query{n, r}; }, 2s,
                       [](troupe::result<int>&& a) { return got_answer{std::move(a)}; });
        },
        [n, held, main_ref](got_answer&& a) {
          held->give_back();  // done with it: the next client may have it now
          main_ref->tell(a.answer ? std::to_string(n) + "^2 = " + std::to_string(*a.answer) : a.answer.error().message());
        });
  });
}

int main() {
  troupe::system sys;
  int opened = 0;  // touched only by the pool actor, which makes the connections one at a time
  auto pool = sys.spawn(troupe::otp::worker_pool<connection_msg>([&opened] { return connection(++opened); },
                                                                 {.size = 2, .max_overflow = 1}));
  // Six clients start at once; each answers main's ask when it has used a connection.
  std::vector<std::future<troupe::result<std::string>>> outcomes;
  for (int i = 1; i <= 6; ++i) {
    auto c = sys.spawn(client(i, pool));
    outcomes.push_back(c.ask<std::string>([](troupe::ref<std::string> r) { return start{r}; }, 10s));
  }
  int answered = 0;
  for (auto& f : outcomes) {
    auto outcome = f.get();
    print("client: " + (outcome ? *outcome : outcome.error().message()));
    if (outcome && outcome->find("^2 = ") != std::string::npos) ++answered;
  }
  bool ok = answered == 6 && opened <= 3;
  print(ok ? "worker_pool: 6 clients served by a pool of 2 (+1 overflow)" : "worker_pool: WRONG");
  return ok ? 0 : 1;
}
