// websocket.cpp: a WebSocket's state on its io loop, and the handle its actor holds.
// This file adds what the io layer promises for every connection: reads only on demand, a
// bounded write queue with an overflow policy, one ws_closed, and a close when the last handle
// goes. The protocol itself: on plain ws the io layer's own framing (websocket_own.cpp,
// ws_frame.hpp); on wss Boost.Beast's stream (framing, masking, UTF-8 checks, the size limit,
// control frames, pings on idle), here. Both shake hands with Beast.
#include "troupe/io/websocket.hpp"

#include <type_traits>

#include <boost/asio/post.hpp>
#include <boost/beast/core/buffers_to_string.hpp>
#include <boost/beast/core/flat_buffer.hpp>
#include <boost/beast/core/tcp_stream.hpp>
#include <boost/beast/websocket.hpp>

#include "troupe/core/spin_mutex.hpp"
#include "websocket_state.hpp"

namespace troupe::io::detail {

namespace asio = boost::asio;
namespace beast = boost::beast;
namespace ws = beast::websocket;

namespace {
// Beast's options for a stream of a route: timeouts (the handshake's always; the idle ones only
// on a stream that also carries the messages), the Server header, the size limit.
template <class S>
void configure(S& ws, const websocket_options& o, bool handshake_only) {
  // Beast's websocket timeouts take over from the tcp_stream's under TLS.
  if constexpr (requires { beast::get_lowest_layer(ws).expires_never(); }) beast::get_lowest_layer(ws).expires_never();
  ws::stream_base::timeout t;
  t.handshake_timeout = std::chrono::duration_cast<std::chrono::steady_clock::duration>(o.idle_timeout);
  t.idle_timeout = handshake_only ? ws::stream_base::none() : t.handshake_timeout;
  t.keep_alive_pings = !handshake_only;
  ws.set_option(t);
  ws.set_option(ws::stream_base::decorator([](ws::response_type& r) { r.set(beast::http::field::server, "troupe"); }));
  ws.read_message_max(o.max_message);
  ws.auto_fragment(false);
}
}  // namespace

ws_state::ws_state(loop& l, beast::tcp_stream&& s, websocket_options o, http_request req)
    : loop_(l.shared_from_this()),
      ws_(std::in_place_type<own_ws>, s.release_socket(), l.ctx, o.max_message),
      opts_(o),
      req_(std::move(req)) {}

ws_state::ws_state(loop& l, tls_tcp_stream&& s, websocket_options o, http_request req)
    : loop_(l.shared_from_this()), ws_(std::in_place_type<tls_ws>, std::move(s)), opts_(o), req_(std::move(req)) {
  configure(tls(), opts_, false);
}

ws_state::~ws_state() {
  if (on_done) on_done();
}

void ws_state::accept(std::shared_ptr<handshake_request> head, std::function<void(boost::system::error_code)> done) {
  if (auto* o = own()) {
    // Beast answers the upgrade on a stream lent the socket for the handshake alone; the socket
    // comes back, and Beast's state (~2.5 KiB) goes with the stream.
    auto hs = std::make_shared<ws::stream<asio::ip::tcp::socket>>(std::move(o->sock));
    configure(*hs, opts_, true);
    hs->async_accept(*head, [self = shared_from_this(), hs, head, done = std::move(done)](boost::system::error_code ec) {
      self->own()->sock = std::move(hs->next_layer());
      done(ec);
    });
    return;
  }
  tls().async_accept(*head, [self = shared_from_this(), head, done = std::move(done)](boost::system::error_code ec) {
    done(ec);
  });
}

void ws_state::post(std::function<void(ws_state&)> f) {
  loop_->post([self = shared_from_this(), f = std::move(f)] { f(*self); });
}

void ws_state::pump_read() {
  if (own()) return own_pump_read();
  if (!want_read_ || reading_ || done_) return;
  reading_ = true;
  read_message();
}

void ws_state::read_message() {
  tls().async_read(rbuf_, [self = shared_from_this()](boost::system::error_code ec, std::size_t) {
    self->reading_ = false;
    if (self->done_) return;
    if (ec) return self->read_failed(ec);
    self->want_read_ = false;
    ws_received m{beast::buffers_to_string(self->rbuf_.data()), self->tls().got_text()};
    self->rbuf_.consume(self->rbuf_.size());
    self->rbuf_.shrink_to_fit();  // an idle WebSocket holds no read buffer
    self->deliver(std::move(m));
  });
}

void ws_state::read_failed(const boost::system::error_code& ec) {
  // Beast has already answered a close frame, or sent its own (1009, 1007, 1002) for bad input.
  if (ec == ws::error::closed) {
    auto r = tls().reason();
    // Beast reports a close frame without a code as 0; RFC 6455 7.1.5 and plain ws say 1005.
    const auto code = r.code == ws::close_code::none ? std::uint16_t{1005} : static_cast<std::uint16_t>(r.code);
    return finish(ws_closed{code, std::string(r.reason.c_str()), close_reason::end_of_input});
  }
  if (ec == ws::error::message_too_big)
    return finish(ws_closed{1009, "a message over " + std::to_string(opts_.max_message) + " bytes",
                            close_reason::frame_too_large});
  if (ec == ws::error::bad_frame_payload)
    return finish(ws_closed{1007, "invalid UTF-8 in a text message", close_reason::error});
  if (ec == beast::error::timeout) return finish(ws_closed{1006, "idle timeout", close_reason::idle_timeout});
  if (ec == asio::error::connection_reset || ec == asio::error::eof || ec == asio::error::broken_pipe)
    return finish(ws_closed{1006, "the connection dropped without a close frame", close_reason::reset});
  if (ec.category() == ws::make_error_code(ws::error::bad_opcode).category())
    return finish(ws_closed{1002, "protocol error: " + ec.message(), close_reason::error});
  finish(ws_closed{1006, ec.message(), close_reason::error});
}

void ws_state::enqueue(std::string data, bool text) {
  if (done_) return;
  q_.push_back(ws_out{text ? ws_opcode::text : ws_opcode::binary, std::move(data)});
  start_write();
}

void ws_state::start_write() {
  if (own()) return own_start_write();
  if (writing_ || done_ || close_sent_) return;
  if (q_.empty()) {
    if (closing_) send_close();
    return;
  }
  writing_ = true;
  tls().text(q_.front().op == ws_opcode::text);
  tls().async_write(asio::buffer(q_.front().data), [self = shared_from_this()](boost::system::error_code ec, std::size_t) {
    self->writing_ = false;
    if (self->done_) {  // torn down while this write was in flight: its buffer is free now
      self->q_.clear();
      return;
    }
    // relaxed: a bound on bytes queued; the bytes themselves moved through post().
    self->queued_.fetch_sub(self->q_.front().data.size(), std::memory_order_relaxed);
    self->q_.pop_front();
    if (ec) return self->finish(ws_closed{1006, ec.message(), close_reason::reset});
    self->start_write();
  });
}

void ws_state::want_close(std::uint16_t code, std::string reason) {
  if (done_ || closing_) return;
  closing_ = true;
  self_closed_ = true;
  close_code_ = code;
  close_text_ = std::move(reason);
  if (own()) own_arm_timer(own_close_deadline(opts_));  // a peer that never reads cannot hold it open
  start_write();
}

void ws_state::send_close() {
  close_sent_ = true;
  tls().async_close(ws::close_reason(static_cast<ws::close_code>(close_code_), close_text_),
                    [self = shared_from_this()](boost::system::error_code) { self->teardown(); });
}

void ws_state::overflowed() {
  if (done_) return;
  finish(ws_closed{1008, "write queue full: the peer does not read", close_reason::write_queue_full});
}

void ws_state::finish(ws_closed why) {
  if (!self_closed_ && !told_) {
    told_ = true;
    deliver(std::move(why));
  }
  teardown();
}

void ws_state::end() {
  if (done_) return;
  done_ = true;
  // release: a handle that sees false sees a closed WebSocket; pairs with the acquire in is_open().
  open_.store(false, std::memory_order_release);
  if (!writing_) q_.clear();  // else the write's handler does, once its buffer is released
  queued_.store(0, std::memory_order_relaxed);
}

void ws_state::teardown() {
  end();
  if (own()) return own_close_socket();
  boost::system::error_code ec;
  beast::get_lowest_layer(tls()).socket().close(ec);
}

}  // namespace troupe::io::detail

