// make_corpus.cpp: writes the seed corpus of the serial fuzzer: one file per sample message of
// fuzz_protocol.hpp, named by its index. Run: troupe_serial_make_corpus <directory>.
#include <cstdio>
#include <fstream>
#include <string>

#include "fuzz_protocol.hpp"
#include "troupe/serial/registry.hpp"

int main(int argc, char** argv) {
  if (argc != 2) {
    std::fprintf(stderr, "usage: %s <directory>\n", argv[0]);
    return 2;
  }
  troupe::serial::registry registry;
  if (!registry.add<serial_fuzz::protocol>()) return 1;
  serial_fuzz::table_context refs;
  int n = 0;
  for (const auto& m : serial_fuzz::samples(refs)) {
    std::string bytes;
    troupe::serial::writer w{bytes, &refs};
    if (auto r = registry.encode<serial_fuzz::protocol>(m, w); !r) {
      std::fprintf(stderr, "sample %d: %s\n", n, r.error().message().c_str());
      return 1;
    }
    std::ofstream(std::string(argv[1]) + "/sample-" + std::to_string(n++), std::ios::binary) << bytes;
  }
  std::printf("wrote %d samples to %s\n", n, argv[1]);
  return 0;
}
