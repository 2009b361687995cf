// websocket_state.hpp: one WebSocket and everything its loop keeps for it. Internal to io.
// Threads: everything but the atomics and the sink is owned by the socket's loop thread; the
// actor side (websocket handles) reaches it only through post(). The stream is plain TCP or TLS
// (wss), one of two Beast stream types; with_ws() runs the same code on whichever it is.
// Memory per open WebSocket is what a server holding 100,000 of them pays (bench/results.md,
// "websockets"): an idle one holds no read buffer and no empty queue block, and the plain
// stream sits on the bare socket (Beast's tcp_stream adds three timers it would never use).
#pragma once

#include <atomic>
#include <functional>
#include <list>
#include <memory>
#include <mutex>
#include <string>
#include <utility>
#include <variant>

#include <boost/beast/core/flat_buffer.hpp>
#include <boost/beast/core/tcp_stream.hpp>
#include <boost/beast/ssl/ssl_stream.hpp>
#include <boost/beast/websocket/ssl.hpp>
#include <boost/beast/websocket/stream.hpp>

#include "service_impl.hpp"
#include "troupe/core/spin_mutex.hpp"
#include "troupe/io/websocket.hpp"

namespace troupe::io::detail {

using tls_tcp_stream = boost::beast::ssl_stream<boost::beast::tcp_stream>;

struct ws_state : std::enable_shared_from_this<ws_state> {
  using plain_ws = boost::beast::websocket::stream<boost::asio::ip::tcp::socket>;
  using tls_ws = boost::beast::websocket::stream<tls_tcp_stream>;

  ws_state(loop& l, boost::beast::tcp_stream&& s, websocket_options o, http_request req);
  ws_state(loop& l, tls_tcp_stream&& s, websocket_options o, http_request req);
  ~ws_state();

  // Calls f(stream) with the WebSocket stream, whichever type it is.
  template <class F>
  decltype(auto) with_ws(F&& f) {
    return std::visit(std::forward<F>(f), ws_);
  }

  // --- loop thread ---
  void post(std::function<void(ws_state&)> f);
  void pump_read();
  void read_message();
  void read_failed(const boost::system::error_code& ec);
  void enqueue(std::string data, bool text);
  void start_write();
  void want_close(std::uint16_t code, std::string reason);
  void send_close();
  void overflowed();
  void finish(ws_closed why);  // tells the actor (once, unless it closed), then tears down
  void teardown();

  void configure();

  std::shared_ptr<loop> loop_;  // first: freed after the socket on it (service_impl.hpp)
  std::variant<plain_ws, tls_ws> ws_;  // Beast's streams hold a pointer to their state: small
  const websocket_options opts_;
  const http_request req_;  // immutable: handles read it from any thread
  boost::beast::flat_buffer rbuf_;
  // front is in flight while writing_; a list, as an empty std::deque already holds ~600 bytes
  std::list<std::pair<bool, std::string>> q_;
  std::string close_text_;
  std::uint16_t close_code_ = 1000;
  std::function<void()> on_done;  // the listener's count of open connections
  char first_byte_ = 0;  // a message's first byte, read before rbuf_ is sized (pump_read)
  bool want_read_ = false, reading_ = false, writing_ = false, closing_ = false, close_sent_ = false;
  bool done_ = false, told_ = false, self_closed_ = false;

  // --- shared ---
  std::atomic<std::size_t> handles_{0};  // see websocket's copy and destructor
  std::atomic<std::size_t> queued_{0};   // relaxed: a bound on bytes queued
  std::atomic<bool> open_{true};         // release in teardown(), acquire in the handles
  troupe::spin_mutex sink_mu_;
  std::unique_ptr<ws_sink> sink_;  // guarded by sink_mu_

  template <class M>
  void deliver(M&& m) {
    std::lock_guard g(sink_mu_);
    if (sink_) sink_->deliver(std::forward<M>(m));
  }
  void detach() {
    std::unique_ptr<ws_sink> old;
    std::lock_guard g(sink_mu_);
    old.swap(sink_);
  }
};

}  // namespace troupe::io::detail
