// The web view: an HTTP listener on a one-thread io_service of its own, three kinds of actors.
//  - the API actor answers /api/... and /metrics, one request at a time;
//  - the hub, only while a page is open, builds the view (totals, top actors, trees, dead
//    letters) once per tick and pushes it to every page, whatever the number of pages: the cost
//    of a refresh does not grow with viewers, and a refresh slower than the tick backs off;
//  - one actor per open page owns its WebSocket, forwards the page's choices (sort key, selected
//    actor) to the hub and sends what the hub pushes, dropping a frame when the page lags.
// The hub and the API actor run on the system's blocking pool: a refresh over a million actors
// takes milliseconds of a thread, never a worker that runs user actors.
#include "troupe/observe/web_view.hpp"

#include <atomic>
#include <deque>
#include <map>
#include <nlohmann/json.hpp>
#include <set>
#include <utility>
#include <variant>

#include "troupe/io/http_listener.hpp"
#include "troupe/io/http_route.hpp"
#include "troupe/io/io_service.hpp"
#include "troupe/observe/error.hpp"
#include "web_assets.hpp"
#include "web_json.hpp"
#include "web_source.hpp"

namespace troupe::observe {

namespace web {
namespace {

using json = nlohmann::json;
using clock = std::chrono::steady_clock;

// --- messages ---------------------------------------------------------------------------------

struct push {
  std::shared_ptr<const std::string> frame;
};
using page_msg = std::variant<io::ws_received, io::ws_closed, push>;

struct tick {};
struct join {
  std::uint64_t page;
  ref<page_msg> to;
};
struct leave {
  std::uint64_t page;
};
struct choose {  // a page's choices: the table's sort key and the actor whose page it shows
  std::uint64_t page;
  sort_key sort;
  std::uint64_t actor;
};
struct halt {
  ref<bool> reply_to;
};
using hub_msg = std::variant<tick, join, leave, choose, halt>;

bool authorized(const io::http_request& r, const std::string& token) {
  if (token.empty()) return false;
  auto h = r.header("Authorization");
  constexpr std::string_view bearer = "Bearer ";
  if (h.size() != bearer.size() + token.size() || h.substr(0, bearer.size()) != bearer) return false;
  // Compare every byte whatever the first difference, so timing tells nothing of the token.
  unsigned char diff = 0;
  for (std::size_t i = 0; i < token.size(); ++i) diff |= static_cast<unsigned char>(h[bearer.size() + i] ^ token[i]);
  return diff == 0;
}

io::http_response json_response(int status, const json& j) {
  auto r = io::http_response::with(status, "application/json", dump(j));
  r.headers.emplace_back("Cache-Control", "no-store");
  return r;
}

io::http_response json_error(int status, const std::string& text) { return json_response(status, json{{"error", text}}); }

std::optional<std::uint64_t> parse_id(std::string_view s) {
  if (s.empty() || s.size() > 20) return std::nullopt;
  std::uint64_t v = 0;
  for (char c : s) {
    if (c < '0' || c > '9') return std::nullopt;
    v = v * 10 + static_cast<std::uint64_t>(c - '0');
  }
  return v;
}

std::string query_param(std::string_view query, std::string_view key) {
  while (!query.empty()) {
    auto amp = query.find('&');
    auto part = query.substr(0, amp);
    auto eq = part.find('=');
    if (part.substr(0, eq) == key && eq != std::string_view::npos) {
      bool ok = true;
      auto v = io::percent_decode(part.substr(eq + 1), ok);
      return ok ? v : std::string{};
    }
    if (amp == std::string_view::npos) break;
    query.remove_prefix(amp + 1);
  }
  return {};
}

// --- the shared state of one view ---------------------------------------------------------------

struct shared {
  web_view_options options;
  std::shared_ptr<web_source> source;
  clock::time_point started = clock::now();
  // The hub's last refresh: its time on the blocking pool and one page's frame. Written by the
  // hub, read by the API actor: relaxed, each is a figure on its own that orders nothing.
  std::atomic<double> refresh_ms{0};
  std::atomic<std::size_t> frame_bytes{0};
  double uptime() const { return std::chrono::duration<double>(clock::now() - started).count(); }
};

// The program's nodes, or null when it gave none (the page then hides the panel).
json nodes_json(const shared& s) {
  if (!s.options.nodes) return nullptr;
  json out = json::array();
  std::vector<node_info> ns;
  try {
    ns = s.options.nodes();
  } catch (const std::exception&) {
    return out;  // documented: an empty list for this push
  }
  for (auto& n : ns)
    out.push_back({{"name", n.name}, {"address", n.address}, {"status", n.status}, {"detail", n.detail}});
  return out;
}

json source_levels_json(web_source& src) {
  json j = json::object();
  for (auto& [source, level] : src.source_log_levels()) j[source] = level;
  return j;
}

json status_json(const shared& s, web_source& src) {
  auto t = src.read_totals();
  return json{{"uptime_s", s.uptime()},
              {"actors", t.actors},
              {"messages", t.messages},
              {"memory", t.memory},
              {"dead_letters", t.dead_letters},
              {"connections", t.connections},
              {"listeners", to_json(src.listeners())},
              {"restarts", t.restarts},
              {"workers", to_json(src.workers())},
              {"writes_allowed", !s.options.token.empty()},
              {"introspection", t.introspection},
              {"log_level", src.log_level()},
              {"log_levels", source_levels_json(src)},
              {"view_refresh_ms", s.refresh_ms.load(std::memory_order_relaxed)},
              {"view_frame_bytes", s.frame_bytes.load(std::memory_order_relaxed)},
              {"push_every_ms", std::chrono::duration_cast<std::chrono::milliseconds>(s.options.push_every).count()}};
}

// --- the API actor ------------------------------------------------------------------------------

using api_msg = std::variant<io::http_call, halt>;

io::http_response answer(shared& s, const io::http_request& r) {
  auto& src = *s.source;
  if (r.method == "GET") {
    if (r.path == "/metrics") {
      auto resp = io::http_response::with(200, "text/plain; version=0.0.4; charset=utf-8", src.prometheus());
      resp.headers.emplace_back("Cache-Control", "no-store");
      return resp;
    }
    if (r.path == "/api/metrics") {
      auto resp = io::http_response::with(200, "application/json", src.metrics_json());
      resp.headers.emplace_back("Cache-Control", "no-store");
      return resp;
    }
    if (r.path == "/api/status") return json_response(200, status_json(s, src));
    if (r.path == "/api/nodes") return json_response(200, json{{"nodes", nodes_json(s)}});
    if (r.path == "/api/tree") return json_response(200, json{{"trees", to_json(src.trees(s.options.tree_children))}});
    if (r.path == "/api/dead_letters") {
      json by_reason = json::object();
      for (auto& [reason, n] : src.dead_letter_counts()) by_reason[reason] = n;
      return json_response(200, json{{"dead_letters", to_json(src.dead_letters(100))}, {"by_reason", std::move(by_reason)}});
    }
    if (r.path == "/api/actors") {
      auto key = parse_sort(query_param(r.query, "sort"));
      if (!key) return json_error(400, "sort must be mailbox, memory or rate");
      std::size_t limit = s.options.top;
      if (auto l = query_param(r.query, "limit"); !l.empty()) {
        auto n = parse_id(l);
        if (!n || *n == 0 || *n > 10'000) return json_error(400, "limit must be 1 to 10000");
        limit = static_cast<std::size_t>(*n);
      }
      return json_response(200, json{{"sort", to_string(*key)}, {"actors", to_json(src.top(*key, limit))}});
    }
    auto id = parse_id(r.param("id"));
    if (!id) return json_error(400, "an actor id is a decimal number");
    auto page = src.actor(*id);
    if (!page) return json_error(404, "no live actor " + std::to_string(*id));
    return json_response(200, to_json(*page));
  }
  // POST: writes, only with the token.
  if (!authorized(r, s.options.token))
    return json_error(403, s.options.token.empty() ? "this view was started without a token: writes are off"
                                                    : "writes need 'Authorization: Bearer <token>' with the view's token");
  if (r.path == "/api/log_level") {
    auto level = r.body;
    while (!level.empty() && (level.back() == '\n' || level.back() == '\r' || level.back() == ' ')) level.pop_back();
    auto source = query_param(r.query, "source");
    auto set = src.set_log_level(source, level);
    if (!set) return json_error(400, set.error().message());
    json j{{"log_level", *set}};
    if (!source.empty()) j["source"] = source;
    return json_response(200, j);
  }
  auto id = parse_id(r.param("id"));
  if (!id) return json_error(400, "an actor id is a decimal number");
  if (auto ok = src.kill(*id); !ok)
    return json_error(ok.error() == errc::no_such_actor ? 404 : 409, ok.error().message());
  return json_response(202, json{{"killed", *id}});
}

behavior<api_msg> api(std::shared_ptr<shared> s) {
  return receive<api_msg>([s](const io::http_call& c) {
    io::http_response resp;
    try {
      resp = answer(*s, c.request);
    } catch (const std::exception& e) {  // a bug in a source: the page gets a 500, the view lives on
      resp = json_error(500, e.what());
    }
    c.reply_to.tell(std::move(resp));
  }, [](const halt& h) {
    h.reply_to.tell(true);
    return stopped;
  });
}

// --- the hub -------------------------------------------------------------------------------------

struct sample {
  double t;  // seconds since start
  double rate;
  std::size_t memory;
  std::size_t actors;
  std::uint64_t dead_letters;
};

struct page_prefs {
  ref<page_msg> to;
  sort_key sort = sort_key::mailbox;
  std::uint64_t actor = 0;
};

struct hub_state {
  std::shared_ptr<shared> s;
  std::map<std::uint64_t, page_prefs> pages;
  std::deque<sample> series;
  std::map<std::uint64_t, std::deque<std::pair<double, std::size_t>>> mailbox_history;  // selected actors
  std::optional<totals> last;
  double last_t = 0;
  std::string shared_part;  // the frame's parts common to every page, from the last tick
  std::map<sort_key, std::string> tables;
  std::map<std::uint64_t, std::string> actor_pages;

  std::size_t max_points() const {
    auto n = s->options.history / std::max<std::chrono::nanoseconds>(s->options.push_every, std::chrono::milliseconds(1));
    return static_cast<std::size_t>(std::max<std::int64_t>(2, n));
  }

  void sample_totals() {
    auto t = s->source->read_totals();
    double now = s->uptime();
    double rate = 0;
    if (last && now > last_t) rate = static_cast<double>(t.messages - std::min(t.messages, last->messages)) / (now - last_t);
    series.push_back({now, rate, t.memory, t.actors, t.dead_letters});
    while (series.size() > max_points()) series.pop_front();
    last = t;
    last_t = now;
  }

  std::string table(sort_key k) {
    auto it = tables.find(k);
    if (it == tables.end())
      it = tables.emplace(k, dump(to_json(s->source->top(k, s->options.top)))).first;
    return it->second;
  }

  std::string actor_page(std::uint64_t id) {
    if (id == 0) return "null";
    auto it = actor_pages.find(id);
    if (it != actor_pages.end()) return it->second;
    auto p = s->source->actor(id);
    json j = p ? to_json(*p) : json{{"id", id}, {"gone", true}};
    auto& h = mailbox_history[id];
    if (p) {
      h.emplace_back(s->uptime(), p->row.mailbox);
      while (h.size() > max_points()) h.pop_front();
    }
    json hist = json::array();
    for (auto& [t, m] : h) hist.push_back(json::array({t, m}));
    j["mailbox_history"] = std::move(hist);
    return actor_pages.emplace(id, dump(j)).first->second;
  }

  void build_shared() {
    auto& src = *s->source;
    json series_j = json::array();
    for (auto& p : series) series_j.push_back(json::array({p.t, p.rate, p.memory, p.actors, p.dead_letters}));
    json j{{"status", status_json(*s, src)},
           {"tree", to_json(src.trees(s->options.tree_children))},
           {"series", std::move(series_j)},
           {"dead_letters", to_json(src.dead_letters(100))},
           {"nodes", nodes_json(*s)}};
    shared_part = dump(j);
    shared_part.pop_back();  // the closing brace: each page's parts follow
    tables.clear();
    actor_pages.clear();
  }

  void send(page_prefs& p) {
    auto frame = std::make_shared<std::string>(shared_part);
    *frame += ",\"sort\":\"" + std::string(to_string(p.sort)) + "\",\"table\":" + table(p.sort) +
              ",\"actor\":" + actor_page(p.actor) + "}";
    s->frame_bytes.store(frame->size(), std::memory_order_relaxed);
    p.to.tell(push{std::move(frame)});
  }

  clock::time_point next_refresh{};

  void on_tick() {
    if (pages.empty()) {
      // Nothing is sampled while no page is open: with a million actors even the totals walk
      // the metrics of every actor. The plots start when a page opens.
      mailbox_history.clear();
      return;
    }
    auto begin = clock::now();
    // A refresh that took longer than the tick (a million actors on a busy machine) is not
    // started again before twice its time has passed: the view takes at most half a thread.
    if (begin < next_refresh) return;
    sample_totals();
    build_shared();
    std::set<std::uint64_t> selected;
    for (auto& [id, p] : pages) {
      send(p);
      if (p.actor) selected.insert(p.actor);
    }
    auto took = clock::now() - begin;
    s->refresh_ms.store(std::chrono::duration<double, std::milli>(took).count(), std::memory_order_relaxed);
    next_refresh = begin + 2 * took;
    std::erase_if(mailbox_history, [&](auto& e) { return !selected.count(e.first); });
  }
};

behavior<hub_msg> hub(std::shared_ptr<shared> s) {
  return setup<hub_msg>([s](actor_context<hub_msg>& ctx) {
    ctx.start_timer("tick", tick{}, s->options.push_every, timer_mode::fixed_delay);
    auto st = std::make_shared<hub_state>();
    st->s = s;
    return receive<hub_msg>(
        [st](const tick&) { st->on_tick(); },
        [st](const join& j) {
          auto& p = st->pages[j.page];
          p.to = j.to;
          if (st->shared_part.empty()) st->build_shared();
          st->send(p);
        },
        [st](const leave& l) { st->pages.erase(l.page); },
        [st](const choose& c) {
          auto it = st->pages.find(c.page);
          if (it == st->pages.end()) return;
          it->second.sort = c.sort;
          it->second.actor = c.actor;
          st->send(it->second);  // at once: a click on a column answers without waiting for a tick
        },
        [st](const halt& h) {
          st->pages.clear();
          h.reply_to.tell(true);
          return stopped;
        });
  });
}

// --- one page's WebSocket -----------------------------------------------------------------------

behavior<page_msg> page(io::websocket ws, ref<hub_msg> hub_ref, std::uint64_t id) {
  return setup<page_msg>([ws = std::move(ws), hub_ref, id](actor_context<page_msg>& ctx) mutable {
    hub_ref.tell(join{id, ctx.self()});
    ws.request();
    return receive<page_msg>(
        [ws, hub_ref, id](const io::ws_received& m) mutable {
          // {"sort": "mailbox"|"memory"|"rate", "actor": <id or 0>}; anything else is ignored.
          auto j = json::parse(m.data, nullptr, false);
          if (j.is_object()) {
            auto key = parse_sort(j.value("sort", std::string{"mailbox"}));
            std::uint64_t actor = 0;
            if (auto a = j.find("actor"); a != j.end() && a->is_number_unsigned()) actor = a->get<std::uint64_t>();
            if (key) hub_ref.tell(choose{id, *key, actor});
          }
          ws.request();
          return same;
        },
        [hub_ref, id](const io::ws_closed&) {
          hub_ref.tell(leave{id});
          return stopped;
        },
        [ws](const push& p) mutable {
          (void)ws.send(*p.frame);  // write_queue_full: this page lags, it skips a frame
        });
  });
}

}  // namespace
}  // namespace web

namespace detail {

struct web_view_state {
  system& sys;
  std::shared_ptr<web::shared> s;
  io::io_service io{{.threads = 1}};
  std::optional<io::http_listener> listener;
  ref<web::hub_msg> hub;
  ref<web::api_msg> api;
  std::atomic<std::uint64_t> next_page{1};  // relaxed: only a unique number is needed
  bool stopped = false;

