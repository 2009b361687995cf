#include "troupe/serial/reader.hpp"

#include <gtest/gtest.h>

#include <limits>
#include <map>
#include <string>
#include <vector>

#include "serial/messages.hpp"
#include "troupe/serial/codec.hpp"
#include "troupe/serial/registry.hpp"

namespace ts = troupe::serial;
using namespace serial_test;
using namespace std::string_view_literals;

namespace {
template <class T>
std::string bytes_of(const T& v) {
  std::string buf;
  ts::writer w{buf};
  ts::encode(w, v);
  return buf;
}
template <class T>
troupe::error decode_error(std::string_view bytes, ts::decode_limits limits = {}) {
  ts::reader r{bytes, limits};
  T out{};
  EXPECT_FALSE(ts::decode(r, out)) << "decoded bad input";
  return r.error();
}
std::string varint(std::uint64_t v) {
  std::string buf;
  ts::writer w{buf};
  w.put_varint(v);
  return buf;
}
}  // namespace

TEST(Reader, RejectsEveryTruncationOfAValidEncoding) {
  const std::string full = bytes_of(sample());
  for (std::size_t n = 0; n < full.size(); ++n) {
    ts::reader r{std::string_view(full).substr(0, n)};
    everything out;
    ASSERT_FALSE(ts::decode(r, out)) << "prefix of " << n << " bytes decoded";
    EXPECT_TRUE(r.error() == ts::errc::truncated || r.error() == ts::errc::bad_length) << r.error().message();
  }
}

TEST(Reader, RejectsAStringLengthBeyondTheInputBeforeAllocating) {
  const std::string bad = varint(std::uint64_t{1} << 40) + "abc";
  const auto e = decode_error<std::string>(bad);
  EXPECT_EQ(e, ts::errc::bad_length);
  EXPECT_NE(e.message().find("declares 1099511627776"), std::string::npos) << e.message();
}

TEST(Reader, RejectsAVectorCountTheInputCannotHold) {
  EXPECT_EQ(decode_error<std::vector<std::string>>(varint(1000) + "ab"), ts::errc::bad_length);
  EXPECT_EQ(decode_error<std::vector<double>>(varint(2) + std::string(15, '\0')), ts::errc::bad_length);
}

TEST(Reader, RejectsALengthOverTheConfiguredLimit) {
  const std::string s = bytes_of(std::string(100, 'x'));
  EXPECT_EQ(decode_error<std::string>(s, {.max_length = 99}), ts::errc::limit_exceeded);
  ts::reader ok{s, {.max_length = 100}};
  std::string out;
  EXPECT_TRUE(ts::decode(ok, out));
}

TEST(Reader, BoundsWhatEmptyElementsCanMakeItAllocate) {
  // Empty structs take no input bytes, so only the limits stop a huge count.
  EXPECT_EQ(decode_error<std::vector<empty>>(varint(std::uint64_t{1} << 60)), ts::errc::limit_exceeded);
  EXPECT_EQ(decode_error<std::vector<empty>>(varint(1000), {.max_length = 999}), ts::errc::limit_exceeded);
}

TEST(Reader, CountsAllocationsOfNestedContainersAgainstOneBudget) {
  // 1000 inner vectors of 1000 empty structs each: 3 bytes of input apiece, 1000 bytes of memory.
  std::string bad = varint(1000);
  for (int i = 0; i < 1000; ++i) bad += varint(1000);
  const auto e = decode_error<std::vector<std::vector<empty>>>(bad, {.max_total = 100000});
  EXPECT_EQ(e, ts::errc::limit_exceeded);
}

TEST(Reader, RejectsNestingDeeperThanTheLimit) {
  using deep = std::optional<std::optional<std::optional<std::optional<std::int32_t>>>>;
  const std::string s = bytes_of(deep{std::optional<std::optional<std::optional<std::int32_t>>>{
      std::optional<std::optional<std::int32_t>>{std::optional<std::int32_t>{5}}}});
  EXPECT_EQ(decode_error<deep>(s, {.max_depth = 3}), ts::errc::too_deep);
  ts::reader ok{s, {.max_depth = 4}};
  deep out;
  EXPECT_TRUE(ts::decode(ok, out)) << ok.error().message();
}

