#include <gtest/gtest.h>

#include <filesystem>
#include <fstream>
#include <iterator>
#include <string>

#include "serial/fuzz/fuzz_protocol.hpp"
#include "troupe/serial/registry.hpp"

namespace ts = troupe::serial;

// The seed corpus was written by a clang build (tests/serial/fuzz/make_corpus.cpp); this test
// is built by g++ (and clang): the same bytes must decode, so fingerprints and type ids agree
// between compilers, and a change of the format or the fuzzed protocol that would leave the
// committed seeds stale fails here first (regenerate them with troupe_serial_make_corpus).
TEST(FuzzCorpus, EverySeedDecodesAndEncodesBackToTheSameBytes) {
  ts::registry reg;
  ASSERT_TRUE(reg.add<serial_fuzz::protocol>());
  serial_fuzz::table_context refs;
  int seeds = 0;
  for (const auto& file : std::filesystem::directory_iterator(TROUPE_SERIAL_CORPUS)) {
    std::ifstream in(file.path(), std::ios::binary);
    const std::string bytes{std::istreambuf_iterator<char>(in), std::istreambuf_iterator<char>()};
    auto m = reg.decode<serial_fuzz::protocol>(bytes, &refs);
    ASSERT_TRUE(m) << file.path() << ": " << m.error().message();
    if (std::holds_alternative<serial_fuzz::unordered>(*m)) continue;
    std::string again;
    ts::writer w{again, &refs};
    ASSERT_TRUE(reg.encode<serial_fuzz::protocol>(*m, w));
    EXPECT_EQ(again, bytes) << file.path();
    ++seeds;
  }
  EXPECT_GE(seeds, 5);
}

TEST(FuzzCorpus, TheSamplesAreWhatTheCorpusHolds) {
  ts::registry reg;
  ASSERT_TRUE(reg.add<serial_fuzz::protocol>());
  serial_fuzz::table_context refs;
  int n = 0;
  for (const auto& m : serial_fuzz::samples(refs)) {
    std::string bytes;
    ts::writer w{bytes, &refs};
    ASSERT_TRUE(reg.encode<serial_fuzz::protocol>(m, w));
    std::ifstream in(std::string(TROUPE_SERIAL_CORPUS) + "/sample-" + std::to_string(n++), std::ios::binary);
    const std::string seed{std::istreambuf_iterator<char>(in), std::istreambuf_iterator<char>()};
    if (std::holds_alternative<serial_fuzz::unordered>(m)) {
      EXPECT_EQ(seed.size(), bytes.size());
      continue;
    }
    EXPECT_EQ(seed, bytes) << "sample-" << n - 1 << " is stale: rerun troupe_serial_make_corpus";
  }
}
