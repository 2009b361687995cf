// wire_fuzzer.cpp: libFuzzer target for what a remote node reads from a peer: the framing
// (next_frame, the same check connection.cpp makes before it allocates), the handshake frames
// (parse_hello, parse_challenge, a refuse), fragments and their reassembly, and each whole
// payload handed to the ref layer of a real node (refs::on_payload, on the node's thread as in
// a connection). The first byte picks the frame limit: the handshake's, or a fragment's.
#include <boost/asio/post.hpp>
#include <cstddef>
#include <cstdint>
#include <future>
#include <map>
#include <string>

#include "node_impl.hpp"
#include "troupe/core/system.hpp"
#include "troupe/remote/node.hpp"
#include "wire.hpp"

namespace {
namespace rd = troupe::remote::detail;

struct fixture {
  troupe::system sys{[] {
    troupe::system_config c;
    c.worker_threads = 1;
    c.logger = [](troupe::log_level, std::string_view) {};
    return c;
  }()};
  troupe::remote::node node{sys, {.name = "fuzz", .cookie = "fuzz-cookie", .fragment_size = 512, .max_message = 1 << 16}};
};

void deliver(fixture& f, std::uint64_t lane, std::string payload) {
  std::promise<void> done;
  auto& impl = f.node.impl();
  boost::asio::post(impl.context(), [&] {
    impl.remote_refs().on_payload("peer", lane, std::move(payload));
    done.set_value();
  });
  done.get_future().wait();
}
}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  static fixture f;
  if (size == 0) return 0;
  const bool up = (data[0] & 1) != 0;
  const std::uint32_t limit = up ? 512 + rd::fragment_overhead : rd::handshake_max_frame;
  const std::uint8_t* p = data + 1;
  std::size_t n = size - 1;
  std::map<std::uint64_t, std::string> partial;
  for (;;) {
    std::uint32_t len = 0;
    if (rd::next_frame(p, n, limit, len) != rd::frame_status::whole) break;  // need more, or close
    rd::frame_reader r(p + rd::header_size + 1, len - 1);
    auto type = static_cast<rd::frame_type>(p[rd::header_size]);
    p += rd::header_size + len;
    n -= rd::header_size + len;
    rd::node_address a;
    switch (type) {
      case rd::frame_type::hello: {
        rd::hello_frame h;
        if (rd::parse_hello(r, h)) (void)rd::parse_address(h.address, a);
        break;
      }
      case rd::frame_type::challenge: {
        rd::challenge_frame c;
        if (rd::parse_challenge(r, c)) (void)rd::parse_address(c.address, a);
        break;
      }
      case rd::frame_type::refuse:
        (void)r.u8();
        (void)r.str8();
        break;
      case rd::frame_type::fragment: {
        std::uint64_t lane = 0;
        bool last = false;
        if (!up || !rd::parse_fragment(r, lane, last)) return 0;
        auto& buf = partial[lane];
        if (buf.size() + r.left() > (1u << 16)) return 0;  // over max_message: the connection closes
        buf.append(reinterpret_cast<const char*>(r.rest()), r.left());
        if (last) {
          auto whole = std::move(buf);
          partial.erase(lane);
          deliver(f, lane, std::move(whole));
        }
        break;
      }
      default:
        break;
    }
  }
  return 0;
}
