// http_message.hpp: an HTTP request as a handler actor receives it, and the response it answers.
// The HTTP listener parses each request (Boost.Beast) and sends it to the route's actor as an
// `http_call{request, reply_to}`; the actor answers by telling `reply_to` one `http_response`,
// from any thread, at any time before the route's deadline, whole or as the head of a stream
// whose body follows in pieces (http_stream.hpp). Both are plain values: they own their bytes and
// may be moved between threads freely.
#pragma once

#include <map>
#include <memory>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "troupe/core/protocol.hpp"
#include "troupe/core/ref.hpp"
#include "troupe/io/http_stream.hpp"

namespace troupe::io {

/// One parsed HTTP request.
///
///     [](const troupe::io::http_call& c) {
///       c.reply_to.tell(troupe::io::http_response::text(200, "hello " + c.request.param("name")));
///     }
struct http_request {
  std::string method;  ///< "GET", "POST", ... as sent
  std::string target;  ///< the request target as sent: "/rooms/lobby?x=1"
  std::string path;    ///< the target before '?': "/rooms/lobby"
  std::string query;   ///< the target after '?', undecoded: "x=1"
  std::vector<std::pair<std::string, std::string>> headers;  ///< in the order sent
  std::string body;
  std::map<std::string, std::string, std::less<>> params;  ///< `:name` and `*rest` captures, percent-decoded
  std::string peer;                                         ///< "address:port"

  /// The first header named `name` (case-insensitive); empty if none.
  std::string_view header(std::string_view name) const noexcept;
  /// The capture `name` of the route's pattern; empty if none.
  std::string param(std::string_view name) const;
};

/// The answer to one request. The listener adds Content-Length (or, for a stream,
/// Transfer-Encoding: chunked), Connection and Server.
///
///     auto r = troupe::io::http_response::text(404, "no such room");
///     r.headers.emplace_back("Cache-Control", "no-store");
struct http_response {
  int status = 200;
  std::string content_type = "text/plain; charset=utf-8";
  std::string body;
  std::vector<std::pair<std::string, std::string>> headers;  ///< extra headers
  /// Set by stream(): the body is not `body` but what the writer sends through its http_stream.
  std::shared_ptr<detail::http_stream_sink> stream_to{};

  /// A plain-text response.
  static http_response text(int status, std::string body) {
    return {status, "text/plain; charset=utf-8", std::move(body), {}, {}};
  }
  /// A response with a content type of your choice (HTML, JSON, ...).
  static http_response with(int status, std::string content_type, std::string body) {
    return {status, std::move(content_type), std::move(body), {}, {}};
  }
  /// The head of a streamed answer: its body is sent in pieces by `writer`, an actor whose
  /// protocol accepts http_stream_ready (it may write) and http_stream_closed (the stream ended
  /// without it). With HTTP/1.1 the pieces go as chunks; an HTTP/1.0 client gets the bytes and
  /// the end of the connection.
  ///
  ///     c.reply_to.tell(troupe::io::http_response::stream(200, "text/csv", self));
  template <class P>
    requires accepts<P, http_stream_ready> && accepts<P, http_stream_closed>
  static http_response stream(int status, std::string content_type, ref<P> writer) {
    return {status, std::move(content_type), {}, {},
            std::make_shared<detail::http_stream_ref_sink<P>>(std::move(writer))};
  }
};

/// The message a route's actor receives: the request and where to send the answer. An actor
/// that serves HTTP accepts `http_call` in its protocol and tells `reply_to` exactly once.
///
///     struct hello { /* ... */ };
///     using web_msg = std::variant<troupe::io::http_call>;
///     troupe::behavior<web_msg> greeter() {
///       return troupe::receive<web_msg>([](const troupe::io::http_call& c) {
///         c.reply_to.tell(troupe::io::http_response::text(200, "hi"));
///       });
///     }
struct http_call {
  http_request request;
  ref<http_response> reply_to;
};

}  // namespace troupe::io
