// The packaging check: spawns an actor from an installed troupe and asks it, and uses one piece
// of the otp, io, testkit and observe layers so that their libraries and dependencies link from the
// package.
// Exits 0 only if every answer is right.
#include <chrono>
#include <cstdio>
#include <string>
#include <variant>

#include <troupe/io/codec.hpp>
#include <troupe/observe/metrics_export.hpp>
#include <troupe/otp/ignore_ref.hpp>
#include <troupe/testkit/virtual_clock.hpp>
#include <troupe/troupe.hpp>

using namespace std::chrono_literals;

struct add { int n; };
struct get { troupe::ref<int> reply_to; };
using counter_msg = std::variant<add, get>;

troupe::behavior<counter_msg> counter(int total) {
  return troupe::receive<counter_msg>(
      [=](const add& m) { return counter(total + m.n); },
      [=](const get& m) { m.reply_to.tell(total); return troupe::same; });
}

int main() {
  troupe::system sys;
  auto c = sys.spawn(counter(0));
  c.tell(add{40});
  c.tell(add{2});
  troupe::result<int> v = c.ask<int>([](troupe::ref<int> r) { return get{r}; }, 5s).get();
  if (!v) {
    std::fprintf(stderr, "consumer: ask failed: %s\n", v.error().message().c_str());
    return 1;
  }
  if (*v != 42) {
    std::fprintf(stderr, "consumer: expected 42, got %d\n", *v);
    return 1;
  }
  troupe::otp::ignore_ref<int>().tell(1);  // troupe::otp
  troupe::io::frame_decoder lines{{troupe::io::framing::line, 80}};  // troupe::io
  lines.feed("he");
  lines.feed("llo\n");
  auto frame = lines.next();
  if (!frame || !*frame || **frame != "hello") {
    std::fprintf(stderr, "consumer: the io layer's line decoder did not give back \"hello\"\n");
    return 1;
  }
  troupe::testkit::virtual_clock clock;  // troupe::testkit
  bool fired = false;
  clock.schedule_at(clock.now() + 5s, [&](bool f) { fired = f; });
  clock.set_time(clock.now() + 5s);
  if (!clock.fire_next_due() || !fired) {
    std::fprintf(stderr, "consumer: the testkit's virtual clock did not fire a due action\n");
    return 1;
  }
  troupe::observe::metrics_registry registry;  // troupe::observe
  registry.counter("consumer_runs_total", "Runs.").inc();
  if (troupe::observe::to_prometheus_text(registry.collect()).find("consumer_runs_total 1\n") == std::string::npos) {
    std::fprintf(stderr, "consumer: the observe layer's Prometheus text lacks the counter\n");
    return 1;
  }
  std::printf("consumer: find_package(troupe) works, the counter says %d\n", *v);
  return 0;
}
