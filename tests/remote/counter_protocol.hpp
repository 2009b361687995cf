// counter_protocol.hpp: the protocol the remote tests and their node processes share: a counter
// that adds, answers, reports its total to a ref it was sent, holds a request unanswered, or crashes
// (after a last message, to check that its watchers hear of it after that message).
#pragma once

#include <cstdint>
#include <stdexcept>
#include <string>
#include <variant>

#include "troupe/core/actor_context.hpp"
#include "troupe/core/behavior.hpp"
#include "troupe/core/ref.hpp"

namespace troupe::remote::testing {

struct add {
  std::int64_t n;
};
struct get {
  troupe::ref<std::int64_t> reply_to;
};
struct report_to {  // after each add, the counter tells `to` its total
  troupe::ref<std::int64_t> to;
};
struct hold {  // never answered: an ask that only a failure can end
  troupe::ref<std::int64_t> reply_to;
};
struct crash {
  std::string why;
};
struct send_then_crash {  // sends `to` a string of `bytes` bytes, then crashes with `why`
  troupe::ref<std::string> to;
  std::uint64_t bytes;
  std::string why;
};
// A second protocol, for refs that travel inside counter messages.
using tally_msg = std::variant<add, get>;
struct pass_on {  // tells `target` add{n}, then sends `target` itself to `reply_to`
  troupe::ref<tally_msg> target;
  std::int64_t n;
  troupe::ref<troupe::ref<tally_msg>> reply_to;
};
using counter_msg = std::variant<add, get, report_to, hold, crash, send_then_crash, pass_on>;

inline troupe::behavior<tally_msg> tally(std::int64_t total) {
  return troupe::receive<tally_msg>([=](const add& m) { return tally(total + m.n); },
                                    [=](const get& m) {
                                      m.reply_to.tell(total);
                                      return tally(total);
                                    });
}

inline troupe::behavior<counter_msg> counter(std::int64_t total, troupe::ref<std::int64_t> observer) {
  return troupe::receive<counter_msg>(
      [=](const add& m) {
        if (observer) observer.tell(total + m.n);
        return counter(total + m.n, observer);
      },
      [=](const get& m) {
        m.reply_to.tell(total);
        return counter(total, observer);
      },
      [=](const report_to& m) { return counter(total, m.to); },
      [=](const hold&) { return counter(total, observer); },
      [=](const crash& m) -> troupe::behavior<counter_msg> { throw std::runtime_error(m.why); },
      [=](const send_then_crash& m) -> troupe::behavior<counter_msg> {
        m.to.tell(std::string(m.bytes, 'x'));
        throw std::runtime_error(m.why);
      },
      [=](const pass_on& m) {
        m.target.tell(add{m.n});
        m.reply_to.tell(m.target);
        return counter(total, observer);
      });
}

}  // namespace troupe::remote::testing
