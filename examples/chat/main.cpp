// chat: a chat server you can talk to with `nc`. A line protocol:
//
//     /nick <name>    choose a nickname (unique)    /join <room>   join a room (leaving the last one)
//     /leave          leave the room                /who           who is in the room
//     /rooms          the rooms with people in them /quit          leave
//     anything else   said to the room, as "<nick>: <text>"
//
//     chat [port]          serves on 127.0.0.1:<port> (1 to 65535, 7000 by default) until Ctrl-C
//     chat --self-test     serves on a free port, has clients talk through it, and exits
//     chat --help          prints this usage
// Nicknames and room names are 1 to 20 letters, digits, - or _; a line is at most 1024 bytes
// (a longer one is answered with an error, then the connection closes).
//
// Each connection is an actor (a session). Rooms are process groups (otp/process_groups.hpp):
// a session joins the group named for its room, a line said in the room is a broadcast to the
// group's members, and a session that disconnects or crashes leaves every group by itself,
// because the scope watches its members. Nicknames are groups too, in a second scope: the group
// named "ann" holds the one session called ann. A nickname registry actor grants them, one claim
// at a time, so two clients never get the same name.
//
// Supervision: an otp::application runs the tree. Its root supervisor (one_for_one) starts the
// nickname registry, registered as "nicknames", and the listener, under a backoff supervisor
// (a restarted listener binds its port again, which the old socket may hold for a moment, so it
// waits and retries rather than failing at once). The sessions are the listener's children. The
// registry keeps no state of its own (the names live in their scope), so a restarted registry
// forgets nothing: the self-test kills it and checks that a new client still gets a nickname,
// and that the old ones are still taken.
#include <arpa/inet.h>
#include <netinet/in.h>
#include <poll.h>
#include <sys/socket.h>
#include <unistd.h>

#include <cctype>
#include <chrono>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <future>
#include <iostream>
#include <map>
#include <memory>
#include <mutex>
#include <optional>
#include <stdexcept>
#include <string>
#include <thread>
#include <variant>
#include <vector>

#include "troupe/io/io_service.hpp"
#include "troupe/io/listener.hpp"
#include "troupe/otp/application.hpp"
#include "troupe/otp/backoff_supervisor.hpp"
#include "troupe/otp/process_groups.hpp"
#include "troupe/otp/stop_signals.hpp"
#include "troupe/otp/supervisor.hpp"
#include "troupe/troupe.hpp"
#include "web.hpp"  // the browser side: a page and WebSockets

namespace io = troupe::io;
namespace otp = troupe::otp;
using namespace std::chrono_literals;

// --- protocols ------------------------------------------------------------------------------
struct said {  // a line for the session's client
  std::string line;
};
struct nick_answer {  // the registry's answer to a claim (or why there is none)
  std::string nick;
  troupe::result<bool> granted;
};
using session_msg = std::variant<io::received, io::closed, said, nick_answer, io::ws_received, io::ws_closed>;

struct claim {  // to the registry: make `nick` the name of `who`, in place of `old`
  std::string nick, old;
  troupe::ref<session_msg> who;
  troupe::ref<bool> reply_to;  // true: granted; false: someone else has it
};
using nickname_msg = std::variant<claim>;

otp::group<session_msg> room_group(std::string name) { return {std::move(name)}; }
otp::group<session_msg> nick_group(std::string name) { return {std::move(name)}; }

// What the sessions and the registry share. main owns it; it outlives the application, and the
// scopes are destroyed before the system (a scope must not outlive its system).
struct chat_env {
  chat_env(io::io_service& i, troupe::system& s) : ios(i), sys(s), rooms(s), nicknames(s) {}
  io::io_service& ios;
  troupe::system& sys;            // to find the registry by name, whichever incarnation runs
  otp::process_groups rooms;      // group "<room>": the sessions in that room
  otp::process_groups nicknames;  // group "<nick>": the one session with that nickname
};

