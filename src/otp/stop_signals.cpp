// stop_signals.cpp: SIGINT and SIGTERM taken synchronously with sigtimedwait, so no handler runs
// at an arbitrary point of an arbitrary thread: the thread that waits is the one that stops the
// applications, with every lock it may need free.
#include "troupe/otp/stop_signals.hpp"

#include <pthread.h>

#include <cerrno>
#include <ctime>
#include <vector>

namespace troupe::otp {

stop_signals::stop_signals() {
  sigemptyset(&stop_set_);
  sigaddset(&stop_set_, SIGINT);
  sigaddset(&stop_set_, SIGTERM);
  pthread_sigmask(SIG_BLOCK, &stop_set_, &old_mask_);
}

stop_signals::~stop_signals() { pthread_sigmask(SIG_SETMASK, &old_mask_, nullptr); }

std::optional<int> stop_signals::wait_for(std::chrono::nanoseconds timeout) {
  if (timeout.count() < 0) timeout = {};
  const auto secs = std::chrono::duration_cast<std::chrono::seconds>(timeout);
  timespec ts{static_cast<std::time_t>(secs.count()), static_cast<long>((timeout - secs).count())};
  for (;;) {
    const int s = sigtimedwait(&stop_set_, nullptr, &ts);
    if (s > 0) return s;
    if (errno != EINTR) return std::nullopt;  // EAGAIN: the time is up
    // EINTR: another signal's handler ran; waiting the whole time again errs on the long side,
    // which only delays noticing an application's end by one poll.
  }
}

run_outcome stop_signals::run(std::initializer_list<application*> apps, std::chrono::nanoseconds poll) {
  const std::vector<application*> order(apps);
  run_outcome out;
  for (;;) {
    if (auto s = wait_for(poll)) {
      out.signal = *s;
      break;
    }
    bool ended = false;
    for (auto* app : order) {
      if (auto why = app->run_for(std::chrono::nanoseconds(0))) {
        out.application = app->name();
        out.reason = std::move(*why);
        ended = true;
        break;
      }
    }
    if (ended) break;
  }
  // The reverse of the start order, as OTP's init stops applications: a later application may
  // use an earlier one (a web front over a store), never the other way round.
  for (auto it = order.rbegin(); it != order.rend(); ++it) (*it)->stop();
  return out;
}

}  // namespace troupe::otp
