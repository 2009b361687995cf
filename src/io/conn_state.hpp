// conn_state.hpp: one socket and everything its loop keeps for it. Internal to the io layer.
// Threads: everything but the members marked otherwise is owned by the socket's loop thread;
// the actor side (connection handles) reaches it only by posting to that loop, except for the
// atomics and the sink, which say how they are shared.
#pragma once

#include <atomic>
#include <chrono>
#include <functional>
#include <memory>
#include <string>
#include <vector>

#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/ssl/stream.hpp>
#include <boost/asio/steady_timer.hpp>

#include "troupe/core/spin_mutex.hpp"
#include "troupe/io/codec.hpp"
#include "troupe/io/connection.hpp"
#include "service_impl.hpp"

namespace troupe::io::detail {

struct tls_impl {
  boost::asio::ssl::context ctx;
  explicit tls_impl(boost::asio::ssl::context::method m) : ctx(m) {}
};

struct conn_state : std::enable_shared_from_this<conn_state> {
  using tcp = boost::asio::ip::tcp;
  using tls_stream = boost::asio::ssl::stream<tcp::socket&>;

  conn_state(loop& l, tcp::socket s, const connection_options& o);
  ~conn_state();

  // --- loop thread ---
  void make_tls(tls_impl& t) { tls_ = std::make_unique<tls_stream>(socket_, t.ctx); }
  void post(std::function<void(conn_state&)> f);
  void pump_read();
  void enqueue(std::string bytes);
  void start_write();
  void want_shutdown_write();
  void want_close();
  void fail(close_reason why, std::string detail);
  void fail_from(const boost::system::error_code& ec);
  void finish_close(bool reset);
  void arm_timer();
  void touch() { last_activity_ = std::chrono::steady_clock::now(); }
  void started();  // the connection was handed over: starts the idle clock
  void read_peer_names();  // after a TLS handshake, before the hand-over

  std::shared_ptr<loop> loop_;  // first: freed after the socket and timer on it (service_impl.hpp)
  tcp::socket socket_;
  std::unique_ptr<tls_stream> tls_;
  connection_options opts_;
  frame_decoder decoder_;
  std::vector<std::string> write_q_;    // waiting for the write in flight
  std::vector<std::string> in_flight_;  // the write in flight
  std::unique_ptr<boost::asio::steady_timer> timer_;  // idle, handshake or linger; made on first use
  std::unique_ptr<char[]> tls_buf_;    // TLS reads only, held while one is in flight
  std::chrono::steady_clock::time_point last_activity_;
  std::string peer_;              // "address:port"; set before the state is shared, then immutable
  std::vector<std::string> peer_names_;  // the TLS peer certificate's; set before hand-over, then immutable
  std::function<void()> on_done;  // the listener's count of open connections; loop thread
  bool want_read_ = false, reading_ = false, writing_ = false, eof_ = false, eof_told_ = false;
  bool closing_ = false, shutdown_wr_ = false, done_ = false, handshaking_ = false;

  // --- shared ---
  // acq_rel on the decrement: the last handle's owner sees every write made through the others
  // before it closes; the increment is relaxed (a copy is made from a live handle).
  std::atomic<std::size_t> handles_{0};
  // relaxed: a bound on bytes queued; the bytes themselves travel through post(), which orders.
  std::atomic<std::size_t> queued_{0};
  // release when it turns false (after the socket closed), acquire in is_open()/write(): a writer
  // that sees false sees a closed connection.
  std::atomic<bool> open_{true};
  troupe::spin_mutex sink_mu_;
  std::unique_ptr<conn_sink> sink_;  // guarded by sink_mu_

  template <class M>
  void deliver(M&& m) {
    std::lock_guard g(sink_mu_);
    if (sink_) sink_->deliver(std::forward<M>(m));
  }
  void detach() {
    std::unique_ptr<conn_sink> old;
    {
      std::lock_guard g(sink_mu_);
      old = std::move(sink_);
    }
  }
};

}  // namespace troupe::io::detail