// --- the nickname registry: grants nicknames one claim at a time -----------------------------
// Checking that a name is free and taking it must not interleave with another claim, so one
// actor does both. The names themselves live in the nickname scope, not here: a restarted
// registry starts with every name still taken, and a session that stops frees its name by itself.
troupe::behavior<nickname_msg> nickname_registry(chat_env& env) {
  return troupe::receive<nickname_msg>([&env](const claim& c) {
    auto holders = env.nicknames.members(nick_group(c.nick));
    bool granted = holders.empty() || holders.front() == c.who;
    granted = granted && env.nicknames.join(nick_group(c.nick), c.who).has_value();  // false: `who` stopped
    if (granted && c.old != c.nick) env.nicknames.leave(nick_group(c.old), c.who);
    c.reply_to.tell(granted);
  });
}

// --- a session: one connection --------------------------------------------------------------
// The longest line a client may send. The transport's own frame limit is far above it, so a
// line over this one is still read whole and answered with an error before the session ends.
constexpr std::size_t max_line = 1024;

// Nicknames and room names: 1 to 20 letters, digits, - or _ (no spaces, no control characters).
bool valid_name(const std::string& n) {
  if (n.empty() || n.size() > 20) return false;
  for (char ch : n)
    if (!std::isalnum(static_cast<unsigned char>(ch)) && ch != '-' && ch != '_') return false;
  return true;
}

class session : public troupe::actor<session_msg> {
 public:
  session(troupe::actor_context<session_msg>& ctx, chat_transport c, chat_env& env)
      : conn_(std::move(c)), env_(env), nick_("guest" + std::to_string(ctx.id().serial)) {
    // Guests hold their name like everyone else ("guest" names cannot be claimed), so that
    // /who can name every member.
    env_.nicknames.join(nick_group(nick_), ctx.self()).value();
    send("welcome, " + nick_ + "! commands: /nick <name>, /join <room>, /leave, /who, /rooms, /quit");
    conn_.request();
  }

  troupe::behavior<session_msg> on(io::received&& r) {
    const std::string& line = r.data;
    if (line.size() > max_line) {
      send("* a line is at most " + std::to_string(max_line) + " bytes; closing the connection");
      return troupe::stopped;  // the socket closes once the error is written
    }
    if (line.starts_with("/nick ")) {
      claim_nick(line.substr(6));
    } else if (line == "/join" || line.starts_with("/join ")) {
      join(line.size() > 6 ? line.substr(6) : std::string());
    } else if (line == "/leave") {
      const std::string was = room_;
      if (leave()) send("* you left " + was);
      else send("* not in a room: /join <room>");
    } else if (line == "/who") {
      who();
    } else if (line == "/rooms") {
      auto names = env_.rooms.which_groups<session_msg>();
      std::string out = names.empty() ? "* no rooms yet: /join <room>" : "* rooms:";
      for (auto& n : names) out += " " + n;
      send(out);
    } else if (line == "/quit") {
      leave();
      send("bye");
      return troupe::stopped;  // the socket closes once "bye" is written
    } else if (line.starts_with("/")) {
      send("* unknown command: /nick <name>, /join <room>, /leave, /who, /rooms, /quit");
    } else if (!line.empty()) {
      if (!room_.empty()) env_.rooms.broadcast(room_group(room_), said{nick_ + ": " + line});
      else send("* not in a room: /join <room>");
    }
    conn_.request();  // demand: the next line only now
    return troupe::same;
  }
  troupe::behavior<session_msg> on(const io::closed&) {
    // No leave: stopping takes this session out of its room and frees its nickname, because
    // the scopes watch their members. Only the goodbye is ours to say.
    if (!room_.empty()) tell_others("* " + nick_ + " left " + room_ + " (disconnected)");
    return troupe::stopped;
  }
  void on(const said& s) { send(s.line); }
  // A browser: one message is one line (web.hpp).
  troupe::behavior<session_msg> on(io::ws_received&& m) { return on(io::received{std::move(m.data)}); }
  troupe::behavior<session_msg> on(const io::ws_closed&) { return on(io::closed{}); }
  void on(nick_answer&& a) {
    claiming_ = false;
    if (!a.granted) return send("* the nickname registry did not answer; try again");
    if (!*a.granted) return send("* " + a.nick + " is taken");
    if (!room_.empty()) tell_others("* " + nick_ + " is now " + a.nick);
    nick_ = std::move(a.nick);
    send("* you are " + nick_);
  }

