// Wire: the remote layer's own framing and node addresses (src/remote/wire.hpp).
#include "wire.hpp"

#include <gtest/gtest.h>

#include <cstdint>
#include <vector>

using namespace troupe::remote::detail;

TEST(Wire, AFrameCarriesItsLengthTypeAndFieldsBigEndian) {
  std::vector<std::uint8_t> out;
  frame_writer w(out);
  w.begin(frame_type::fragment);
  w.u64(0x0102030405060708ull);
  w.u8(1);
  w.str8("hi");
  w.end();
  ASSERT_EQ(out.size(), 4u + 1 + 8 + 1 + 3);
  EXPECT_EQ(frame_length(out.data()), out.size() - 4);
  EXPECT_EQ(out[4], static_cast<std::uint8_t>(frame_type::fragment));
  EXPECT_EQ(out[5], 0x01);
  EXPECT_EQ(out[12], 0x08);
  frame_reader r(out.data() + 5, out.size() - 5);
  EXPECT_EQ(r.u64(), 0x0102030405060708ull);
  EXPECT_EQ(r.u8(), 1);
  EXPECT_EQ(r.str8(), "hi");
  EXPECT_TRUE(r.ok());
  EXPECT_TRUE(r.at_end());
}

TEST(Wire, AReadPastTheEndOfATruncatedFrameFailsOnceAndYieldsZeros) {
  const std::uint8_t bytes[] = {0, 5, 7};
  frame_reader r(bytes, sizeof bytes);
  EXPECT_EQ(r.u16(), 5);
  EXPECT_EQ(r.u16(), 0);  // only one byte left
  EXPECT_FALSE(r.ok());
  EXPECT_EQ(r.str8(), "");
  EXPECT_FALSE(r.ok());
}

TEST(Wire, AStringLengthOverTheBytesLeftIsAFailureNotARead) {
  const std::uint8_t bytes[] = {200, 'a', 'b'};
  frame_reader r(bytes, sizeof bytes);
  EXPECT_EQ(r.str8(), "");
  EXPECT_FALSE(r.ok());
}

TEST(Wire, ParsesNodeAddressesAndRejectsMalformedOnes) {
  node_address a;
  ASSERT_TRUE(parse_address("b@127.0.0.1:7001", a));
  EXPECT_EQ(a.name, "b");
  EXPECT_EQ(a.host, "127.0.0.1");
  EXPECT_EQ(a.port, 7001);
  ASSERT_TRUE(parse_address("v6@[::1]:9", a));
  EXPECT_EQ(a.host, "::1");
  for (const char* bad : {"", "b", "b@", "@1.2.3.4:5", "b@1.2.3.4", "b@1.2.3.4:", "b@1.2.3.4:0", "b@1.2.3.4:65536",
                          "b@host:5", "b@1.2.3.4:5x"})
    EXPECT_FALSE(parse_address(bad, a)) << bad;
}
