// seeds.cpp: TROUPE_TEST_SEED and the exploration loop.
#include "troupe/testkit/seeds.hpp"

#include <cstdlib>
#include <iostream>
#include <string>

#include "troupe/core/result.hpp"

namespace troupe::testkit {

std::uint64_t seed_from_environment(std::uint64_t fallback) {
  const char* text = std::getenv("TROUPE_TEST_SEED");  // read-only: no other thread sets it
  if (text == nullptr || *text == '\0') return fallback;
  char* end = nullptr;
  auto seed = std::strtoull(text, &end, 10);
  if (*end != '\0') throw usage_error(std::string("troupe: TROUPE_TEST_SEED is not a number: ") + text);
  return seed;
}

std::optional<std::uint64_t> explore_seeds(std::size_t count, const std::function<bool(std::uint64_t)>& trial) {
  if (std::getenv("TROUPE_TEST_SEED") != nullptr) count = 1;
  for (std::size_t i = 1; i <= count; ++i) {
    auto seed = seed_from_environment(i);
    if (!trial(seed)) {
      std::cerr << "troupe: the run with seed " << seed << " failed; replay it with TROUPE_TEST_SEED=" << seed << '\n';
      return seed;
    }
  }
  return std::nullopt;
}

}  // namespace troupe::testkit
