// http_listener.cpp: the accept loop and the per-connection HTTP session behind http_listen.
// A session lives on one io loop (the one its socket was accepted onto) and does one thing at a
// time: read one request (within the header, body and time limits), hand it to its route, write
// the answer, then read the next. It never reads ahead of the answer, so a client that pipelines
// requests waits in its socket buffer, and a client that does not read its answers is cut off by
// the write deadline instead of growing a queue. With TLS (https, wss) the session first does the
// server handshake, within the request deadline; the rest is the same code over Beast's TLS stream.
#include "troupe/io/http_listener.hpp"

#include <sys/socket.h>

#include <algorithm>
#include <atomic>
#include <cstdio>
#include <chrono>
#include <fstream>
#include <map>
#include <future>
#include <mutex>
#include <optional>
#include <sstream>
#include <unordered_map>

#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/post.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/beast/core/flat_buffer.hpp>
#include <boost/beast/core/tcp_stream.hpp>
#include <boost/beast/ssl/ssl_stream.hpp>
#include <boost/beast/http/error.hpp>
#include <boost/beast/http/read.hpp>
#include <boost/beast/http/parser.hpp>
#include <boost/beast/http/string_body.hpp>
#include <boost/beast/http/empty_body.hpp>
#include <boost/beast/http/write.hpp>
#include <boost/asio/write.hpp>

#include <boost/beast/websocket/rfc6455.hpp>

#include "conn_state.hpp"
#include "http_stream_state.hpp"
#include "service_impl.hpp"
#include "troupe/core/timeout.hpp"
#include "troupe/io/error.hpp"
#include "websocket_state.hpp"

namespace troupe::io::detail {

namespace asio = boost::asio;
namespace beast = boost::beast;
namespace http = beast::http;
using tcp = asio::ip::tcp;

// What the listener needs of a session of either kind (plain or TLS).
class session_base {
 public:
  explicit session_base(loop& l) : loop_(l.shared_from_this()) {}
  virtual ~session_base() = default;
  loop& loop_of() const noexcept { return *loop_; }
  // Graceful stop: a session waiting for a request closes; one answering closes after it.
  virtual void stop_if_idle() = 0;

 protected:
  std::shared_ptr<loop> loop_;  // freed after the derived session's stream (service_impl.hpp)
};

struct http_core : std::enable_shared_from_this<http_core> {
  http_core(service_impl& s, loop& h, http_options o, http_routes r)
      : svc(s), home(h.shared_from_this()), acceptor(h.ctx), opts(std::move(o)), routes(std::move(r)), retry(h.ctx) {}

  void accept_one();
  template <class Session>
  void open_session(std::shared_ptr<Session> session);
  void gone();
  void stop();

  service_impl& svc;  // the home loop alone uses it: a handle or an actor may outlive the service
  std::shared_ptr<loop> home;  // runs the accept loop
  tcp::acceptor acceptor;  // home loop
  const http_options opts;
  const http_routes routes;  // immutable: every loop reads it
  std::uint16_t port = 0;    // immutable after open
  asio::steady_timer retry;  // home loop
  bool paused = false;       // home loop

  // release in stop(), acquire in the sessions: a session that sees true closes after its answer.
  std::atomic<bool> stopping{false};
  // relaxed, both: figures for the handle; only the home loop acts on `live` (pausing accepts).
  std::atomic<std::size_t> live{0}, answered{0}, tls_failures{0};

