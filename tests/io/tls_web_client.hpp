// tls_web_client.hpp: https and wss clients for the tests: Boost.Beast's client side over
// Asio's OpenSSL streams, each step driven on a private io_context with run_for() so that a
// silent server fails the test instead of hanging it. They trust one CA (the test PKI's) and
// check the server's name, as a browser would.
#pragma once

#include <openssl/ssl.h>

#include <chrono>
#include <cstdint>
#include <optional>
#include <string>

#include <boost/asio/io_context.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/ssl.hpp>
#include <boost/beast/core/buffers_to_string.hpp>
#include <boost/beast/core/flat_buffer.hpp>
#include <boost/beast/core/tcp_stream.hpp>
#include <boost/beast/http.hpp>
#include <boost/beast/ssl/ssl_stream.hpp>
#include <boost/beast/websocket.hpp>
#include <boost/beast/websocket/ssl.hpp>

namespace io_test {

namespace tls_detail {
namespace asio = boost::asio;
namespace beast = boost::beast;

// Owns the private context, the client TLS context and the error of the last step.
class tls_client_base {
 public:
  bool ok() const { return ok_; }
  const boost::system::error_code& error() const { return ec_; }

 protected:
  explicit tls_client_base(const std::string& ca_pem) {
    tls_.add_certificate_authority(asio::buffer(ca_pem));
    tls_.set_verify_mode(asio::ssl::verify_peer);
  }
  // Starts one operation and runs the context until it completes or `timeout` passes; a late
  // operation is cancelled (its socket closed) and drained so that no handler outlives the call.
  template <class Start, class Socket>
  bool step(std::chrono::milliseconds timeout, Socket& socket, Start start) {
    bool finished = false;
    ec_ = {};
    ctx_.restart();
    start([this, &finished](boost::system::error_code e, auto&&...) {
      finished = true;
      ec_ = e;
    });
    ctx_.run_for(timeout);
    if (!finished) {
      boost::system::error_code ignored;
      socket.close(ignored);
      ctx_.restart();
      ctx_.run();
      ec_ = asio::error::timed_out;
      return false;
    }
    return !ec_;
  }
  // Connects to 127.0.0.1:port and shakes TLS hands as a client of `host`.
  template <class Tls>
  bool open(Tls& tls, std::uint16_t port, const std::string& host, std::chrono::milliseconds timeout) {
    auto& sock = beast::get_lowest_layer(tls).socket();
    sock.connect({asio::ip::make_address("127.0.0.1"), port}, ec_);
    if (ec_) return false;
    SSL_set_tlsext_host_name(tls.native_handle(), host.c_str());
    tls.set_verify_callback(asio::ssl::host_name_verification(host));
    return step(timeout, sock, [&](auto done) { tls.async_handshake(asio::ssl::stream_base::client, done); });
  }

  asio::io_context ctx_;
  asio::ssl::context tls_{asio::ssl::context::tls_client};
  boost::system::error_code ec_;
  bool ok_ = false;
};
}  // namespace tls_detail

struct https_reply {
  int status = 0;
  std::string body;
  bool keep_alive = false;
};

/// An https client on one keep-alive connection.
class https_client : public tls_detail::tls_client_base {
 public:
  https_client(std::uint16_t port, const std::string& ca_pem, const std::string& host = "localhost",
               std::chrono::milliseconds timeout = std::chrono::seconds(10))
      : tls_client_base(ca_pem) {
    ok_ = open(s_, port, host, timeout);
  }
  /// Sends a request and reads its response; nullopt if none came within `timeout`.
  std::optional<https_reply> request(boost::beast::http::verb method, const std::string& target, std::string body = {},
                                     std::chrono::milliseconds timeout = std::chrono::seconds(10)) {
    namespace http = boost::beast::http;
    http::request<http::string_body> req{method, target, 11};
    req.set(http::field::host, "localhost");
    req.keep_alive(true);
    if (!body.empty() || method == http::verb::post) {
      req.body() = std::move(body);
      req.prepare_payload();
    }
    auto& sock = boost::beast::get_lowest_layer(s_).socket();
    if (!step(timeout, sock, [&](auto done) { http::async_write(s_, req, done); })) return std::nullopt;
    http::response<http::string_body> res;
    if (!step(timeout, sock, [&](auto done) { http::async_read(s_, buf_, res, done); })) return std::nullopt;
    return https_reply{static_cast<int>(res.result_int()), res.body(), res.keep_alive()};
  }

 private:
  boost::beast::ssl_stream<boost::beast::tcp_stream> s_{ctx_, tls_};
  boost::beast::flat_buffer buf_;
};

/// A wss client: TLS, then the WebSocket handshake for `path`.
class wss_client : public tls_detail::tls_client_base {
 public:
  wss_client(std::uint16_t port, const std::string& path, const std::string& ca_pem,
             std::chrono::milliseconds timeout = std::chrono::seconds(10))
      : tls_client_base(ca_pem) {
    if (!open(ws_.next_layer(), port, "localhost", timeout)) return;
    ok_ = step(timeout, sock(), [&](auto done) { ws_.async_handshake("localhost", path, done); });
  }
  bool send(const std::string& data, std::chrono::milliseconds timeout = std::chrono::seconds(10)) {
    ws_.text(true);
    return step(timeout, sock(), [&](auto done) { ws_.async_write(boost::asio::buffer(data), done); });
  }
  /// The next message; nullopt on a close or a timeout.
  std::optional<std::string> read(std::chrono::milliseconds timeout = std::chrono::seconds(10)) {
    buf_.clear();
    if (!step(timeout, sock(), [&](auto done) { ws_.async_read(buf_, done); })) return std::nullopt;
    return boost::beast::buffers_to_string(buf_.data());
  }
  bool close(std::uint16_t code, std::chrono::milliseconds timeout = std::chrono::seconds(10)) {
    return step(timeout, sock(), [&](auto done) {
      ws_.async_close(boost::beast::websocket::close_reason(static_cast<boost::beast::websocket::close_code>(code)), done);
    });
  }

 private:
  boost::asio::ip::tcp::socket& sock() { return boost::beast::get_lowest_layer(ws_).socket(); }
  boost::beast::websocket::stream<boost::beast::ssl_stream<boost::beast::tcp_stream>> ws_{ctx_, tls_};
  boost::beast::flat_buffer buf_;
};

}  // namespace io_test
