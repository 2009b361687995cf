// counting: a producer sends 1..N to a counter, then a `get_sum` carrying its own address; the
// counter replies with the sum, which must be N(N+1)/2.
// The producer drives the workload (as in the CAF peer): it spawns the counter as its child and
// sends the whole stream from its start-up, in one turn, as fast as the mailbox takes it. The
// counter is written in the class style (one `on` per message).
#include "workload.hpp"

namespace troupe_bench {
namespace {

struct get_sum {
  troupe::ref<std::int64_t> reply_to;
};
using counter_msg = std::variant<std::int64_t, get_sum>;

class counter : public troupe::actor<counter_msg> {
 public:
  void on(std::int64_t v) { acc_ += v; }
  troupe::stopped_tag on(const get_sum& m) {
    m.reply_to.tell(acc_);
    return troupe::stopped;
  }

 private:
  std::int64_t acc_ = 0;
};

troupe::behavior<std::int64_t> producer(std::int64_t n, outcome_promise done) {
  return troupe::setup<std::int64_t>([n, done](troupe::actor_context<std::int64_t>& ctx) {
    auto c = ctx.spawn(troupe::actor_of<counter>());
    for (std::int64_t i = 1; i <= n; ++i) c.tell(i);
    c.tell(get_sum{ctx.self()});
    return troupe::receive<std::int64_t>([n, done](std::int64_t sum) {
      done->set_value({sum == n * (n + 1) / 2, sum, {}});
      return troupe::stopped;
    });
  });
}

}  // namespace

outcome counting(troupe::system& sys, const flags& f) {
  auto n = f.get("n", 5000000);
  auto done = make_outcome_promise();
  auto result = done->get_future();
  sys.spawn(producer(n, done));
  return result.get();
}

}  // namespace troupe_bench
