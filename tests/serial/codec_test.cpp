#include "troupe/serial/codec.hpp"

#include <gtest/gtest.h>

#include <string>

#include "serial/messages.hpp"

namespace ts = troupe::serial;
using namespace serial_test;

namespace {
template <class T>
std::string bytes_of(const T& v) {
  std::string buf;
  ts::writer w{buf};
  ts::encode(w, v);
  EXPECT_TRUE(w.ok());
  return buf;
}
template <class T>
T round_trip(const T& v) {
  const std::string buf = bytes_of(v);
  ts::reader r{buf};
  T out{};
  EXPECT_TRUE(ts::decode(r, out)) << r.error().message();
  EXPECT_TRUE(r.at_end());
  return out;
}
std::string hex(std::string_view s) {
  static const char* digits = "0123456789abcdef";
  std::string out;
  for (unsigned char c : s) {
    if (!out.empty()) out += ' ';
    out += digits[c >> 4];
    out += digits[c & 15];
  }
  return out;
}
}  // namespace

TEST(Codec, RoundTripsAStructWithEverySupportedFieldKind) {
  const everything e = sample();
  EXPECT_EQ(round_trip(e), e);
}

TEST(Codec, RoundTripsDefaultValues) {
  const everything e{};
  EXPECT_EQ(round_trip(e), e);
}

TEST(Codec, WritesIntegersAsZigzagVarintsAndSingleBytesRaw) {
  EXPECT_EQ(hex(bytes_of(std::int32_t{0})), "00");
  EXPECT_EQ(hex(bytes_of(std::int32_t{-1})), "01");
  EXPECT_EQ(hex(bytes_of(std::int32_t{1})), "02");
  EXPECT_EQ(hex(bytes_of(std::int32_t{-64})), "7f");
  EXPECT_EQ(hex(bytes_of(std::int32_t{64})), "80 01");
  EXPECT_EQ(hex(bytes_of(std::uint32_t{300})), "ac 02");
  EXPECT_EQ(hex(bytes_of(std::uint64_t{UINT64_MAX})), "ff ff ff ff ff ff ff ff ff 01");
  EXPECT_EQ(hex(bytes_of(std::int8_t{-1})), "ff");
  EXPECT_EQ(hex(bytes_of(true)), "01");
}

TEST(Codec, WritesFloatsAsLittleEndianIeeeBits) {
  EXPECT_EQ(hex(bytes_of(1.0f)), "00 00 80 3f");
  EXPECT_EQ(hex(bytes_of(-2.0)), "00 00 00 00 00 00 00 c0");
}

TEST(Codec, WritesAStructAsItsFieldsInOrderWithNoHeader) {
  EXPECT_EQ(hex(bytes_of(point{1, -2})), "02 03");
  EXPECT_EQ(hex(bytes_of(empty{})), "");
  EXPECT_EQ(hex(bytes_of(std::string("hi"))), "02 68 69");
  EXPECT_EQ(hex(bytes_of(std::vector<std::uint16_t>{1, 2})), "02 01 02");
  EXPECT_EQ(hex(bytes_of(std::optional<std::int32_t>{})), "00");
  EXPECT_EQ(hex(bytes_of(std::optional<std::int32_t>{3})), "01 06");
  EXPECT_EQ(hex(bytes_of(std::variant<std::int32_t, bool>{true})), "01 01");
  EXPECT_EQ(hex(bytes_of(std::array<std::uint8_t, 3>{1, 2, 3})), "01 02 03");
  EXPECT_EQ(hex(bytes_of(std::map<std::uint8_t, bool>{{1, true}})), "01 01 01");
  EXPECT_EQ(hex(bytes_of(color::blue)), "07");
}

TEST(Codec, EncodesADurationAsTheCountOfItsOwnPeriod) {
  EXPECT_EQ(hex(bytes_of(std::chrono::milliseconds(2))), "04");
  EXPECT_EQ(round_trip(std::chrono::nanoseconds::max()), std::chrono::nanoseconds::max());
}

TEST(Codec, GivesTheSameBytesForAMapAndAnUnorderedMap) {
  const std::map<std::uint32_t, std::string> ordered{{7, "seven"}};
  const std::unordered_map<std::uint32_t, std::string> unordered{{7, "seven"}};
  EXPECT_EQ(bytes_of(ordered), bytes_of(unordered));
  EXPECT_EQ(ts::fingerprint_of<decltype(ordered)>(), ts::fingerprint_of<decltype(unordered)>());
}

TEST(Codec, AppendsToWhatTheBufferAlreadyHolds) {
  std::string buf = "head";
  ts::writer w{buf};
  ts::encode(w, std::string("x"));
  EXPECT_EQ(buf, std::string("head\x01x"));
}

static_assert(ts::serializable<everything>);
static_assert(ts::serializable<counter_msg>);
static_assert(!ts::serializable<std::string_view>);
static_assert(!ts::serializable<int*>);