 private:
  void claim_nick(const std::string& wanted) {
    if (!valid_nick(wanted)) return send("* a nickname is 1 to 20 letters, digits, - or _, and not guest...");
    if (claiming_) return send("* a nickname change is already under way");
    // By name, not by a ref kept from the start: after a restart the name leads to the new one.
    auto registry = env_.sys.lookup<nickname_msg>("nicknames");
    if (!registry) return send("* the nickname registry is restarting; try again");
    claiming_ = true;
    context().ask<bool>(
        *registry, [c = claim{wanted, nick_, context().self(), {}}](troupe::ref<bool> r) mutable {
          c.reply_to = std::move(r);
          return c;
        },
        2s, [wanted](troupe::result<bool>&& granted) { return nick_answer{wanted, std::move(granted)}; });
  }
  static bool valid_nick(const std::string& n) { return valid_name(n) && !n.starts_with("guest"); }

  void join(const std::string& room) {
    if (!valid_name(room)) return send("* a room name is 1 to 20 letters, digits, - or _");
    if (room == room_) return send("* you are already in " + room);
    leave();
    env_.rooms.join(room_group(room), context().self()).value();  // cannot fail: we are running
    room_ = room;
    tell_others("* " + nick_ + " joined " + room_);
    send("* you are in " + room_);
  }
  // Leaves the room, telling those who stay; false when in none.
  bool leave() {
    if (room_.empty()) return false;
    env_.rooms.leave(room_group(room_), context().self());
    env_.rooms.broadcast(room_group(room_), said{"* " + nick_ + " left " + room_});
    room_.clear();
    return true;
  }
  void who() {
    if (room_.empty()) return send("* not in a room: /join <room>");
    // Every session holds exactly one nickname group: invert the scope to name the members.
    // (Linear in the users online; a large server would keep a reverse index.)
    std::map<std::uint64_t, std::string> nick_of;
    for (auto& n : env_.nicknames.which_groups<session_msg>())
      for (auto& m : env_.nicknames.members(nick_group(n))) nick_of[m.id().serial] = n;
    std::string line = "* in " + room_ + ":";
    for (auto& m : env_.rooms.members(room_group(room_))) {
      auto it = nick_of.find(m.id().serial);
      line += " " + (it == nick_of.end() ? std::string("?") : it->second);
    }
    send(line);
  }
  void tell_others(const std::string& line) {
    const auto me = context().self();
    for (auto& m : env_.rooms.members(room_group(room_)))
      if (m != me) m.tell(said{line});
  }
  void send(const std::string& line) {
    // The queue is bounded; a client that does not read is closed (overflow_policy::close).
    (void)conn_.write(line);
  }

  chat_transport conn_;  // nc (TCP) or a browser (WebSocket): lines either way
  chat_env& env_;
  std::string nick_;
  std::string room_;  // empty: in none
  bool claiming_ = false;
};

// --- the supervision tree ---------------------------------------------------------------------
// Where the listener listens. The first bind chooses the port (0: any free one) and reports it,
// or its error, to main; a restarted listener binds that same port again.
struct listening {
  explicit listening(std::uint16_t p) : port(p) {}
  std::mutex mu;
  std::uint16_t port = 0;  // guarded by mu
  bool reported = false;   // guarded by mu
  std::promise<troupe::result<std::uint16_t>> first;
};

// The listener's start: binds, and spawns the acceptor as a child of the calling (backoff)
// supervisor; the sessions are the acceptor's children. A bind that fails throws, which the
// backoff supervisor answers by trying again later.
otp::child_ref start_listener(troupe::actor_context<otp::backoff_msg>& ctx, chat_env& env, listening& where) {
  std::unique_lock lock(where.mu);
  io::listen_options o;
  o.port = where.port;
  o.connection.framing = {io::framing::line, 64 * max_line};  // see max_line
  o.connection.max_write_queue = 64 * 1024;
  o.connection.on_full = io::overflow_policy::close;
  o.connection.idle_timeout = 30min;
  auto l = io::listen(ctx, env.ios, o, [&env](io::connection c) { return troupe::actor_of<session>(std::move(c), std::ref(env)); });
  if (l) where.port = l->port();
  if (!where.reported) {
    where.reported = true;
    where.first.set_value(l ? troupe::result<std::uint16_t>(l->port()) : troupe::result<std::uint16_t>(l.error()));
  }
  if (!l) throw std::runtime_error("cannot listen on port " + std::to_string(o.port) + ": " + l.error().message());
  return l->acceptor();
}

