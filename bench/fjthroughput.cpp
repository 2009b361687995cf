// fjthroughput: A actors; the driver sends 1..M round-robin to all of them; each sums its M
// messages, reports the sum and stops. The sums must add up to A * M(M+1)/2.
// The driver is an actor (as in the CAF peer) and sends the whole stream from its start-up.
#include <vector>

#include "workload.hpp"

namespace troupe_bench {
namespace {

troupe::behavior<std::int64_t> fjt_worker(std::int64_t m, troupe::ref<std::int64_t> parent) {
  return troupe::receive<std::int64_t>(
      [parent, left = m, acc = std::int64_t{0}](std::int64_t v) mutable -> troupe::behavior<std::int64_t> {
        acc += v;
        if (--left != 0) return troupe::same;
        parent.tell(acc);
        return troupe::stopped;
      });
}

troupe::behavior<std::int64_t> fjt_driver(std::int64_t a, std::int64_t m, outcome_promise done) {
  return troupe::setup<std::int64_t>([a, m, done](troupe::actor_context<std::int64_t>& ctx) {
    std::vector<troupe::ref<std::int64_t>> workers;
    workers.reserve(static_cast<std::size_t>(a));
    for (std::int64_t i = 0; i < a; ++i) workers.push_back(ctx.spawn(fjt_worker(m, ctx.self())));
    for (std::int64_t i = 1; i <= m; ++i)
      for (auto& w : workers) w.tell(i);
    return troupe::receive<std::int64_t>(
        [a, m, done, got = std::int64_t{0}, sum = std::int64_t{0}](std::int64_t v) mutable
        -> troupe::behavior<std::int64_t> {
          sum += v;
          if (++got != a) return troupe::same;
          done->set_value({sum == a * (m * (m + 1) / 2), sum, {}});
          return troupe::stopped;
        });
  });
}

}  // namespace

outcome fjthroughput(troupe::system& sys, const flags& f) {
  auto a = f.get("a", 60);
  auto m = f.get("m", 100000);
  auto done = make_outcome_promise();
  auto result = done->get_future();
  sys.spawn(fjt_driver(a, m, done));
  return result.get();
}

}  // namespace troupe_bench
