// connection.cpp: one connection between two nodes: handshake, frames, fragments, heartbeats.
// Runs only on the node's thread. Each async operation holds a shared_ptr to the connection,
// so it lives until its last handler has run; node_impl outlives them all (it joins the thread
// and destroys the io_context, and with it any handler never run, before it goes).
#include <algorithm>
#include <boost/asio/read.hpp>
#include <boost/asio/ssl/error.hpp>
#include <boost/asio/write.hpp>
#include <openssl/x509.h>
#include <string>

#include "node_impl.hpp"

namespace troupe::remote::detail {

namespace {
constexpr std::string_view dialer_role = "troupe-dialer";
constexpr std::string_view acceptor_role = "troupe-acceptor";

long long to_ms(std::chrono::nanoseconds d) {
  return static_cast<long long>(std::chrono::duration_cast<std::chrono::milliseconds>(d).count());
}

// "'c', 'localhost'" or "no name", for refusals a person reads.
std::string quoted(const std::vector<std::string>& names) {
  if (names.empty()) return "no name";
  std::string s;
  for (const auto& n : names) s += (s.empty() ? "'" : ", '") + n + "'";
  return s;
}
}  // namespace

connection::connection(node_impl& n, tcp::socket s, role r, std::string expected_peer)
    : node_(n), socket_(std::move(s)), timer_(n.context()), role_(r), peer_(std::move(expected_peer)) {}

void connection::start() {
  started_ = last_heard_ = clock::now();
  arm_timer();
  handshake_tls();
}

void connection::dial(const tcp::endpoint& where) {
  started_ = last_heard_ = clock::now();
  arm_timer();  // the handshake deadline covers the TCP connect too
  auto self = shared_from_this();
  socket_.async_connect(where, [self](boost::system::error_code ec) {
    if (self->closed_) return;
    if (ec) return self->close("connect failed: " + ec.message());
    self->handshake_tls();
  });
}

void connection::handshake_tls() {
  const auto& ctx = role_ == role::acceptor ? node_.tls_server() : node_.tls_client();
  if (!ctx) return begin();
  // Within the handshake deadline armed above: a peer that stalls the TLS handshake is dropped
  // like one that stalls the cookie challenge. The chain is checked against the node's CA on
  // both sides (the contexts' verify modes); names after it, when the node checks them: the
  // dialler's below, the acceptor's once the hello says which node the dialler claims to be.
  tls_ = std::make_unique<asio::ssl::stream<tcp::socket&>>(socket_, ctx->native());
  auto self = shared_from_this();
  auto side = role_ == role::acceptor ? asio::ssl::stream_base::server : asio::ssl::stream_base::client;
  tls_->async_handshake(side, [self](boost::system::error_code ec) {
    if (self->closed_) return;
    if (ec) {
      std::string why = "TLS handshake failed: " + ec.message();
      long v = SSL_get_verify_result(self->tls_->native_handle());
      if (v != X509_V_OK) why += std::string(" (peer certificate: ") + X509_verify_cert_error_string(v) + ")";
      self->failure_ = errc::handshake_failed;
      return self->close(why);
    }
    // The dialler checks that it reached the node it meant to dial before it says anything (its
    // hello), and tells the acceptor why it leaves.
    if (self->role_ == role::dialer && !self->certified_as(self->peer_)) {
      self->failure_ = errc::handshake_failed;
      return self->refuse(refusal::bad_certificate, "node '" + self->node_.name() + "' dialled node '" + self->peer_ +
                                                        "', but the certificate of the node it reached names " +
                                                        quoted(self->peer_certificate_names()));
    }
    self->begin();
  });
}

std::vector<std::string> connection::peer_certificate_names() const {
  return io::certificate_names(SSL_get0_peer_certificate(tls_->native_handle()));
}

bool connection::certified_as(const std::string& name) const {
  auto& tls = node_.config().tls;
  if (!tls_ || !tls || !tls->verify_node_names) return true;
  auto names = peer_certificate_names();
  return std::find(names.begin(), names.end(), name) != names.end();
}

void connection::begin() {
  boost::system::error_code ignored;
  socket_.set_option(tcp::no_delay(true), ignored);
  rbuf_.resize(std::max<std::size_t>(64 * 1024, header_size + handshake_max_frame));
  my_nonce_ = make_nonce();
  if (role_ == role::dialer) {
    auto& cfg = node_.config();
    send_control([&](frame_writer& w) {
      w.begin(frame_type::hello);
      w.u16(static_cast<std::uint16_t>(cfg.speak_version - 1));
      w.u16(cfg.speak_version);
      w.str8(node_.my_address());
      w.bytes(my_nonce_.data(), my_nonce_.size());
      w.end();
    });
  }
  read_more();
}

void connection::close(const std::string& reason, bool log) {
  if (closed_) return;
  closed_ = true;
  bool was_up = up_;
  up_ = false;
  boost::system::error_code ignored;
  socket_.shutdown(tcp::socket::shutdown_both, ignored);
  socket_.close(ignored);
  timer_.cancel();
  if (log) {
    std::string who = peer_.empty() ? std::string("an unnamed peer") : "node '" + peer_ + "'";
    node_.log(was_up ? log_level::warning : log_level::info,
              "connection to " + who + " closed: " + reason);
  }
  lanes_.clear();
  turn_.clear();
  control_.clear();
  partial_.clear();
  if (queued_bytes_ != 0) node_.release_quota(peer_, std::exchange(queued_bytes_, 0));
  node_.on_closed(shared_from_this(), reason, failure_, lost_tie_);
}

void connection::refuse(refusal why, const std::string& text) {
  if (closed_) return;
  refused_ = "refused: " + text;
  send_control([&](frame_writer& w) {
    w.begin(frame_type::refuse);
    w.u8(static_cast<std::uint8_t>(why));
    w.str8(text);
    w.end();
  });
}

void connection::send(outgoing m) {
  if (closed_) return;
  auto& q = lanes_[m.lane];
  if (q.msgs.empty()) turn_.push_back(m.lane);
  queued_bytes_ += m.data->size();
  q.msgs.push_back(std::move(m));
  pump();
}

void connection::send_control(const std::function<void(frame_writer&)>& fill) {
  bytes frame;
  frame_writer w(frame);
  fill(w);
  control_.push_back(std::move(frame));
  pump();
}

void connection::pump() {
  if (writing_ || closed_) return;
  fill_batch();
  if (!refused_.empty()) {
    // Nothing after a refusal but the refuse frame itself (already in the batch if first).
    lanes_.clear();
    turn_.clear();
  }
  if (batch_.empty()) return;
  writing_ = true;
  auto self = shared_from_this();
  auto done = [self](boost::system::error_code ec, std::size_t) {
    self->writing_ = false;
    if (self->closed_) return;
    if (ec) return self->close("write failed: " + ec.message());
    // A refusal closes once its frame is out, so the peer can read why.
    if (!self->refused_.empty()) return self->close(self->refused_);
    self->pump();
  };
  if (tls_) asio::async_write(*tls_, asio::buffer(batch_), std::move(done));
  else asio::async_write(socket_, asio::buffer(batch_), std::move(done));
}

void connection::fill_batch() {
  batch_.clear();
  for (auto& f : control_) batch_.insert(batch_.end(), f.begin(), f.end());
  control_.clear();
  if (!up_) return;  // nothing but handshake frames before the handshake is done
  const std::size_t frag = node_.config().fragment_size;
  // One fragment per lane in turn until the batch holds about one fragment's worth: a control
  // frame queued now waits for this batch at most.
  while (!turn_.empty() && batch_.size() < frag) {
    std::uint64_t lane = turn_.front();
    turn_.pop_front();
    auto& q = lanes_[lane];
    auto& m = q.msgs.front();
    std::size_t n = std::min(frag, m.data->size() - q.offset);
    bool last = q.offset + n == m.data->size();
    frame_writer w(batch_);
    w.begin(frame_type::fragment);
    w.u64(lane);
    w.u8(last ? 1 : 0);
    w.bytes(m.data->data() + q.offset, n);
    w.end();
    q.offset += n;
    if (last) {
      queued_bytes_ -= m.data->size();
      node_.release_quota(peer_, m.data->size());
      q.msgs.pop_front();
      q.offset = 0;
    }
    if (!q.msgs.empty()) turn_.push_back(lane);
    else lanes_.erase(lane);
  }
}

void connection::arm_timer() {
  auto self = shared_from_this();
  auto wait = up_ ? node_.config().heartbeat_interval : node_.config().handshake_timeout;
  timer_.expires_after(wait);
  timer_.async_wait([self](boost::system::error_code ec) {
    if (ec || self->closed_) return;
    self->on_tick();
  });
}

void connection::on_tick() {
  auto& cfg = node_.config();
  if (!up_) {
    // The whole handshake must be done by the deadline, however slowly bytes trickle in.
    return close("no handshake within " + std::to_string(to_ms(cfg.handshake_timeout)) + " ms");
  }
  auto silent = clock::now() - last_heard_;
  // Bytes waiting in the kernel mean the peer spoke and this thread was slow to read (a stall
  // here, not there): the peer is alive.
  boost::system::error_code ec;
  if (silent > cfg.down_after && socket_.available(ec) > 0 && !ec) {
    last_heard_ = clock::now();
    silent = {};
  }
  if (silent > cfg.down_after)
    return close("no heartbeat for " + std::to_string(to_ms(std::chrono::duration_cast<std::chrono::nanoseconds>(silent))) +
                 " ms (limit " + std::to_string(to_ms(cfg.down_after)) + " ms)");
  send_control([](frame_writer& w) {
    w.begin(frame_type::heartbeat);
    w.end();
  });
  arm_timer();
}

void connection::read_more() {
  if (closed_) return;
  if (rbegin_ == rend_) rbegin_ = rend_ = 0;
  if (rend_ == rbuf_.size() && rbegin_ > 0) {
    std::copy(rbuf_.begin() + static_cast<std::ptrdiff_t>(rbegin_), rbuf_.begin() + static_cast<std::ptrdiff_t>(rend_), rbuf_.begin());
    rend_ -= rbegin_;
    rbegin_ = 0;
  }
  auto self = shared_from_this();
  auto done = [self](boost::system::error_code ec, std::size_t n) {
    if (self->closed_) return;
    if (ec) {
      if (self->tls_ && !self->up_ && self->role_ == role::dialer) {
        // TLS 1.3: the dialler's handshake ends before the acceptor checks its certificate, so
        // a refused certificate shows here: as the acceptor's alert, or as a close or reset if
        // that came first. Either way the node was reachable and refused us.
        self->failure_ = errc::handshake_failed;
        return self->close("TLS: the peer ended the handshake (did it refuse our certificate?): " + ec.message());
      }
      // A TLS peer that closes without close_notify truncates the stream: still just a close.
      if (ec == asio::error::eof || ec == asio::ssl::error::stream_truncated) return self->close("closed by peer");
      return self->close(ec.message());
    }
    self->rend_ += n;
    self->last_heard_ = clock::now();
    // Parse every whole frame in the buffer.
    for (;;) {
      // The limit grows when the handshake is done, which may happen inside this loop.
      const std::uint32_t limit =
          self->up_ ? static_cast<std::uint32_t>(self->node_.config().fragment_size + fragment_overhead)
                    : handshake_max_frame;
      std::uint32_t len = 0;
      auto st = next_frame(self->rbuf_.data() + self->rbegin_, self->rend_ - self->rbegin_, limit, len);
      if (st == frame_status::bad_length)
        return self->close("frame of " + std::to_string(len) + " bytes outside 1.." + std::to_string(limit));
      if (st == frame_status::need_more) {
        // Make room for the whole frame (its length is within the limit, checked above).
        if (len != 0 && self->rbuf_.size() < header_size + len) self->rbuf_.resize(header_size + len);
        break;
      }
      const std::uint8_t* p = self->rbuf_.data() + self->rbegin_ + header_size;
      self->rbegin_ += header_size + len;
      frame_reader r(p + 1, len - 1);
      if (!self->on_frame(static_cast<frame_type>(p[0]), r)) return;
    }
    self->read_more();
  };
  auto into = asio::buffer(rbuf_.data() + rend_, rbuf_.size() - rend_);
  if (tls_) tls_->async_read_some(into, std::move(done));
  else socket_.async_read_some(into, std::move(done));
}

bool connection::on_frame(frame_type t, frame_reader& r) {
  if (!up_) return on_handshake(t, r);
  switch (t) {
    case frame_type::heartbeat:
      return true;
    case frame_type::fragment:
      on_fragment(r);
      return !closed_;
    case frame_type::refuse:
      close("peer closed: " + r.str8());
      return false;
    default:
      close("unexpected frame type " + std::to_string(static_cast<int>(t)) + " after the handshake");
      return false;
  }
}

void connection::on_fragment(frame_reader& r) {
  std::uint64_t lane = 0;
  bool last = false;
  if (!parse_fragment(r, lane, last)) return close("truncated or malformed fragment frame");
  const std::uint8_t* data = r.rest();
  std::size_t n = r.left();
  auto it = partial_.find(lane);
  if (it == partial_.end() && last) {  // a whole message in one fragment: no copy to a partial
    node_.deliver(peer_, lane, std::string(reinterpret_cast<const char*>(data), n));
    return;
  }
  // Bound what reassembly may hold: one max_message per message and twice that in all.
  std::size_t have = it == partial_.end() ? 0 : it->second.size();
  const auto& cfg = node_.config();
  if (have + n > cfg.max_message) return close("a message over max_message (" + std::to_string(cfg.max_message) + " bytes)");
  if (partial_bytes_ + n > 2 * cfg.max_message) return close("too many partial messages at once");
  auto& buf = partial_[lane];
  buf.append(reinterpret_cast<const char*>(data), n);
  partial_bytes_ += n;
  if (last) {
    partial_bytes_ -= buf.size();
    std::string whole = std::move(buf);
    partial_.erase(lane);
    node_.deliver(peer_, lane, std::move(whole));
  }
}

bool connection::on_handshake(frame_type t, frame_reader& r) {
  auto& cfg = node_.config();
  const std::uint16_t my_min = static_cast<std::uint16_t>(cfg.speak_version - 1), my_max = cfg.speak_version;
  if (role_ == role::acceptor && t == frame_type::hello && version_ == 0) {
    hello_frame h;
    node_address a;
    if (!parse_hello(r, h) || !parse_address(h.address, a)) {
      close("malformed hello");
      return false;
    }
    const std::uint16_t lo = h.min_version, hi = h.max_version;
    const std::string& address = h.address;
    std::copy(std::begin(h.nonce), std::end(h.nonce), peer_nonce_.begin());
    peer_ = a.name;
    peer_address_ = address;
    // Before anything that acts on the name (admit() may drop our own dial to that node).
    if (!certified_as(peer_)) {
      refuse(refusal::bad_certificate, "a peer claims to be node '" + peer_ + "', but its certificate names " +
                                           quoted(peer_certificate_names()));
      return false;
    }
    std::uint16_t agreed = std::min(hi, my_max);
    if (agreed < std::max(lo, my_min)) {
      refuse(refusal::wrong_version, "wire versions " + std::to_string(lo) + ".." + std::to_string(hi) +
                                         " offered, node '" + cfg.name + "' speaks " + std::to_string(my_min) +
                                         ".." + std::to_string(my_max));
      return false;
    }
    if (!node_.admit(shared_from_this(), peer_)) {
      refuse(refusal::simultaneous, "simultaneous connect: the connection from '" + std::min(cfg.name, peer_) + "' wins");
      return false;
    }
    version_ = agreed;
    auto mine = make_proof(node_.cookie(), acceptor_role, peer_nonce_, peer_);
    send_control([&](frame_writer& w) {
      w.begin(frame_type::challenge);
      w.u16(version_);
      w.str8(node_.my_address());
      w.bytes(my_nonce_.data(), my_nonce_.size());
      w.bytes(mine.data(), mine.size());
      w.end();
    });
    return true;
  }
  if (role_ == role::acceptor && t == frame_type::proof && version_ != 0) {
    proof theirs{};
    r.bytes(theirs.data(), theirs.size());
    if (!r.ok() || !r.at_end()) {
      close("malformed proof");
      return false;
    }
    if (!same_proof(theirs, make_proof(node_.cookie(), dialer_role, my_nonce_, cfg.name))) {
      refuse(refusal::bad_cookie, "node '" + peer_ + "' failed the cookie challenge");
      return false;
    }
    send_control([](frame_writer& w) {
      w.begin(frame_type::ok);
      w.end();
    });
    became_up();
    return !closed_;
  }
  if (role_ == role::dialer && t == frame_type::challenge && version_ == 0) {
    challenge_frame c;
    node_address a;
    if (!parse_challenge(r, c) || !parse_address(c.address, a)) {
      close("malformed challenge");
      return false;
    }
    const std::uint16_t v = c.version;
    std::copy(std::begin(c.nonce), std::end(c.nonce), peer_nonce_.begin());
    proof theirs{};
    std::copy(std::begin(c.proof), std::end(c.proof), theirs.begin());
    if (v < my_min || v > my_max) {
      close("peer chose wire version " + std::to_string(v) + ", not one we offered");
      return false;
    }
    if (a.name != peer_) {
      close("dialled node '" + peer_ + "' but '" + a.name + "' answered");
      return false;
    }
    if (!same_proof(theirs, make_proof(node_.cookie(), acceptor_role, my_nonce_, cfg.name))) {
      failure_ = errc::handshake_failed;
      close("node '" + peer_ + "' failed the cookie challenge");
      return false;
    }
    version_ = v;
    auto mine = make_proof(node_.cookie(), dialer_role, peer_nonce_, peer_);
    send_control([&](frame_writer& w) {
      w.begin(frame_type::proof);
      w.bytes(mine.data(), mine.size());
      w.end();
    });
    return true;
  }
  if (role_ == role::dialer && t == frame_type::ok && version_ != 0) {
    became_up();
    return !closed_;
  }
  if (t == frame_type::refuse) {
    auto why = static_cast<refusal>(r.u8());
    std::string text = r.str8();
    if (why == refusal::simultaneous) {
      lost_tie_ = true;
      close("refused: " + text, false);
    } else {
      failure_ = why == refusal::wrong_version ? errc::wrong_version : errc::handshake_failed;
      close("refused by peer: " + text);
    }
    return false;
  }
  close("unexpected frame type " + std::to_string(static_cast<int>(t)) + " during the handshake");
  return false;
}

void connection::became_up() {
  up_ = true;
  rbuf_.resize(std::max<std::size_t>(rbuf_.size(), header_size + node_.config().fragment_size + fragment_overhead));
  timer_.cancel();
  arm_timer();
  node_.on_up(shared_from_this());
  pump();
}

}  // namespace troupe::remote::detail