  std::mutex mu;
  std::unordered_map<const session_base*, std::weak_ptr<session_base>> sessions;  // guarded by mu
};

namespace {

std::string_view content_type_for(const std::filesystem::path& p) {
  auto ext = p.extension().string();
  if (ext == ".html" || ext == ".htm") return "text/html; charset=utf-8";
  if (ext == ".js" || ext == ".mjs") return "text/javascript; charset=utf-8";
  if (ext == ".css") return "text/css; charset=utf-8";
  if (ext == ".json") return "application/json";
  if (ext == ".svg") return "image/svg+xml";
  if (ext == ".png") return "image/png";
  if (ext == ".ico") return "image/x-icon";
  if (ext == ".txt") return "text/plain; charset=utf-8";
  return "application/octet-stream";
}

bool is_parse_error(const boost::system::error_code& ec) {
  return ec.category() == http::make_error_code(http::error::bad_target).category();
}

}  // namespace

using tls_tcp_stream = beast::ssl_stream<beast::tcp_stream>;

// Stream: beast::tcp_stream (http, ws) or tls_tcp_stream (https, wss).
template <class Stream>
class http_session final : public session_base,
                           public http_stream_owner,
                           public std::enable_shared_from_this<http_session<Stream>> {
  static constexpr bool is_tls = std::is_same_v<Stream, tls_tcp_stream>;

 public:
  http_session(std::shared_ptr<http_core> core, loop& l, tcp::socket s)
    requires(!is_tls)
      : session_base(l), core_(std::move(core)), stream_(std::move(s)) {
    note_peer();
  }
  http_session(std::shared_ptr<http_core> core, loop& l, tcp::socket s, asio::ssl::context& tls)
    requires is_tls
      : session_base(l), core_(std::move(core)), stream_(beast::tcp_stream(std::move(s)), tls) {
    note_peer();
  }
  ~http_session() {
    if (body_stream_) {  // the io_service ended mid-stream: the writer's next write is refused
      std::lock_guard g(body_stream_->mu_);
      body_stream_->ended_ = true;
    }
    if (handed_off_) return;  // the WebSocket counts itself out (ws_state::on_done)
    {
      std::lock_guard g(core_->mu);
      core_->sessions.erase(this);
    }
    try {
      core_->home->post([c = core_] { c->gone(); });
    } catch (...) {
      // Out of memory: the live count stays one too high; accepting may pause early.
    }
  }

  // --- the session's loop ---
  void start() {
    if constexpr (is_tls) {
      // The handshake counts against the request deadline: a client that starts TLS and stalls
      // is a slowloris too.
      busy_ = true;  // a graceful stop lets the handshake finish, then closes
      lowest().expires_after(core_->opts.request_timeout);
      stream_.async_handshake(asio::ssl::stream_base::server, [self = this->shared_from_this()](boost::system::error_code ec) {
        self->busy_ = false;
        if (ec) {
          self->core_->tls_failures.fetch_add(1, std::memory_order_relaxed);
          return self->close_now();
        }
        self->read_next();
      });
    } else {
      read_next();
    }
  }

  void stop_if_idle() override {
    if (!busy_ && !closed_) close_now();
  }

 private:
  using std::enable_shared_from_this<http_session<Stream>>::shared_from_this;

  beast::tcp_stream& lowest() { return beast::get_lowest_layer(stream_); }

  void note_peer() {
    boost::system::error_code ec;
    auto ep = lowest().socket().remote_endpoint(ec);
    if (!ec) peer_ = ep.address().to_string() + ":" + std::to_string(ep.port());
  }

  // A request is read in two steps: the head, then (once its route, and so its body limit, is
  // known) the body. The request deadline runs across both.
  void read_next() {
    if (closed_) return;
    if (core_->stopping.load(std::memory_order_acquire)) return close_now();
    parser_.emplace();
    parser_->header_limit(static_cast<std::uint32_t>(core_->opts.max_header_bytes));
    parser_->body_limit(boost::none);  // set per route in on_head(), before any body byte is parsed
    route_ = nullptr;
    lowest().expires_after(core_->opts.request_timeout);
    http::async_read_header(stream_, buffer_, *parser_, [self = shared_from_this()](boost::system::error_code ec, std::size_t) {
      self->on_head(ec);
    });
  }

  // Whether the read ended in bad input (answered, then closed) or nothing to answer (closed).
  bool read_failed(const boost::system::error_code& ec) {
    if (!ec) return false;
    if (ec == http::error::header_limit || ec == http::error::buffer_overflow)
      refuse(431, "request header fields too large (at most " + std::to_string(core_->opts.max_header_bytes) +
                      " bytes)\n");
    else if (ec == http::error::body_limit)
      refuse_body();
    else if (ec != http::error::end_of_stream && ec != beast::error::timeout && is_parse_error(ec))
      refuse(400, "malformed request: " + ec.message() + "\n");
    else
      close_now();  // end of input, the request deadline, a reset: nobody to answer
    return true;
  }

  void on_head(const boost::system::error_code& ec) {
    if (closed_ || read_failed(ec)) return;
    const auto& head = parser_->get();
    std::string_view target(head.target().data(), head.target().size());
    route_ = find_route(std::string_view(head.method_string().data(), head.method_string().size()),
                        target.substr(0, target.find('?')), route_params_, path_matched_);
    body_limit_ = route_ && route_->limits.max_body_bytes ? *route_->limits.max_body_bytes : core_->opts.max_body_bytes;
    if (auto length = parser_->content_length(); length && *length > body_limit_) return refuse_body();
    parser_->body_limit(body_limit_);  // counts down a chunked body as its chunks come
    if (parser_->is_done()) return handle(parser_->release());
    http::async_read(stream_, buffer_, *parser_, [self = shared_from_this()](boost::system::error_code ec, std::size_t) {
      if (self->closed_ || self->read_failed(ec)) return;
      self->handle(self->parser_->release());
    });
  }

  void refuse_body() {
    refuse(413, "request body too large (at most " + std::to_string(body_limit_) + " bytes)\n");
  }

  // The first route whose pattern and method match; null if none (path_matched: some pattern
  // matched, so the answer is 405 rather than 404). HEAD goes wherever GET would, but not to an
  // upgrade route.
  const http_routes::entry* find_route(std::string_view method, std::string_view path,
                                       std::map<std::string, std::string, std::less<>>& params, bool& path_matched) {
    path_matched = false;
    bool head = method == "HEAD";
    for (const auto& e : core_->routes.entries()) {
      if (!match_path(e.pattern, path, params)) continue;
      bool is_file = e.assets || !e.root.empty();
      bool as_get = method == "GET" || (head && !e.upgrade);
      if (is_file ? !as_get : method != e.method && !(as_get && e.method == "GET")) {
        path_matched = true;
        continue;
      }
      return &e;
    }
    return nullptr;
  }

  void handle(http::request<http::string_body>&& raw) {
    busy_ = true;
    head_ = raw.method() == http::verb::head;
    version_ = raw.version();
    keep_alive_ = raw.keep_alive() && !core_->stopping.load(std::memory_order_acquire);
    http_request req;
    req.method = std::string(raw.method_string());
    req.target = std::string(raw.target());
    auto q = req.target.find('?');
    req.path = req.target.substr(0, q);
    if (q != std::string::npos) req.query = req.target.substr(q + 1);
    for (const auto& f : raw) req.headers.emplace_back(std::string(f.name_string()), std::string(f.value()));
    req.body = std::move(raw.body());
    req.peer = peer_;
    if (req.path.empty() || req.path[0] != '/') return respond(http_response::text(400, "malformed request target\n"));

    // HEAD is a GET whose answer goes without its body (respond() keeps its Content-Length).
    // The route's actor sees method "HEAD", so it may skip making the body.
    if (!route_) return respond(path_matched_ ? http_response::text(405, "method not allowed\n")
                                              : http_response::text(404, "not found\n"));
    const auto& e = *route_;
    req.params = std::move(route_params_);
    if (e.upgrade) return upgrade(e, std::move(raw), std::move(req));
    if (e.assets) return serve_asset(*e.assets, req.param("path"));
    if (!e.root.empty()) return serve_file(e.root, req.param("path"));
    ask(e, std::move(req));
  }

  void ask(const http_routes::entry& e, http_request&& req) {
    // While the route's actor works, the only clock is the ask's deadline, which always ends
    // it: the answer, 504 at the deadline, or 503 for an actor that cannot answer.
    lowest().expires_never();
    auto timeout = e.limits.handler_timeout ? *e.limits.handler_timeout : core_->opts.handler_timeout;
    handler_timeout_ = timeout;
    e.dispatch(std::move(req), timeout, [self = shared_from_this(), timeout](result<http_response>&& r) {
      // Any thread (the replier's, the timer's): back to the socket's loop.
      self->loop_of().post([self, r = std::move(r), timeout]() mutable {
        if (r) return self->respond(std::move(*r));
        if (r.error() == troupe::errc::timeout)
          return self->respond(http_response::text(
              504, "the handler did not answer within " +
                       std::to_string(std::chrono::duration_cast<std::chrono::milliseconds>(timeout).count()) +
                       " ms\n"));
        self->respond(http_response::text(503, "the handler cannot answer: " + r.error().message() + "\n"));
      });
    });
  }

  void upgrade(const http_routes::entry& e, http::request<http::string_body>&& raw, http_request&& req) {
    if (!beast::websocket::is_upgrade(raw))
      return respond(http_response::text(426, "this is a WebSocket endpoint: upgrade required\n"));
    // The socket leaves the session for good: the WebSocket counts itself in the listener's
    // live connections from here, and the session ends without touching it again.
    handed_off_ = true;
    closed_ = true;
    {
      std::lock_guard g(core_->mu);
      core_->sessions.erase(this);
    }
    req.headers.shrink_to_fit();  // kept as long as the WebSocket (upgrade_request()): no slack
    auto st = std::make_shared<ws_state>(loop_of(), std::move(stream_), e.ws_options, std::move(req));
    st->on_done = [c = core_] {
      try {
        c->home->post([c] { c->gone(); });
      } catch (...) {
        // Out of memory: the live count stays one too high.
      }
    };
    auto head = std::make_shared<http::request<http::string_body>>(std::move(raw));
    // `e` lives in the core's immutable routes; the core outlives this through st->on_done.
    st->accept(std::move(head), [st = st.get(), &e](boost::system::error_code ec) {
      if (ec) return st->teardown();
      try {
        e.upgrade(websocket(st->shared_from_this()));
      } catch (...) {
        st->want_close(1011, "the server could not start an actor for this WebSocket");
      }
    });
  }

  void serve_asset(const asset_map& assets, const std::string& key) {
    auto it = assets.find(key);
    if (it == assets.end() && key.empty()) it = assets.find("index.html");
    if (it == assets.end()) return respond(http_response::text(404, "not found\n"));
    respond(http_response::with(200, it->second.content_type, it->second.bytes));
  }

  void serve_file(const std::filesystem::path& root, const std::string& rel) {
    std::filesystem::path p = root;
    std::string name = rel.empty() ? std::string("index.html") : rel;
    for (const auto& seg : split_pattern(name)) {
      // No way out of the root, no hidden files, no NUL tricks.
      if (seg.empty() || seg[0] == '.' || seg.find('\0') != std::string::npos)
        return respond(http_response::text(404, "not found\n"));
      p /= seg;
    }
    std::error_code ec;
    if (!std::filesystem::is_regular_file(p, ec)) return respond(http_response::text(404, "not found\n"));
    std::ifstream in(p, std::ios::binary);
    std::ostringstream body;
    body << in.rdbuf();
    if (!in) return respond(http_response::text(404, "not found\n"));
    respond(http_response::with(200, std::string(content_type_for(p)), std::move(body).str()));
  }

  // Bad input: answer with the status, then close (the stream cannot be trusted to resync).
  void refuse(int status, std::string text) {
    busy_ = true;
    head_ = false;
    version_ = 11;
    keep_alive_ = false;
    respond(http_response::text(status, std::move(text)));
  }

  void respond(http_response&& r) {
    if (closed_) return;
    if (core_->stopping.load(std::memory_order_acquire)) keep_alive_ = false;
    if (r.stream_to) return start_stream(std::move(r));
    auto res = std::make_shared<http::response<http::string_body>>(static_cast<http::status>(r.status), version_);
    res->set(http::field::server, "troupe");
    res->set(http::field::content_type, r.content_type);
    for (auto& [k, v] : r.headers) res->insert(k, v);
    res->body() = std::move(r.body);
    res->keep_alive(keep_alive_);
    res->prepare_payload();
    if (head_) {
      auto length = res->body().size();
      res->body().clear();
      res->content_length(length);
    }
    lowest().expires_after(core_->opts.write_timeout);
    http::async_write(stream_, *res, [self = shared_from_this(), res](boost::system::error_code ec, std::size_t) {
      self->answered(ec);
    });
  }

  // The answer is out (or failed): the next request, or the end of the connection.
  void answered(const boost::system::error_code& ec) {
    core_->answered.fetch_add(1, std::memory_order_relaxed);
    busy_ = false;
    if (ec) return close_now();
    if (!keep_alive_) return linger_close();
    read_next();
  }

  // --- a streamed answer (http_stream.hpp), all on the session's loop ---
  // The head goes first, then the pieces the writer queues, each batch in one gather write
  // under write_timeout; while nothing is queued the writer has the route's handler deadline to
  // queue more. HTTP/1.1 frames the pieces as chunks; an HTTP/1.0 client gets the bytes and the
  // end of the connection (so an aborted stream resets the connection instead: a truncated body
  // must not look whole).
  void start_stream(http_response&& r) {
    http::response<http::empty_body> res{static_cast<http::status>(r.status), version_};
    res.set(http::field::server, "troupe");
    res.set(http::field::content_type, r.content_type);
    for (auto& [k, v] : r.headers) res.insert(k, v);
    stream_chunked_ = version_ >= 11;
    if (!stream_chunked_) keep_alive_ = false;
    res.keep_alive(keep_alive_);
    if (stream_chunked_) res.chunked(true);
    std::ostringstream head;
    head << res.base();
    std::weak_ptr<http_stream_owner> owner = std::static_pointer_cast<http_stream_owner>(shared_from_this());
    auto st = std::make_shared<http_stream_state>(loop_of(), owner, std::max<std::size_t>(1, core_->opts.max_stream_chunks),
                                                  std::move(r.stream_to));
    if (head_) {
      // The head alone: the writer learns there is no body to send.
      st->ended_ = true;  // not shared yet
      st->deliver(http_stream_closed{http_stream(st), close_reason::end_of_input, "a HEAD request: the answer has no body"});
      st->detach();
      auto bytes = std::make_shared<std::string>(std::move(head).str());
      lowest().expires_after(core_->opts.write_timeout);
      asio::async_write(stream_, asio::buffer(*bytes), [self = shared_from_this(), bytes](boost::system::error_code ec, std::size_t) {
        self->answered(ec);
      });
      return;
    }
    body_stream_ = std::move(st);
    stream_head_ = std::move(head).str();
    stream_last_sent_ = false;
    body_stream_->deliver(http_stream_ready{http_stream(body_stream_)});
    stream_pump();
  }

  void stream_kick(http_stream_state& s) override {
    if (body_stream_.get() == &s) stream_pump();
  }

  void stream_abort(http_stream_state& s) override {
    if (body_stream_.get() != &s) return;
    stream_end();
    reset_now();
  }

  void stream_dropped(http_stream_state& s) override {
    if (body_stream_.get() != &s) return;
    {
      // Zero handles seen here stays zero: only this loop makes new ones (ready, closed).
      std::lock_guard g(s.mu_);
      if (s.handles_.load(std::memory_order_acquire) != 0 || s.finish_asked_ || s.want_ready_ || s.ended_) return;
      s.ended_ = true;
    }
    stream_end();  // abandoned: nobody holds a handle and nobody waits for a ready
    reset_now();
  }

  void stream_pump() {
    if (!body_stream_ || stream_writing_ || closed_) return;
    std::vector<std::string> taken;
    bool last = false;
    {
      std::lock_guard g(body_stream_->mu_);
      body_stream_->kick_posted_ = false;
      taken.swap(body_stream_->chunks_);
      last = body_stream_->finish_asked_ && !stream_last_sent_;
    }
    stream_out_.clear();
    if (!stream_head_.empty()) stream_out_.push_back(std::exchange(stream_head_, {}));
    for (auto& c : taken) {
      if (stream_chunked_) {
        char size[24];
        std::snprintf(size, sizeof size, "%zx\r\n", c.size());
        stream_out_.emplace_back(size);
      }
      stream_out_.push_back(std::move(c));
      if (stream_chunked_) stream_out_.emplace_back("\r\n");
    }
    if (last) {
      if (stream_chunked_) stream_out_.emplace_back("0\r\n\r\n");
      stream_last_sent_ = true;
    }
    if (stream_out_.empty()) return stream_last_sent_ ? stream_done() : stream_wait();
    if (stream_idle_) stream_idle_->cancel();
    stream_pieces_ = taken.size();
    stream_writing_ = true;
    std::vector<asio::const_buffer> bufs;  // after stream_out_ is complete: moving a string moves its bytes
    bufs.reserve(stream_out_.size());
    for (const auto& b : stream_out_) bufs.emplace_back(asio::buffer(b));
    lowest().expires_after(core_->opts.write_timeout);
    asio::async_write(stream_, bufs, [self = shared_from_this()](boost::system::error_code ec, std::size_t) {
      self->stream_written(ec);
    });
  }

  void stream_written(const boost::system::error_code& ec) {
    stream_writing_ = false;
    stream_out_.clear();
    if (!body_stream_) return;  // aborted meanwhile
    if (ec == beast::error::timeout)
      return stream_fail(close_reason::idle_timeout,
                         "the client did not take the answer within " + millis(core_->opts.write_timeout));
    if (ec == asio::error::connection_reset || ec == asio::error::broken_pipe || ec == asio::error::eof)
      return stream_fail(close_reason::reset, "the client went away: " + ec.message());
    if (ec) return stream_fail(close_reason::error, ec.message());
    bool ready = false;
    {
      std::lock_guard g(body_stream_->mu_);
      body_stream_->unsent_ -= stream_pieces_;
      ready = body_stream_->want_ready_ && body_stream_->unsent_ < body_stream_->max_chunks_;
      if (ready) body_stream_->want_ready_ = false;
    }
    stream_pieces_ = 0;
    if (ready) body_stream_->deliver(http_stream_ready{http_stream(body_stream_)});
    if (stream_last_sent_) return stream_done();
    stream_pump();
  }

  // Nothing queued: the writer has the route's deadline to queue more. The pending wait also
  // keeps the session alive while the writer works (the stream holds it weakly).
  void stream_wait() {
    if (!stream_idle_) stream_idle_ = std::make_unique<asio::steady_timer>(loop_of().ctx);
    if (handler_timeout_ == troupe::infinity) stream_idle_->expires_at(asio::steady_timer::time_point::max());
    else stream_idle_->expires_after(handler_timeout_);
    stream_idle_->async_wait([self = shared_from_this(), st = body_stream_.get()](boost::system::error_code ec) {
      if (ec || self->body_stream_.get() != st || self->stream_writing_) return;
      bool queued = false;
      {
        std::lock_guard g(self->body_stream_->mu_);
        queued = !self->body_stream_->chunks_.empty() || self->body_stream_->finish_asked_;
      }
      if (queued) return self->stream_pump();  // its kick is on the way
      self->stream_fail(close_reason::idle_timeout,
                        "the writer queued nothing within the route's " + millis(self->handler_timeout_));
    });
  }

  // The writer gets http_stream_closed; the connection ends (reset: the body is incomplete).
  void stream_fail(close_reason why, std::string detail) {
    auto st = body_stream_;
    {
      std::lock_guard g(st->mu_);
      st->ended_ = true;
    }
    st->deliver(http_stream_closed{http_stream(st), why, std::move(detail)});
    stream_end();
    reset_now();
  }

  // The last piece is out: the stream is an ordinary answered request now.
  void stream_done() {
    {
      std::lock_guard g(body_stream_->mu_);
      body_stream_->ended_ = true;
    }
    stream_end();
    answered({});
  }

  void stream_end() {
    body_stream_->detach();
    body_stream_.reset();
    if (stream_idle_) stream_idle_->cancel();
  }

  static std::string millis(std::chrono::nanoseconds d) {
    return std::to_string(std::chrono::duration_cast<std::chrono::milliseconds>(d).count()) + " ms";
  }

  // Closes with a reset (SO_LINGER 0): an answer cut short must not look complete to the client.
  void reset_now() {
    if (closed_) return;
    core_->answered.fetch_add(1, std::memory_order_relaxed);
    busy_ = false;
    boost::system::error_code ignored;
    lowest().socket().set_option(asio::socket_base::linger(true, 0), ignored);
    close_now();
  }

  // Sends FIN, then reads (and drops) what the client still sends for a moment, so that its
  // unread request body does not turn our close into a reset that destroys the answer.
  void linger_close() {
    if (closed_) return;
    boost::system::error_code ec;
    // With TLS this skips the close_notify alert: the answer carried its own length (or
    // Connection: close), so a truncation is detectable, and a client's unread body would
    // otherwise hold the alert up.
    lowest().socket().shutdown(tcp::socket::shutdown_send, ec);
    if (ec) return close_now();
    lowest().expires_after(std::chrono::seconds(2));
    drain();
  }
  void drain() {
    lowest().async_read_some(asio::buffer(drain_buf_), [self = shared_from_this()](boost::system::error_code ec, std::size_t) {
      if (ec) return self->close_now();
      self->drain();
    });
  }

  void close_now() {
    if (closed_) return;
    closed_ = true;
    lowest().close();
  }

  std::shared_ptr<http_core> core_;
  // Everything below: the session's loop.
  Stream stream_;
  beast::flat_buffer buffer_;
  std::optional<http::request_parser<http::string_body>> parser_;
  // The request being read: its route (in the core's immutable table), captures, body limit.
  const http_routes::entry* route_ = nullptr;
  std::map<std::string, std::string, std::less<>> route_params_;
  std::size_t body_limit_ = 0;
  bool path_matched_ = false;
  std::string peer_;
  unsigned version_ = 11;
  bool keep_alive_ = true, busy_ = false, closed_ = false, handed_off_ = false, head_ = false;
  char drain_buf_[512];
  // A streamed answer in progress (start_stream); all of it the session's loop.
  std::shared_ptr<http_stream_state> body_stream_;
  std::string stream_head_;               // until written
  std::vector<std::string> stream_out_;   // the write in flight: the head, pieces and framing
  std::size_t stream_pieces_ = 0;         // the writer's pieces in that write
  std::unique_ptr<asio::steady_timer> stream_idle_;  // the writer's deadline; made on first use
  std::chrono::nanoseconds handler_timeout_{};       // the route's, for that deadline
  bool stream_chunked_ = true, stream_writing_ = false, stream_last_sent_ = false;
};

void http_core::accept_one() {
  loop& l = svc.pick();
  acceptor.async_accept(l.ctx, [self = shared_from_this(), &l](const boost::system::error_code& ec, tcp::socket s) {
    if (ec == asio::error::operation_aborted || !self->acceptor.is_open()) return;
    if (ec) {
      // Out of file descriptors or memory: the backlog holds the pending connections.
      self->retry.expires_after(std::chrono::milliseconds(50));
      self->retry.async_wait([self](const boost::system::error_code& e) {
        if (!e) self->accept_one();
      });
      return;
    }
    boost::system::error_code ignored;
    s.set_option(tcp::no_delay(true), ignored);
    self->live.fetch_add(1, std::memory_order_relaxed);
    if (self->opts.tls) self->open_session(std::make_shared<http_session<tls_tcp_stream>>(self, l, std::move(s), self->opts.tls->impl().ctx));
    else self->open_session(std::make_shared<http_session<beast::tcp_stream>>(self, l, std::move(s)));
    if (self->live.load(std::memory_order_relaxed) < self->opts.max_connections) self->accept_one();
    else self->paused = true;
  });
}

template <class Session>
void http_core::open_session(std::shared_ptr<Session> session) {
  {
    std::lock_guard g(mu);
    sessions.emplace(session.get(), session);
  }
  asio::post(session->loop_of().ctx, [session] { session->start(); });
}

void http_core::gone() {
  live.fetch_sub(1, std::memory_order_relaxed);
  if (paused && acceptor.is_open() && live.load(std::memory_order_relaxed) < opts.max_connections) {
    paused = false;
    accept_one();
  }
}

void http_core::stop() {
  if (stopping.exchange(true, std::memory_order_acq_rel)) return;
  auto close = [self = shared_from_this()] {
    boost::system::error_code ec;
    self->acceptor.close(ec);
    self->retry.cancel();
  };
  if (home->ctx.get_executor().running_in_this_thread()) {
    close();
  } else {
    // The caller may connect to the port next and expect a refusal: wait for the home loop to
    // close it. A handler dropped unrun breaks the promise, which ends the wait too; a service
    // shutting down meanwhile may leave it queued until the service goes, so stop waiting then
    // (the socket closes with the listener's last owner).
    auto closed = std::make_shared<std::promise<void>>();
    auto done = closed->get_future();
    if (home->post([close, closed] {
          close();
          closed->set_value();
        }))
      while (done.wait_for(std::chrono::milliseconds(10)) != std::future_status::ready && !home->gate->closed()) {
      }
  }
  std::vector<std::shared_ptr<session_base>> open;
  {
    std::lock_guard g(mu);
    for (auto& [_, w] : sessions)
      if (auto s = w.lock()) open.push_back(std::move(s));
  }
  for (auto& s : open) {
    auto& l = s->loop_of();
    l.post([s] { s->stop_if_idle(); });
  }
}

}  // namespace troupe::io::detail

