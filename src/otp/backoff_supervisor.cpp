// backoff_supervisor.cpp: one child, restarted after a growing, jittered delay.
#include "troupe/otp/backoff_supervisor.hpp"

#include <algorithm>
#include <cmath>
#include <memory>
#include <random>
#include <utility>

#include "troupe/core/extension.hpp"

namespace troupe::otp {

std::chrono::nanoseconds backoff_delay(const backoff_options& opts, unsigned attempt, double random01) {
  using ns = std::chrono::nanoseconds;
  // Doubling in floating point: 2^attempt overflows an integer long before max_backoff caps it.
  const double base = static_cast<double>(ns(opts.min_backoff).count()) * std::pow(2.0, std::min(attempt, 62u));
  const double capped = std::min(base, static_cast<double>(ns(opts.max_backoff).count()));
  return ns(static_cast<ns::rep>(capped * (1.0 + random01 * std::max(0.0, opts.random_factor))));
}

namespace {

class backoff_state {
 public:
  backoff_state(actor_context<backoff_msg>& ctx, backoff_start start, backoff_options opts, backoff_child_options child)
      : ctx_(ctx), start_(std::move(start)), opts_(opts), child_(std::move(child)),
        rng_(opts.seed != 0 ? opts.seed : ctx.id().serial) {}

  void start() {
    child_ref r;
    try {
      r = start_(ctx_);
    } catch (...) {
      return failed(exit_reason{exit_reason::kind::exception, "start failed"});
    }
    ref_ = r;
    if (!ref_) return ctx_.stop();  // the start chose not to start it: nothing to supervise
    ctx_.watch(ref_, [](terminated&& t) { return detail::child_exited{t.who, std::move(t.reason)}; });
    if (failures_ != 0) ctx_.start_timer("reset", detail::backoff_reset{}, opts_.reset_after);
  }

  void on(const get_backoff_status& s) { s.reply_to.tell(backoff_status{ref_, failures_}); }
  void on(const detail::backoff_reset&) { failures_ = 0; }
  void on(const detail::backoff_restart&) {
    if (!stopping_) start();
  }
  void on(const stop_tree&) {
    stopping_ = true;
    ctx_.cancel_timer("restart");
    if (!ref_) return ctx_.stop();
    if (child_.shutdown == kill_immediately) {
      ctx_.kill(ref_, "killed by its backoff supervisor");
      return;
    }
    troupe::request_stop(ref_, {exit_reason::kind::shutdown, {}});
    if (child_.shutdown != troupe::infinity)
      ctx_.start_timer("shutdown", detail::shutdown_timeout{ref_.id()}, child_.shutdown);
  }
  void on(const detail::shutdown_timeout& t) {
    if (ref_ && ref_.id() == t.who) ctx_.kill(ref_, "killed by its backoff supervisor after its shutdown time");
  }
  void on(const detail::child_exited& e) {
    if (!ref_ || ref_.id() != e.who) return;
    ref_ = {};
    ctx_.cancel_timer("reset");
    if (stopping_) return ctx_.stop();
    const auto type = child_.restart;
    if (type == restart_type::temporary || (type == restart_type::transient && !e.reason.is_failure()))
      return ctx_.stop();
    failed(e.reason);
  }

 private:
  void failed(const exit_reason&) {
    std::uniform_real_distribution<double> jitter(0.0, 1.0);
    ctx_.start_timer("restart", detail::backoff_restart{}, backoff_delay(opts_, failures_, jitter(rng_)));
    ++failures_;
  }

  actor_context<backoff_msg>& ctx_;  // its own: this state lives in its behaviour
  backoff_start start_;
  backoff_options opts_;
  backoff_child_options child_;
  std::mt19937_64 rng_;
  child_ref ref_;
  unsigned failures_ = 0;
  bool stopping_ = false;
};

}  // namespace

behavior<backoff_msg> backoff_supervisor(backoff_start start, backoff_options opts, backoff_child_options child) {
  return setup<backoff_msg>([start = std::move(start), opts, child = std::move(child)](
                                actor_context<backoff_msg>& ctx) mutable -> behavior<backoff_msg> {
    auto state = std::make_shared<backoff_state>(ctx, std::move(start), opts, std::move(child));
    state->start();
    return receive<backoff_msg>([state](const auto& m) { state->on(m); });
  });
}

}  // namespace troupe::otp