otp::supervisor_spec chat_tree(chat_env& env, std::shared_ptr<listening> where) {
  otp::child_spec listener{
      .id = "listener",
      .start = [&env, where](otp::supervisor_context& ctx, const std::any&) -> otp::child_ref {
        return ctx.spawn(otp::backoff_supervisor(
            otp::backoff_start([&env, where](troupe::actor_context<otp::backoff_msg>& b) {
              return start_listener(b, env, *where);
            }),
            {.min_backoff = 50ms, .max_backoff = 2s}, {}));
      },
      .kind = otp::child_kind::supervisor};
  return {.flags = {.strategy = otp::strategy::one_for_one, .max_restarts = 3, .within = 5s},
          .children = {otp::child("nicknames", [&env] { return nickname_registry(env); }, {.name = "nicknames"}),
                       std::move(listener)}};
}

// --- self test: clients talk through the server ---------------------------------------------
namespace {
class line_client {
 public:
  explicit line_client(std::uint16_t port) : fd_(::socket(AF_INET, SOCK_STREAM, 0)) {
    sockaddr_in a{};
    a.sin_family = AF_INET;
    a.sin_port = htons(port);
    a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    if (::connect(fd_, reinterpret_cast<sockaddr*>(&a), sizeof a) != 0) throw std::runtime_error("connect");
  }
  ~line_client() { ::close(fd_); }
  line_client(const line_client&) = delete;
  line_client& operator=(const line_client&) = delete;
  void send(const std::string& s) {
    std::string line = s + "\n";
    if (::send(fd_, line.data(), line.size(), MSG_NOSIGNAL) != static_cast<ssize_t>(line.size()))
      throw std::runtime_error("send");
  }
  // Reads lines until one contains `want`, and returns it; nothing after 10 s.
  std::optional<std::string> line_with(const std::string& want) {
    auto end = std::chrono::steady_clock::now() + 10s;
    for (;;) {
      auto nl = buf_.find('\n');
      while (nl != std::string::npos) {
        std::string line = buf_.substr(0, nl);
        buf_.erase(0, nl + 1);
        if (line.find(want) != std::string::npos) return line;
        nl = buf_.find('\n');
      }
      auto left = std::chrono::duration_cast<std::chrono::milliseconds>(end - std::chrono::steady_clock::now());
      pollfd p{fd_, POLLIN, 0};
      if (left.count() <= 0 || ::poll(&p, 1, static_cast<int>(left.count())) <= 0) return std::nullopt;
      char b[1024];
      auto n = ::recv(fd_, b, sizeof b, 0);
      if (n <= 0) return std::nullopt;
      buf_.append(b, static_cast<std::size_t>(n));
    }
  }
  bool expect(const std::string& want) { return line_with(want).has_value(); }
  // True once the server has closed the connection (within 10 s), whatever came before.
  bool closed() {
    for (auto end = std::chrono::steady_clock::now() + 10s; std::chrono::steady_clock::now() < end;) {
      pollfd p{fd_, POLLIN, 0};
      if (::poll(&p, 1, 100) <= 0) continue;
      char b[1024];
      if (::recv(fd_, b, sizeof b, 0) <= 0) return true;
    }
    return false;
  }

