// http_test_client.hpp: an HTTP/1.1 client for the tests: requests serialized and responses
// parsed by Boost.Beast, carried over io_test::client (plain POSIX sockets whose reads wait at
// most a deadline), so that a server that never answers fails the test instead of hanging it.
#pragma once

#include <poll.h>
#include <sys/socket.h>

#include <chrono>
#include <optional>
#include <sstream>
#include <string>

#include <boost/asio/buffer.hpp>
#include <boost/beast/http.hpp>

#include "io/io_test_support.hpp"

namespace io_test {

namespace http = boost::beast::http;

struct http_reply {
  int status = 0;
  std::string body;
  std::string content_type;
  bool keep_alive = false;
  std::string content_length;  ///< the header as sent; empty if absent
  std::string transfer_encoding;  ///< the header as sent; empty if absent
};

/// The bytes of a request, as Beast writes it.
inline std::string http_bytes(http::verb method, const std::string& target, std::string body = {},
                              bool keep_alive = true) {
  http::request<http::string_body> req{method, target, 11};
  req.set(http::field::host, "127.0.0.1");
  req.keep_alive(keep_alive);
  if (!body.empty() || method == http::verb::post) {
    req.body() = std::move(body);
    req.prepare_payload();
  }
  std::ostringstream out;
  out << req;
  return out.str();
}

/// The head of a POST whose body follows in chunks (Transfer-Encoding: chunked).
inline std::string chunked_request_head(const std::string& target) {
  return "POST " + target + " HTTP/1.1\r\nHost: 127.0.0.1\r\nTransfer-Encoding: chunked\r\n\r\n";
}
/// One chunk of a chunked body (not empty: an empty chunk is the last one).
inline std::string chunk(const std::string& data) {
  std::ostringstream out;
  out << std::hex << data.size() << "\r\n" << data << "\r\n";
  return out.str();
}
/// The end of a chunked body.
inline std::string last_chunk() { return "0\r\n\r\n"; }

/// An HTTP client on one keep-alive connection.
class http_client {
 public:
  explicit http_client(std::uint16_t port) : c_(port) {}
  client& raw() { return c_; }

  /// Sends a request and reads its response; nullopt if none came within `timeout`.
  std::optional<http_reply> request(http::verb method, const std::string& target, std::string body = {},
                                    std::chrono::milliseconds timeout = std::chrono::seconds(10)) {
    c_.send(http_bytes(method, target, std::move(body)));
    return read_reply(timeout, method == http::verb::head);
  }

  /// Reads one response (bytes already received first); nullopt on a timeout or a close.
  /// After a HEAD (`head`), the response has no body whatever its Content-Length says.
  std::optional<http_reply> read_reply(std::chrono::milliseconds timeout = std::chrono::seconds(10), bool head = false) {
    http::response_parser<http::string_body> p;
    p.eager(true);
    p.skip(head);
    auto end = std::chrono::steady_clock::now() + timeout;
    for (;;) {
      while (!pending_.empty() && !p.is_done()) {
        boost::system::error_code ec;
        auto used = p.put(boost::asio::buffer(pending_), ec);
        if (ec && ec != http::error::need_more) return std::nullopt;
        pending_.erase(0, used);
        if (used == 0) break;
      }
      if (p.is_done()) break;
      auto left = std::chrono::duration_cast<std::chrono::milliseconds>(end - std::chrono::steady_clock::now());
      if (left.count() <= 0) return std::nullopt;
      pollfd pf{c_.fd(), POLLIN, 0};
      if (::poll(&pf, 1, static_cast<int>(left.count())) <= 0) return std::nullopt;
      char buf[4096];
      auto got = ::recv(c_.fd(), buf, sizeof buf, 0);
      if (got <= 0) {
        boost::system::error_code ec;
        p.put_eof(ec);
        if (ec || !p.is_done()) return std::nullopt;
        break;
      }
      pending_.append(buf, static_cast<std::size_t>(got));
    }
    auto& res = p.get();
    return http_reply{static_cast<int>(res.result_int()), res.body(), std::string(res[http::field::content_type]),
                      res.keep_alive(), std::string(res[http::field::content_length]),
                      std::string(res[http::field::transfer_encoding])};
  }

 private:
  client c_;
  std::string pending_;
};

}  // namespace io_test
