// event_logger: a gen_event in troupe: one event manager, two handlers added at runtime.
//
// A console handler prints every log line; a memory handler keeps the last few lines and
// answers calls for them. The memory handler is added with add_sup_handler, so a watcher actor
// hears when it goes; when it throws on a line it cannot take, the manager removes it and lives
// on, and the console keeps logging. Run it: <build>/examples/event_logger/event_logger
#include <cstddef>
#include <deque>
#include <future>
#include <iostream>
#include <memory>
#include <stdexcept>
#include <string>
#include <vector>

#include "troupe/otp/event_manager.hpp"
#include "troupe/troupe.hpp"

namespace otp = troupe::otp;

void print(const std::string& line) { std::cout << line + '\n'; }

struct log_line {
  std::string level;
  std::string text;
};

// Prints every line.
class console_handler : public otp::event_handler<log_line> {
 public:
  void handle_event(const log_line& l) override { print("[" + l.level + "] " + l.text); }
};

// Keeps the last `keep` lines. An empty line is a bug upstream: it throws, and is removed.
class memory_handler : public otp::event_handler<log_line> {
 public:
  explicit memory_handler(std::size_t keep) : keep_(keep) {}
  void handle_event(const log_line& l) override {
    if (l.text.empty()) throw std::invalid_argument("memory_handler: an empty log line");
    lines_.push_back(l.level + ": " + l.text);
    if (lines_.size() > keep_) lines_.pop_front();
  }
  std::vector<std::string> last() const { return {lines_.begin(), lines_.end()}; }

 private:
  std::size_t keep_;
  std::deque<std::string> lines_;
};

// Hears when a handler it added goes away.
troupe::behavior<otp::handler_removed> handler_watcher(std::promise<otp::handler_removed>& gone) {
  return troupe::receive<otp::handler_removed>([&gone](otp::handler_removed h) {
    gone.set_value(std::move(h));
    return troupe::stopped;
  });
}

int main() {
  troupe::system sys;
  auto logger = otp::event_manager<log_line>::start(sys, {.name = "logger"});

  std::promise<otp::handler_removed> removed;
  auto watcher = sys.spawn(handler_watcher(removed));
  logger.add_handler<console_handler>("console").get().value();  // by type
  logger.add_sup_handler("memory", std::make_unique<memory_handler>(2), watcher).get().value();  // by instance, supervised

  logger.notify({"info", "service starting"});
  logger.notify({"warn", "disk 91% full"});
  logger.sync_notify({"info", "service ready"}).get().value();  // every handler has run

  auto last = logger.call<memory_handler>("memory", [](memory_handler& m) { return m.last(); }).get().value();
  print("memory keeps: " + last.at(0) + " | " + last.at(1));

  logger.notify({"error", ""});  // the memory handler throws: it is removed, the manager lives on
  otp::handler_removed gone = removed.get_future().get();
  print("watcher: handler '" + gone.id + "' removed: " + gone.reason.describe());

  logger.sync_notify({"info", "still logging"}).get().value();
  auto left = logger.which_handlers().get().value();
  print("event_logger: " + std::to_string(left.size()) + " handler left: " + left.at(0));
  return left.size() == 1 && left[0] == "console" && last.size() == 2 ? 0 : 1;
}
