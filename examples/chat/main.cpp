// chat: a chat server you can talk to with `nc`. Each connection is an actor (a session); each
// room is an actor that keeps its members and watches them, so a member that disconnects or
// crashes leaves its room by itself. A line protocol:
//
//     /nick <name>    choose a nickname        /join <room>   join a room (leaving the last one)
//     /who            who is in the room       /quit          leave
//     anything else   said to the room, as "<nick>: <text>"
//
//     chat [port]          serves on 127.0.0.1:<port> (7000 by default) until Ctrl-C
//     chat --self-test     serves on a free port, has two clients talk through it, and exits
//
// The server is one actor tree: `chat` owns the room directory and the listener's acceptor, and
// the acceptor owns the sessions, so stopping `chat` stops everything. (Rooms are actors of this
// example; the otp layer's process groups are the general tool for this, and will replace them.)
#include <arpa/inet.h>
#include <netinet/in.h>
#include <poll.h>
#include <signal.h>
#include <sys/socket.h>
#include <unistd.h>

#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <future>
#include <iostream>
#include <map>
#include <string>
#include <variant>
#include <vector>

#include "troupe/io/io_service.hpp"
#include "troupe/io/listener.hpp"
#include "troupe/troupe.hpp"

namespace io = troupe::io;
using namespace std::chrono_literals;

// --- protocols ------------------------------------------------------------------------------
struct said {  // a line for the session's client
  std::string line;
};
using session_msg = std::variant<io::received, io::closed, said, struct joined>;

struct join {
  std::string nick;
  troupe::ref<session_msg> who;
};
struct leave {
  troupe::ref<session_msg> who;
};
struct say {
  std::string nick, text;
};
struct who_is_here {
  troupe::ref<session_msg> asker;
};
using room_msg = std::variant<join, leave, say, who_is_here, troupe::terminated>;

struct joined {
  std::string room;
  troupe::ref<room_msg> ref;
};

struct join_room {  // to the directory: find or make the room, then join it
  std::string room, nick;
  troupe::ref<session_msg> who;
};
using directory_msg = std::variant<join_room>;

// --- a room ---------------------------------------------------------------------------------
class room : public troupe::actor<room_msg> {
 public:
  explicit room(std::string name) : name_(std::move(name)) {}

  void on(const join& j) {
    context().watch(j.who);  // a member that stops leaves by itself
    members_[j.who.id().serial] = {j.nick, j.who};
    j.who.tell(joined{name_, context().self()});
    broadcast("* " + j.nick + " joined " + name_);
  }
  void on(const leave& l) {
    auto it = members_.find(l.who.id().serial);
    if (it == members_.end()) return;
    context().unwatch(l.who);
    std::string nick = it->second.nick;
    members_.erase(it);
    broadcast("* " + nick + " left " + name_);
  }
  void on(const say& s) { broadcast(s.nick + ": " + s.text); }
  void on(const who_is_here& w) {
    std::string line = "* in " + name_ + ":";
    for (auto& [id, m] : members_) line += " " + m.nick;
    w.asker.tell(said{line});
  }
  void on(const troupe::terminated& t) {
    auto it = members_.find(t.who.serial);
    if (it == members_.end()) return;
    std::string nick = it->second.nick;
    members_.erase(it);
    broadcast("* " + nick + " left " + name_ + " (disconnected)");
  }

 private:
  struct member {
    std::string nick;
    troupe::ref<session_msg> ref;
  };
  void broadcast(const std::string& line) {
    for (auto& [id, m] : members_) m.ref.tell(said{line});
  }
  std::string name_;
  std::map<std::uint64_t, member> members_;
};

// --- the room directory ---------------------------------------------------------------------
class directory : public troupe::actor<directory_msg> {
 public:
  void on(join_room&& j) {
    auto it = rooms_.find(j.room);
    if (it == rooms_.end()) it = rooms_.emplace(j.room, context().spawn(troupe::actor_of<room>(j.room))).first;
    it->second.tell(join{std::move(j.nick), std::move(j.who)});
  }

 private:
  std::map<std::string, troupe::ref<room_msg>> rooms_;
};

// --- a session: one connection --------------------------------------------------------------
class session : public troupe::actor<session_msg> {
 public:
  session(troupe::actor_context<session_msg>& ctx, io::connection c, troupe::ref<directory_msg> dir)
      : conn_(std::move(c)), dir_(std::move(dir)), nick_("guest" + std::to_string(ctx.id().serial)) {
    send("welcome, " + nick_ + "! commands: /nick <name>, /join <room>, /who, /quit");
    conn_.request();
  }

  troupe::behavior<session_msg> on(io::received&& r) {
    const std::string& line = r.data;
    if (line.rfind("/nick ", 0) == 0 && line.size() > 6) {
      nick_ = line.substr(6);
      send("* you are " + nick_);
    } else if (line.rfind("/join ", 0) == 0 && line.size() > 6) {
      if (room_) room_.tell(leave{context().self()});
      room_ = {};
      dir_.tell(join_room{line.substr(6), nick_, context().self()});
    } else if (line == "/who") {
      if (room_) room_.tell(who_is_here{context().self()});
      else send("* not in a room: /join <room>");
    } else if (line == "/quit") {
      send("bye");
      return troupe::stopped;  // the socket closes once "bye" is written
    } else if (!line.empty()) {
      if (room_) room_.tell(say{nick_, line});
      else send("* not in a room: /join <room>");
    }
    conn_.request();  // demand: the next line only now
    return troupe::same;
  }
  troupe::behavior<session_msg> on(const io::closed&) { return troupe::stopped; }
  void on(const said& s) { send(s.line); }
  void on(joined&& j) {
    room_ = std::move(j.ref);
    send("* you are in " + j.room);
  }

