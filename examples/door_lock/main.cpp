// door_lock: a gen_statem in troupe: OTP's code lock, with a state timeout that relocks.
//
// The door is locked until the right code is pressed; then it opens, and relocks by itself
// after a while (a state timeout: leaving the state cancels it). Pressing buttons while it is
// open is postponed, not lost: the presses count toward the next code once it is locked again.
// A pause between presses clears the entry (an event timeout: any press cancels it).
// Run it: <build>/examples/door_lock/door_lock
#include <chrono>
#include <iostream>
#include <string>
#include <variant>

#include "troupe/otp/call.hpp"
#include "troupe/otp/state_machine.hpp"
#include "troupe/troupe.hpp"

using namespace std::chrono_literals;
namespace otp = troupe::otp;

void print(const std::string& line) { std::cout << line + '\n'; }

// --- events -----------------------------------------------------------------------------------
struct button {
  char digit;
};
struct relock {};        // the state timeout's event
struct clear_entry {};   // the event timeout's event
struct status {          // a call: "locked" or "open"
  otp::reply_to<std::string> reply_to;
};
struct when_locked {     // a call answered once the door is locked (postponed while open)
  otp::reply_to<std::string> reply_to;
};
struct times_opened {    // a call
  otp::reply_to<int> reply_to;
};
using door_event = std::variant<button, relock, clear_entry, status, when_locked, times_opened>;

// --- states: each holds its own data ----------------------------------------------------------
struct locked {
  std::string entered;  // the digits pressed so far
};
struct open {};
using door_state = std::variant<locked, open>;

class door : public otp::state_machine<door_event, door_state> {
 public:
  door(std::string code, std::chrono::nanoseconds open_time)
      : state_machine(locked{}), code_(std::move(code)), open_time_(open_time) {}

  // locked
  void on(locked& s, const button& b) {
    s.entered += b.digit;
    if (s.entered == code_) {
      transition(open{});
    } else if (code_.compare(0, s.entered.size(), s.entered) != 0) {
      s.entered.clear();  // a wrong digit: start over
    } else {
      event_timeout(10s, clear_entry{});  // a long pause clears the entry
    }
  }
  void on(locked& s, clear_entry) { s.entered.clear(); }
  void on(locked&, const when_locked& w) { w.reply_to.reply("locked"); }

  // open
  void enter(open&) {
    ++opened_;
    print("door: open");
    state_timeout(open_time_, relock{});  // relock unless something else leaves the state first
  }
  void on(open&, relock) { transition(locked{}); }
  void on(open&, const button&) { postpone(); }       // retried once locked again
  void on(open&, const when_locked&) { postpone(); }  // answered once locked again

  void enter(locked&) { print("door: locked"); }

  // any state
  template <class State>
  void on(State&, const status& s) {
    s.reply_to.reply(std::holds_alternative<open>(state()) ? "open" : "locked");
  }
  template <class State>
  void on(State&, const times_opened& t) {
    t.reply_to.reply(opened_);
  }
  template <class State, class Event>
  void on(State&, const Event&) {}  // everything else is ignored (a stale relock, a stale clear)

 private:
  std::string code_;
  std::chrono::nanoseconds open_time_;
  int opened_ = 0;
};

int main() {
  troupe::system sys;
  auto d = sys.spawn(otp::state_machine_of<door>(std::string("123"), 20ms));

  for (char c : std::string("123")) d.tell(button{c});
  print("main: the door is " + otp::call(d, status{}).get().value());

  // Pressed while open, the code is postponed: the state timeout relocks the door, the presses
  // replay and open it again. when_locked is postponed too, behind them: it is answered once
  // the door has relocked a second time.
  for (char c : std::string("123")) d.tell(button{c});
  std::string final_state = otp::call(d, when_locked{}).get().value();
  int opened = otp::call(d, times_opened{}).get().value();
  print("door_lock: opened " + std::to_string(opened) + " times, now " + final_state);
  return opened == 2 && final_state == "locked" ? 0 : 1;
}
