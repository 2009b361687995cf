// stop_signals_test.cpp: a real process stopped by SIGTERM or SIGINT stops its applications,
// the last started first, and exits 0; an application that ends on its own ends the run.
#include "troupe/otp/stop_signals.hpp"

#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <sys/wait.h>
#include <unistd.h>

#include <gtest/gtest.h>

#include <chrono>
#include <optional>
#include <stdexcept>
#include <string>
#include <thread>
#include <variant>
#include <vector>

#include "troupe/troupe.hpp"

namespace {

using namespace std::chrono_literals;
namespace otp = troupe::otp;

// tests/otp/stop_signals_main.cpp as a child process; its stdout read line by line with deadlines.
class program {
 public:
  program() {
    int out[2];
    if (::pipe2(out, O_CLOEXEC) != 0) throw std::runtime_error("pipe failed");
    pid_ = ::fork();
    if (pid_ < 0) throw std::runtime_error("fork failed");
    if (pid_ == 0) {
      ::dup2(out[1], 1);
      const char* exe = TROUPE_STOP_SIGNALS_PROGRAM;
      ::execl(exe, exe, static_cast<char*>(nullptr));
      ::_exit(127);
    }
    ::close(out[1]);
    from_ = out[0];
  }
  ~program() {
    if (pid_ > 0) {
      ::kill(pid_, SIGKILL);
      ::waitpid(pid_, nullptr, 0);
    }
    ::close(from_);
  }
  program(const program&) = delete;
  program& operator=(const program&) = delete;

  void signal(int s) { ::kill(pid_, s); }

  // The next line, or nothing at end of output or past the deadline.
  std::optional<std::string> line(std::chrono::milliseconds within) {
    const auto deadline = std::chrono::steady_clock::now() + within;
    for (;;) {
      if (auto nl = buf_.find('\n'); nl != std::string::npos) {
        auto l = buf_.substr(0, nl);
        buf_.erase(0, nl + 1);
        return l;
      }
      const auto left = std::chrono::duration_cast<std::chrono::milliseconds>(deadline - std::chrono::steady_clock::now());
      if (left.count() <= 0) return std::nullopt;
      pollfd p{from_, POLLIN, 0};
      if (::poll(&p, 1, static_cast<int>(left.count())) <= 0) continue;
      char chunk[512];
      const auto n = ::read(from_, chunk, sizeof chunk);
      if (n <= 0) return std::nullopt;
      buf_.append(chunk, static_cast<std::size_t>(n));
    }
  }

  // The exit status once the process has ended, waiting at most `within`.
  std::optional<int> exit_status(std::chrono::milliseconds within) {
    const auto deadline = std::chrono::steady_clock::now() + within;
    while (std::chrono::steady_clock::now() < deadline) {
      int status = 0;
      const pid_t r = ::waitpid(pid_, &status, WNOHANG);
      if (r == pid_) {
        pid_ = -1;
        return WIFEXITED(status) ? WEXITSTATUS(status) : 128 + WTERMSIG(status);
      }
      // The output is at its end already (the caller read it), so the process is exiting: yield
      // rather than sleep, under a deadline.
      std::this_thread::yield();
    }
    return std::nullopt;
  }

 private:
  pid_t pid_ = -1;
  int from_ = -1;
  std::string buf_;
};

void stops_in_order_on(int sig) {
  program p;
  ASSERT_EQ(p.line(10s).value_or("(nothing)"), "ready");
  p.signal(sig);
  std::vector<std::string> rest;
  while (auto l = p.line(10s)) rest.push_back(*l);
  EXPECT_EQ(rest, (std::vector<std::string>{"stopped web-worker", "stopped store-worker",
                                            "ran: signal=" + std::to_string(sig) + " ok=1"}));
  EXPECT_EQ(p.exit_status(10s), 0);
}

TEST(StopSignals, SigtermStopsTheApplicationsLastStartedFirstAndTheProgramExitsZero) { stops_in_order_on(SIGTERM); }

TEST(StopSignals, SigintStopsTheApplicationsLikeSigterm) { stops_in_order_on(SIGINT); }

struct crash {};
using crash_msg = std::variant<crash>;

TEST(StopSignals, AnApplicationThatGivesUpEndsTheRunAndTheOthersAreStopped) {
  troupe::system_config cfg;
  cfg.worker_threads = 1;
  cfg.log.level = troupe::log_level::off;  // the crash and the give-up are the point
  troupe::system sys{cfg};
  auto fragile = otp::child_spec{
      .id = "fragile", .start = [](otp::supervisor_context& ctx, const std::any&) -> otp::child_ref {
        return ctx.spawn(troupe::receive<crash_msg>([](crash) -> void { throw std::runtime_error("boom"); }),
                         {.name = "fragile"});
      }};
  auto calm = otp::child_spec{.id = "calm", .start = [](otp::supervisor_context& ctx, const std::any&) -> otp::child_ref {
                                return ctx.spawn(troupe::receive<crash_msg>([](crash) {}));
                              }};
  otp::application steady(sys, {.name = "steady", .root = {.children = {calm}}, .type = otp::application_type::temporary});
  otp::application shaky(sys, {.name = "shaky",
                               .root = {.flags = {.max_restarts = 0}, .children = {fragile}},
                               .type = otp::application_type::temporary});
  otp::stop_signals signals;
  sys.lookup<crash_msg>("fragile").value().tell(crash{});
  auto how = signals.run({&steady, &shaky}, 5ms);
  EXPECT_FALSE(how.signal);
  EXPECT_EQ(how.application, "shaky");
  EXPECT_TRUE(how.reason.is_failure());
  EXPECT_FALSE(how.ok());
  EXPECT_TRUE(steady.run_for(0ms).has_value());  // stopped by run(), after shaky's end
}

}  // namespace
