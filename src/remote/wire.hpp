// wire.hpp: the fixed framing of the remote layer's connections. Internal to the layer.
// A frame is a 4-byte big-endian length L (the bytes after it), a 1-byte type, and L-1 bytes of
// payload. The length is checked against the connection's limit before anything is allocated
// or read for it. Integers are big-endian; strings are a length (1 or 4 bytes) then bytes.
#pragma once

#include <cstddef>
#include <cstdint>
#include <cstring>
#include <string>
#include <string_view>
#include <vector>

namespace troupe::remote::detail {

enum class frame_type : std::uint8_t {
  hello = 1,      // dialer: u16 min version, u16 max version, str8 address, 32-byte nonce
  challenge = 2,  // acceptor: u16 agreed version, str8 address, 32-byte nonce, 32-byte proof
  proof = 3,      // dialer: 32-byte proof
  ok = 4,         // acceptor: the handshake is done
  refuse = 5,     // either: u8 refusal, str8 text; then the sender closes
  heartbeat = 10, // empty
  fragment = 11,  // u64 lane, u8 last (0/1), bytes of one message on that lane
};

// bad_certificate: the peer's TLS certificate does not name the node it claims or was dialled
// as (node_tls::verify_node_names). A node of the version before it reads it as any refusal.
enum class refusal : std::uint8_t { bad_cookie = 1, wrong_version = 2, simultaneous = 3, bad_frame = 4, bad_certificate = 5 };

inline constexpr std::size_t nonce_size = 32;
inline constexpr std::size_t proof_size = 32;     // HMAC-SHA256
inline constexpr std::size_t header_size = 4;     // the length
inline constexpr std::uint32_t handshake_max_frame = 512;
inline constexpr std::size_t fragment_overhead = 1 + 8 + 1;  // type, lane, last

/// Appends big-endian fields to a buffer; begin()/end() bracket one frame and fill in its length.
class frame_writer {
 public:
  explicit frame_writer(std::vector<std::uint8_t>& out) : out_(out) {}
  void begin(frame_type t) {
    start_ = out_.size();
    out_.resize(out_.size() + header_size);
    u8(static_cast<std::uint8_t>(t));
  }
  void end() {
    auto len = static_cast<std::uint32_t>(out_.size() - start_ - header_size);
    for (int i = 0; i < 4; ++i) out_[start_ + i] = static_cast<std::uint8_t>(len >> (24 - 8 * i));
  }
  void u8(std::uint8_t v) { out_.push_back(v); }
  void u16(std::uint16_t v) { put(v, 2); }
  void u64(std::uint64_t v) { put(v, 8); }
  void bytes(const void* p, std::size_t n) {
    auto* b = static_cast<const std::uint8_t*>(p);
    out_.insert(out_.end(), b, b + n);
  }
  void str8(std::string_view s) {
    u8(static_cast<std::uint8_t>(s.size() > 255 ? 255 : s.size()));
    bytes(s.data(), s.size() > 255 ? 255 : s.size());
  }

 private:
  void put(std::uint64_t v, int n) {
    for (int i = n - 1; i >= 0; --i) out_.push_back(static_cast<std::uint8_t>(v >> (8 * i)));
  }
  std::vector<std::uint8_t>& out_;
  std::size_t start_ = 0;
};

/// Reads big-endian fields from one frame's payload; a read past the end sets !ok() and yields
/// zeros, so a truncated frame is detected once, after parsing.
class frame_reader {
 public:
  frame_reader(const std::uint8_t* p, std::size_t n) : p_(p), n_(n) {}
  bool ok() const noexcept { return ok_; }
  bool at_end() const noexcept { return n_ == 0; }
  std::size_t left() const noexcept { return n_; }
  std::uint8_t u8() { return static_cast<std::uint8_t>(get(1)); }
  std::uint16_t u16() { return static_cast<std::uint16_t>(get(2)); }
  std::uint64_t u64() { return get(8); }
  bool bytes(void* dst, std::size_t n) {
    if (!take(n)) return false;
    std::memcpy(dst, p_ - n, n);
    return true;
  }
  std::string str8() {
    std::size_t n = u8();
    if (!take(n)) return {};
    return std::string(reinterpret_cast<const char*>(p_ - n), n);
  }
  const std::uint8_t* rest() const noexcept { return p_; }

 private:
  bool take(std::size_t n) {
    if (!ok_ || n > n_) { ok_ = false; return false; }
    p_ += n;
    n_ -= n;
    return true;
  }
  std::uint64_t get(int n) {
    if (!take(static_cast<std::size_t>(n))) return 0;
    std::uint64_t v = 0;
    for (int i = n; i > 0; --i) v = (v << 8) | p_[-i];
    return v;
  }
  const std::uint8_t* p_;
  std::size_t n_;
  bool ok_ = true;
};

/// The length field of the frame starting at `p` (4 bytes available).
inline std::uint32_t frame_length(const std::uint8_t* p) noexcept {
  return (std::uint32_t{p[0]} << 24) | (std::uint32_t{p[1]} << 16) | (std::uint32_t{p[2]} << 8) | p[3];
}

/// What the front of a read buffer holds: a whole frame (its length in `len`), not enough bytes
/// yet, or a length outside 1..limit (the stream cannot be trusted: close). Nothing is allocated
/// from a length before this check.
enum class frame_status { whole, need_more, bad_length };
inline frame_status next_frame(const std::uint8_t* p, std::size_t n, std::uint32_t limit, std::uint32_t& len) noexcept {
  if (n < header_size) return frame_status::need_more;
  len = frame_length(p);
  if (len == 0 || len > limit) return frame_status::bad_length;
  return n < header_size + len ? frame_status::need_more : frame_status::whole;
}

/// A hello's fields (the dialer's first frame).
struct hello_frame {
  std::uint16_t min_version = 0, max_version = 0;
  std::string address;
  std::uint8_t nonce[nonce_size] = {};
};
/// Parses a hello's payload; false if truncated or with bytes left over.
inline bool parse_hello(frame_reader& r, hello_frame& h) {
  h.min_version = r.u16();
  h.max_version = r.u16();
  h.address = r.str8();
  r.bytes(h.nonce, nonce_size);
  return r.ok() && r.at_end();
}
/// A challenge's fields (the acceptor's answer).
struct challenge_frame {
  std::uint16_t version = 0;
  std::string address;
  std::uint8_t nonce[nonce_size] = {};
  std::uint8_t proof[proof_size] = {};
};
inline bool parse_challenge(frame_reader& r, challenge_frame& c) {
  c.version = r.u16();
  c.address = r.str8();
  r.bytes(c.nonce, nonce_size);
  r.bytes(c.proof, proof_size);
  return r.ok() && r.at_end();
}
/// A fragment's header; the bytes are r.rest(), r.left() of them.
inline bool parse_fragment(frame_reader& r, std::uint64_t& lane, bool& last) {
  lane = r.u64();
  auto l = r.u8();
  last = l == 1;
  return r.ok() && l <= 1;
}

/// A parsed "name@host:port".
struct node_address {
  std::string name;
  std::string host;
  std::uint16_t port = 0;
};
/// Parses "name@host:port" (IPv6 hosts in brackets); false if it is not one.
bool parse_address(std::string_view text, node_address& out);

}  // namespace troupe::remote::detail
