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

// --- the customization point ---------------------------------------------------------------------
namespace money_ns {
// Not an aggregate (private fields, a constructor): it needs a codec of its own.
class money {
 public:
  money() = default;
  money(std::int64_t cents, std::string currency) : cents_(cents), currency_(std::move(currency)) {}
  std::int64_t cents() const { return cents_; }
  const std::string& currency() const { return currency_; }
  friend bool operator==(const money&, const money&) = default;

 private:
  std::int64_t cents_ = 0;
  std::string currency_;
};
struct invoice {
  std::string customer;
  money total;
  std::vector<money> lines;
  friend bool operator==(const invoice&, const invoice&) = default;
};
}  // namespace money_ns

template <>
struct troupe::serial::codec<money_ns::money> {
  static constexpr std::string_view schema = "money/1";
  static constexpr std::size_t min_size = 2;
  static void encode(writer& w, const money_ns::money& m) {
    troupe::serial::encode(w, m.cents());
    troupe::serial::encode(w, m.currency());
  }
  static bool decode(reader& r, money_ns::money& m) {
    std::int64_t cents = 0;
    std::string currency;
    if (!troupe::serial::decode(r, cents) || !troupe::serial::decode(r, currency)) return false;
    if (currency.size() != 3) return r.fail(troupe::serial::errc::invalid_value, "a currency has 3 letters");
    m = money_ns::money(cents, std::move(currency));
    return true;
  }
};

TEST(Codec, UsesASpecializedCodecForATypeOfTheProgramAlsoInsideAggregates) {
  using money_ns::money;
  const money_ns::invoice inv{"ada", money(1250, "EUR"), {money(1000, "EUR"), money(250, "EUR")}};
  EXPECT_EQ(round_trip(inv), inv);
  static_assert(ts::serializable<money>);
}

TEST(Codec, PutsACustomCodecsSchemaIntoTheFingerprint) {
  EXPECT_EQ(ts::fingerprint_of<money_ns::money>(),
            ts::detail::mix(ts::detail::tag("custom"), ts::detail::hash_text("money/1")));
  EXPECT_NE(ts::fingerprint_of<money_ns::invoice>(), 0u);
}

TEST(Codec, ReportsACustomCodecsRefusal) {
  const std::string bad = bytes_of(std::int64_t{5}) + bytes_of(std::string("EURO"));
  ts::reader r{bad};
  money_ns::money m;
  EXPECT_FALSE(ts::decode(r, m));
  EXPECT_EQ(r.error(), ts::errc::invalid_value);
}
