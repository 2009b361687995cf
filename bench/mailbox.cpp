// mailbox: N:1 contention (CAF's mailbox_performance): S senders each send 1..K to one receiver
// as fast as they can; the receiver sums S*K messages, which must add up to S * K(K+1)/2.
// A driver actor spawns the receiver and the senders as its children and waits for the sum (it
// cannot quit at once as CAF's driver does: in troupe its children would stop with it).
#include "workload.hpp"

namespace troupe_bench {
namespace {

// A sender receives nothing; its whole life is its start-up.
struct no_message {};

troupe::behavior<no_message> mb_sender(troupe::ref<std::int64_t> receiver, std::int64_t k) {
  return troupe::setup<no_message>([receiver, k](troupe::actor_context<no_message>&) -> troupe::behavior<no_message> {
    for (std::int64_t i = 1; i <= k; ++i) receiver.tell(i);
    return troupe::stopped;
  });
}

troupe::behavior<std::int64_t> mb_receiver(std::int64_t total, troupe::ref<std::int64_t> report) {
  return troupe::receive<std::int64_t>(
      [report, left = total, acc = std::int64_t{0}](std::int64_t v) mutable -> troupe::behavior<std::int64_t> {
        acc += v;
        if (--left != 0) return troupe::same;
        report.tell(acc);
        return troupe::stopped;
      });
}

troupe::behavior<std::int64_t> mb_driver(std::int64_t s, std::int64_t k, outcome_promise done) {
  return troupe::setup<std::int64_t>([s, k, done](troupe::actor_context<std::int64_t>& ctx) {
    auto receiver = ctx.spawn(mb_receiver(s * k, ctx.self()));
    for (std::int64_t i = 0; i < s; ++i) ctx.spawn(mb_sender(receiver, k));
    return troupe::receive<std::int64_t>([s, k, done](std::int64_t sum) {
      done->set_value({sum == s * (k * (k + 1) / 2), sum, {}});
      return troupe::stopped;
    });
  });
}

}  // namespace

outcome mailbox(troupe::system& sys, const flags& f) {
  auto s = f.get("s", 20);
  auto k = f.get("k", 500000);
  auto done = make_outcome_promise();
  auto result = done->get_future();
  sys.spawn(mb_driver(s, k, done));
  return result.get();
}

}  // namespace troupe_bench
