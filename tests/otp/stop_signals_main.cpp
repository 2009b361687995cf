// stop_signals_main.cpp: a program with two applications run by otp::stop_signals, for
// stop_signals_test.cpp, which sends it SIGTERM or SIGINT. It prints "ready" once both
// applications run, "stopped <child>" as each worker's state is destroyed, and how the run
// ended; the test checks the order (the later application first) and the exit status.
#include <cstdio>
#include <memory>
#include <string>
#include <variant>

#include "troupe/otp/application.hpp"
#include "troupe/otp/stop_signals.hpp"
#include "troupe/troupe.hpp"

namespace {

namespace otp = troupe::otp;

void say(const std::string& line) {
  std::printf("%s\n", line.c_str());
  std::fflush(stdout);
}

struct noop {};
using worker_msg = std::variant<noop>;

// Says "stopped <id>" when the worker's state is destroyed, i.e. when it has stopped.
struct farewell {
  explicit farewell(std::string i) : id(std::move(i)) {}
  farewell(const farewell&) = delete;
  farewell& operator=(const farewell&) = delete;
  ~farewell() { say("stopped " + id); }
  std::string id;
};

otp::child_spec worker(std::string id) {
  return {.id = id, .start = [id](otp::supervisor_context& ctx, const std::any&) -> otp::child_ref {
            return ctx.spawn(troupe::setup<worker_msg>([id](troupe::actor_context<worker_msg>&) {
              auto f = std::make_shared<farewell>(id);
              return troupe::receive<worker_msg>([f](noop) {});
            }));
          }};
}

}  // namespace

int main() {
  otp::stop_signals signals;  // first: the system's threads inherit the blocked mask
  troupe::system_config cfg;
  cfg.worker_threads = 2;
  troupe::system sys{cfg};
  otp::application store(sys, {.name = "store", .root = {.children = {worker("store-worker")}}});
  otp::application web(sys, {.name = "web", .root = {.children = {worker("web-worker")}}});
  say("ready");
  auto how = signals.run({&store, &web});
  say("ran: signal=" + std::to_string(how.signal.value_or(0)) + " ok=" + (how.ok() ? "1" : "0"));
  return how.ok() ? 0 : 1;
}