 private:
  void send(const std::string& line) {
    // The queue is bounded; a client that does not read is closed (overflow_policy::close).
    (void)conn_.write(line);
  }
  io::connection conn_;
  troupe::ref<directory_msg> dir_;
  troupe::ref<room_msg> room_;
  std::string nick_;
};

// --- the server: one actor that owns the directory and the listener -------------------------
struct started {
  std::uint16_t port;
};
using chat_msg = std::variant<started>;  // nothing comes in; it only owns its children

troupe::behavior<chat_msg> chat(io::io_service& ios, std::uint16_t port, std::promise<troupe::result<std::uint16_t>>* up) {
  return troupe::setup<chat_msg>([&ios, port, up](troupe::actor_context<chat_msg>& ctx) -> troupe::behavior<chat_msg> {
    auto dir = ctx.spawn(troupe::actor_of<directory>());
    io::listen_options o;
    o.port = port;
    o.connection.framing = {io::framing::line, 1024};
    o.connection.max_write_queue = 64 * 1024;
    o.connection.on_full = io::overflow_policy::close;
    o.connection.idle_timeout = 30min;
    auto l = io::listen(ctx, ios, o, [dir](io::connection c) { return troupe::actor_of<session>(std::move(c), dir); });
    if (!l) {
      up->set_value(l.error());
      return troupe::stopped;
    }
    up->set_value(l->port());
    return troupe::receive<chat_msg>([](const started&) {});
  });
}

// --- self test: two clients talk through the server -----------------------------------------
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
  void send(const std::string& s) {
    std::string line = s + "\n";
    if (::send(fd_, line.data(), line.size(), MSG_NOSIGNAL) != static_cast<ssize_t>(line.size()))
      throw std::runtime_error("send");
  }
  // Reads lines until one contains `want`; false after 10 s.
  bool expect(const std::string& want) {
    auto end = std::chrono::steady_clock::now() + 10s;
    for (;;) {
      auto nl = buf_.find('\n');
      while (nl != std::string::npos) {
        std::string line = buf_.substr(0, nl);
        buf_.erase(0, nl + 1);
        if (line.find(want) != std::string::npos) return true;
        nl = buf_.find('\n');
      }
      auto left = std::chrono::duration_cast<std::chrono::milliseconds>(end - std::chrono::steady_clock::now());
      pollfd p{fd_, POLLIN, 0};
      if (left.count() <= 0 || ::poll(&p, 1, static_cast<int>(left.count())) <= 0) return false;
      char b[1024];
      auto n = ::recv(fd_, b, sizeof b, 0);
      if (n <= 0) return false;
      buf_.append(b, static_cast<std::size_t>(n));
    }
  }

 private:
  int fd_;
  std::string buf_;
};

int self_test(std::uint16_t port) {
  line_client alice(port), bob(port);
  bool ok = alice.expect("welcome") && bob.expect("welcome");
  alice.send("/nick alice");
  bob.send("/nick bob");
  ok = ok && alice.expect("you are alice") && bob.expect("you are bob");
  alice.send("/join lobby");
  ok = ok && alice.expect("you are in lobby");
  bob.send("/join lobby");
  ok = ok && bob.expect("you are in lobby") && alice.expect("* bob joined lobby");
  bob.send("hello, alice");
  ok = ok && alice.expect("bob: hello, alice");
  alice.send("/who");
  ok = ok && alice.expect("* in lobby: ");
  bob.send("/quit");
  ok = ok && bob.expect("bye") && alice.expect("* bob left lobby (disconnected)");
  std::cout << (ok ? "chat: self-test passed" : "chat: self-test FAILED") << std::endl;
  return ok ? 0 : 1;
}
}  // namespace

int main(int argc, char** argv) {
  const bool test = argc > 1 && std::string(argv[1]) == "--self-test";
  const auto port = static_cast<std::uint16_t>(test ? 0 : (argc > 1 ? std::atoi(argv[1]) : 7000));
  // Block the stop signals before any thread starts, so that only sigwait below receives them.
  sigset_t stop_signals;
  sigemptyset(&stop_signals);
  sigaddset(&stop_signals, SIGINT);
  sigaddset(&stop_signals, SIGTERM);
  pthread_sigmask(SIG_BLOCK, &stop_signals, nullptr);

  io::io_service ios;  // before the system: it outlives the sessions
  troupe::system sys;
  std::promise<troupe::result<std::uint16_t>> up;
  auto server = sys.spawn(chat(ios, port, &up), {.name = "chat"});
  auto bound = up.get_future().get();
  if (!bound) {
    std::cerr << "chat: " << bound.error().message() << '\n';
    return 1;
  }
  if (test) return self_test(*bound);
  std::cout << "chat: listening on 127.0.0.1:" << *bound << "; try: nc 127.0.0.1 " << *bound << std::endl;
  int sig = 0;
  sigwait(&stop_signals, &sig);
  std::cout << "chat: stopping" << std::endl;
  return 0;  // ~system stops every actor (sessions close their sockets), then ~io_service
}
