// connection.cpp: a connection's socket work (on its loop) and the actor's handle on it.
#include "troupe/io/connection.hpp"

#include <boost/asio/error.hpp>
#include <boost/asio/post.hpp>
#include <boost/asio/socket_base.hpp>
#include <boost/asio/ssl/error.hpp>
#include <boost/asio/write.hpp>

#include "conn_state.hpp"
#include "troupe/io/tls.hpp"

namespace troupe::io {

namespace asio = boost::asio;

namespace detail {

namespace {
constexpr std::chrono::seconds linger_limit{5};
}

conn_state::conn_state(loop& l, tcp::socket s, const connection_options& o)
    : loop_(l.shared_from_this()), socket_(std::move(s)), opts_(o), decoder_(o.framing) {
  touch();
}

conn_state::~conn_state() = default;

void conn_state::post(std::function<void(conn_state&)> f) {
  loop_->post([self = shared_from_this(), f = std::move(f)] { f(*self); });
}

void conn_state::read_peer_names() {
  if (tls_) peer_names_ = certificate_names(SSL_get0_peer_certificate(tls_->native_handle()));
}

void conn_state::started() {
  touch();
  if (opts_.idle_timeout.count() > 0) arm_timer();
}

void conn_state::arm_timer() {
  if (done_) return;
  if (!timer_) timer_ = std::make_unique<asio::steady_timer>(loop_->ctx);
  if (closing_) timer_->expires_after(linger_limit);
  else if (opts_.idle_timeout.count() > 0) timer_->expires_at(last_activity_ + opts_.idle_timeout);
  else return;
  timer_->async_wait([self = shared_from_this()](const boost::system::error_code& ec) {
    if (ec || self->done_) return;  // re-armed or cancelled
    if (self->closing_) {
      self->finish_close(true);  // the peer would not take the last writes in time
      return;
    }
    auto idle = std::chrono::steady_clock::now() - self->last_activity_;
    if (idle >= self->opts_.idle_timeout) {
      self->fail(close_reason::idle_timeout,
                 "no traffic for " + std::to_string(std::chrono::duration_cast<std::chrono::milliseconds>(self->opts_.idle_timeout).count()) + " ms");
    } else {
      self->arm_timer();  // traffic since: wait for the rest (one wait per period, not per byte)
    }
  });
}

void conn_state::pump_read() {
  if (!want_read_ || reading_ || done_) return;
  auto f = decoder_.next();
  if (!f) {
    fail(close_reason::frame_too_large, f.error().context());
    return;
  }
  if (*f) {
    want_read_ = false;
    deliver(received{std::move(**f)});
    return;
  }
  if (eof_) {
    want_read_ = false;
    if (!eof_told_) {
      eof_told_ = true;
      std::string detail;
      if (decoder_.buffered() != 0)
        detail = std::to_string(decoder_.buffered()) + " bytes of an unfinished frame dropped";
      deliver(closed{close_reason::end_of_input, std::move(detail)});
    }
    return;
  }
  reading_ = true;
  auto self = shared_from_this();
  if (tls_) {
    // TLS keeps decrypted bytes of its own, so a readiness wait cannot tell whether data is
    // there: read into a buffer held only while the read is in flight.
    const std::size_t n = loop_->scratch.size();
    if (!tls_buf_) tls_buf_.reset(new char[n]);
    tls_->async_read_some(asio::buffer(tls_buf_.get(), n),
                          [self](const boost::system::error_code& ec, std::size_t got) {
                            self->reading_ = false;
                            if (self->done_) return;
                            if (ec == asio::error::eof || ec == asio::ssl::error::stream_truncated) {
                              self->eof_ = true;
                            } else if (ec) {
                              self->fail_from(ec);
                              return;
                            } else {
                              self->touch();
                              self->decoder_.feed({self->tls_buf_.get(), got});
                            }
                            self->tls_buf_.reset();
                            self->pump_read();
                          });
    return;
  }
  // Plain socket: wait for readiness with no buffer, then read into the loop's scratch buffer,
  // so an idle connection holds no read buffer at all.
  socket_.async_wait(tcp::socket::wait_read, [self](const boost::system::error_code& ec) {
    self->reading_ = false;
    if (self->done_) return;
    if (ec) {
      self->fail_from(ec);
      return;
    }
    boost::system::error_code rec;
    auto& buf = self->loop_->scratch;
    std::size_t got = self->socket_.read_some(asio::buffer(buf), rec);
    if (rec == asio::error::would_block || rec == asio::error::try_again) {
      // spurious wake-up
    } else if (rec == asio::error::eof) {
      self->eof_ = true;
    } else if (rec) {
      self->fail_from(rec);
      return;
    } else {
      self->touch();
      self->decoder_.feed({buf.data(), got});
    }
    self->pump_read();
  });
}

void conn_state::enqueue(std::string bytes) {
  if (done_) return;  // finish_close() has zeroed the count
  write_q_.push_back(std::move(bytes));
  start_write();
}

void conn_state::start_write() {
  if (writing_ || done_) return;
  if (write_q_.empty()) {
    if (closing_) {
      finish_close(false);
    } else if (shutdown_wr_) {
      shutdown_wr_ = false;
      boost::system::error_code ec;
      if (tls_) finish_close(false);  // TLS has no half-close: close after the last write
      else socket_.shutdown(tcp::socket::shutdown_send, ec);
    }
    return;
  }
  in_flight_.swap(write_q_);
  std::vector<asio::const_buffer> bufs;
  bufs.reserve(in_flight_.size());
  std::size_t total = 0;
  for (auto& s : in_flight_) {
    bufs.emplace_back(s.data(), s.size());
    total += s.size();
  }
  writing_ = true;
  auto done = [self = shared_from_this(), total](const boost::system::error_code& ec, std::size_t) {
    self->writing_ = false;
    // relaxed: see queued_. After finish_close() the count is zero and stays so.
    if (!self->done_) self->queued_.fetch_sub(total, std::memory_order_relaxed);
    self->in_flight_.clear();
    if (self->write_q_.empty()) std::vector<std::string>().swap(self->in_flight_);  // idle: no memory
    if (self->done_) return;
    if (ec) {
      self->fail_from(ec);
      return;
    }
    self->touch();
    self->start_write();
  };
  if (tls_) asio::async_write(*tls_, bufs, std::move(done));
  else asio::async_write(socket_, bufs, std::move(done));
}

void conn_state::want_shutdown_write() {
  shutdown_wr_ = true;
  start_write();
}

void conn_state::want_close() {
  if (done_) return;
  closing_ = true;
  if (writing_ || !write_q_.empty()) {
    arm_timer();  // the linger limit
    start_write();
  } else {
    finish_close(false);
  }
}

void conn_state::fail_from(const boost::system::error_code& ec) {
  if (ec == asio::error::operation_aborted) return;
  if (ec == asio::error::connection_reset || ec == asio::error::broken_pipe ||
      ec == asio::error::connection_aborted)
    fail(close_reason::reset, ec.message());
  else
    fail(close_reason::error, ec.message());
}

void conn_state::fail(close_reason why, std::string detail) {
  if (done_) return;
  finish_close(why != close_reason::end_of_input);
  deliver(closed{why, std::move(detail)});
  detach();
}

void conn_state::finish_close(bool reset) {
  if (done_) return;
  done_ = true;
  // release: a handle that reads false (acquire) sees a closed connection; pairs with write().
  open_.store(false, std::memory_order_release);
  boost::system::error_code ec;
  if (timer_) timer_->cancel();
  if (reset) socket_.set_option(asio::socket_base::linger(true, 0), ec);  // RST, not FIN
  socket_.close(ec);
  write_q_.clear();
  queued_.store(0, std::memory_order_relaxed);  // relaxed: see queued_
  decoder_ = frame_decoder(opts_.framing);  // drops a partial frame's bytes
  if (on_done) std::exchange(on_done, nullptr)();
}

}  // namespace detail

connection::connection(std::shared_ptr<detail::conn_state> s) noexcept : state_(std::move(s)) {
  // relaxed: the state was just handed to us; see handles_.
  if (state_) state_->handles_.fetch_add(1, std::memory_order_relaxed);
}

connection::connection(const connection& o) noexcept : state_(o.state_) {
  if (state_) state_->handles_.fetch_add(1, std::memory_order_relaxed);  // relaxed: see handles_
}

connection::~connection() {
  if (!state_) return;
  // acq_rel: see handles_. The last handle stops delivery at once (the owner is going away,
  // perhaps with its system), then closes after the queued writes.
  if (state_->handles_.fetch_sub(1, std::memory_order_acq_rel) == 1) {
    state_->detach();
    state_->post([](detail::conn_state& s) { s.want_close(); });
  }
}

void connection::attach_sink(std::unique_ptr<detail::conn_sink> sink) {
  {
    std::lock_guard g(state_->sink_mu_);
    state_->sink_ = std::move(sink);
  }
  state_->post([](detail::conn_state& s) { s.started(); });
}

void connection::request() {
  state_->post([](detail::conn_state& s) {
    s.want_read_ = true;
    s.pump_read();
  });
}

result<void> connection::write(std::string frame) {
  auto& s = *state_;
  // acquire: pairs with the release in finish_close().
  if (!s.open_.load(std::memory_order_acquire)) return error(errc::closed);
  if (s.loop_->gate->closed()) return error(errc::closed, "the io_service has ended");
  auto enc = encode_frame(s.opts_.framing, std::move(frame));
  if (!enc) return enc.error();
  const std::size_t n = enc->size();
  // relaxed: see queued_. Handles of one connection are used by its actor, one at a time.
  if (s.queued_.load(std::memory_order_relaxed) + n > s.opts_.max_write_queue) {
    if (s.opts_.on_full == overflow_policy::close)
      s.post([](detail::conn_state& c) { c.fail(close_reason::write_queue_full, "the peer is not reading"); });
    return error(errc::write_queue_full, std::to_string(s.queued_.load(std::memory_order_relaxed)) +
                                             " bytes queued, max_write_queue is " +
                                             std::to_string(s.opts_.max_write_queue));
  }
  s.queued_.fetch_add(n, std::memory_order_relaxed);
  s.loop_->post([st = state_, bytes = std::move(*enc)]() mutable { st->enqueue(std::move(bytes)); });
  return {};
}

void connection::shutdown_write() {
  state_->post([](detail::conn_state& s) { s.want_shutdown_write(); });
}

void connection::close() {
  state_->post([](detail::conn_state& s) { s.want_close(); });
}

void connection::abort() {
  state_->post([](detail::conn_state& s) { s.finish_close(true); });
}

std::size_t connection::queued_bytes() const noexcept {
  return state_->queued_.load(std::memory_order_relaxed);  // relaxed: a figure, not a guard
}

bool connection::is_open() const noexcept {
  // acquire: see open_
  return state_ && state_->open_.load(std::memory_order_acquire) && !state_->loop_->gate->closed();
}

std::string connection::peer() const {
  // Read through the loop would need a round trip; the endpoint is fixed once connected, so it
  // is captured at hand-over instead.
  return state_ ? state_->peer_ : std::string();
}

std::vector<std::string> connection::peer_names() const {
  // Like peer(): fixed by the handshake and set before the hand-over, so read without the loop.
  return state_ ? state_->peer_names_ : std::vector<std::string>();
}

}  // namespace troupe::io
