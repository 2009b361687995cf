// worker_actor.hpp: the supervised worker the otp tests share. It logs "start:<id>" when it
// starts and "stop:<id>" when its state is destroyed (before its watchers learn it stopped),
// so a test reads the order of starts and stops from one queue.
#pragma once

#include <memory>
#include <stdexcept>
#include <string>
#include <variant>

#include "core/test_support.hpp"
#include "troupe/otp/supervisor.hpp"
#include "troupe/troupe.hpp"

namespace troupe_test::worker_actor {

struct crash {};  // throws from the handler
struct quit {};   // stops normally
struct ping {
  troupe::ref<int> reply_to;
};
using worker_msg = std::variant<crash, quit, ping>;
using event_log = blocking_queue<std::string>;

inline troupe::behavior<worker_msg> worker(std::string id, std::shared_ptr<event_log> log) {
  return troupe::setup<worker_msg>([id = std::move(id), log](troupe::actor_context<worker_msg>&) {
    log->push("start:" + id);
    auto note = std::make_shared<destroy_note>(log, "stop:" + id);
    return troupe::receive<worker_msg>([note](const crash&) { throw std::runtime_error("boom"); },
                                       [](const quit&) { return troupe::stopped; },
                                       [](const ping& p) { p.reply_to.tell(1); });
  });
}

/// A permanent worker spec registered under its id, so a test reaches the current incarnation.
inline troupe::otp::child_spec worker_spec(const std::string& id, std::shared_ptr<event_log> log) {
  return troupe::otp::child(id, [id, log] { return worker(id, log); }, {.name = id});
}

/// The next `n` log lines, or fewer if the deadline passed first.
inline std::vector<std::string> next_events(event_log& log, std::size_t n) {
  std::vector<std::string> out;
  while (out.size() < n) {
    auto e = log.pop();
    if (!e) break;
    out.push_back(std::move(*e));
  }
  return out;
}

/// The worker registered under `id`, waiting until one is (a restart re-registers it).
inline troupe::ref<worker_msg> named(troupe::system& sys, const std::string& id) {
  troupe::ref<worker_msg> out;
  wait_until([&] {
    auto r = sys.lookup<worker_msg>(id);
    if (r) out = *r;
    return static_cast<bool>(r);
  });
  return out;
}

/// A config for tests whose actors crash on purpose: the crash reports go nowhere.
inline troupe::system_config quiet_config() {
  auto cfg = small_config();
  cfg.logger = [](troupe::log_level, std::string_view) {};
  return cfg;
}

}  // namespace troupe_test::worker_actor
