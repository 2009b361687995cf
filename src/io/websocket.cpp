// websocket.cpp: a WebSocket's state on its io loop, and the handle its actor holds.
// Boost.Beast does the protocol (framing, masking, UTF-8 checks, the size limit, control frames,
// pings on idle); this file adds what the io layer promises for every connection: reads only on
// demand, a bounded write queue with an overflow policy, one ws_closed, and a close when the
// last handle goes.
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

ws_state::ws_state(loop& l, beast::tcp_stream&& s, websocket_options o, http_request req)
    : loop_(l.shared_from_this()), ws_(std::in_place_type<plain_ws>, s.release_socket()), opts_(o), req_(std::move(req)) {
  configure();
}

ws_state::ws_state(loop& l, tls_tcp_stream&& s, websocket_options o, http_request req)
    : loop_(l.shared_from_this()), ws_(std::in_place_type<tls_ws>, std::move(s)), opts_(o), req_(std::move(req)) {
  configure();
}

namespace {
// The TCP socket under either stream type.
template <class S>
asio::ip::tcp::socket& tcp_socket_of(S& ws) {
  auto& lowest = beast::get_lowest_layer(ws);
  if constexpr (requires { lowest.socket(); }) return lowest.socket();
  else return lowest;
}
}  // namespace

void ws_state::configure() {
  with_ws([this](auto& ws) {
    // Beast's websocket timeouts take over from the tcp_stream's under TLS.
    if constexpr (requires { beast::get_lowest_layer(ws).expires_never(); }) beast::get_lowest_layer(ws).expires_never();
    ws::stream_base::timeout t;
    t.handshake_timeout = std::chrono::duration_cast<std::chrono::steady_clock::duration>(opts_.idle_timeout);
    t.idle_timeout = t.handshake_timeout;
    t.keep_alive_pings = true;
    ws.set_option(t);
    ws.set_option(ws::stream_base::decorator([](ws::response_type& r) { r.set(beast::http::field::server, "troupe"); }));
    ws.read_message_max(opts_.max_message);
    ws.auto_fragment(false);
  });
}

ws_state::~ws_state() {
  if (on_done) on_done();
}

void ws_state::post(std::function<void(ws_state&)> f) {
  loop_->post([self = shared_from_this(), f = std::move(f)] { f(*self); });
}

void ws_state::pump_read() {
  if (!want_read_ || reading_ || done_) return;
  reading_ = true;
  // Wait for a message with a one-byte buffer first: Beast reads the frame header (answering
  // pings and close frames on the way) into its own fixed buffer and hands over the first byte;
  // only then does read_message() size rbuf_ to the rest. So an idle WebSocket that has asked
  // for a message holds no read buffer of its own (Beast's async_read prepares 1.5 KiB in it
  // while it waits). One byte, not zero: Beast 1.81 runs its UTF-8 check over an empty buffer
  // into a crash. Plain TCP only: a TLS read may complete with no application bytes (a TLS 1.3
  // session ticket), a path this was not tested on; wss reads as before.
  with_ws([this](auto& ws) {
    if constexpr (!std::is_same_v<std::decay_t<decltype(ws)>, plain_ws>) {
      read_message();
      return;
    }
    ws.async_read_some(asio::mutable_buffer(&first_byte_, 1), [self = shared_from_this(), &ws](boost::system::error_code ec, std::size_t n) {
      if (self->done_) {
        self->reading_ = false;
        return;
      }
      if (ec) {
        self->reading_ = false;
        return self->read_failed(ec);
      }
      if (ws.is_message_done()) {  // a message of at most one byte: whole already
        self->reading_ = false;
        self->want_read_ = false;
        return self->deliver(ws_received{std::string(&self->first_byte_, n), ws.got_text()});
      }
      if (n > 0) self->rbuf_.commit(asio::buffer_copy(self->rbuf_.prepare(n), asio::buffer(&self->first_byte_, n)));
      self->read_message();  // async_read appends the rest of the message to that byte
    });
  });
}

void ws_state::read_message() {
  with_ws([this](auto& ws) {
    ws.async_read(rbuf_, [self = shared_from_this(), &ws](boost::system::error_code ec, std::size_t) {
      self->reading_ = false;
      if (self->done_) return;
      if (ec) return self->read_failed(ec);
      self->want_read_ = false;
      ws_received m{beast::buffers_to_string(self->rbuf_.data()), ws.got_text()};
      self->rbuf_.consume(self->rbuf_.size());
      self->rbuf_.shrink_to_fit();  // an idle WebSocket holds no read buffer
      self->deliver(std::move(m));
    });
  });
}

void ws_state::read_failed(const boost::system::error_code& ec) {
  // Beast has already answered a close frame, or sent its own (1009, 1007, 1002) for bad input.
  if (ec == ws::error::closed) {
    auto r = with_ws([](auto& ws) { return ws.reason(); });
    return finish(ws_closed{static_cast<std::uint16_t>(r.code), std::string(r.reason.c_str()),
                            close_reason::end_of_input});
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
  q_.emplace_back(text, std::move(data));
  start_write();
}

void ws_state::start_write() {
  if (writing_ || done_ || close_sent_) return;
  if (q_.empty()) {
    if (closing_) send_close();
    return;
  }
  writing_ = true;
  with_ws([this](auto& ws) {
    ws.text(q_.front().first);
    ws.async_write(asio::buffer(q_.front().second), [self = shared_from_this()](boost::system::error_code ec, std::size_t) {
      self->writing_ = false;
      if (self->done_) {  // torn down while this write was in flight: its buffer is free now
        self->q_.clear();
        return;
      }
      // relaxed: a bound on bytes queued; the bytes themselves moved through post().
      self->queued_.fetch_sub(self->q_.front().second.size(), std::memory_order_relaxed);
      self->q_.pop_front();
      if (ec) return self->finish(ws_closed{1006, ec.message(), close_reason::reset});
      self->start_write();
    });
  });
}

void ws_state::want_close(std::uint16_t code, std::string reason) {
  if (done_ || closing_) return;
  closing_ = true;
  self_closed_ = true;
  close_code_ = code;
  close_text_ = std::move(reason);
  start_write();
}

void ws_state::send_close() {
  close_sent_ = true;
  with_ws([this](auto& ws) {
    ws.async_close(ws::close_reason(static_cast<ws::close_code>(close_code_), close_text_),
                   [self = shared_from_this()](boost::system::error_code) { self->teardown(); });
  });
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

void ws_state::teardown() {
  if (done_) return;
  done_ = true;
  // release: a handle that sees false sees a closed WebSocket; pairs with the acquire in is_open().
  open_.store(false, std::memory_order_release);
  boost::system::error_code ec;
  with_ws([&ec](auto& ws) { tcp_socket_of(ws).close(ec); });
  if (!writing_) q_.clear();  // else the write's handler does, once its buffer is released
  queued_.store(0, std::memory_order_relaxed);
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
