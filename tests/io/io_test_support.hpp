// io_test_support.hpp: what the io tests share: a blocking loopback client with deadlines (plain
// POSIX sockets, so the tests do not test troupe with itself), and test certificates made at
// test time with OpenSSL's API (a CA, and a leaf for "localhost" signed by it).
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

#include <openssl/evp.h>
#include <openssl/pem.h>
#include <openssl/x509.h>
#include <openssl/x509v3.h>

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

/// PEM texts of a test PKI: a CA and a leaf for "localhost" it signed.
struct test_pki {
  std::string ca_cert, leaf_chain, leaf_key;
};

namespace pki_detail {
struct key_free {
  void operator()(EVP_PKEY* k) const { EVP_PKEY_free(k); }
};
struct x509_free {
  void operator()(X509* x) const { X509_free(x); }
};
using key_ptr = std::unique_ptr<EVP_PKEY, key_free>;
using x509_ptr = std::unique_ptr<X509, x509_free>;

inline key_ptr ec_key() { return key_ptr(EVP_EC_gen("P-256")); }

inline x509_ptr make_cert(EVP_PKEY* key, const char* cn, X509* issuer, EVP_PKEY* issuer_key, bool ca, long serial) {
  x509_ptr x(X509_new());
  X509_set_version(x.get(), 2);
  ASN1_INTEGER_set(X509_get_serialNumber(x.get()), serial);
  X509_gmtime_adj(X509_getm_notBefore(x.get()), -3600);
  X509_gmtime_adj(X509_getm_notAfter(x.get()), 3600L * 24);
  X509_set_pubkey(x.get(), key);
  X509_NAME* name = X509_get_subject_name(x.get());
  X509_NAME_add_entry_by_txt(name, "CN", MBSTRING_ASC, reinterpret_cast<const unsigned char*>(cn), -1, -1, 0);
  X509_set_issuer_name(x.get(), issuer != nullptr ? X509_get_subject_name(issuer) : name);
  X509V3_CTX v3;
  X509V3_set_ctx_nodb(&v3);
  X509V3_set_ctx(&v3, issuer != nullptr ? issuer : x.get(), x.get(), nullptr, nullptr, 0);
  auto add = [&](int nid, const char* value) {
    X509_EXTENSION* e = X509V3_EXT_conf_nid(nullptr, &v3, nid, value);
    X509_add_ext(x.get(), e, -1);
    X509_EXTENSION_free(e);
  };
  if (ca) {
    add(NID_basic_constraints, "critical,CA:TRUE");
    add(NID_key_usage, "critical,keyCertSign,cRLSign");
  } else {
    add(NID_basic_constraints, "critical,CA:FALSE");
    add(NID_subject_alt_name, "DNS:localhost");
  }
  X509_sign(x.get(), issuer_key, EVP_sha256());
  return x;
}

inline std::string pem(X509* x) {
  BIO* b = BIO_new(BIO_s_mem());
  PEM_write_bio_X509(b, x);
  char* data = nullptr;
  long n = BIO_get_mem_data(b, &data);
  std::string s(data, static_cast<std::size_t>(n));
  BIO_free(b);
  return s;
}
inline std::string pem(EVP_PKEY* k) {
  BIO* b = BIO_new(BIO_s_mem());
  PEM_write_bio_PrivateKey(b, k, nullptr, nullptr, 0, nullptr, nullptr);
  char* data = nullptr;
  long n = BIO_get_mem_data(b, &data);
  std::string s(data, static_cast<std::size_t>(n));
  BIO_free(b);
  return s;
}
}  // namespace pki_detail

/// Makes a fresh CA and a "localhost" leaf signed by it (EC P-256, valid for a day).
inline test_pki make_pki(long serial = 1) {
  using namespace pki_detail;
  auto ca_key = ec_key();
  auto ca = make_cert(ca_key.get(), "troupe test CA", nullptr, ca_key.get(), true, serial);
  auto leaf_key = ec_key();
  auto leaf = make_cert(leaf_key.get(), "localhost", ca.get(), ca_key.get(), false, serial + 1);
  return {pem(ca.get()), pem(leaf.get()), pem(leaf_key.get())};
}

}  // namespace io_test
