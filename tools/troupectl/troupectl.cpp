// troupectl: a running node's web view from the command line. It speaks only the node's HTTP API
// (troupe::observe::web_view, docs/observe.md "troupectl"): status, tree, top, kill, log-level.
// Exit status: 0 done, 1 the node refused (its status and reason are printed), CLI11's codes for a usage error,
// 3 the node could not be reached within the timeout.
#include <CLI/CLI.hpp>
#include <boost/asio/connect.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/beast/core.hpp>
#include <boost/beast/http.hpp>
#include <cctype>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <iostream>
#include <nlohmann/json.hpp>
#include <optional>
#include <string>
#include <string_view>

namespace {

namespace asio = boost::asio;
namespace beast = boost::beast;
namespace http = beast::http;
using json = nlohmann::json;

struct node_address {
  std::string host = "127.0.0.1";
  std::string port = "8080";
};

struct reply {
  int status = 0;
  std::string body;
};

struct unreachable {
  std::string why;
};

// One request on a fresh connection, every step within `timeout`.
reply call(const node_address& node, http::verb method, const std::string& target, const std::string& token,
           const std::string& body, std::chrono::milliseconds timeout) {
  asio::io_context ioc;
  asio::ip::tcp::resolver resolver{ioc};
  beast::tcp_stream stream{ioc};
  http::request<http::string_body> req{method, target, 11};
  req.set(http::field::host, node.host);
  req.set(http::field::user_agent, "troupectl");
  if (!token.empty()) req.set(http::field::authorization, "Bearer " + token);
  req.body() = body;
  req.prepare_payload();
  beast::flat_buffer buf;
  http::response<http::string_body> res;
  beast::error_code failure;
  const char* step = "resolve";
  auto fail = [&](const char* what, beast::error_code ec) {
    step = what;
    failure = ec;
  };
  stream.expires_after(timeout);
  resolver.async_resolve(node.host, node.port, [&](beast::error_code ec, asio::ip::tcp::resolver::results_type rs) {
    if (ec) return fail("resolve", ec);
    stream.async_connect(rs, [&](beast::error_code ec, const asio::ip::tcp::endpoint&) {
      if (ec) return fail("connect", ec);
      http::async_write(stream, req, [&](beast::error_code ec, std::size_t) {
        if (ec) return fail("send", ec);
        http::async_read(stream, buf, res, [&](beast::error_code ec, std::size_t) {
          if (ec) return fail("read", ec);
        });
      });
    });
  });
  ioc.run();
  if (failure) throw unreachable{std::string(step) + " " + node.host + ":" + node.port + ": " + failure.message()};
  return {static_cast<int>(res.result_int()), res.body()};
}

node_address parse_node(const std::string& s) {
  node_address a;
  auto colon = s.rfind(':');
  if (colon == std::string::npos) {
    a.host = s;
  } else {
    a.host = s.substr(0, colon);
    a.port = s.substr(colon + 1);
  }
  if (a.host.size() > 2 && a.host.front() == '[' && a.host.back() == ']') a.host = a.host.substr(1, a.host.size() - 2);
  return a;
}

std::string bytes(std::uint64_t n) {
  char b[32];
  if (n >= (1ull << 30)) std::snprintf(b, sizeof b, "%.1fG", static_cast<double>(n) / (1ull << 30));
  else if (n >= (1ull << 20)) std::snprintf(b, sizeof b, "%.1fM", static_cast<double>(n) / (1ull << 20));
  else if (n >= 1024) std::snprintf(b, sizeof b, "%.1fK", static_cast<double>(n) / 1024);
  else std::snprintf(b, sizeof b, "%lluB", static_cast<unsigned long long>(n));
  return b;
}

// A protocol's type is often a long std::variant<...>: its first message type and how many more
// (--json keeps the whole), as the web page shows it.
std::string short_type(const std::string& t) {
  const std::string open = "std::variant<";
  if (t.rfind(open, 0) != 0 || t.back() != '>') return t;
  std::string inner = t.substr(open.size(), t.size() - open.size() - 1);
  int depth = 0;
  std::size_t first_end = std::string::npos, count = 1;
  for (std::size_t i = 0; i < inner.size(); ++i) {
    char c = inner[i];
    if (c == '<' || c == '(') ++depth;
    else if (c == '>' || c == ')') --depth;
    else if (c == ',' && depth == 0) {
      if (first_end == std::string::npos) first_end = i;
      ++count;
    }
  }
  std::string first = inner.substr(0, first_end);
  if (auto colons = first.rfind("::"); colons != std::string::npos && first.find('<') == std::string::npos)
    first = first.substr(colons + 2);
  return count > 1 ? first + " +" + std::to_string(count - 1) : first;
}

void print_tree(const json& n, const std::string& indent, bool last, bool root) {
  std::string line = root ? "" : indent + (last ? "`-- " : "|-- ");
  std::string name = n.value("name", "");
  const std::string type = short_type(n.value("type", "?"));
  line += (name.empty() ? type : name) + " #" + std::to_string(n.value("id", 0ull));
  if (!name.empty()) line += " (" + type + ")";
  if (n.value("restarts", 0ull)) line += " restarts=" + std::to_string(n.value("restarts", 0ull));
  std::cout << line << '\n';
  const auto& kids = n["children"];
  std::string next = root ? "" : indent + (last ? "    " : "|   ");
  auto more = n.value("more", 0ull);
  for (std::size_t i = 0; i < kids.size(); ++i) print_tree(kids[i], next, i + 1 == kids.size() && more == 0, false);
  if (more) std::cout << next << "`-- and " << more << " more\n";
}

// For a query value: everything but unreserved characters as %XX.
std::string percent_encode(std::string_view s) {
  static const char* hex = "0123456789ABCDEF";
  std::string out;
  for (unsigned char c : s) {
    if (std::isalnum(c) || c == '-' || c == '_' || c == '.' || c == '~' || c == '/') {
      out += static_cast<char>(c);
    } else {
      out += '%';
      out += hex[c >> 4];
      out += hex[c & 15];
    }
  }
  return out;
}

}  // namespace

