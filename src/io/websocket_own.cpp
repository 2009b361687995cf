// websocket_own.cpp: plain ws on the io layer's own RFC 6455 framing (ws_frame.hpp), server side.
// Beast shakes hands (websocket.cpp, ws_state::accept); from then on this file reads and writes
// frames on the bare socket. While the actor has asked for a message, a read waits for a frame
// header in 14 bytes of the state; the payload is then read into a buffer of its size (the
// message's, freed once delivered), so an idle WebSocket holds no read buffer. Control frames
// are answered on the way (ping: pong; close: the peer's code echoed) and go out before the
// messages not yet started. Every refusal (1002, 1007, 1009) is a close frame after the write in
// flight; the socket then shuts its sending side and reads to the peer's end, within a deadline,
// so that the close frame is not lost to a reset.
#include <algorithm>
#include <chrono>

#include <boost/asio/read.hpp>
#include <boost/asio/write.hpp>

#include "troupe/core/timeout.hpp"
#include "websocket_state.hpp"

namespace troupe::io::detail {

namespace asio = boost::asio;
using std::chrono::steady_clock;

// How long a close may take, from the first close frame queued to the peer's end: the idle
// timeout (Beast's close uses its handshake timeout, the same), or a minute without one.
std::chrono::nanoseconds own_close_deadline(const websocket_options& o) {
  return o.idle_timeout == troupe::infinity ? std::chrono::nanoseconds(std::chrono::seconds(60)) : o.idle_timeout;
}

void ws_state::own_pump_read() {
  if (!want_read_ || reading_ || done_) return;
  auto& o = *own();
  reading_ = true;
  if (!o.idle_armed && !closing_ && opts_.idle_timeout != troupe::infinity && opts_.idle_timeout.count() > 0) {
    o.idle_armed = true;
    o.heard = false;
    o.pinged = false;
    own_arm_timer(opts_.idle_timeout / 2);
  }
  own_read_header();
}

// Every read's handler starts here: a lingering close only drains; a torn-down state stops; an
// error ends the WebSocket. True: the bytes are there, go on.
bool ws_state::own_read_done(const boost::system::error_code& ec) {
  if (own()->lingering) {
    own_drain(ec);
    return false;
  }
  if (done_) {
    reading_ = false;
    return false;
  }
  if (ec) {
    own_read_failed(ec);
    return false;
  }
  return true;
}

void ws_state::own_read_header() {
  auto& o = *own();
  asio::async_read(o.sock, asio::buffer(o.hdr.data(), 2), [self = shared_from_this()](boost::system::error_code ec, std::size_t) {
    if (!self->own_read_done(ec)) return;
    auto& o = *self->own();
    o.heard = true;
    const auto size = ws_header_size(o.hdr[0], o.hdr[1]);
    if (size == 2) return self->own_on_header(size);
    asio::async_read(o.sock, asio::buffer(o.hdr.data() + 2, size - 2), [self, size](boost::system::error_code ec, std::size_t) {
      if (!self->own_read_done(ec)) return;
      self->own_on_header(size);
    });
  });
}

void ws_state::own_on_header(std::size_t size) {
  auto& o = *own();
  if (auto r = parse_ws_header(o.hdr.data(), size, o.h)) return own_refuse(std::move(r));
  if (is_control(o.h.opcode)) {
    o.ctl.resize(static_cast<std::size_t>(o.h.length));  // at most 125 bytes (parse_ws_header)
    if (o.ctl.empty()) return own_on_control();
    asio::async_read(o.sock, asio::buffer(o.ctl), [self = shared_from_this()](boost::system::error_code ec, std::size_t) {
      if (!self->own_read_done(ec)) return;
      self->own_on_control();
    });
    return;
  }
  // The size limit is checked from the header: an oversized message is refused before any of
  // its payload is read or a byte allocated for it.
  if (auto r = o.rules.accept(o.h)) return own_refuse(std::move(r));
  const auto at = o.msg.size();
  o.msg.resize(at + static_cast<std::size_t>(o.h.length));
  if (o.h.length == 0) return own_on_data(at);
  asio::async_read(o.sock, asio::buffer(o.msg.data() + at, o.msg.size() - at),
                   [self = shared_from_this(), at](boost::system::error_code ec, std::size_t) {
                     if (!self->own_read_done(ec)) return;
                     self->own_on_data(at);
                   });
}

void ws_state::own_on_data(std::size_t at) {
  auto& o = *own();
  ws_unmask(o.msg.data() + at, o.msg.size() - at, o.h.mask);
  if (auto r = o.rules.payload(o.h, std::string_view(o.msg).substr(at))) return own_refuse(std::move(r));
  if (!o.h.fin) return own_read_header();
  reading_ = false;
  want_read_ = false;
  ws_received m{std::move(o.msg), o.rules.text()};
  o.msg = std::string();  // an idle WebSocket holds no message buffer
  o.rules.reset();
  deliver(std::move(m));
}

void ws_state::own_on_control() {
  auto& o = *own();
  ws_unmask(o.ctl.data(), o.ctl.size(), o.h.mask);
  std::string payload = std::move(o.ctl);
  o.ctl = std::string();
  if (o.h.opcode == ws_opcode::ping) {
    own_push_control(ws_opcode::pong, std::move(payload));
    own_start_write();
    return own_read_header();
  }
  if (o.h.opcode == ws_opcode::pong) return own_read_header();
  ws_close_payload c;
  if (auto r = parse_ws_close(payload, c)) return own_refuse(std::move(r));
  // The peer closes: tell the actor (unless it closed first), echo the code, and linger.
  reading_ = false;
  if (!self_closed_ && !told_) {
    told_ = true;
    deliver(ws_closed{c.code, std::move(c.reason), close_reason::end_of_input});
  }
  end();
  own_push_control(ws_opcode::close, c.code == 1005 ? std::string() : make_ws_close(c.code, {}));
  own_arm_timer(own_close_deadline(opts_));
  own_start_write();
}

void ws_state::own_read_failed(const boost::system::error_code& ec) {
  reading_ = false;
  if (ec == asio::error::connection_reset || ec == asio::error::eof || ec == asio::error::broken_pipe)
    return finish(ws_closed{1006, "the connection dropped without a close frame", close_reason::reset});
  finish(ws_closed{1006, ec.message(), close_reason::error});
}

void ws_state::own_refuse(ws_refusal r) {
  reading_ = false;
  own()->msg = std::string();  // the refused message's fragments are not kept while it lingers
  if (!self_closed_ && !told_) {
    told_ = true;
    deliver(ws_closed{r.code, r.text, r.code == 1009 ? close_reason::frame_too_large : close_reason::error});
  }
  end();
  own_push_control(ws_opcode::close, make_ws_close(r.code, r.text));
  own_arm_timer(own_close_deadline(opts_));
  own_start_write();
}

void ws_state::own_arm_timer(std::chrono::nanoseconds d) {
  auto& o = *own();
  o.timer.expires_after(std::chrono::duration_cast<steady_clock::duration>(d));
  o.timer.async_wait([self = shared_from_this()](boost::system::error_code ec) {
    if (!ec) self->own_on_timer();
  });
}

void ws_state::own_on_timer() {
  auto& o = *own();
  // A wait that completed just before the timer was re-armed: the new wait decides.
  if (o.timer.expiry() > steady_clock::now() || !o.sock.is_open()) return;
  // A close that did not finish within its deadline (a peer that neither reads nor closes).
  if (done_ || closing_) return own_close_socket();
  if (!reading_) {  // the actor has not asked again: no pings until it does (own_pump_read)
    o.idle_armed = false;
    return;
  }
  if (o.heard) {
    o.heard = false;
    o.pinged = false;
    return own_arm_timer(opts_.idle_timeout / 2);
  }
  if (!o.pinged) {
    o.pinged = true;
    own_push_control(ws_opcode::ping, {});
    own_start_write();
    return own_arm_timer(opts_.idle_timeout / 2);
  }
  finish(ws_closed{1006, "idle timeout", close_reason::idle_timeout});
}

void ws_state::own_push_control(ws_opcode op, std::string payload) {
  // After the frame in flight and the control frames already waiting, before any message.
  auto pos = q_.begin();
  if (writing_ && pos != q_.end()) ++pos;
  while (pos != q_.end() && is_control(pos->op)) ++pos;
  q_.insert(pos, ws_out{op, std::move(payload)});
}

void ws_state::own_start_write() {
  auto& o = *own();
  if (writing_ || close_sent_) return;
  if (!o.sock.is_open()) {
    q_.clear();
    return;
  }
  if (q_.empty()) {
    if (!closing_ || done_) return;
    // The actor's close, once every message queued before it is out.
    q_.push_back(ws_out{ws_opcode::close, make_ws_close(close_code_, close_text_)});
  }
  auto& f = q_.front();
  writing_ = true;
  const auto n = encode_ws_header(o.whdr, true, f.op, f.data.size());
  const std::array<asio::const_buffer, 2> bufs{asio::buffer(o.whdr.data(), n), asio::buffer(f.data)};
  asio::async_write(o.sock, bufs, [self = shared_from_this()](boost::system::error_code ec, std::size_t) {
    self->writing_ = false;
    const auto op = self->q_.front().op;
    // relaxed: a bound on bytes queued; the bytes themselves moved through post(). end() zeroed it.
    if (!self->done_ && !is_control(op))
      self->queued_.fetch_sub(self->q_.front().data.size(), std::memory_order_relaxed);
    self->q_.pop_front();
    if (self->done_) std::erase_if(self->q_, [](const ws_out& e) { return e.op != ws_opcode::close; });
    if (ec) {
      if (!self->done_) return self->finish(ws_closed{1006, ec.message(), close_reason::reset});
      return self->own_close_socket();
    }
    if (op == ws_opcode::close) {
      self->close_sent_ = true;
      return self->own_linger();
    }
    self->own_start_write();
  });
}

void ws_state::own_linger() {
  auto& o = *own();
  end();
  q_.clear();
  // Our close frame is out: the peer answers it and ends its side. Shutting ours (instead of
  // closing the socket) keeps unread bytes from turning into a reset that could overtake it.
  o.lingering = true;
  boost::system::error_code ec;
  o.sock.shutdown(asio::socket_base::shutdown_send, ec);
  own_arm_timer(own_close_deadline(opts_));
  if (!reading_) {
    reading_ = true;
    own_drain({});
  }
}

void ws_state::own_drain(const boost::system::error_code& ec) {
  auto& o = *own();
  if (ec || !o.sock.is_open()) {
    reading_ = false;
    return own_close_socket();
  }
  o.sock.async_read_some(asio::buffer(o.hdr), [self = shared_from_this()](boost::system::error_code ec, std::size_t) {
    self->own_drain(ec);
  });
}

void ws_state::own_close_socket() {
  auto& o = *own();
  end();
  o.lingering = false;
  boost::system::error_code ec;
  o.sock.close(ec);
  o.timer.cancel();
}

}  // namespace troupe::io::detail
