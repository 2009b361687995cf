// test_system.cpp: a troupe::system on a deterministic scheduler and a virtual clock.
#include "troupe/testkit/test_system.hpp"

#include <mutex>

#include "troupe/testkit/detail/recorder.hpp"

namespace troupe::testkit {

struct test_system::capture {
  mutable std::mutex mu;
  std::vector<log_line> lines;  // guarded by mu
  std::shared_ptr<detail::record_queue<dead_letter>> dead = std::make_shared<detail::record_queue<dead_letter>>();
};

test_system::test_system(std::uint64_t seed) : test_system(test_system_options{.seed = seed}) {}

test_system::test_system(test_system_options opts)
    : scheduler_(std::make_shared<deterministic_scheduler>(opts.seed, opts.messages_per_turn)),
      clock_(std::make_shared<virtual_clock>()),
      start_(clock_->now()),
      capture_(std::make_shared<capture>()) {
  system_config cfg;
  cfg.scheduler = scheduler_;
  cfg.timers = clock_;
  cfg.observer = std::move(opts.observer);
  cfg.messages_per_turn = opts.messages_per_turn;
  // The watchdog's periodic timer would keep advance() busy for nothing: a virtual turn never
  // holds a thread in real time anyway.
  cfg.long_turn_threshold = std::chrono::milliseconds(0);
  cfg.log.level = log_level::trace;  // a test sees every record; it may raise the level itself
  cfg.logger = [c = capture_](log_level level, std::string_view text) {
    std::lock_guard lock(c->mu);
    c->lines.push_back({level, std::string(text)});
  };
  capture_->dead->clock = [clock = clock_] { return clock->now(); };
  system_ = std::make_unique<troupe::system>(std::move(cfg));
  system_->subscribe_dead_letters(detail::make_recorder_ref(capture_->dead, actor_id{}));
}

test_system::~test_system() = default;

bool test_system::run_one() { return scheduler_->run_one(); }

std::size_t test_system::run_until_idle() {
  std::size_t turns = 0;
  do {
    turns += scheduler_->run_until_idle();
  } while (clock_->fire_next_due());
  return turns;
}

void test_system::advance(std::chrono::nanoseconds d) {
  advance_until([] { return false; }, d);
}

bool test_system::advance_until(const std::function<bool()>& done, std::chrono::nanoseconds within) {
  const auto target = clock_->now() + within;
  for (;;) {
    run_until_idle();
    if (done()) return true;
    auto next = clock_->next_due();
    if (!next || *next > target) break;
    clock_->set_time(*next);  // the next run_until_idle fires it, and whatever else is due then
  }
  clock_->set_time(target);
  run_until_idle();
  return done();
}

std::vector<log_line> test_system::logs() const {
  std::lock_guard lock(capture_->mu);
  return capture_->lines;
}

bool test_system::logged(std::string_view fragment) const {
  std::lock_guard lock(capture_->mu);
  for (auto& l : capture_->lines)
    if (l.text.find(fragment) != std::string::npos) return true;
  return false;
}

std::vector<dead_letter> test_system::dead_letters() const {
  std::lock_guard lock(capture_->dead->mu);
  std::vector<dead_letter> out;
  for (auto& r : capture_->dead->items) out.push_back(r.message);
  return out;
}

}  // namespace troupe::testkit