 private:
  int fd_;
  std::string buf_;
};

// Kills an actor as a crash would (reason `killed`). Only an actor can kill: a one-shot one does.
template <class P>
void kill(troupe::system& sys, const troupe::ref<P>& victim) {
  sys.spawn(troupe::setup<int>([victim](troupe::actor_context<int>& ctx) -> troupe::behavior<int> {
    ctx.kill(victim, "killed by the self-test");
    return troupe::stopped;
  }));
}

// Asks `c` for /who until the answer is exactly `want` (a member that stopped leaves its
// groups a moment after it said goodbye); false after 10 s.
bool who_becomes(line_client& c, const std::string& want) {
  for (auto end = std::chrono::steady_clock::now() + 10s; std::chrono::steady_clock::now() < end;) {
    c.send("/who");
    auto line = c.line_with("* in ");
    if (!line) return false;
    if (*line == want) return true;
  }
  return false;
}

int self_test(troupe::system& sys, std::uint16_t port) {
  auto step = [](bool ok, const std::string& what) {
    std::cout << "chat: " << what << (ok ? "" : ": FAILED") << std::endl;
    return ok;
  };
  line_client alice(port);
  auto bob = std::make_unique<line_client>(port);  // bob will disconnect
  bool ok = alice.expect("welcome") && bob->expect("welcome");
  alice.send("/nick alice");
  ok = ok && alice.expect("* you are alice");
  bob->send("/nick alice");
  ok = ok && bob->expect("* alice is taken");
  bob->send("/nick bob");
  ok = ok && bob->expect("* you are bob");
  alice.send("/join lobby");
  ok = ok && alice.expect("* you are in lobby");
  bob->send("/join lobby");
  ok = ok && bob->expect("* you are in lobby") && alice.expect("* bob joined lobby");
  bob->send("hello, alice");
  ok = ok && alice.expect("bob: hello, alice") && bob->expect("bob: hello, alice");
  alice.send("/who");
  ok = ok && alice.line_with("* in lobby:") == "* in lobby: alice bob";
  alice.send("/rooms");
  ok = step(ok && alice.line_with("* rooms") == "* rooms: lobby", "nicknames, a room, /who and /rooms work");

  // Kill the nickname registry; its supervisor starts a new one under the same name.
  auto registry = sys.lookup<nickname_msg>("nicknames");
  ok = ok && registry.has_value();
  if (ok) kill(sys, *registry);
  bool restarted = false;
  for (auto end = std::chrono::steady_clock::now() + 10s; ok && !restarted && std::chrono::steady_clock::now() < end;) {
    auto now = sys.lookup<nickname_msg>("nicknames");
    restarted = now && now->id() != registry->id();
    if (!restarted) std::this_thread::yield();
  }
  ok = step(ok && restarted, "the nickname registry was killed and its supervisor restarted it");
  // The names live in their scope, not in the registry: alice is still taken.
  line_client carol(port);
  ok = ok && carol.expect("welcome");
  carol.send("/nick alice");
  ok = ok && carol.expect("* alice is taken");
  carol.send("/nick carol");
  ok = ok && carol.expect("* you are carol");
  carol.send("/join lobby");
  ok = ok && carol.expect("* you are in lobby") && alice.expect("* carol joined lobby");
  alice.send("still here");
  ok = step(ok && bob->expect("alice: still here") && carol.expect("alice: still here"),
            "after the restart, a new client got a nickname and the old ones were kept");

  // bob disconnects: he says goodbye, and the group drops him once he has stopped.
  bob.reset();
  ok = ok && alice.expect("* bob left lobby (disconnected)");
  ok = step(ok && who_becomes(alice, "* in lobby: alice carol"), "a client that disconnected left its room");
  carol.send("/leave");
  ok = ok && carol.expect("* you left lobby") && alice.expect("* carol left lobby");
  carol.send("/join");
  ok = ok && carol.expect("* a room name is");
  carol.send("/join bad\x01room");
  ok = ok && carol.expect("* a room name is");
  carol.send("/join two words");
  ok = step(ok && carol.expect("* a room name is"), "empty room names and names with control characters are refused");
  carol.send("/quit");
  ok = ok && carol.expect("bye");
  line_client dave(port);
  ok = ok && dave.expect("welcome");
  dave.send(std::string(max_line + 1, 'x'));
  ok = ok && dave.expect("* a line is at most 1024 bytes");
  ok = step(ok && dave.closed(), "a line over the limit is answered with an error, then the connection closes");
  std::cout << (ok ? "chat: self-test passed" : "chat: self-test FAILED") << std::endl;
  return ok ? 0 : 1;
}
}  // namespace

