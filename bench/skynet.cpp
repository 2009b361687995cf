// skynet: actor(num, size) spawns 10 children, down to N leaves (1,111,111 actors for N = 10^6);
// a leaf sends its num to its parent, an inner node the sum of its 10 children. The root's sum
// must be N(N-1)/2.
// Each node spawns its children with ctx.spawn, as the peers do from inside the actor.
#include "workload.hpp"

namespace troupe_bench {
namespace {

using value = std::int64_t;

// `parent` is a sink, moved into the setup: a second copy would add two atomics per actor on
// the line its ten siblings share (bench/fjcreate.cpp does the same).
troupe::behavior<value> skynet_node(troupe::ref<value> parent, std::int64_t num, std::int64_t size) {
  return troupe::setup<value>([parent = std::move(parent), num, size](troupe::actor_context<value>& ctx) -> troupe::behavior<value> {
    if (size == 1) {
      parent.tell(num);
      return troupe::stopped;
    }
    auto sub = size / 10;
    auto me = ctx.self();
    for (std::int64_t i = 0; i < 10; ++i) ctx.spawn(skynet_node(me, num + i * sub, sub));
    return troupe::receive<value>(
        [parent, got = 0, sum = std::int64_t{0}](value v) mutable -> troupe::behavior<value> {
          sum += v;
          if (++got != 10) return troupe::same;
          parent.tell(sum);
          return troupe::stopped;
        });
  });
}

troupe::behavior<value> skynet_root(std::int64_t n, outcome_promise done) {
  return troupe::setup<value>([n, done](troupe::actor_context<value>& ctx) {
    ctx.spawn(skynet_node(ctx.self(), 0, n));
    return troupe::receive<value>([n, done](value sum) {
      done->set_value({sum == n * (n - 1) / 2, sum, {}});
      return troupe::stopped;
    });
  });
}

}  // namespace

outcome skynet(troupe::system& sys, const flags& f) {
  auto n = f.get("n", 1000000);
  auto done = make_outcome_promise();
  auto result = done->get_future();
  sys.spawn(skynet_root(n, done));
  return result.get();
}

}  // namespace troupe_bench
