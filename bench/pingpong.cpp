// pingpong: two actors exchange N round trips. Ping sends 1 to pong, pong echoes every integer
// back, ping answers v + 1; after N round trips the last value must be N.
// Ping drives the workload (as in the CAF peer) and spawns pong as its child, so pong stops when
// ping does: that replaces the peers' explicit `stop` message, after the result is handed over.
#include "workload.hpp"

namespace troupe_bench {
namespace {

using value = std::int64_t;  // both actors speak plain integers

troupe::behavior<value> pong(troupe::ref<value> ping) {
  return troupe::receive<value>([ping](value v) { ping.tell(v); });
}

troupe::behavior<value> ping(std::int64_t n, outcome_promise done) {
  return troupe::setup<value>([n, done](troupe::actor_context<value>& ctx) {
    auto partner = ctx.spawn(pong(ctx.self()));
    partner.tell(value{1});
    return troupe::receive<value>(
        [n, done, partner, count = std::int64_t{0}](value v) mutable -> troupe::behavior<value> {
          if (++count == n) {
            done->set_value({v == n, count, {}});
            return troupe::stopped;
          }
          partner.tell(v + 1);
          return troupe::same;
        });
  });
}

}  // namespace

outcome pingpong(troupe::system& sys, const flags& f) {
  auto n = f.get("n", 1000000);
  auto done = make_outcome_promise();
  auto result = done->get_future();
  sys.spawn(ping(n, done));
  return result.get();
}

}  // namespace troupe_bench
