// serial: encodes N messages of about 100 bytes (a registered protocol, a reused buffer) and
// decodes each back, on the calling thread; no actors. The value is the sum of the decoded ids,
// checked against the sum sent. extra: bytes per message, and ns per encode+decode pair.
#include <chrono>
#include <cstdio>
#include <string>
#include <variant>
#include <vector>

#include "troupe/serial/registry.hpp"
#include "workload.hpp"

namespace troupe_bench {
namespace {

struct trade {
  std::uint64_t id = 0;
  std::string symbol;
  std::int64_t price = 0;
  std::uint32_t quantity = 0;
  std::vector<std::int32_t> fills;
  std::string note;
  double fee = 0;
};
struct ack {
  std::uint64_t id = 0;
};
using trade_msg = std::variant<trade, ack>;

}  // namespace

outcome serial(troupe::system&, const flags& f) {
  const auto n = f.get("n", 1000000);
  troupe::serial::registry reg;
  if (!reg.add<trade_msg>()) return {};
  trade t{0, "ACME", 123456, 100, {1, 2, 3, 4, 5, 6, 7, 8}, std::string(56, 'n'), 0.5};
  std::string buf;
  troupe::serial::writer w{buf};
  std::int64_t sent = 0, received = 0;
  const auto start = std::chrono::steady_clock::now();
  for (std::int64_t i = 0; i < n; ++i) {
    t.id = static_cast<std::uint64_t>(i);
    sent += i;
    buf.clear();
    if (!reg.encode<trade_msg>(t, w)) return {};
    auto back = reg.decode<trade_msg>(buf);
    if (!back || !std::holds_alternative<trade>(*back)) return {};
    received += static_cast<std::int64_t>(std::get<trade>(*back).id);
  }
  const double ns = std::chrono::duration<double, std::nano>(std::chrono::steady_clock::now() - start).count();
  char extra[96];
  std::snprintf(extra, sizeof extra, "bytes_per_message:%zu,ns_per_round_trip:%.0f", buf.size(),
                n > 0 ? ns / static_cast<double>(n) : 0.0);
  return {sent == received, received, extra};
}

}  // namespace troupe_bench