  web_view_state(system& sy, web_view_options o) : sys(sy), s(std::make_shared<web::shared>()) {
    s->options = std::move(o);
    s->source = web::make_source(sys);
  }
  ~web_view_state() { stop(); }

  void stop() {
    if (stopped) return;
    stopped = true;
    if (listener) {
      listener->stop();
      s->source->uncount_connections("web_view");  // its handle goes before the io_service
    }
    // Both answer within a turn; the deadline only guards a system already shutting down.
    if (hub && !sys.stopping()) (void)hub.ask<bool>([](ref<bool> r) { return web::halt{r}; }, std::chrono::seconds(5)).get();
    if (api && !sys.stopping()) (void)api.ask<bool>([](ref<bool> r) { return web::halt{r}; }, std::chrono::seconds(5)).get();
    io.shutdown();
  }
};

}  // namespace detail

result<web_view> web_view::start(system& sys, web_view_options o) {
  auto st = std::make_unique<detail::web_view_state>(sys, std::move(o));
  auto* raw = st.get();
  st->hub = sys.spawn(web::hub(st->s), {.blocking = true});
  st->api = sys.spawn(web::api(st->s), {.blocking = true});
  auto& api = st->api;

  io::http_routes r;
  r.get("/api/status", api)
      .get("/api/tree", api)
      .get("/api/actors", api)
      .get("/api/actors/:id", api)
      .post("/api/actors/:id/kill", api)
      .get("/api/dead_letters", api)
      .get("/api/nodes", api)
      .post("/api/log_level", api)
      .get("/api/metrics", api)
      .get("/metrics", api);
  r.upgrade("/ws", sys,
            [hub = st->hub, raw](io::websocket ws) {
              return web::page(std::move(ws), hub, raw->next_page.fetch_add(1, std::memory_order_relaxed));
            },
            {.max_message = 4096, .max_write_queue = 4 * 1024 * 1024});
  r.assets("/", web::page_assets());

  io::http_options ho;
  ho.address = st->s->options.address;
  ho.port = st->s->options.port;
  ho.max_connections = 1000;
  auto l = io::http_listen(st->io, std::move(ho), std::move(r));
  if (!l) {
    st->stop();
    return l.error();
  }
  st->listener = std::move(*l);
  st->s->source->count_connections("web_view", [l = *st->listener] { return l.live_connections(); });
  return web_view{std::move(st)};
}

web_view::web_view(std::unique_ptr<detail::web_view_state> s) noexcept : state_(std::move(s)) {}
web_view::web_view(web_view&&) noexcept = default;
web_view& web_view::operator=(web_view&&) noexcept = default;
web_view::~web_view() = default;

std::uint16_t web_view::port() const noexcept { return state_ && state_->listener ? state_->listener->port() : 0; }

std::string web_view::url() const {
  auto host = state_->s->options.address;
  if (host.find(':') != std::string::npos) host = "[" + host + "]";
  return "http://" + host + ":" + std::to_string(port()) + "/";
}

void web_view::count_connections(std::string name, const io::listener& l) {
  if (state_) state_->s->source->count_connections(std::move(name), [l] { return l.live_connections(); });
}

void web_view::count_connections(std::string name, const io::http_listener& l) {
  if (state_) state_->s->source->count_connections(std::move(name), [l] { return l.live_connections(); });
}

void web_view::stop() {
  if (state_) state_->stop();
}

}  // namespace troupe::observe
