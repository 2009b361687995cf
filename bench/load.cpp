// troupe-load: a loopback load generator for echo servers.
//
//     troupe-load --port=<p> [--c=<connections>] [--rate=<echoes/s>] [--seconds=<s>] [--size=<bytes>]
//                 [--procs=<n>] [--wait-go=1] [--ws=1]
//
// Opens C connections to 127.0.0.1:<port>, from source addresses spread over 127.0.0.2 and up
// (each address pair has only ~28,000 ephemeral ports), in worker processes of at most ~18,000
// connections each (the file limit per process; the workers raise it as far as allowed). Every
// connection first echoes one message (so all C are known live), then, for --seconds, messages
// of --size bytes go out at --rate per second in total, spread over the connections, one in flight
// per connection. It prints the round-trip latency (p50, p99, p999 in microseconds), echoes per
// second and errors, and stops by itself: every wait is bounded. Loopback only (127.0.0.0/8).
// With --ws=1 each connection first opens a WebSocket (GET /ws, upgrade; the answer must be 101)
// and every message is one masked binary frame of --size bytes, echoed back as one frame.
//
// Output, one line each, on standard output:
//     CONNECTED held=<n> errors=<n>          once every connection has echoed once (or failed)
//     LOAD held=<n> echoes=<n> echoes_per_s=<x> p50_us=<n> p99_us=<n> p999_us=<n> errors=<n>
// With --wait-go=1 it waits after CONNECTED for a line on standard input (a harness measures the
// server's memory in between), at most 120 s.
#include <arpa/inet.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <poll.h>
#include <sys/epoll.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <array>
#include <cerrno>
#include <chrono>
#include <cinttypes>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <map>
#include <string>
#include <vector>

#include "program_flags.hpp"

