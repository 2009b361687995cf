// fjcreate: spawn N actors one after another and send each its index i; each sends i back and
// stops. The replies must add up to N(N+1)/2.
// Like every peer (Erlang's and Go's main process, CAF's scoped_actor), the main thread spawns
// the N workers, here as top-level actors, and a collector actor stands in for main's mailbox.
// --actor_driver=1 instead has one actor spawn the N workers as its children and collect the
// replies (Savina's shape). It is no faster here, and it holds ~250 MB at N = 10^6: a parent
// that spawns all its children in one turn keeps each finished child's control block alive,
// through the child_terminated signal waiting in its mailbox, until that turn ends.
#include "workload.hpp"

namespace troupe_bench {
namespace {

using value = std::int64_t;

// A sink parameter, moved into the handler: one count on the collector's ref per worker where a
// second copy would add two more atomics, on a line every worker's end touches.
troupe::behavior<value> fj_worker(troupe::ref<value> parent) {
  return troupe::receive<value>([parent = std::move(parent)](value v) {
    parent.tell(v);
    return troupe::stopped;
  });
}

troupe::behavior<value> collector(std::int64_t n, outcome_promise done) {
  return troupe::receive<value>(
      [n, done, got = std::int64_t{0}, sum = std::int64_t{0}](value v) mutable -> troupe::behavior<value> {
        sum += v;
        if (++got != n) return troupe::same;
        done->set_value({sum == n * (n + 1) / 2, sum, {}});
        return troupe::stopped;
      });
}

troupe::behavior<value> fj_driver(std::int64_t n, outcome_promise done) {
  return troupe::setup<value>([n, done](troupe::actor_context<value>& ctx) {
    auto me = ctx.self();
    for (std::int64_t i = 1; i <= n; ++i) ctx.spawn(fj_worker(me)).tell(i);
    return collector(n, done);
  });
}

}  // namespace

outcome fjcreate(troupe::system& sys, const flags& f) {
  auto n = f.get("n", 1000000);
  auto done = make_outcome_promise();
  auto result = done->get_future();
  if (f.get("actor_driver", 0) != 0) {
    sys.spawn(fj_driver(n, done));
  } else {
    auto main = sys.spawn(collector(n, done));
    for (std::int64_t i = 1; i <= n; ++i) sys.spawn(fj_worker(main)).tell(i);
  }
  return result.get();
}

}  // namespace troupe_bench
