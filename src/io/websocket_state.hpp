// websocket_state.hpp: one WebSocket and everything its loop keeps for it. Internal to io.
// Threads: everything but the atomics and the sink is owned by the socket's loop thread; the
// actor side (websocket handles) reaches it only through post(). The stream is plain TCP or TLS
// (wss). Plain ws speaks RFC 6455 itself (own_ws, websocket_own.cpp; Beast only shakes hands):
// Beast's websocket::stream keeps ~2.5 KiB per connection whatever it does (a 1.5 KiB read
// buffer fixed by its template, a control-frame buffer, a close reason, a timer). wss stays on
// Beast's stream (websocket.cpp). Memory per open WebSocket is what a server holding 100,000 of
// them pays (bench/results.md, "websockets"): an idle one holds a 14-byte header buffer, no read
// buffer and no empty queue block.
#pragma once

#include <array>
#include <atomic>
#include <chrono>
#include <functional>
#include <list>
#include <memory>
#include <mutex>
#include <string>
#include <utility>
#include <variant>

#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/beast/core/flat_buffer.hpp>
#include <boost/beast/core/tcp_stream.hpp>
#include <boost/beast/http/message.hpp>
#include <boost/beast/http/string_body.hpp>
#include <boost/beast/ssl/ssl_stream.hpp>
#include <boost/beast/websocket/ssl.hpp>
#include <boost/beast/websocket/stream.hpp>

#include "service_impl.hpp"
#include "troupe/core/spin_mutex.hpp"
#include "troupe/io/websocket.hpp"
#include "ws_frame.hpp"

namespace troupe::io::detail {

using tls_tcp_stream = boost::beast::ssl_stream<boost::beast::tcp_stream>;

// A plain ws connection's own framing state: the socket, one timer (keep-alive pings and the
// idle timeout, then the close's deadline), and the frame being read. An idle WebSocket holds
// only the 14 header bytes: a message's buffer is sized from its header and freed once delivered.
struct own_ws {
  own_ws(boost::asio::ip::tcp::socket&& s, boost::asio::io_context& ctx, std::size_t max_message)
      : sock(std::move(s)), timer(ctx), rules(max_message) {}
  boost::asio::ip::tcp::socket sock;
  boost::asio::steady_timer timer;
  ws_message_rules rules;
  ws_frame_header h{};                     // the frame being read
  std::string msg;                         // the message being reassembled; empty while idle
  std::string ctl;                         // a control frame's payload, while it is read
  std::array<std::uint8_t, ws_max_header> hdr{};  // a frame header; the drain's scratch
  std::array<std::uint8_t, 10> whdr{};     // the header of the frame being written
  bool idle_armed = false, heard = false, pinged = false, lingering = false;
};

// One entry of the write queue: a message (text or binary) or, on plain ws, a control frame
// (ping, pong, close) that goes before the messages not yet started.
struct ws_out {
  ws_opcode op;
  std::string data;
};

// How long a plain ws close may take, from the first close frame queued to the peer's end.
std::chrono::nanoseconds own_close_deadline(const websocket_options& o);

struct ws_state : std::enable_shared_from_this<ws_state> {
  using tls_ws = boost::beast::websocket::stream<tls_tcp_stream>;
  using handshake_request = boost::beast::http::request<boost::beast::http::string_body>;

  ws_state(loop& l, boost::beast::tcp_stream&& s, websocket_options o, http_request req);
  ws_state(loop& l, tls_tcp_stream&& s, websocket_options o, http_request req);
  ~ws_state();

  own_ws* own() noexcept { return std::get_if<own_ws>(&ws_); }
  tls_ws& tls() noexcept { return std::get<tls_ws>(ws_); }

  // --- loop thread ---
  // The server side of the opening handshake (Beast's, on either stream); done(ec) after it.
  void accept(std::shared_ptr<handshake_request> head, std::function<void(boost::system::error_code)> done);
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
  void end();                  // no more messages either way: handles see it closed
  void teardown();             // end() and the socket closed at once

  // --- loop thread, plain ws (websocket_own.cpp) ---
  void own_pump_read();
  bool own_read_done(const boost::system::error_code& ec);
  void own_read_header();
  void own_on_header(std::size_t size);
  void own_on_data(std::size_t at);
  void own_on_control();
  void own_read_failed(const boost::system::error_code& ec);
  void own_refuse(ws_refusal r);  // tells the actor, then sends close with r.code and lingers
  void own_arm_timer(std::chrono::nanoseconds d);
  void own_on_timer();
  void own_push_control(ws_opcode op, std::string payload);
  void own_start_write();
  void own_linger();
  void own_drain(const boost::system::error_code& ec);
  void own_close_socket();

  std::shared_ptr<loop> loop_;  // first: freed after the socket on it (service_impl.hpp)
  std::variant<own_ws, tls_ws> ws_;  // Beast's tls stream holds a pointer to its state: small
  const websocket_options opts_;
  const http_request req_;  // immutable: handles read it from any thread
  boost::beast::flat_buffer rbuf_;  // wss only
  // front is in flight while writing_; a list, as an empty std::deque already holds ~600 bytes
  std::list<ws_out> q_;
  std::string close_text_;
  std::uint16_t close_code_ = 1000;
  std::function<void()> on_done;  // the listener's count of open connections
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
