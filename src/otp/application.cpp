// application.cpp: the root supervisor, a top-level watcher that reports its end, and the
// thread that waits for that report and then shuts the system down.
#include "troupe/otp/application.hpp"

#include <utility>
#include <variant>

namespace troupe::otp {

namespace {

// Reports "the system stopped the watcher first" if the watcher goes before the root's end
// reached it (system shutdown from elsewhere), so that run() never waits forever.
struct report_on_destroy {
  explicit report_on_destroy(std::shared_ptr<application::outcome> o) : out(std::move(o)) {}
  std::shared_ptr<application::outcome> out;
  report_on_destroy(const report_on_destroy&) = delete;
  report_on_destroy& operator=(const report_on_destroy&) = delete;
  ~report_on_destroy() { out->set({exit_reason::kind::shutdown, "the system stopped"}); }
};

}  // namespace

void application::outcome::set(exit_reason r) {
  {
    std::lock_guard lock(mu);
    if (reason) return;  // the first report wins
    reason = std::move(r);
  }
  cv.notify_all();
}

application::application(system& sys, application_spec spec)
    : sys_(&sys), name_(std::move(spec.name)), type_(spec.type), outcome_(std::make_shared<outcome>()) {
  root_ = sys.spawn(supervisor(std::move(spec.root)), {.name = name_});
  using watcher_msg = std::variant<terminated>;
  auto guard = std::make_shared<report_on_destroy>(outcome_);
  sys.spawn(setup<watcher_msg>([root = root_, guard](actor_context<watcher_msg>& ctx) {
    ctx.watch(root);
    return receive<watcher_msg>([guard](terminated&& t) {
      guard->out->set(std::move(t.reason));
      return stopped;
    });
  }));
  // As OTP's application:start, return once the root has started its children: a request is
  // handled only after the setup that starts them. If the root failed instead, the ask ends
  // with receiver_dead and run() reports the failure at once.
  (void)root_.ask<child_counts>([](ref<child_counts> r) { return count_children{std::move(r)}; },
                                troupe::infinity)
      .get();
}

application::~application() {
  if (!sys_->stopping()) stop();
}

exit_reason application::run() {
  std::unique_lock lock(outcome_->mu);
  outcome_->cv.wait(lock, [&] { return outcome_->reason.has_value(); });
  auto r = *outcome_->reason;
  lock.unlock();
  return finish(std::move(r));
}

std::optional<exit_reason> application::run_for(std::chrono::nanoseconds timeout) {
  std::unique_lock lock(outcome_->mu);
  if (!outcome_->cv.wait_for(lock, timeout, [&] { return outcome_->reason.has_value(); })) return std::nullopt;
  auto r = *outcome_->reason;
  lock.unlock();
  return finish(std::move(r));
}

exit_reason application::stop() {
  stop_requested_ = true;
  std::unique_lock lock(outcome_->mu);
  if (outcome_->reason) return *outcome_->reason;  // ended already: nothing to stop
  root_.tell(stop_tree{});
  outcome_->cv.wait(lock, [&] { return outcome_->reason.has_value(); });
  return *outcome_->reason;
}

exit_reason application::finish(exit_reason r) {
  const bool shut = !stop_requested_ && (type_ == application_type::permanent ||
                                         (type_ == application_type::transient && r.is_failure()));
  if (shut) sys_->shutdown();
  return r;
}

}  // namespace troupe::otp
