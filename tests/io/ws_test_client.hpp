// ws_test_client.hpp: a WebSocket client for the tests: Boost.Beast's client side, driven on a
// private io_context with run_for() so that every step has a deadline and a silent server fails
// the test instead of hanging it.
#pragma once

#include <chrono>
#include <cstdint>
#include <optional>
#include <string>

#include <boost/asio/io_context.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/beast/core/buffers_to_string.hpp>
#include <boost/beast/core/flat_buffer.hpp>
#include <boost/beast/core/tcp_stream.hpp>
#include <boost/beast/websocket.hpp>

namespace io_test {

namespace ws = boost::beast::websocket;

struct ws_message {
  std::string data;
  bool text = true;
};

class ws_client {
 public:
  /// Connects and shakes hands for `path`; ok() says whether it worked within `timeout`.
  ws_client(std::uint16_t port, const std::string& path, std::chrono::milliseconds timeout = std::chrono::seconds(10)) {
    boost::system::error_code ec;
    boost::beast::get_lowest_layer(ws_).socket().connect({boost::asio::ip::make_address("127.0.0.1"), port}, ec);
    if (ec) return;
    ok_ = step(timeout, [&](auto done) { ws_.async_handshake("127.0.0.1", path, done); });
  }
  bool ok() const { return ok_; }
  const boost::system::error_code& error() const { return ec_; }
  ws::close_reason reason() const { return ws_.reason(); }

  bool send(const std::string& data, bool text = true, std::chrono::milliseconds timeout = std::chrono::seconds(10)) {
    ws_.text(text);
    return step(timeout, [&](auto done) { ws_.async_write(boost::asio::buffer(data), done); });
  }
  /// The next message; nullopt on a close (see error() and reason()) or a timeout.
  std::optional<ws_message> read(std::chrono::milliseconds timeout = std::chrono::seconds(10)) {
    buf_.clear();
    if (!step(timeout, [&](auto done) { ws_.async_read(buf_, done); })) return std::nullopt;
    return ws_message{boost::beast::buffers_to_string(buf_.data()), ws_.got_text()};
  }
  bool close(std::uint16_t code, const std::string& why, std::chrono::milliseconds timeout = std::chrono::seconds(10)) {
    return step(timeout, [&](auto done) {
      ws_.async_close(ws::close_reason(static_cast<ws::close_code>(code), why), done);
    });
  }

 private:
  // Starts one operation and runs the context until it completes or `timeout` passes; a late
  // operation is cancelled (its socket closed) and drained so that no handler outlives the call.
  template <class Start>
  bool step(std::chrono::milliseconds timeout, Start start) {
    bool finished = false;
    ec_ = {};
    ctx_.restart();
    start(done_fn{this, &finished});
    ctx_.run_for(timeout);
    if (!finished) {
      boost::system::error_code ignored;
      boost::beast::get_lowest_layer(ws_).socket().close(ignored);
      ctx_.restart();
      ctx_.run();
      ec_ = boost::asio::error::timed_out;
      return false;
    }
    return !ec_;
  }

  // A completion handler for operations with and without a byte count.
  struct done_fn {
    ws_client* c;
    bool* finished;
    void operator()(boost::system::error_code e) const {
      *finished = true;
      c->ec_ = e;
    }
    void operator()(boost::system::error_code e, std::size_t) const { (*this)(e); }
  };

  boost::asio::io_context ctx_;
  ws::stream<boost::beast::tcp_stream> ws_{ctx_};
  boost::beast::flat_buffer buf_;
  boost::system::error_code ec_;
  bool ok_ = false;
};

}  // namespace io_test