// The port argument: digits only, 1 to 65535; nothing else (no sign, no spaces, no suffix).
std::optional<std::uint16_t> parse_port(const std::string& s) {
  if (s.empty() || s.size() > 5) return std::nullopt;
  unsigned long n = 0;
  for (char ch : s) {
    if (ch < '0' || ch > '9') return std::nullopt;
    n = n * 10 + static_cast<unsigned long>(ch - '0');
  }
  if (n == 0 || n > 65535) return std::nullopt;
  return static_cast<std::uint16_t>(n);
}

const char* const usage =
    "usage: chat [port]       serve on 127.0.0.1:<port> (1 to 65535, default 7000) until Ctrl-C\n"
    "       chat --self-test  serve on a free port, run clients through it, and exit\n"
    "       chat --help       print this\n";

int main(int argc, char** argv) {
  const std::string arg = argc > 1 ? argv[1] : "";
  if (arg == "--help" || arg == "-h") {
    std::cout << usage;
    return 0;
  }
  const bool test = arg == "--self-test";
  std::uint16_t port = 7000;
  if (argc > 2 || (argc == 2 && !test)) {
    auto p = argc == 2 ? parse_port(arg) : std::nullopt;
    if (!p) {
      std::cerr << "chat: not a port: '" << (argc == 2 ? arg : std::string(argv[2])) << "'\n" << usage;
      return 2;
    }
    port = *p;
  }
  if (test) {
    const bool parsed = parse_port("7000") == 7000 && parse_port("65535") == 65535 && !parse_port("abc") &&
                        !parse_port("70000") && !parse_port("0") && !parse_port("-1") && !parse_port("80x") &&
                        !parse_port("") && !parse_port(" 80");
    std::cout << "chat: ports are parsed strictly" << (parsed ? "" : ": FAILED") << std::endl;
    if (!parsed) return 1;
  }
  // Before any thread starts (the io service's, the system's): they inherit the blocked SIGINT
  // and SIGTERM, so only signals.run below receives them (docs/supervision.md, "Running until a
  // signal").
  otp::stop_signals signals;

  io::io_service ios;  // before the system: it outlives the sessions
  troupe::system sys;
  chat_env env(ios, sys);  // after the system: its scopes go first
  auto where = std::make_shared<listening>(test ? std::uint16_t{0} : port);
  auto bound_future = where->first.get_future();
  // The application stops the tree (listener and sessions, then the registry) when it is
  // destroyed, before the scopes the sessions use.
  otp::application app(sys, {.name = "chat", .root = chat_tree(env, where)});

  if (bound_future.wait_for(10s) != std::future_status::ready) {
    std::cerr << "chat: the listener did not start\n";
    return 1;
  }
  auto bound = bound_future.get();
  if (!bound) {
    std::cerr << "chat: " << bound.error().message() << '\n';
    return 1;
  }
  // The browser side (web.hpp) on the next port; its sessions are the same as nc's.
  auto web = start_web(ios, sys, test ? 0 : static_cast<std::uint16_t>(*bound + 1),
                       [&env](io::websocket w) { return troupe::actor_of<session>(std::move(w), std::ref(env)); });
  if (!web) {
    std::cerr << "chat: " << web.error().message() << '\n';
    return 1;
  }
  if (test) return self_test(sys, *bound);
  std::cout << "chat: listening on 127.0.0.1:" << *bound << "; try: nc 127.0.0.1 " << *bound << std::endl;
  std::cout << "chat: in a browser: http://127.0.0.1:" << web->port() << "/" << std::endl;
  // Until SIGINT or SIGTERM, then the application stops its tree in order; or until the tree
  // gives up (restarts beyond its max_restarts).
  auto how = signals.run({&app});
  if (!how.ok()) {
    std::cerr << "chat: the server stopped: " << how.reason.describe() << '\n';
    return 1;
  }
  std::cout << "chat: stopped by signal " << *how.signal << std::endl;
  return 0;  // then ~system, then ~io_service
}
