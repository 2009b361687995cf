// decode_fuzzer.cpp: libFuzzer target for the serial decoder. Decodes arbitrary bytes as a
// message of a registered protocol holding every supported field kind (fuzz_protocol.hpp).
// Besides ASan/UBSan's checks: whatever decodes must encode, and decode again to the same bytes
// (the encoding is canonical), except the unordered_map alternative, whose order may differ.
// Also feeds the bytes to the type-erased path remote uses (decode_envelope).
#include <cstddef>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <string>
#include <string_view>

#include "fuzz_protocol.hpp"
#include "troupe/serial/registry.hpp"

namespace {
struct fixture {
  troupe::serial::registry registry{troupe::serial::decode_limits{.max_length = 1 << 16, .max_total = 1 << 24, .max_depth = 32}};
  serial_fuzz::table_context refs;
  fixture() {
    if (!registry.add<serial_fuzz::protocol>()) std::abort();
  }
};

[[noreturn]] void fail(const char* what) {
  std::fprintf(stderr, "serial fuzzer: %s\n", what);
  std::abort();
}
}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  static fixture f;
  const std::string_view input(reinterpret_cast<const char*>(data), size);

  auto first = f.registry.decode<serial_fuzz::protocol>(input, &f.refs);
  if (first) {
    std::string again;
    troupe::serial::writer w{again, &f.refs};
    if (!f.registry.encode<serial_fuzz::protocol>(*first, w)) fail("a decoded message does not encode");
    auto second = f.registry.decode<serial_fuzz::protocol>(again, &f.refs);
    if (!second) fail("a re-encoded message does not decode");
    if (!std::holds_alternative<serial_fuzz::unordered>(*second)) {
      std::string third;
      troupe::serial::writer w3{third, &f.refs};
      if (!f.registry.encode<serial_fuzz::protocol>(*second, w3) || third != again) fail("encoding is not canonical");
    }
  }

  troupe::serial::reader in{input, f.registry.limits(), &f.refs};
  auto envelope = f.registry.decode_envelope(troupe::serial::protocol_fingerprint_of<serial_fuzz::protocol>(), in);
  if (first && !envelope) fail("decode_envelope refuses what decode accepts");
  if (envelope && in.at_end() && !first) fail("decode refuses what decode_envelope accepts");
  return 0;
}
