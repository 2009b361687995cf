#include "troupe/serial/registry.hpp"

#include <gtest/gtest.h>

#include <string>
#include <variant>

#include "serial/messages.hpp"

namespace ts = troupe::serial;
using namespace serial_test;

namespace {
struct order {
  std::uint64_t id = 0;
  std::string item;
  friend bool operator==(const order&, const order&) = default;
};
struct cancel {
  std::uint64_t id = 0;
  friend bool operator==(const cancel&, const cancel&) = default;
};
using shop_msg = std::variant<order, cancel>;

// The same type id as `order` (its given name) but one more field: what a peer built from a
// newer version of the struct sends.
struct order_v2 {
  std::uint64_t id = 0;
  std::string item;
  std::uint32_t quantity = 0;
};
using shop_msg_v2 = std::variant<order_v2, cancel>;

struct secret {
  std::string launch_code;
};
using admin_msg = std::variant<secret>;
}  // namespace

template <>
struct troupe::serial::type_name<order> {
  static constexpr std::string_view value = "shop.order";
};
template <>
struct troupe::serial::type_name<order_v2> {
  static constexpr std::string_view value = "shop.order";
};

namespace {
std::string encoded(const ts::registry& reg, const shop_msg& m) {
  std::string buf;
  ts::writer w{buf};
  EXPECT_TRUE(reg.encode<shop_msg>(m, w));
  return buf;
}
}  // namespace

TEST(Registry, RoundTripsEachMessageOfARegisteredProtocol) {
  ts::registry reg;
  ASSERT_TRUE(reg.add<shop_msg>());
  auto a = reg.decode<shop_msg>(encoded(reg, order{7, "socks"}));
  ASSERT_TRUE(a) << a.error().message();
  EXPECT_EQ(std::get<order>(*a), (order{7, "socks"}));
  auto b = reg.decode<shop_msg>(encoded(reg, cancel{9}));
  ASSERT_TRUE(b) << b.error().message();
  EXPECT_EQ(std::get<cancel>(*b), cancel{9});
}

TEST(Registry, EncodesOneAlternativeWithoutBuildingTheVariant) {
  ts::registry reg;
  ASSERT_TRUE(reg.add<shop_msg>());
  std::string buf;
  ts::writer w{buf};
  ASSERT_TRUE(reg.encode<shop_msg>(cancel{3}, w));
  EXPECT_EQ(buf, encoded(reg, cancel{3}));
}

TEST(Registry, WritesTypeIdThenFingerprintThenFields) {
  ts::registry reg;
  ASSERT_TRUE(reg.add<shop_msg>());
  const std::string buf = encoded(reg, cancel{5});
  ASSERT_EQ(buf.size(), 17u);
  std::uint64_t id = 0, fp = 0;
  for (int i = 7; i >= 0; --i) id = id << 8 | static_cast<unsigned char>(buf[i]);
  for (int i = 15; i >= 8; --i) fp = fp << 8 | static_cast<unsigned char>(buf[i]);
  EXPECT_EQ(id, ts::type_id_of<cancel>());
  EXPECT_EQ(fp, ts::fingerprint_of<cancel>());
  EXPECT_EQ(buf[16], 5);
}

TEST(Registry, RefusesToDecodeAProtocolThatWasNotRegistered) {
  ts::registry sender;
  ASSERT_TRUE(sender.add<admin_msg>());
  std::string buf;
  ts::writer w{buf};
  ASSERT_TRUE(sender.encode<admin_msg>(secret{"0000"}, w));

  ts::registry receiver;
  ASSERT_TRUE(receiver.add<shop_msg>());
  auto r = receiver.decode<admin_msg>(buf);
  ASSERT_FALSE(r);
  EXPECT_EQ(r.error(), ts::errc::not_registered);
  EXPECT_NE(r.error().message().find("secret"), std::string::npos) << r.error().message();
}

TEST(Registry, RejectsATypeIdThatIsNotAMessageOfTheProtocol) {
  ts::registry reg;
  ASSERT_TRUE(reg.add<shop_msg>());
  ASSERT_TRUE(reg.add<admin_msg>());
  std::string buf;
  ts::writer w{buf};
  ASSERT_TRUE(reg.encode<admin_msg>(secret{"0000"}, w));
  auto r = reg.decode<shop_msg>(buf);
  ASSERT_FALSE(r);
  EXPECT_EQ(r.error(), ts::errc::unknown_type);
}

TEST(Registry, RejectsAMessageWhoseLayoutChangedNamingTheType) {
  ts::registry newer;
  ASSERT_TRUE(newer.add<shop_msg_v2>());
  std::string buf;
  ts::writer w{buf};
  ASSERT_TRUE(newer.encode<shop_msg_v2>(order_v2{1, "hat", 2}, w));

  ts::registry older;
  ASSERT_TRUE(older.add<shop_msg>());
  auto r = older.decode<shop_msg>(buf);
  ASSERT_FALSE(r);
  EXPECT_EQ(r.error(), ts::errc::fingerprint_mismatch);
  EXPECT_NE(r.error().message().find("shop.order"), std::string::npos) << r.error().message();
}

