// web.hpp: the chat's browser side. A session speaks lines over a TCP connection (nc) or over a
// WebSocket (the page in web/index.html); `chat_transport` is either, so one session class
// serves both and browser users share rooms with nc users. `start_web` serves the page and the
// WebSocket endpoint /ws on its own port.
#pragma once

#include <filesystem>
#include <string>
#include <utility>
#include <variant>

#include "troupe/io/connection.hpp"
#include "troupe/io/http_listener.hpp"
#include "troupe/io/websocket.hpp"

// A line-oriented connection: nc's TCP socket, or a browser's WebSocket (a line per message).
class chat_transport {
 public:
  chat_transport(troupe::io::connection c) : t_(std::move(c)) {}  // NOLINT: implicit on purpose
  chat_transport(troupe::io::websocket w) : t_(std::move(w)) {}   // NOLINT
  void request() {
    std::visit([](auto& t) { t.request(); }, t_);
  }
  troupe::result<void> write(std::string line) {
    return std::visit(
        [&line](auto& t) -> troupe::result<void> {
          if constexpr (std::is_same_v<std::decay_t<decltype(t)>, troupe::io::websocket>) return t.send(std::move(line));
          else return t.write(std::move(line));
        },
        t_);
  }

 private:
  std::variant<troupe::io::connection, troupe::io::websocket> t_;
};

// The WebSocket settings of the browser side: the same limits as the nc side's lines.
inline troupe::io::websocket_options chat_websocket_options() {
  return {.max_message = 1024, .max_write_queue = 64 * 1024, .on_full = troupe::io::overflow_policy::close,
          .idle_timeout = std::chrono::minutes(30)};
}

// Serves web/ (the page) at / and hands each WebSocket of /ws to `factory`.
template <class F>
troupe::result<troupe::io::http_listener> start_web(troupe::io::io_service& ios, troupe::system& sys, std::uint16_t port,
                                                    F factory) {
  troupe::io::http_routes routes;
  routes.upgrade("/ws", sys, std::move(factory), chat_websocket_options());
  routes.directory("/", std::filesystem::path(CHAT_WEB_DIR));
  return troupe::io::http_listen(ios, {.port = port}, std::move(routes));
}
