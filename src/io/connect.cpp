// connect.cpp: outgoing connections with a timeout, optionally TLS, optionally from a chosen
// source address.
#include "troupe/io/connect.hpp"

#include <netinet/in.h>

#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/post.hpp>
#include <boost/asio/ssl/host_name_verification.hpp>
#include <boost/asio/ssl/stream.hpp>
#include <boost/asio/steady_timer.hpp>

#include "conn_state.hpp"

namespace troupe::io::detail {

namespace asio = boost::asio;
using tcp = asio::ip::tcp;

namespace {

// One connect attempt; its parts (timer, connect, handshake) race, and the first to finish wins.
struct attempt {
  std::shared_ptr<conn_state> st;
  tcp::endpoint target;
  connect_options opts;
  std::function<void(result<connection>&&)> done;
  bool finished = false;  // the loop thread of `st`

  void finish(result<connection>&& r) {
    if (finished) return;
    finished = true;
    if (st->timer_) st->timer_->cancel();
    if (!r) st->finish_close(true);
    auto d = std::move(done);
    d(std::move(r));
  }
};

#ifndef IP_BIND_ADDRESS_NO_PORT
#define IP_BIND_ADDRESS_NO_PORT 24
#endif

void run(const std::shared_ptr<attempt>& a) {
  auto& st = *a->st;
  boost::system::error_code ec;
  st.socket_.open(a->target.protocol(), ec);
  if (!ec && !a->opts.source_address.empty()) {
    auto src = asio::ip::make_address(a->opts.source_address, ec);
    if (ec) {
      a->finish(error(errc::bad_address, "source '" + a->opts.source_address + "'"));
      return;
    }
    // The port is chosen at connect time, per (source, destination) pair: without this, bind
    // would take a port for the source address alone, and each address would hold ~28,000.
    asio::detail::socket_option::boolean<IPPROTO_IP, IP_BIND_ADDRESS_NO_PORT> no_port(true);
    st.socket_.set_option(no_port, ec);
    ec.clear();
    st.socket_.bind(tcp::endpoint(src, 0), ec);
  }
  const std::string where = a->target.address().to_string() + ":" + std::to_string(a->target.port());
  if (ec) {
    a->finish(error(std::error_code(ec), "connecting to " + where));
    return;
  }
  st.timer_ = std::make_unique<asio::steady_timer>(st.loop_->ctx);
  st.timer_->expires_after(a->opts.timeout);
  st.timer_->async_wait([a, where](const boost::system::error_code& e) {
    if (!e) a->finish(error(errc::connect_timeout, where + " after " + std::to_string(std::chrono::duration_cast<std::chrono::milliseconds>(a->opts.timeout).count()) + " ms"));
  });
  st.socket_.async_connect(a->target, [a, where](const boost::system::error_code& e) {
    if (a->finished) return;
    if (e) {
      a->finish(error(std::error_code(e), "connecting to " + where));
      return;
    }
    auto& s = *a->st;
    boost::system::error_code ignored;
    s.socket_.set_option(tcp::no_delay(true), ignored);
    s.socket_.non_blocking(true, ignored);
    s.peer_ = where;
    if (!a->opts.tls) {
      a->finish(connection(a->st));
      return;
    }
    s.make_tls(a->opts.tls->impl());
    const std::string& host = a->opts.tls_host;
    SSL_set_tlsext_host_name(s.tls_->native_handle(), host.c_str());
    s.tls_->set_verify_mode(asio::ssl::verify_peer, ignored);
    s.tls_->set_verify_callback(asio::ssl::host_name_verification(host), ignored);
    s.tls_->async_handshake(asio::ssl::stream_base::client, [a, where](const boost::system::error_code& h) {
      if (h) return a->finish(error(errc::tls_handshake_failed, where + ": " + h.message()));
      a->st->read_peer_names();
      a->finish(connection(a->st));
    });
  });
}

}  // namespace

void start_connect(io_service& io, const std::string& address, std::uint16_t port, const connect_options& o,
                   std::function<void(result<connection>&&)> done) {
  boost::system::error_code ec;
  auto addr = asio::ip::make_address(address, ec);
  if (ec) {
    done(error(errc::bad_address, "'" + address + "'"));
    return;
  }
  loop& l = io.impl().pick();
  auto a = std::make_shared<attempt>();
  a->st = std::make_shared<conn_state>(l, tcp::socket(l.ctx), o.connection);
  a->target = tcp::endpoint(addr, port);
  a->opts = o;
  a->done = std::move(done);
  asio::post(l.ctx, [a] { run(a); });
}

}  // namespace troupe::io::detail