namespace troupe::io {

std::uint16_t http_listener::port() const noexcept { return core_->port; }
void http_listener::stop() {
  core_->stop();
  if (owner_) owner_.tell(detail::http_owner_stop{});
}
std::size_t http_listener::live_connections() const noexcept { return core_->live.load(std::memory_order_relaxed); }
std::size_t http_listener::requests() const noexcept { return core_->answered.load(std::memory_order_relaxed); }
std::size_t http_listener::tls_failures() const noexcept {
  return core_->tls_failures.load(std::memory_order_relaxed);
}

namespace detail {
namespace {
// Stops the listener when the owner's behaviour is destroyed, which is when the owner stops.
struct owned_listener {
  http_listener l;
  explicit owned_listener(http_listener h) : l(std::move(h)) {}
  owned_listener(const owned_listener&) = delete;
  owned_listener& operator=(const owned_listener&) = delete;
  ~owned_listener() { l.stop(); }  // this copy has no owner: it stops the socket only
};
}  // namespace

behavior<http_owner_msg> http_owner(http_listener l) {
  auto owned = std::make_shared<owned_listener>(std::move(l));
  return receive<http_owner_msg>([owned](const http_owner_stop&) { return stopped; });
}
}  // namespace detail

result<http_listener> http_listen(io_service& io, http_options o, http_routes routes) {
  namespace asio = boost::asio;
  using tcp = asio::ip::tcp;
  boost::system::error_code ec;
  auto addr = asio::ip::make_address(o.address, ec);
  if (ec) return error(errc::bad_address, "'" + o.address + "'");
  auto& svc = io.impl();
  const std::string where = o.address + ":" + std::to_string(o.port);
  auto core = std::make_shared<detail::http_core>(svc, svc.pick(), std::move(o), std::move(routes));
  tcp::endpoint ep(addr, core->opts.port);
  core->acceptor.open(ep.protocol(), ec);
  if (!ec) core->acceptor.set_option(tcp::acceptor::reuse_address(true), ec);
  if (!ec && core->opts.reuse_port) {
    asio::detail::socket_option::boolean<SOL_SOCKET, SO_REUSEPORT> reuse_port(true);
    core->acceptor.set_option(reuse_port, ec);
  }
  if (!ec) core->acceptor.bind(ep, ec);
  if (!ec) core->acceptor.listen(core->opts.backlog, ec);
  if (ec) return error(std::error_code(ec), "listening on " + where);
  core->port = core->acceptor.local_endpoint(ec).port();
  asio::post(core->home->ctx, [core] { core->accept_one(); });
  return http_listener(std::move(core));
}

}  // namespace troupe::io
