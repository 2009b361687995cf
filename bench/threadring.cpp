// threadring: R actors in a ring, each knowing the next; a token H goes round, each hop forwards
// v - 1, and the actor that receives 0 reports its id, which must be H mod R.
// A driver actor spawns the ring as its children, tells each node its successor (the ring is a
// cycle, so the link is a message, as in the peers), starts the token, and stops the ring, by
// stopping itself, once it has the result.
#include <vector>

#include "workload.hpp"

namespace troupe_bench {
namespace {

struct ring_next;
using ring_msg = std::variant<ring_next, std::int64_t>;
struct ring_next {
  troupe::ref<ring_msg> next;
};

// A node before it knows its successor (next is empty) and after (become).
troupe::behavior<ring_msg> ring_node(std::int64_t id, troupe::ref<std::int64_t> report,
                                     troupe::ref<ring_msg> next = {}) {
  return troupe::receive<ring_msg>(
      [id, report](const ring_next& m) { return ring_node(id, report, m.next); },
      [id, report, next](std::int64_t v) {
        if (v == 0) report.tell(id);
        else next.tell(v - 1);
      });
}

troupe::behavior<std::int64_t> ring_driver(std::int64_t r, std::int64_t h, outcome_promise done) {
  return troupe::setup<std::int64_t>([r, h, done](troupe::actor_context<std::int64_t>& ctx) {
    std::vector<troupe::ref<ring_msg>> nodes;
    nodes.reserve(static_cast<std::size_t>(r));
    for (std::int64_t i = 0; i < r; ++i) nodes.push_back(ctx.spawn(ring_node(i, ctx.self())));
    for (std::int64_t i = 0; i < r; ++i) nodes[i].tell(ring_next{nodes[(i + 1) % r]});
    nodes[0].tell(h);
    return troupe::receive<std::int64_t>([r, h, done](std::int64_t id) {
      done->set_value({id == h % r, id, {}});
      return troupe::stopped;  // and with it the ring, our children
    });
  });
}

}  // namespace

outcome threadring(troupe::system& sys, const flags& f) {
  auto r = f.get("r", 503);
  auto h = f.get("h", 10000000);
  auto done = make_outcome_promise();
  auto result = done->get_future();
  sys.spawn(ring_driver(r, h, done));
  return result.get();
}

}  // namespace troupe_bench
