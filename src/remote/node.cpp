// node.cpp: a node's listener, its table of peers, dialling with backoff, and the public node.
#include "troupe/remote/node.hpp"

#include <unistd.h>

#include <algorithm>
#include <boost/asio/ip/address.hpp>
#include <boost/asio/post.hpp>
#include <boost/asio/ssl/context.hpp>
#include <cstdlib>
#include <stdexcept>
#include <system_error>

#include "node_impl.hpp"

namespace troupe::remote {
namespace detail {

bool parse_address(std::string_view text, node_address& out) {
  auto at = text.find('@');
  auto colon = text.rfind(':');
  if (at == std::string_view::npos || at == 0 || colon == std::string_view::npos || colon < at + 2) return false;
  std::string_view host = text.substr(at + 1, colon - at - 1);
  if (host.size() >= 2 && host.front() == '[' && host.back() == ']') host = host.substr(1, host.size() - 2);
  std::string_view port = text.substr(colon + 1);
  if (port.empty() || port.size() > 5) return false;
  unsigned value = 0;
  for (char c : port) {
    if (c < '0' || c > '9') return false;
    value = value * 10 + static_cast<unsigned>(c - '0');
  }
  if (value == 0 || value > 65535) return false;
  boost::system::error_code ec;
  asio::ip::make_address(std::string(host), ec);
  if (ec) return false;
  out.name = std::string(text.substr(0, at));
  out.host = std::string(host);
  out.port = static_cast<std::uint16_t>(value);
  return true;
}

namespace {
std::string random_cookie() {
  auto n = make_nonce();
  static const char* hex = "0123456789abcdef";
  std::string s;
  for (auto b : n) {
    s += hex[b >> 4];
    s += hex[b & 15];
  }
  return s;
}
}  // namespace

node_impl::node_impl(troupe::system& sys, node_config cfg)
    : sys_(sys), cfg_(std::move(cfg)), acceptor_(ctx_), refs_(std::make_unique<refs>(*this, sys)) {
  if (cfg_.name.empty()) cfg_.name = "node-" + std::to_string(::getpid());
  if (cfg_.name.find_first_of("@: ") != std::string::npos || cfg_.name.size() > 200)
    throw std::invalid_argument("troupe remote: a node name holds no '@', ':' or space and is short: '" + cfg_.name + "'");
  if (cfg_.speak_version < 1) cfg_.speak_version = 1;
  if (cfg_.fragment_size < 512) cfg_.fragment_size = 512;
  cookie_ = cfg_.cookie;
  if (cookie_.empty()) {
    const char* env = std::getenv("TROUPE_COOKIE");
    cookie_ = env != nullptr && *env != '\0' ? std::string(env) : random_cookie();
  }
  if (cfg_.tls) {
    // Both contexts hold this node's certificate and verify the peer's against the CA: the
    // acceptor demands a client certificate, the dialler checks the acceptor's.
    auto server = io::tls_context::server(cfg_.tls->certificate, cfg_.tls->private_key, cfg_.tls->ca);
    if (!server) throw std::system_error(server.error().code(), "troupe remote: TLS: " + server.error().message());
    auto client = io::tls_context::client(cfg_.tls->ca, cfg_.tls->certificate, cfg_.tls->private_key);
    if (!client) throw std::system_error(client.error().code(), "troupe remote: TLS: " + client.error().message());
    tls_server_ = std::move(*server);
    tls_client_ = std::move(*client);
    if (cfg_.tls->verify_node_names) {
      // Every peer that checks names would refuse this node: say so once, here, rather than in
      // each peer's log.
      auto names = io::certificate_names(SSL_CTX_get0_certificate(tls_server_->native().native_handle()));
      if (std::find(names.begin(), names.end(), cfg_.name) == names.end()) {
        std::string list;
        for (const auto& n : names) list += (list.empty() ? "'" : ", '") + n + "'";
        throw std::invalid_argument("troupe remote: node '" + cfg_.name + "': its TLS certificate names " +
                                    (list.empty() ? std::string("no name") : list) +
                                    ", not the node (set node_tls::verify_node_names = false for CA-only trust)");
      }
    }
  }
}

node_impl::~node_impl() { stop(); }

void node_impl::start() {
  auto ip = asio::ip::make_address(cfg_.host);
  tcp::endpoint ep(ip, cfg_.port);
  acceptor_.open(ep.protocol());
  acceptor_.set_option(tcp::acceptor::reuse_address(true));
  acceptor_.bind(ep);
  acceptor_.listen();
  auto bound = acceptor_.local_endpoint();
  std::string host = ip.is_v6() ? "[" + cfg_.host + "]" : cfg_.host;
  address_ = cfg_.name + "@" + host + ":" + std::to_string(bound.port());
  work_.emplace(ctx_.get_executor());
  accept_next();
  thread_ = std::thread([this] { ctx_.run(); });
}

void node_impl::stop() {
  if (!thread_.joinable()) return;
  {
    std::lock_guard lk(mu_);
    accepting_sends_ = false;
  }
  asio::post(ctx_, [this] {
    stopped_ = true;
    boost::system::error_code ignored;
    acceptor_.close(ignored);
    std::vector<std::shared_ptr<connection>> all(handshaking_.begin(), handshaking_.end());
    for (auto& [name, p] : peers_) {
      if (p.up) all.push_back(p.up);
      if (p.dial) all.push_back(p.dial);
      if (p.retry) p.retry->cancel();
      for (auto& w : p.connect_waiters) w(error{errc::stopped, "node '" + cfg_.name + "' stopped"});
      p.connect_waiters.clear();
    }
    for (auto& c : all) c->close("node '" + cfg_.name + "' stopping", false);
    refs_->stop();
    handshaking_.clear();
    peers_.clear();
    work_.reset();  // run() returns once the closed sockets' handlers have run
  });
  thread_.join();
  decoder_.join();  // a decode still running ends; what it posts back is never run
}

std::string node_impl::address() const { return address_; }

std::string node_impl::known_address(const std::string& name) const {
  std::lock_guard lk(mu_);
  auto it = known_.find(name);
  return it == known_.end() ? std::string() : it->second;
}

void node_impl::learn_address(const std::string& name, std::string address) {
  std::lock_guard lk(mu_);
  if (name != cfg_.name) known_.try_emplace(name, std::move(address));
}

void node_impl::log(log_level level, const std::string& text) const {
  sys_.logger().log(level, "remote node '" + cfg_.name + "'", text);
}

void node_impl::accept_next() {
  acceptor_.async_accept([this](boost::system::error_code ec, tcp::socket s) {
    if (stopped_) return;
    if (!ec) {
      auto c = std::make_shared<connection>(*this, std::move(s), connection::role::acceptor, std::string());
      handshaking_.push_back(c);
      c->start();
    } else if (ec == asio::error::operation_aborted) {
      return;
    } else {
      log(log_level::warning, "accept failed: " + ec.message());
    }
    accept_next();
  });
}

peer& node_impl::peer_named(const std::string& name) {
  auto& p = peers_[name];
  if (p.name.empty()) p.name = name;
  return p;
}

bool node_impl::admit(const std::shared_ptr<connection>& c, const std::string& name) {
  (void)c;
  if (name == cfg_.name) return false;
  auto& p = peer_named(name);
  // Both nodes dialled at once: both keep the connection dialled by the smaller name. Ours may be
  // up already when theirs arrives (it crossed ours on the way): refused the same, or accepting it
  // would close a connection that carries traffic, failing its asks with node_down. (A peer that
  // really restarted closed our connection when it died; its dial is refused only in the moment
  // before we read that close, and it dials again after its backoff.)
  if (cfg_.name < name && p.up && !p.up->is_closed() && p.up->side() == connection::role::dialer) return false;
  if (p.dial && !p.dial->is_closed()) {
    if (cfg_.name < name) return false;
    auto d = std::move(p.dial);
    p.dial = nullptr;
    d->close("simultaneous connect: the connection from '" + name + "' wins", false);
  }
  return true;
}

void node_impl::on_up(const std::shared_ptr<connection>& c) {
  std::erase(handshaking_, c);
  auto& p = peer_named(c->peer());
  if (c->side() == connection::role::acceptor && !c->peer_address().empty()) p.address = c->peer_address();
  if (p.dial == c) p.dial = nullptr;
  if (p.up && p.up != c) p.up->close("replaced by a new connection from the same node");
  p.up = c;
  p.backoff = std::chrono::nanoseconds(0);
  {
    std::lock_guard lk(mu_);
    known_[p.name] = p.address;
    connected_.push_back(p.name);
  }
  log(log_level::info, "node '" + p.name + "' up (wire version " + std::to_string(c->version()) + ")");
  for (auto& m : p.waiting) c->send(std::move(m));
  p.waiting.clear();
  p.waiting_bytes = 0;
  publish(node_up{p.name});
  for (auto& w : p.connect_waiters) w(p.name);
  p.connect_waiters.clear();
}

void node_impl::on_closed(const std::shared_ptr<connection>& c, const std::string& reason, std::optional<errc> failure,
                          bool lost_tie) {
  std::erase(handshaking_, c);
  if (stopped_ || c->peer().empty()) return;
  auto it = peers_.find(c->peer());
  if (it == peers_.end()) return;
  peer& p = it->second;
  if (p.up == c) {
    p.up = nullptr;
    {
      std::lock_guard lk(mu_);
      std::erase(connected_, p.name);
    }
    publish(node_down{p.name, reason});
    refs_->on_node_down(p.name, reason);
    if (!p.waiting.empty()) dial_when_due(p);
    return;
  }
  if (p.dial != c) return;
  p.dial = nullptr;
  // The next dial waits: 0, then the backoff, doubling up to its max.
  p.backoff = p.backoff.count() == 0 ? cfg_.reconnect_backoff : std::min(p.backoff * 2, cfg_.reconnect_backoff_max);
  p.next_dial = clock::now() + p.backoff;
  if (lost_tie) {
    // The peer's own dial is coming; dial again only if it never does.
    dial_when_due(p);
    return;
  }
  error e = failure ? error{*failure, reason} : error{errc::node_down, "node '" + p.name + "' unreachable: " + reason};
  for (auto& w : p.connect_waiters) w(e);
  p.connect_waiters.clear();
  drop_waiting(p, e.message());
  // Asks whose requests were among the dropped messages fail now, not at their timeout.
  refs_->on_node_down(p.name, "unreachable: " + reason);
}

void node_impl::drop_waiting(peer& p, const std::string& why) {
  if (p.waiting.empty()) return;
  log(log_level::warning, std::to_string(p.waiting.size()) + " message(s) to node '" + p.name + "' dropped: " + why);
  release_quota(p.name, p.waiting_bytes);
  p.waiting.clear();
  p.waiting_bytes = 0;
}

void node_impl::dial_when_due(peer& p) {
  if (p.up || p.dial || stopped_) return;
  auto now = clock::now();
  if (now >= p.next_dial) return dial(p);
  if (!p.retry) p.retry = std::make_unique<asio::steady_timer>(ctx_);
  p.retry->expires_at(p.next_dial);
  std::string name = p.name;
  p.retry->async_wait([this, name](boost::system::error_code ec) {
    if (ec || stopped_) return;
    auto it = peers_.find(name);
    if (it == peers_.end()) return;
    auto& q = it->second;
    if (q.up || q.dial) return;
    if (q.waiting.empty() && q.connect_waiters.empty()) return;  // nothing needs the node now
    dial(q);
  });
}

void node_impl::dial(peer& p) {
  node_address a;
  if (p.address.empty() || !parse_address(p.address, a)) {
    error e{errc::node_down, "node '" + p.name + "' has no known address"};
    for (auto& w : p.connect_waiters) w(e);
    p.connect_waiters.clear();
    drop_waiting(p, e.message());
    return;
  }
  auto c = std::make_shared<connection>(*this, tcp::socket(ctx_), connection::role::dialer, p.name);
  p.dial = c;
  c->dial(tcp::endpoint(asio::ip::make_address(a.host), a.port));
}

void node_impl::connect(std::string address, std::function<void(result<std::string>)> done) {
  node_address a;
  if (!parse_address(address, a)) return done(error{errc::bad_address, "'" + address + "' is not name@host:port"});
  if (a.name == cfg_.name) return done(error{errc::bad_address, "'" + address + "' names this node"});
  {
    std::lock_guard lk(mu_);
    if (!accepting_sends_) return done(error{errc::stopped, "node '" + cfg_.name + "' stopped"});
    known_[a.name] = address;
  }
  asio::post(ctx_, [this, address = std::move(address), name = a.name, done = std::move(done)]() mutable {
    if (stopped_) return done(error{errc::stopped, "node '" + cfg_.name + "' stopped"});
    auto& p = peer_named(name);
    p.address = address;
    if (p.up) return done(name);
    p.connect_waiters.push_back(std::move(done));
    dial_when_due(p);
  });
}

result<void> node_impl::send(std::string_view peer_name, std::uint64_t lane, std::string payload) {
  if (payload.size() > cfg_.max_message)
    return error{errc::message_too_large, std::to_string(payload.size()) + " bytes to node '" + std::string(peer_name) +
                                              "', over max_message (" + std::to_string(cfg_.max_message) + ")"};
  {
    std::lock_guard lk(mu_);
    if (!accepting_sends_) return error{errc::stopped, "node '" + cfg_.name + "' stopped"};
    if (known_.find(peer_name) == known_.end())
      return error{errc::node_down, "node '" + std::string(peer_name) + "' is unknown: connect to it first"};
    auto& q = queued_[std::string(peer_name)];
    if (q + payload.size() > cfg_.send_queue_bytes)
      return error{errc::send_queue_full, "node '" + std::string(peer_name) + "' has " + std::to_string(q) +
                                              " bytes queued (limit " + std::to_string(cfg_.send_queue_bytes) + ")"};
    q += payload.size();
  }
  auto data = std::make_shared<const std::string>(std::move(payload));
  asio::post(ctx_, [this, name = std::string(peer_name), lane, data]() mutable {
    if (stopped_) return;
    auto& p = peer_named(name);
    if (p.up) return p.up->send(outgoing{lane, std::move(data)});
    if (p.address.empty()) {
      std::lock_guard lk(mu_);
      auto it = known_.find(name);
      if (it != known_.end()) p.address = it->second;
    }
    p.waiting_bytes += data->size();
    p.waiting.push_back(outgoing{lane, std::move(data)});
    dial_when_due(p);
  });
  return {};
}

void node_impl::release_quota(const std::string& peer_name, std::size_t n) {
  std::lock_guard lk(mu_);
  auto it = queued_.find(peer_name);
  if (it != queued_.end()) it->second -= std::min(it->second, n);
}

void node_impl::deliver(const std::string& from, std::uint64_t lane, std::string&& payload) {
  if (on_payload_) return on_payload_(from, lane, std::move(payload));
  auto key = std::make_pair(from, lane);
  if (auto it = decoding_.find(key); it != decoding_.end()) return it->second.push_back(std::move(payload));
  if (!refs::decodes_elsewhere(payload, cfg_.fragment_size)) return refs_->on_payload(from, lane, std::move(payload));
  decoding_[key];
  offload(key, std::move(payload));
}

void node_impl::offload(const std::pair<std::string, std::uint64_t>& key, std::string&& payload) {
  asio::post(decoder_, [this, key, p = std::move(payload)]() mutable {
    refs_->on_payload(key.first, key.second, std::move(p));
    asio::post(ctx_, [this, key] { resume(key); });
  });
}

void node_impl::resume(const std::pair<std::string, std::uint64_t>& key) {
  auto it = decoding_.find(key);
  if (it == decoding_.end()) return;
  while (!it->second.empty()) {
    auto p = std::move(it->second.front());
    it->second.pop_front();
    if (refs::decodes_elsewhere(p, cfg_.fragment_size)) return offload(key, std::move(p));
    refs_->on_payload(key.first, key.second, std::move(p));
  }
  decoding_.erase(it);
}

bool node_impl::is_up(const std::string& peer) const {
  auto it = peers_.find(peer);
  return it != peers_.end() && it->second.up != nullptr;
}

result<void> node_impl::publish(std::string name, endpoint_ptr ep, const serial::protocol_ops& ops) {
  return refs_->publish(std::move(name), std::move(ep), ops);
}

void node_impl::lookup(std::string name, std::string address, const serial::protocol_ops& ops,
                       std::chrono::nanoseconds timeout, std::function<void(result<endpoint_ptr>)> done) {
  auto deadline = timeout == std::chrono::nanoseconds::max() ? clock::time_point::max() : clock::now() + timeout;
  connect(std::move(address), [this, name = std::move(name), &ops, deadline, done = std::move(done)](result<std::string> peer) mutable {
    if (!peer) return done(peer.error());
    auto left = deadline == clock::time_point::max()
                    ? std::chrono::nanoseconds::max()
                    : std::max(std::chrono::nanoseconds(0), std::chrono::duration_cast<std::chrono::nanoseconds>(deadline - clock::now()));
    asio::post(ctx_, [this, peer = *peer, name = std::move(name), &ops, left, done = std::move(done)]() mutable {
      refs_->lookup(std::move(peer), std::move(name), ops, left, std::move(done));
    });
  });
}

void node_impl::publish(std::variant<node_up, node_down> e) {
  if (stopped_) return;
  for (auto& m : monitors_) m(e);
}

void node_impl::add_monitor(std::function<void(std::variant<node_up, node_down>)> f) {
  asio::post(ctx_, [this, f = std::move(f)]() mutable {
    for (auto& [name, p] : peers_)
      if (p.up) f(node_up{name});
    monitors_.push_back(std::move(f));
  });
}

void node_impl::set_payload_handler(node::payload_handler h) {
  asio::post(ctx_, [this, h = std::move(h)]() mutable { on_payload_ = std::move(h); });
}

std::vector<std::string> node_impl::connected() const {
  std::lock_guard lk(mu_);
  return connected_;
}

}  // namespace detail

node::node(troupe::system& sys, node_config cfg) : impl_(std::make_shared<detail::node_impl>(sys, std::move(cfg))) {
  impl_->start();
}
node::~node() { impl_->stop(); }
const std::string& node::name() const noexcept { return impl_->name(); }
std::string node::address() const { return impl_->address(); }
std::future<result<std::string>> node::connect(std::string_view address) {
  auto promise = std::make_shared<std::promise<result<std::string>>>();
  auto f = promise->get_future();
  impl_->connect(std::string(address), [promise](result<std::string> r) { promise->set_value(std::move(r)); });
  return f;
}
std::vector<std::string> node::connected_nodes() const { return impl_->connected(); }
void node::stop() { impl_->stop(); }
result<void> node::send_payload(std::string_view peer, std::uint64_t lane, std::string payload) {
  return impl_->send(peer, lane, std::move(payload));
}
void node::on_payload(payload_handler h) { impl_->set_payload_handler(std::move(h)); }
result<void> node::publish_endpoint(std::string name, troupe::detail::counted<troupe::detail::endpoint> ep,
                                    const serial::protocol_ops& ops) {
  return impl_->publish(std::move(name), std::move(ep), ops);
}
void node::lookup_endpoint(std::string name, std::string address, const serial::protocol_ops& ops,
                           std::chrono::nanoseconds timeout,
                           std::function<void(result<troupe::detail::counted<troupe::detail::endpoint>>)> done) {
  impl_->lookup(std::move(name), std::move(address), ops, timeout, std::move(done));
}
void node::allow_protocol(const serial::protocol_ops& ops) { impl_->remote_refs().allow(ops); }
void node::add_monitor(std::function<void(std::variant<node_up, node_down>)> f) { impl_->add_monitor(std::move(f)); }

}  // namespace troupe::remote