TEST(Registry, RejectsBytesLeftAfterTheMessage) {
  ts::registry reg;
  ASSERT_TRUE(reg.add<shop_msg>());
  auto r = reg.decode<shop_msg>(encoded(reg, cancel{1}) + "x");
  ASSERT_FALSE(r);
  EXPECT_EQ(r.error(), ts::errc::trailing_bytes);
}

TEST(Registry, ReadsConsecutiveMessagesFromOneReader) {
  ts::registry reg;
  ASSERT_TRUE(reg.add<shop_msg>());
  const std::string buf = encoded(reg, cancel{1}) + encoded(reg, order{2, "two"});
  ts::reader r{buf};
  auto first = reg.decode<shop_msg>(r);
  auto second = reg.decode<shop_msg>(r);
  ASSERT_TRUE(first && second);
  EXPECT_EQ(std::get<cancel>(*first).id, 1u);
  EXPECT_EQ(std::get<order>(*second).item, "two");
  EXPECT_TRUE(r.at_end());
}

TEST(Registry, RefusesToEncodeAProtocolThatWasNotRegistered) {
  ts::registry reg;
  std::string buf = "kept";
  ts::writer w{buf};
  auto r = reg.encode<shop_msg>(cancel{1}, w);
  ASSERT_FALSE(r);
  EXPECT_EQ(r.error(), ts::errc::not_registered);
  EXPECT_EQ(buf, "kept");
}

TEST(Registry, FindsARegisteredProtocolByItsFingerprintOnly) {
  ts::registry reg;
  ASSERT_TRUE(reg.add<shop_msg>());
  EXPECT_EQ(reg.find(ts::protocol_fingerprint_of<shop_msg>()), &ts::protocol_ops_of<shop_msg>());
  EXPECT_EQ(reg.find(ts::protocol_fingerprint_of<admin_msg>()), nullptr);
  EXPECT_TRUE(reg.contains<shop_msg>());
  EXPECT_FALSE(reg.contains<admin_msg>());
}

TEST(Registry, AddingAProtocolTwiceIsHarmless) {
  ts::registry reg;
  ASSERT_TRUE(reg.add<shop_msg>());
  EXPECT_TRUE(reg.add<shop_msg>());
  EXPECT_TRUE(reg.contains<shop_msg>());
}

TEST(Registry, DecodesAMessageIntoAnEnvelopeByProtocolFingerprint) {
  ts::registry reg;
  ASSERT_TRUE(reg.add<shop_msg>());
  const std::string buf = encoded(reg, order{4, "four"});
  ts::reader r{buf};
  auto e = reg.decode_envelope(ts::protocol_fingerprint_of<shop_msg>(), r);
  ASSERT_TRUE(e) << e.error().message();
  const auto* typed = static_cast<const troupe::detail::user_envelope<shop_msg>*>(e->get());
  EXPECT_EQ(std::get<order>(typed->msg), (order{4, "four"}));

  // and back through the same table, as a proxy ref's endpoint would
  std::string again;
  ts::writer w{again};
  ts::protocol_ops_of<shop_msg>().encode_envelope(w, e->get());
  EXPECT_EQ(again, buf);
}

TEST(Registry, DecodeEnvelopeRefusesAnUnregisteredProtocolFingerprint) {
  ts::registry reg;
  ASSERT_TRUE(reg.add<shop_msg>());
  const std::string buf = encoded(reg, cancel{1});
  ts::reader r{buf};
  auto e = reg.decode_envelope(ts::protocol_fingerprint_of<admin_msg>(), r);
  ASSERT_FALSE(e);
  EXPECT_EQ(e.error(), ts::errc::not_registered);
}

TEST(Registry, TakesASingleTypeProtocol) {
  ts::registry reg;
  ASSERT_TRUE(reg.add<point>());
  std::string buf;
  ts::writer w{buf};
  ASSERT_TRUE(reg.encode<point>(point{3, 4}, w));
  auto r = reg.decode<point>(buf);
  ASSERT_TRUE(r) << r.error().message();
  EXPECT_EQ(*r, (point{3, 4}));
}

TEST(Registry, EncodeReportsAnEarlierFailureOfTheWriterAndWritesNothing) {
  ts::registry reg;
  ASSERT_TRUE(reg.add<shop_msg>());
  std::string buf;
  ts::writer w{buf};
  w.fail(ts::errc::bad_ref, "an earlier ref");
  auto r = reg.encode<shop_msg>(cancel{1}, w);
  ASSERT_FALSE(r);
  EXPECT_EQ(r.error(), ts::errc::bad_ref);
  EXPECT_TRUE(buf.empty());
  EXPECT_FALSE(w.ok());
}
