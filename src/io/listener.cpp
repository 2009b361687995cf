// listener.cpp: the accept loop behind io::listen.
#include "troupe/io/listener.hpp"

#include <sys/socket.h>

#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/post.hpp>
#include <boost/asio/ssl/stream.hpp>
#include <boost/asio/steady_timer.hpp>

#include "conn_state.hpp"

namespace troupe::io::detail {

namespace asio = boost::asio;
using tcp = asio::ip::tcp;

struct listener_core : std::enable_shared_from_this<listener_core> {
  listener_core(service_impl& s, loop& h, listen_options o)
      : svc(s), home(h.shared_from_this()), acceptor(h.ctx), opts(std::move(o)), retry(h.ctx) {}

  void accept_one();
  void take(loop& l, tcp::socket s);
  void hand_over(const std::shared_ptr<conn_state>& st);
  void gone();

  service_impl& svc;  // the home loop alone uses it: a handle or an actor may outlive the service
  std::shared_ptr<loop> home;           // the loop that runs the accept loop
  tcp::acceptor acceptor;  // home loop
  listen_options opts;     // immutable after open
  std::uint16_t port = 0;  // immutable after open
  asio::steady_timer retry;  // home loop: pauses accepting when out of file descriptors
  bool paused = false;       // home loop

  troupe::spin_mutex mu;
  ref<acceptor_msg> owner;  // guarded by mu; empty once closed
  bool closed = false;      // guarded by mu

  // relaxed, all three: figures for the handle; the home loop alone acts on `live`.
  std::atomic<std::size_t> live{0}, accepted_count{0}, tls_failures{0};
};

void listener_core::accept_one() {
  loop& l = svc.pick();
  acceptor.async_accept(l.ctx, [self = shared_from_this(), &l](const boost::system::error_code& ec, tcp::socket s) {
    if (ec == asio::error::operation_aborted || !self->acceptor.is_open()) return;
    if (ec) {
      // Out of file descriptors (EMFILE, ENFILE) or memory: the pending connections wait in the
      // backlog; try again shortly instead of spinning.
      self->retry.expires_after(std::chrono::milliseconds(50));
      self->retry.async_wait([self](const boost::system::error_code& e) {
        if (!e) self->accept_one();
      });
      return;
    }
    self->take(l, std::move(s));
    if (self->live.load(std::memory_order_relaxed) < self->opts.max_connections) self->accept_one();
    else self->paused = true;
  });
}

void listener_core::take(loop& l, tcp::socket s) {
  live.fetch_add(1, std::memory_order_relaxed);
  accepted_count.fetch_add(1, std::memory_order_relaxed);
  boost::system::error_code ec;
  s.set_option(tcp::no_delay(true), ec);
  s.non_blocking(true, ec);
  auto ep = s.remote_endpoint(ec);
  auto st = std::make_shared<conn_state>(l, std::move(s), opts.connection);
  if (!ec) st->peer_ = ep.address().to_string() + ":" + std::to_string(ep.port());
  st->on_done = [self = shared_from_this()] { self->home->post([self] { self->gone(); }); };
  if (!opts.tls) {
    hand_over(st);
    return;
  }
  st->make_tls(opts.tls->impl());
  st->post([self = shared_from_this()](conn_state& c) {
    c.handshaking_ = true;
    c.timer_ = std::make_unique<asio::steady_timer>(c.loop_->ctx);
    c.timer_->expires_after(self->opts.handshake_timeout);
    c.timer_->async_wait([st = c.shared_from_this()](const boost::system::error_code& e) {
      if (!e && st->handshaking_) st->finish_close(true);  // aborts the handshake
    });
    c.tls_->async_handshake(asio::ssl::stream_base::server,
                            [self, st = c.shared_from_this()](const boost::system::error_code& e) {
                              st->handshaking_ = false;
                              if (st->timer_) st->timer_->cancel();
                              if (e || st->done_) {
                                self->tls_failures.fetch_add(1, std::memory_order_relaxed);
                                st->finish_close(false);
                                return;
                              }
                              st->read_peer_names();
                              self->hand_over(st);
                            });
  });
}

void listener_core::hand_over(const std::shared_ptr<conn_state>& st) {
  connection c(st);
  std::lock_guard g(mu);
  if (owner) owner.tell(accepted{std::move(c)});
  // Otherwise the listener has closed: `c` is the last handle, and its end closes the socket.
}

void listener_core::gone() {
  live.fetch_sub(1, std::memory_order_relaxed);
  if (paused && acceptor.is_open() && live.load(std::memory_order_relaxed) < opts.max_connections) {
    paused = false;
    accept_one();
  }
}

result<std::shared_ptr<listener_core>> open_listener(io_service& io, const listen_options& o) {
  boost::system::error_code ec;
  auto addr = asio::ip::make_address(o.address, ec);
  if (ec) return error(errc::bad_address, "'" + o.address + "'");
  auto& svc = io.impl();
  auto core = std::make_shared<listener_core>(svc, svc.pick(), o);
  tcp::endpoint ep(addr, o.port);
  const std::string where = o.address + ":" + std::to_string(o.port);
  core->acceptor.open(ep.protocol(), ec);
  if (!ec) core->acceptor.set_option(tcp::acceptor::reuse_address(true), ec);
  if (!ec && o.reuse_port) {
    asio::detail::socket_option::boolean<SOL_SOCKET, SO_REUSEPORT> reuse_port(true);
    core->acceptor.set_option(reuse_port, ec);
  }
  if (!ec) core->acceptor.bind(ep, ec);
  if (!ec) core->acceptor.listen(o.backlog, ec);
  if (ec) return error(std::error_code(ec), "listening on " + where);
  core->port = core->acceptor.local_endpoint(ec).port();
  return core;
}

void start_accepting(const std::shared_ptr<listener_core>& core, ref<acceptor_msg> owner) {
  {
    std::lock_guard g(core->mu);
    if (core->closed) return;
    core->owner = std::move(owner);
  }
  asio::post(core->home->ctx, [core] { core->accept_one(); });
}

void close_listener(listener_core& core) noexcept {
  ref<acceptor_msg> old;
  {
    std::lock_guard g(core.mu);
    if (core.closed) return;
    core.closed = true;
    old = std::move(core.owner);
  }
  try {
    core.home->post([self = core.shared_from_this()] {
      boost::system::error_code ec;
      self->acceptor.close(ec);
      self->retry.cancel();
    });
  } catch (...) {
    // Out of memory: the socket closes when the core is destroyed instead.
  }
}

std::uint16_t listener_port(const listener_core& core) noexcept { return core.port; }
std::size_t listener_live(const listener_core& core) noexcept { return core.live.load(std::memory_order_relaxed); }
std::size_t listener_accepted(const listener_core& core) noexcept {
  return core.accepted_count.load(std::memory_order_relaxed);
}
std::size_t listener_tls_failures(const listener_core& core) noexcept {
  return core.tls_failures.load(std::memory_order_relaxed);
}

}  // namespace troupe::io::detail