namespace troupe::io {

websocket::websocket(std::shared_ptr<detail::ws_state> s) noexcept : state_(std::move(s)) {
  // relaxed: a new handle from the runtime, before anyone else sees it.
  if (state_) state_->handles_.fetch_add(1, std::memory_order_relaxed);
}
websocket::websocket(const websocket& o) noexcept : state_(o.state_) {
  // relaxed: copied from a live handle, which keeps the count above zero.
  if (state_) state_->handles_.fetch_add(1, std::memory_order_relaxed);
}
websocket::~websocket() {
  if (!state_) return;
  // acq_rel: the last handle's end sees every send made through the others before closing.
  if (state_->handles_.fetch_sub(1, std::memory_order_acq_rel) != 1) return;
  try {
    state_->post([](detail::ws_state& s) {
      s.detach();
      s.want_close(1001, "going away");
    });
  } catch (...) {
    // Out of memory: the socket closes when the state is destroyed.
  }
}

void websocket::request() {
  state_->post([](detail::ws_state& s) {
    s.want_read_ = true;
    s.pump_read();
  });
}

result<void> websocket::send(std::string data, bool text) {
  // acquire: pairs with the release in teardown().
  if (!state_->open_.load(std::memory_order_acquire)) return error(errc::closed, "the WebSocket is closed");
  if (state_->loop_->gate->closed()) return error(errc::closed, "the io_service has ended");
  const auto n = data.size();
  // relaxed: a bound, not a publication; the message itself travels through post().
  auto before = state_->queued_.fetch_add(n, std::memory_order_relaxed);
  if (before + n > state_->opts_.max_write_queue && before != 0) {
    state_->queued_.fetch_sub(n, std::memory_order_relaxed);
    if (state_->opts_.on_full == overflow_policy::close) state_->post([](detail::ws_state& s) { s.overflowed(); });
    return error(errc::write_queue_full, std::to_string(before) + " bytes already queued for " +
                                             state_->req_.peer + " (max_write_queue " +
                                             std::to_string(state_->opts_.max_write_queue) + ")");
  }
  state_->post([d = std::move(data), text](detail::ws_state& s) mutable { s.enqueue(std::move(d), text); });
  return {};
}

void websocket::close(std::uint16_t code, std::string reason) {
  state_->post([code, r = std::move(reason)](detail::ws_state& s) mutable { s.want_close(code, std::move(r)); });
}

void websocket::abort() {
  state_->post([](detail::ws_state& s) {
    s.self_closed_ = true;
    s.teardown();
  });
}

std::size_t websocket::queued_bytes() const noexcept { return state_->queued_.load(std::memory_order_relaxed); }
bool websocket::is_open() const noexcept {
  return state_ && state_->open_.load(std::memory_order_acquire) && !state_->loop_->gate->closed();
}
const http_request& websocket::upgrade_request() const noexcept { return state_->req_; }

void websocket::attach_sink(std::unique_ptr<detail::ws_sink> sink) {
  std::lock_guard g(state_->sink_mu_);
  state_->sink_ = std::move(sink);
}

}  // namespace troupe::io