namespace {

using clk = std::chrono::steady_clock;

troupe_bench::program_flags parse(int argc, char** argv) {
  return troupe_bench::parse_flags("troupe-load", argc, argv,
                                   {{"port", 0}, {"c", 1000}, {"rate", 10000}, {"seconds", 5}, {"size", 32}, {"procs", 0},
                                    {"wait-go", 0}, {"per-proc", 18000}, {"connect-timeout", 60}, {"ws", 0}});
}

// Latency histogram: 1 µs buckets to 1 ms, then 10 µs to 10 ms, 100 µs to 100 ms, 1 ms to 10 s.
struct histogram {
  std::vector<std::uint64_t> b = std::vector<std::uint64_t>(4000, 0);
  static std::size_t index(std::uint64_t us) {
    if (us < 1000) return us;
    if (us < 10'000) return 1000 + (us - 1000) / 10;
    if (us < 100'000) return 1900 + (us - 10'000) / 100;
    if (us < 10'000'000) return std::min<std::uint64_t>(2800 + (us - 100'000) / 10'000 * 1, 3999);  // 10 ms steps
    return 3999;
  }
  static std::uint64_t value(std::size_t i) {
    if (i < 1000) return i;
    if (i < 1900) return 1000 + (i - 1000) * 10;
    if (i < 2800) return 10'000 + (i - 1900) * 100;
    return 100'000 + (i - 2800) * 10'000;
  }
  void add(std::uint64_t us) { ++b[index(us)]; }
  std::uint64_t count() const {
    std::uint64_t n = 0;
    for (auto v : b) n += v;
    return n;
  }
  std::uint64_t pct(double p) const {
    auto n = count();
    if (n == 0) return 0;
    auto want = static_cast<std::uint64_t>(static_cast<double>(n) * p);
    if (want >= n) want = n - 1;
    std::uint64_t seen = 0;
    for (std::size_t i = 0; i < b.size(); ++i) {
      seen += b[i];
      if (seen > want) return value(i);
    }
    return value(b.size() - 1);
  }
};

struct conn {
  int fd = -1;
  bool connected = false, in_flight = false, warmed = false, dead = false;
  bool upgraded = false;    // --ws=1: the 101 answer has arrived
  std::uint32_t got = 0;
  std::string head;         // --ws=1: the upgrade answer as it arrives; freed once complete
  clk::time_point sent{};
};

struct worker_result {
  long long held = 0, echoes = 0, errors = 0;
  histogram h;
};

// One worker: `n` connections, source addresses from `first_src` on, `rate` echoes/s.
// Reports CONNECTED to `report_fd`, waits for a byte on `go_fd`, then runs the load.
worker_result run_worker(long long n, int port, int first_src, double rate, double seconds, int size, int report_fd,
                         int go_fd, int connect_timeout_s, bool ws) {
  troupe_bench::raise_file_limit();
  worker_result res;
  int ep = epoll_create1(0);
  std::vector<conn> conns(static_cast<std::size_t>(n));
  std::string msg(static_cast<std::size_t>(size), 'e');
  // What comes back for one message: the message itself, or (--ws=1) its frame from the server,
  // which is not masked: a 2-byte header, 4 with a 16-bit length, 10 with a 64-bit one.
  std::size_t expect = msg.size();
  const std::string upgrade =
      "GET /ws HTTP/1.1\r\nHost: 127.0.0.1\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n"
      "Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\nSec-WebSocket-Version: 13\r\n\r\n";
  if (ws) {
    // A client's frame is masked (RFC 6455 5.3); one fixed key serves: the server unmasks it.
    const unsigned char key[4] = {0x37, 0xfa, 0x21, 0x3d};
    std::string frame(1, static_cast<char>(0x82));  // FIN, binary
    const std::size_t len = msg.size();
    if (len < 126) {
      frame += static_cast<char>(0x80 | len);
    } else if (len < 65536) {
      frame += static_cast<char>(0x80 | 126);
      frame += static_cast<char>(len >> 8);
      frame += static_cast<char>(len & 0xff);
    } else {
      frame += static_cast<char>(0x80 | 127);
      for (int b = 7; b >= 0; --b) frame += static_cast<char>((static_cast<std::uint64_t>(len) >> (8 * b)) & 0xff);
    }
    frame.append(reinterpret_cast<const char*>(key), 4);
    for (std::size_t i = 0; i < len; ++i) frame += static_cast<char>(msg[i] ^ static_cast<char>(key[i % 4]));
    expect = len + (len < 126 ? 2 : len < 65536 ? 4 : 10);
    msg = std::move(frame);
  }
  std::vector<char> buf(64 * 1024);
  sockaddr_in dst{};
  dst.sin_family = AF_INET;
  dst.sin_port = htons(static_cast<std::uint16_t>(port));
  dst.sin_addr.s_addr = htonl(INADDR_LOOPBACK);

  auto fail = [&](conn& c) {
    if (c.dead) return;
    c.dead = true;
    ++res.errors;
    if (c.fd >= 0) {
      epoll_ctl(ep, EPOLL_CTL_DEL, c.fd, nullptr);
      ::close(c.fd);
      c.fd = -1;
    }
  };
  auto send_one = [&](conn& c) {
    c.sent = clk::now();
    c.got = 0;
    c.in_flight = true;
    auto w = ::send(c.fd, msg.data(), msg.size(), MSG_NOSIGNAL);
    if (w != static_cast<ssize_t>(msg.size())) fail(c);
  };
  std::size_t next_connect = 0, connecting = 0, warmed = 0, finished = 0;
  const std::size_t max_connecting = 512;  // below the server's accept backlog
  auto open_more = [&] {
    while (connecting < max_connecting && next_connect < conns.size()) {
      auto i = next_connect++;
      conn& c = conns[i];
      c.fd = ::socket(AF_INET, SOCK_STREAM | SOCK_NONBLOCK, 0);
      if (c.fd < 0) {
        fail(c);
        ++finished;
        continue;
      }
      int one = 1;
      setsockopt(c.fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
#ifndef IP_BIND_ADDRESS_NO_PORT
#define IP_BIND_ADDRESS_NO_PORT 24
#endif
      setsockopt(c.fd, IPPROTO_IP, IP_BIND_ADDRESS_NO_PORT, &one, sizeof one);
      sockaddr_in src{};
      src.sin_family = AF_INET;
      // 127.0.0.<2..>: 250 addresses per /24, then the next /24.
      std::uint32_t k = static_cast<std::uint32_t>(first_src) + static_cast<std::uint32_t>(i % 2000);
      src.sin_addr.s_addr = htonl((127u << 24) | ((k / 250) << 8) | (2 + k % 250));
      if (::bind(c.fd, reinterpret_cast<sockaddr*>(&src), sizeof src) != 0) {
        fail(c);
        ++finished;
        continue;
      }
      int r = ::connect(c.fd, reinterpret_cast<sockaddr*>(&dst), sizeof dst);
      if (r != 0 && errno != EINPROGRESS) {
        fail(c);
        ++finished;
        continue;
      }
      epoll_event e{};
      e.events = EPOLLIN | EPOLLOUT;
      e.data.u64 = i;
      epoll_ctl(ep, EPOLL_CTL_ADD, c.fd, &e);
      ++connecting;
    }
  };

  std::vector<epoll_event> evs(1024);
  // Phase 1: connect everything and echo once on each.
  auto deadline = clk::now() + std::chrono::seconds(connect_timeout_s);
  open_more();
  while (finished < conns.size() && clk::now() < deadline) {
    int k = epoll_wait(ep, evs.data(), static_cast<int>(evs.size()), 100);
    for (int j = 0; j < k; ++j) {
      conn& c = conns[evs[j].data.u64];
      if (c.dead) continue;
      if (!c.connected) {
        int err = 0;
        socklen_t len = sizeof err;
        getsockopt(c.fd, SOL_SOCKET, SO_ERROR, &err, &len);
        --connecting;
        if (err != 0 || (evs[j].events & (EPOLLERR | EPOLLHUP))) {
          fail(c);
          ++finished;
          continue;
        }
        c.connected = true;
        epoll_event e{};
        e.events = EPOLLIN;
        e.data.u64 = evs[j].data.u64;
        epoll_ctl(ep, EPOLL_CTL_MOD, c.fd, &e);
        if (!ws) {
          send_one(c);
        } else if (::send(c.fd, upgrade.data(), upgrade.size(), MSG_NOSIGNAL) != static_cast<ssize_t>(upgrade.size())) {
          fail(c);
        }
        if (c.dead) ++finished;
        continue;
      }
      auto r = ::recv(c.fd, buf.data(), buf.size(), 0);
      if (r <= 0) {
        if (r < 0 && errno == EAGAIN) continue;
        fail(c);
        ++finished;
        continue;
      }
      if (ws && !c.upgraded) {
        // The server says nothing after its 101 until it is sent a frame: the answer ends the read.
        c.head.append(buf.data(), static_cast<std::size_t>(r));
        if (c.head.find("\r\n\r\n") == std::string::npos) continue;
        if (c.head.rfind("HTTP/1.1 101", 0) != 0) {
          fail(c);
          ++finished;
          continue;
        }
        c.upgraded = true;
        std::string().swap(c.head);
        send_one(c);
        if (c.dead) ++finished;
        continue;
      }
      c.got += static_cast<std::uint32_t>(r);
      if (c.got >= expect && c.in_flight) {
        c.in_flight = false;
        c.warmed = true;
        ++warmed;
        ++finished;
      }
    }
    open_more();
  }
  for (auto& c : conns)
    if (!c.warmed && !c.dead) fail(c);
  res.held = static_cast<long long>(warmed);
  char line[128];
  int len = std::snprintf(line, sizeof line, "%lld %lld\n", res.held, res.errors);
  if (write(report_fd, line, static_cast<std::size_t>(len)) < 0) return res;
  if (go_fd >= 0) {
    pollfd p{go_fd, POLLIN, 0};
    poll(&p, 1, 180'000);
    char c;
    if (read(go_fd, &c, 1) < 0) return res;
  }

  // Phase 2: the rate phase, one message in flight per connection at most.
  std::vector<std::size_t> live;
  for (std::size_t i = 0; i < conns.size(); ++i)
    if (conns[i].warmed && !conns[i].dead) live.push_back(i);
  auto start = clk::now();
  auto end = start + std::chrono::duration_cast<clk::duration>(std::chrono::duration<double>(seconds));
  double due = 0;
  std::size_t cursor = 0;
  // Reads what arrived within `wait_ms` and times each completed echo.
  auto read_echoes = [&](int wait_ms) {
    int k = epoll_wait(ep, evs.data(), static_cast<int>(evs.size()), wait_ms);
    auto t = clk::now();
    for (int j = 0; j < k; ++j) {
      conn& c = conns[evs[j].data.u64];
      if (c.dead) continue;
      auto r = ::recv(c.fd, buf.data(), buf.size(), 0);
      if (r <= 0) {
        if (r < 0 && errno == EAGAIN) continue;
        fail(c);
        continue;
      }
      c.got += static_cast<std::uint32_t>(r);
      if (c.in_flight && c.got >= expect) {
        c.in_flight = false;
        ++res.echoes;
        res.h.add(static_cast<std::uint64_t>(std::chrono::duration_cast<std::chrono::microseconds>(t - c.sent).count()));
      }
    }
  };
  while (!live.empty()) {
    auto now = clk::now();
    if (now >= end) break;
    double elapsed = std::chrono::duration<double>(now - start).count();
    double should = elapsed * rate;
    while (due < should) {
      // Next connection with nothing in flight; skip a full lap at most.
      bool sent = false;
      for (std::size_t tries = 0; tries < live.size(); ++tries) {
        conn& c = conns[live[cursor]];
        cursor = (cursor + 1) % live.size();
        if (!c.dead && !c.in_flight) {
          send_one(c);
          sent = true;
          break;
        }
      }
      if (!sent) break;  // all busy: the server is the bottleneck; count it in latency, not errors
      due += 1;
    }
    read_echoes(1);
  }
  // In flight at the end: give them two seconds, then count the missing as errors.
  auto grace = clk::now() + std::chrono::seconds(2);
  auto pending = [&] {
    std::size_t p = 0;
    for (auto i : live) p += (!conns[i].dead && conns[i].in_flight) ? 1 : 0;
    return p;
  };
  while (pending() != 0 && clk::now() < grace) {
    read_echoes(10);
  }
  for (auto i : live)
    if (!conns[i].dead && conns[i].in_flight) ++res.errors;
  for (auto& c : conns)
    if (c.fd >= 0) ::close(c.fd);
  ::close(ep);
  return res;
}

}  // namespace

int main(int argc, char** argv) {
  auto f = parse(argc, argv);
  if (f["port"] <= 0 || f["port"] > 65535 || f["c"] <= 0 || f["size"] <= 0 || f["rate"] < 0 || f["seconds"] < 0) {
    std::fprintf(stderr, "usage: troupe-load --port=<p> [--c=n] [--rate=n] [--seconds=n] [--size=n] [--procs=n] [--wait-go=1] [--ws=1]\n");
    return 2;
  }
  const long long c = f["c"];
  long long procs = f["procs"];
  if (procs <= 0) procs = (c + f["per-proc"] - 1) / f["per-proc"];
  struct child {
    pid_t pid;
    int report, go, result;
  };
  std::vector<child> kids;
  for (long long p = 0; p < procs; ++p) {
    long long n = c / procs + (p < c % procs ? 1 : 0);
    int rep[2], go[2], out[2];
    if (pipe(rep) != 0 || pipe(go) != 0 || pipe(out) != 0) return 1;
    pid_t pid = fork();
    if (pid == 0) {
      ::close(rep[0]);
      ::close(go[1]);
      ::close(out[0]);
      auto r = run_worker(n, static_cast<int>(f["port"]), static_cast<int>(p * 2000),
                          static_cast<double>(f["rate"]) / static_cast<double>(procs), static_cast<double>(f["seconds"]),
                          static_cast<int>(f["size"]), rep[1], go[0], static_cast<int>(f["connect-timeout"]), f["ws"] != 0);
      std::string s = std::to_string(r.held) + " " + std::to_string(r.echoes) + " " + std::to_string(r.errors);
      for (auto v : r.h.b) s += " " + std::to_string(v);
      s += "\n";
      std::size_t off = 0;
      while (off < s.size()) {
        auto w = write(out[1], s.data() + off, s.size() - off);
        if (w <= 0) break;
        off += static_cast<std::size_t>(w);
      }
      _exit(0);
    }
    ::close(rep[1]);
    ::close(go[0]);
    ::close(out[1]);
    kids.push_back({pid, rep[0], go[1], out[0]});
  }
  auto read_all = [](int fd) {
    std::string s;
    char b[65536];
    for (;;) {
      auto r = read(fd, b, sizeof b);
      if (r <= 0) break;
      s.append(b, static_cast<std::size_t>(r));
    }
    return s;
  };
  long long held = 0, errors = 0;
  auto read_line = [](int fd) {  // the report pipe stays open: read up to the newline only
    std::string s;
    char ch;
    while (read(fd, &ch, 1) == 1 && ch != '\n') s.push_back(ch);
    return s;
  };
  for (auto& k : kids) {
    auto s = read_line(k.report);
    long long h = 0, e = 0;
    std::sscanf(s.c_str(), "%lld %lld", &h, &e);
    held += h;
    errors += e;
  }
  std::printf("CONNECTED held=%lld errors=%lld\n", held, errors);
  std::fflush(stdout);
  if (f["wait-go"] != 0) {
    pollfd p{0, POLLIN, 0};
    poll(&p, 1, 120'000);
    char line[64];
    if (std::fgets(line, sizeof line, stdin) == nullptr) { /* EOF: go on */ }
  }
  auto t0 = clk::now();
  for (auto& k : kids)
    if (write(k.go, "g", 1) < 0) { /* the worker died: its result says so */ }
  histogram h;
  long long echoes = 0;
  held = 0;
  errors = 0;
  for (auto& k : kids) {
    auto s = read_all(k.result);
    const char* p = s.c_str();
    char* end = nullptr;
    held += std::strtoll(p, &end, 10);
    echoes += std::strtoll(end, &end, 10);
    errors += std::strtoll(end, &end, 10);
    for (auto& v : h.b) v += std::strtoull(end, &end, 10);
    int st = 0;
    waitpid(k.pid, &st, 0);
  }
  double secs = std::chrono::duration<double>(clk::now() - t0).count();
  double measured = static_cast<double>(f["seconds"]) > 0 ? static_cast<double>(f["seconds"]) : secs;
  std::printf("LOAD held=%lld echoes=%lld echoes_per_s=%.0f p50_us=%" PRIu64 " p99_us=%" PRIu64 " p999_us=%" PRIu64
              " errors=%lld\n",
              held, echoes, static_cast<double>(echoes) / measured, h.pct(0.50), h.pct(0.99), h.pct(0.999), errors);
  return errors == 0 ? 0 : 1;
}
