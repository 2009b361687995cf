// io_test_support.hpp: what the io tests share: a blocking loopback client with deadlines (plain
// POSIX sockets, so the tests do not test troupe with itself), and the test certificates of
// io/test_pki.hpp.
#pragma once

#include <arpa/inet.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <poll.h>
#include <sys/socket.h>
#include <unistd.h>

#include <chrono>
#include <cstdint>
#include <memory>
#include <stdexcept>
#include <string>

#include "io/test_pki.hpp"

namespace io_test {

using namespace std::chrono_literals;

/// A blocking TCP client on 127.0.0.1 whose reads wait at most a deadline.
class client {
 public:
  explicit client(std::uint16_t port) {
    fd_ = ::socket(AF_INET, SOCK_STREAM, 0);
    if (fd_ < 0) throw std::runtime_error("socket");
    sockaddr_in a{};
    a.sin_family = AF_INET;
    a.sin_port = htons(port);
    a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    if (::connect(fd_, reinterpret_cast<sockaddr*>(&a), sizeof a) != 0) throw std::runtime_error("connect");
    int one = 1;
    ::setsockopt(fd_, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
  }
  client(const client&) = delete;
  client& operator=(const client&) = delete;
  ~client() {
    if (fd_ >= 0) ::close(fd_);
  }
  int fd() const { return fd_; }

  void send(const std::string& s) {
    std::size_t off = 0;
    while (off < s.size()) {
      auto n = ::send(fd_, s.data() + off, s.size() - off, MSG_NOSIGNAL);
      if (n <= 0) throw std::runtime_error("send");
      off += static_cast<std::size_t>(n);
    }
  }
  /// Reads until `n` bytes arrived, the peer closed, or `timeout` passed; returns what came.
  std::string read(std::size_t n, std::chrono::milliseconds timeout = 10s) {
    std::string out;
    auto end = std::chrono::steady_clock::now() + timeout;
    while (out.size() < n) {
      auto left = std::chrono::duration_cast<std::chrono::milliseconds>(end - std::chrono::steady_clock::now());
      if (left.count() <= 0) break;
      pollfd p{fd_, POLLIN, 0};
      if (::poll(&p, 1, static_cast<int>(left.count())) <= 0) break;
      char buf[4096];
      auto got = ::recv(fd_, buf, sizeof buf < n - out.size() ? sizeof buf : n - out.size(), 0);
      if (got <= 0) break;
      out.append(buf, static_cast<std::size_t>(got));
    }
    return out;
  }
  /// True if the peer closed (EOF or reset) within `timeout`.
  bool wait_closed(std::chrono::milliseconds timeout = 10s) {
    auto end = std::chrono::steady_clock::now() + timeout;
    for (;;) {
      auto left = std::chrono::duration_cast<std::chrono::milliseconds>(end - std::chrono::steady_clock::now());
      if (left.count() <= 0) return false;
      pollfd p{fd_, POLLIN, 0};
      if (::poll(&p, 1, static_cast<int>(left.count())) <= 0) return false;
      char buf[4096];
      auto got = ::recv(fd_, buf, sizeof buf, 0);
      if (got <= 0) return true;
    }
  }
  /// Sends FIN: the peer sees the end of input, and this side can still read.
  void shutdown_write() { ::shutdown(fd_, SHUT_WR); }
  /// Closes with a reset (SO_LINGER 0).
  void reset() {
    linger l{1, 0};
    ::setsockopt(fd_, SOL_SOCKET, SO_LINGER, &l, sizeof l);
    ::close(fd_);
    fd_ = -1;
  }
  /// Writes without blocking until the kernel takes no more; returns the bytes taken.
  std::size_t flood(std::size_t limit) {
    int flags = ::fcntl(fd_, F_GETFL, 0);
    ::fcntl(fd_, F_SETFL, flags | O_NONBLOCK);
    std::string chunk(64 * 1024, 'x');
    std::size_t total = 0;
    while (total < limit) {
      auto n = ::send(fd_, chunk.data(), chunk.size(), MSG_NOSIGNAL);
      if (n <= 0) {
        // Full: give the receiver a moment to drain what it will, then check once more.
        pollfd p{fd_, POLLOUT, 0};
        if (::poll(&p, 1, 200) <= 0) break;
        continue;
      }
      total += static_cast<std::size_t>(n);
    }
    ::fcntl(fd_, F_SETFL, flags);
    return total;
  }

 private:
  int fd_ = -1;
};

// The test PKI lives in io/test_pki.hpp, shared with the remote layer's TLS tests.
using troupe_test::make_leaf;
using troupe_test::make_pki;
using troupe_test::test_pki;

}  // namespace io_test
