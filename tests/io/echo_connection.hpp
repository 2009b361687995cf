// echo_connection.hpp: the connection actor most io tests listen with: it writes every frame
// back and stops when the connection closes.
#pragma once

#include <utility>
#include <variant>

#include "troupe/core/behavior.hpp"
#include "troupe/io/connection.hpp"

namespace io_test {

using conn_msg = std::variant<troupe::io::received, troupe::io::closed>;

inline troupe::behavior<conn_msg> echo(troupe::io::connection c) {
  c.request();
  return troupe::receive<conn_msg>(
      [c](troupe::io::received&& r) mutable {
        (void)c.write(std::move(r.data));
        c.request();
      },
      [](const troupe::io::closed&) { return troupe::stopped; });
}

}  // namespace io_test