int main(int argc, char** argv) {
  CLI::App app{"troupectl: look at and steer a running troupe node through its web view's HTTP API"};
  app.require_subcommand(1);
  std::string node = std::getenv("TROUPE_NODE") ? std::getenv("TROUPE_NODE") : "127.0.0.1:8080";
  std::string token = std::getenv("TROUPE_TOKEN") ? std::getenv("TROUPE_TOKEN") : "";
  int timeout_ms = 5000;
  bool raw = false;
  app.add_option("-n,--node", node, "the node's web view, host:port (env TROUPE_NODE)")->capture_default_str();
  app.add_option("-t,--token", token, "the view's token, for kill and log-level (env TROUPE_TOKEN)");
  app.add_option("--timeout-ms", timeout_ms, "give up on the node after this")->capture_default_str()->check(CLI::PositiveNumber);
  app.add_flag("--json", raw, "print the node's JSON as it came");

  auto* status = app.add_subcommand("status", "the node at a glance: actors, messages, memory, workers");
  auto* tree = app.add_subcommand("tree", "the supervision trees");
  auto* top = app.add_subcommand("top", "the top actors by mailbox length, memory or message rate");
  std::string by = "mailbox";
  std::size_t limit = 20;
  top->add_option("-b,--by", by, "sort key")->check(CLI::IsMember({"mailbox", "memory", "rate"}))->capture_default_str();
  top->add_option("-l,--limit", limit, "rows")->check(CLI::Range(1, 10000))->capture_default_str();
  auto* kill = app.add_subcommand("kill", "kill an actor (its supervisor decides what follows); needs the token");
  std::uint64_t id = 0;
  kill->add_option("id", id, "the actor's id (as `top` and `tree` print it)")->required();
  auto* level = app.add_subcommand("log-level", "set the node's log level, or one source's (-s); needs the token");
  std::string lvl;
  std::string source;
  level->add_option("level", lvl, "trace, debug, info, warning, error, off; with -s also default (the node's level again)")
      ->required()
      ->check(CLI::IsMember({"trace", "debug", "info", "warning", "error", "off", "default"}));
  level->add_option("-s,--source", source,
                    "only records from this source and under it: an actor's path (/shop/payments) or a part of the runtime (troupe)");
  CLI11_PARSE(app, argc, argv);

  const auto addr = parse_node(node);
  const auto timeout = std::chrono::milliseconds(timeout_ms);
  try {
    reply r;
    if (status->parsed()) r = call(addr, http::verb::get, "/api/status", token, {}, timeout);
    else if (tree->parsed()) r = call(addr, http::verb::get, "/api/tree", token, {}, timeout);
    else if (top->parsed()) r = call(addr, http::verb::get, "/api/actors?sort=" + by + "&limit=" + std::to_string(limit), token, {}, timeout);
    else if (kill->parsed()) r = call(addr, http::verb::post, "/api/actors/" + std::to_string(id) + "/kill", token, {}, timeout);
    else if (lvl == "default" && source.empty()) {
      std::cerr << "troupectl: the level 'default' needs a source (-s)\n";
      return 2;
    } else r = call(addr, http::verb::post, "/api/log_level" + (source.empty() ? "" : "?source=" + percent_encode(source)), token, lvl, timeout);

    auto j = json::parse(r.body, nullptr, false);
    if (r.status >= 300) {
      std::string why = j.is_object() ? j.value("error", r.body) : r.body;
      std::cerr << "troupectl: the node answered " << r.status << ": " << why << '\n';
      return 1;
    }
    if (raw || j.is_discarded()) {
      std::cout << r.body << '\n';
      return 0;
    }
    if (status->parsed()) {
      std::printf("up %.0f s, %llu actors, %llu messages handled, %s held by actors\n", j.value("uptime_s", 0.0),
                  j.value("actors", 0ull), j.value("messages", 0ull), bytes(j.value("memory", 0ull)).c_str());
      std::printf("restarts %llu, dead letters %llu, connections %llu, log level %s, writes %s\n",
                  j.value("restarts", 0ull), j.value("dead_letters", 0ull), j.value("connections", 0ull),
                  j.value("log_level", "?").c_str(),
                  j.value("writes_allowed", false) ? "allowed with the token" : "off (no token)");
      int i = 0;
      for (auto& w : j["workers"])
        std::printf("worker %d: %llu turns, %llu steals, parked %.1f s\n", i++, w.value("turns", 0ull),
                    w.value("steals", 0ull), w.value("parked_s", 0.0));
      if (j.contains("listeners"))
        for (auto& l : j["listeners"])
          std::printf("listener %s: %llu connections open\n", l.value("name", "?").c_str(), l.value("connections", 0ull));
      if (j.contains("log_levels"))
        for (auto& [src, l] : j["log_levels"].items())
          std::printf("log level %s for %s\n", l.get<std::string>().c_str(), src.c_str());
    } else if (tree->parsed()) {
      for (auto& t : j["trees"]) print_tree(t, "", true, true);
    } else if (top->parsed()) {
      std::printf("%10s %-20s %-28s %-8s %8s %10s %9s %8s %8s\n", "ID", "NAME", "TYPE", "STATE", "MAILBOX", "MESSAGES",
                  "MSG/S", "RESTARTS", "MEMORY");
      for (auto& a : j["actors"])
        std::printf("%10llu %-20.20s %-28.28s %-8s %8llu %10llu %9.1f %8llu %8s\n", a.value("id", 0ull),
                    a.value("name", "").c_str(), short_type(a.value("type", "")).c_str(), a.value("state", "").c_str(),
                    a.value("mailbox", 0ull), a.value("messages", 0ull), a.value("rate", 0.0), a.value("restarts", 0ull),
                    bytes(a.value("memory", 0ull)).c_str());
    } else if (kill->parsed()) {
      std::printf("killed %llu\n", static_cast<unsigned long long>(id));
    } else {
      if (source.empty()) std::printf("log level %s\n", j.value("log_level", lvl).c_str());
      else std::printf("log level %s for %s\n", j.value("log_level", lvl).c_str(), source.c_str());
    }
    return 0;
  } catch (const unreachable& u) {
    std::cerr << "troupectl: cannot reach the node: " << u.why << '\n';
    return 3;
  }
}
