#include "troupe/serial/codec.hpp"

#include <gtest/gtest.h>

#include <cstdint>
#include <optional>
#include <string>
#include <vector>

namespace ts = troupe::serial;

namespace fp {
struct base { std::int32_t a; std::string b; };
struct same_shape { std::int32_t x; std::string y; };           // other names, same structure
struct added { std::int32_t a; std::string b; bool c; };
struct removed { std::int32_t a; };
struct reordered { std::string b; std::int32_t a; };
struct widened { std::int64_t a; std::string b; };
struct signedness { std::uint32_t a; std::string b; };
struct inner { std::int32_t v; };
struct inner_changed { std::int64_t v; };
struct outer { inner i; std::vector<inner> many; };
struct outer_changed { inner_changed i; std::vector<inner_changed> many; };
struct flattened { std::int32_t v; std::vector<inner> many; };
enum class two : std::uint8_t { a, b };
enum class three : std::uint8_t { a, b, c };
struct with_two { two e; };
struct with_three { three e; };
struct maybe { std::optional<std::int32_t> a; };
struct plain { std::int32_t a; };
}  // namespace fp

// Computed at compile time.
static_assert(ts::fingerprint_of<fp::base>() != 0);
static_assert(ts::fingerprint_of<fp::base>() == ts::fingerprint_of<const fp::base>());

TEST(Fingerprint, IsTheSameForTheSameStructureWhateverTheNames) {
  EXPECT_EQ(ts::fingerprint_of<fp::base>(), ts::fingerprint_of<fp::same_shape>());
  // ...while the type ids, from the names, differ
  EXPECT_NE(ts::type_id_of<fp::base>(), ts::type_id_of<fp::same_shape>());
}

TEST(Fingerprint, ChangesWhenAFieldIsAddedRemovedReorderedOrRetyped) {
  const auto base = ts::fingerprint_of<fp::base>();
  EXPECT_NE(base, ts::fingerprint_of<fp::added>());
  EXPECT_NE(base, ts::fingerprint_of<fp::removed>());
  EXPECT_NE(base, ts::fingerprint_of<fp::reordered>());
  EXPECT_NE(base, ts::fingerprint_of<fp::widened>());
  EXPECT_NE(base, ts::fingerprint_of<fp::signedness>());
  EXPECT_NE(ts::fingerprint_of<fp::plain>(), ts::fingerprint_of<fp::maybe>());
}

TEST(Fingerprint, ChangesWhenANestedStructChanges) {
  EXPECT_NE(ts::fingerprint_of<fp::outer>(), ts::fingerprint_of<fp::outer_changed>());
  EXPECT_NE(ts::fingerprint_of<fp::outer>(), ts::fingerprint_of<fp::flattened>());
}

TEST(Fingerprint, ChangesWhenAnEnumGainsAValue) {
  EXPECT_NE(ts::fingerprint_of<fp::with_two>(), ts::fingerprint_of<fp::with_three>());
}

TEST(Fingerprint, DistinguishesContainerKinds) {
  EXPECT_NE(ts::fingerprint_of<std::vector<std::int32_t>>(), ts::fingerprint_of<std::optional<std::int32_t>>());
  EXPECT_NE((ts::fingerprint_of<std::array<std::int32_t, 2>>()), (ts::fingerprint_of<std::array<std::int32_t, 3>>()));
  EXPECT_NE(ts::fingerprint_of<std::chrono::milliseconds>(), ts::fingerprint_of<std::chrono::microseconds>());
  EXPECT_NE(ts::fingerprint_of<std::string>(), ts::fingerprint_of<std::vector<char>>());
}

TEST(Fingerprint, DoesNotSeeTwoFieldsOfOneTypeSwapped) {
  // A known limit, documented: PFR cannot see field names, so {x, y} -> {y, x} looks the same.
  struct xy { std::int32_t x; std::int32_t y; };
  struct yx { std::int32_t y; std::int32_t x; };
  EXPECT_EQ(ts::fingerprint_of<xy>(), ts::fingerprint_of<yx>());
}
