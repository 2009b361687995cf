// chat_room: a pub-sub chat room built on process groups.
//
// Each user is an actor that joins the room's group. Posting to the room is one broadcast to
// the group's members; a member that leaves, or stops, stops receiving at once. A moderator
// subscribes to the group's membership and announces who came and went, as the room's own
// lines. main drives the conversation and waits by asking, never by sleeping.
// Run it: <build>/examples/chat_room/chat_room
#include <chrono>
#include <cstddef>
#include <iostream>
#include <string>
#include <variant>
#include <vector>

#include "troupe/otp/process_groups.hpp"
#include "troupe/troupe.hpp"

using namespace std::chrono_literals;

// Several workers print at once: one write per line keeps lines whole.
void print(const std::string& line) { std::cout << line + '\n'; }

// --- users ------------------------------------------------------------------------------------
struct line {
  std::string from;
  std::string text;
};
struct lines_seen {
  troupe::ref<std::size_t> reply_to;
};
struct leave_room {};
using user_msg = std::variant<line, lines_seen, leave_room>;

const troupe::otp::group<user_msg> lobby{"lobby"};

troupe::behavior<user_msg> user(std::string name, std::size_t seen) {
  return troupe::receive<user_msg>(
      [=](const line& l) {
        print("  [" + name + "'s screen] " + l.from + ": " + l.text);
        return user(name, seen + 1);
      },
      [=](const lines_seen& q) { q.reply_to.tell(seen); },
      [](leave_room) { return troupe::stopped; });  // stopping leaves every group
}

// --- the moderator announces membership changes to the room -----------------------------------
troupe::behavior<troupe::otp::group_event<user_msg>> moderator(troupe::otp::process_groups& pg) {
  return troupe::receive<troupe::otp::group_event<user_msg>>([&pg](const troupe::otp::group_event<user_msg>& e) {
    pg.broadcast(lobby, line{"moderator", std::string(e.joined ? "someone joined" : "someone left") + " (" +
                                             std::to_string(pg.members(lobby).size()) + " here)"});
  });
}

std::size_t lines_seen_by(const troupe::ref<user_msg>& u) {
  return u.ask<std::size_t>([](troupe::ref<std::size_t> r) { return lines_seen{r}; }, 10s).get().value();
}

int main() {
  troupe::system sys;
  troupe::otp::process_groups pg(sys);  // a scope: must not outlive `sys`

  auto mod = sys.spawn(moderator(pg));
  pg.subscribe(lobby, mod);  // from now on, every join and leave

  auto ann = sys.spawn(user("ann", 0));
  auto bob = sys.spawn(user("bob", 0));
  pg.join(lobby, ann).value();
  pg.join(lobby, bob).value();
  pg.broadcast(lobby, line{"ann", "hi bob"});

  auto cy = sys.spawn(user("cy", 0));
  pg.join(lobby, cy).value();
  pg.broadcast(lobby, line{"cy", "hello both"});

  // bob leaves: at once, so he misses what follows. (Had he just stopped, the group would
  // have dropped him by itself a moment later.)
  auto bob_seen = lines_seen_by(bob);
  pg.leave(lobby, bob);
  bob.tell(leave_room{});
  pg.broadcast(lobby, line{"ann", "bye bob"});

  // Each ask is queued behind the lines broadcast before it, so the counts are final. The
  // moderator's announcements race with the posts, so only the posts are counted exactly.
  auto ann_seen = lines_seen_by(ann);
  auto cy_seen = lines_seen_by(cy);
  print("main: ann saw " + std::to_string(ann_seen) + " lines, bob " + std::to_string(bob_seen) + ", cy " +
        std::to_string(cy_seen));
  bool ok = ann_seen >= 3 && cy_seen >= 2 && bob_seen >= 2 && pg.members(lobby).size() == 2;
  print(ok ? "chat_room: everyone heard what was said while they were there" : "chat_room: WRONG");
  return ok ? 0 : 1;
}
