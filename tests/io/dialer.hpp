// dialer.hpp: the client actor the io tests connect out with: it is told the outcome of an
// async_connect, sends one greeting, and reports to the test thread what came back (the echo, the
// close, or the connect's failure, described by the test).
#pragma once

#include <functional>
#include <memory>
#include <string>
#include <utility>
#include <variant>

#include "core/test_support.hpp"
#include "troupe/io/connect.hpp"
#include "troupe/io/connection.hpp"
#include "troupe/troupe.hpp"

namespace io_test {

/// What async_connect delivers to the dialer.
struct dialed {
  troupe::result<troupe::io::connection> conn;
};
using client_msg = std::variant<dialed, troupe::io::received, troupe::io::closed>;

/// Pushes `describe(error)` if the connect failed, else shows the connection to `on_connected`
/// (if set), writes `greeting` and pushes "echo:<data>" or "closed:<why>", then stops.
inline troupe::behavior<client_msg> dialer(std::shared_ptr<troupe_test::blocking_queue<std::string>> out,
                                           std::string greeting,
                                           std::function<std::string(const troupe::error&)> describe,
                                           std::function<void(const troupe::io::connection&)> on_connected = {}) {
  namespace io = troupe::io;
  return troupe::receive<client_msg>(
      [out, greeting = std::move(greeting), describe = std::move(describe),
       on_connected = std::move(on_connected)](dialed&& d) -> troupe::behavior<client_msg> {
        if (!d.conn) {
          out->push(describe(d.conn.error()));
          return troupe::stopped;
        }
        io::connection c = std::move(*d.conn);
        if (on_connected) on_connected(c);
        (void)c.write(greeting);
        c.request();
        return troupe::receive<client_msg>([](dialed&&) {},
                                           [out, c](io::received&& r) {
                                             out->push("echo:" + r.data);
                                             return troupe::stopped;
                                           },
                                           [out](const io::closed& cl) {
                                             out->push(std::string("closed:") + io::to_string(cl.why));
                                             return troupe::stopped;
                                           });
      },
      [](io::received&&) {}, [](const io::closed&) {});
}

}  // namespace io_test