TEST(Reader, RejectsAVariantIndexPastTheLastAlternative) {
  EXPECT_EQ((decode_error<std::variant<std::int32_t, bool>>(varint(2) + "\x01")), ts::errc::invalid_variant_index);
}

TEST(Reader, RejectsAnEnumValueNoEnumeratorHas) {
  EXPECT_EQ(decode_error<color>("\x02"), ts::errc::invalid_value);
  ts::reader r{"\x07"};
  color c{};
  EXPECT_TRUE(ts::decode(r, c));
  EXPECT_EQ(c, color::blue);
  EXPECT_EQ(decode_error<level>(bytes_of(std::int32_t{199})), ts::errc::invalid_value);
}

TEST(Reader, RejectsABoolOrOptionalFlagOtherThanZeroOrOne) {
  EXPECT_EQ(decode_error<bool>("\x02"), ts::errc::invalid_value);
  EXPECT_EQ(decode_error<std::optional<bool>>("\x02\x01"), ts::errc::invalid_value);
}

TEST(Reader, RejectsAnIntegerThatDoesNotFitItsType) {
  EXPECT_EQ(decode_error<std::uint16_t>(varint(65536)), ts::errc::invalid_value);
  EXPECT_EQ(decode_error<std::int16_t>(bytes_of(std::int32_t{-40000})), ts::errc::invalid_value);
}

TEST(Reader, RejectsMalformedVarints) {
  EXPECT_EQ(decode_error<std::uint64_t>(std::string(11, '\xff')), ts::errc::bad_varint);
  EXPECT_EQ(decode_error<std::uint64_t>(std::string(9, '\xff') + "\x02"), ts::errc::bad_varint);
  EXPECT_EQ(decode_error<std::uint32_t>("\x80\x00"sv), ts::errc::bad_varint);  // not the shortest form
}

TEST(Reader, RejectsAMapThatRepeatsAKey) {
  EXPECT_EQ((decode_error<std::map<std::uint8_t, bool>>("\x02\x01\x01\x01\x00"sv)), ts::errc::invalid_value);
}

TEST(Reader, KeepsTheFirstErrorAndSaysWhereItHappened) {
  ts::reader r{"\x05"};
  std::string s;
  EXPECT_FALSE(ts::decode(r, s));
  EXPECT_FALSE(ts::decode(r, s));
  EXPECT_EQ(r.error(), ts::errc::bad_length);
  EXPECT_NE(r.error().message().find("at byte 1"), std::string::npos) << r.error().message();
}

namespace {
// A recursive type: PFR could take it apart, but its fingerprint would recurse forever, so it
// has a codec of its own, which nests through vector<tree>.
struct tree {
  std::vector<tree> children;
};
}  // namespace

template <>
struct troupe::serial::codec<tree> {
  static constexpr std::string_view schema = "tree/1";
  static constexpr std::size_t min_size = 1;
  static void encode(writer& w, const tree& t) { troupe::serial::encode(w, t.children); }
  static bool decode(reader& r, tree& t) { return troupe::serial::decode(r, t.children); }
};

TEST(Reader, StopsARecursiveTypeAtMaxDepthInsteadOfOverflowingTheStack) {
  std::string deep(200000, '\x01');  // each level: a vector of one child
  deep += '\x00';
  ts::reader r{deep};
  tree out;
  EXPECT_FALSE(ts::decode(r, out));
  EXPECT_EQ(r.error(), ts::errc::too_deep);

  tree shallow{{tree{{tree{}}}, tree{}}};
  const std::string ok = bytes_of(shallow);
  ts::reader r2{ok};
  tree back;
  EXPECT_TRUE(ts::decode(r2, back)) << r2.error().message();
  EXPECT_EQ(back.children.size(), 2u);
  EXPECT_EQ(back.children[0].children.size(), 1u);
  // Its fingerprint comes from the codec's schema rather than from walking the recursion.
  static_assert(ts::fingerprint_of<tree>() != 0);
}
