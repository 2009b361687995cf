// RFC 6455 framing without sockets: headers, message rules, close payloads, UTF-8.
#include "ws_frame.hpp"

#include <gtest/gtest.h>

#include <array>
#include <cstdint>
#include <string>
#include <vector>

namespace {

using namespace troupe::io::detail;

// A client frame as a browser sends it: masked, with `payload` masked by `mask`.
std::vector<std::uint8_t> client_frame(bool fin, std::uint8_t op, const std::string& payload,
                                       std::array<std::uint8_t, 4> mask = {1, 2, 3, 4}) {
  std::vector<std::uint8_t> f;
  f.push_back(static_cast<std::uint8_t>((fin ? 0x80 : 0) | op));
  const auto n = payload.size();
  if (n < 126) {
    f.push_back(static_cast<std::uint8_t>(0x80 | n));
  } else if (n <= 0xFFFF) {
    f.push_back(0x80 | 126);
    f.push_back(static_cast<std::uint8_t>(n >> 8));
    f.push_back(static_cast<std::uint8_t>(n));
  } else {
    f.push_back(0x80 | 127);
    for (int i = 7; i >= 0; --i) f.push_back(static_cast<std::uint8_t>(std::uint64_t{n} >> (8 * i)));
  }
  f.insert(f.end(), mask.begin(), mask.end());
  for (std::size_t i = 0; i < n; ++i) f.push_back(static_cast<std::uint8_t>(payload[i]) ^ mask[i & 3]);
  return f;
}

// Parses the header at the front of `f`, as the connection does: two bytes, then the rest.
ws_refusal header_of(const std::vector<std::uint8_t>& f, ws_frame_header& h) {
  const auto size = ws_header_size(f[0], f[1]);
  EXPECT_LE(size, f.size());
  return parse_ws_header(f.data(), size, h);
}

std::string payload_of(const std::vector<std::uint8_t>& f, const ws_frame_header& h) {
  const auto size = ws_header_size(f[0], f[1]);
  std::string p(f.begin() + static_cast<std::ptrdiff_t>(size), f.end());
  ws_unmask(p.data(), p.size(), h.mask);
  return p;
}

TEST(WsFrame, AMaskedTextFrameParsesAndUnmasks) {
  auto f = client_frame(true, 1, "hello");
  ws_frame_header h;
  ASSERT_FALSE(header_of(f, h));
  EXPECT_TRUE(h.fin);
  EXPECT_EQ(h.opcode, ws_opcode::text);
  EXPECT_EQ(h.length, 5u);
  EXPECT_EQ(payload_of(f, h), "hello");
}

TEST(WsFrame, SixteenAndSixtyFourBitLengthsParse) {
  for (std::size_t n : {126u, 65535u, 65536u, 200000u}) {
    auto f = client_frame(true, 2, std::string(n, 'x'));
    ws_frame_header h;
    ASSERT_FALSE(header_of(f, h)) << n;
    EXPECT_EQ(h.length, n);
    EXPECT_EQ(ws_header_size(f[0], f[1]), n < 65536 ? 8u : 14u);
    EXPECT_EQ(payload_of(f, h), std::string(n, 'x'));
  }
}

TEST(WsFrame, UnmaskingInPiecesMatchesUnmaskingAtOnce) {
  std::array<std::uint8_t, 4> mask{0xde, 0xad, 0xbe, 0xef};
  std::string whole = "a payload read in two pieces";
  std::string pieces = whole;
  ws_unmask(whole.data(), whole.size(), mask);
  ws_unmask(pieces.data(), 7, mask, 0);
  ws_unmask(pieces.data() + 7, pieces.size() - 7, mask, 7);
  EXPECT_EQ(whole, pieces);
}

TEST(WsFrame, AnUnmaskedClientFrameIsAProtocolError) {
  std::vector<std::uint8_t> f{0x81, 0x02, 'h', 'i'};
  ws_frame_header h;
  auto r = parse_ws_header(f.data(), ws_header_size(f[0], f[1]), h);
  EXPECT_EQ(r.code, 1002);
  EXPECT_NE(r.text.find("mask"), std::string::npos);
}

TEST(WsFrame, ReservedBitsUnknownOpcodesAndBadControlFramesAreProtocolErrors) {
  ws_frame_header h;
  auto rsv = client_frame(true, 1, "x");
  rsv[0] |= 0x40;
  EXPECT_EQ(header_of(rsv, h).code, 1002);
  EXPECT_EQ(header_of(client_frame(true, 3, "x"), h).code, 1002);
  EXPECT_EQ(header_of(client_frame(true, 0xB, ""), h).code, 1002);
  EXPECT_EQ(header_of(client_frame(false, 9, "ping"), h).code, 1002);            // fragmented control
  EXPECT_EQ(header_of(client_frame(true, 9, std::string(126, 'p')), h).code, 1002);  // long control
  EXPECT_FALSE(header_of(client_frame(true, 9, std::string(125, 'p')), h));
}

TEST(WsFrame, ALengthNotInItsShortestFormOrWithItsTopBitSetIsAProtocolError) {
  ws_frame_header h;
  std::vector<std::uint8_t> f16{0x82, 0x80 | 126, 0, 5, 1, 2, 3, 4};
  EXPECT_EQ(parse_ws_header(f16.data(), f16.size(), h).code, 1002);
  std::vector<std::uint8_t> f64{0x82, 0x80 | 127, 0, 0, 0, 0, 0, 0, 0xFF, 0xFF, 1, 2, 3, 4};
  EXPECT_EQ(parse_ws_header(f64.data(), f64.size(), h).code, 1002);
  std::vector<std::uint8_t> top{0x82, 0x80 | 127, 0x80, 0, 0, 0, 0, 1, 0, 0, 1, 2, 3, 4};
  EXPECT_EQ(parse_ws_header(top.data(), top.size(), h).code, 1002);
}

TEST(WsFrame, ServerHeadersUseTheShortestLengthAndNoMask) {
  std::array<std::uint8_t, 10> out{};
  EXPECT_EQ(encode_ws_header(out, true, ws_opcode::text, 5), 2u);
  EXPECT_EQ(out[0], 0x81);
  EXPECT_EQ(out[1], 5);
  EXPECT_EQ(encode_ws_header(out, true, ws_opcode::binary, 300), 4u);
  EXPECT_EQ(out[1], 126);
  EXPECT_EQ((out[2] << 8) | out[3], 300);
  EXPECT_EQ(encode_ws_header(out, false, ws_opcode::continuation, 70000), 10u);
  EXPECT_EQ(out[0], 0x00);
  EXPECT_EQ(out[1], 127);
  EXPECT_EQ((out[7] << 16) | (out[8] << 8) | out[9], 70000);
}

TEST(WsMessageRules, FragmentsReassembleInOrderWithControlFramesBetween) {
  ws_message_rules rules{1024};
  ws_frame_header first{false, ws_opcode::text, 3, {}}, ping{true, ws_opcode::ping, 0, {}},
      last{true, ws_opcode::continuation, 3, {}};
  EXPECT_FALSE(rules.accept(first));
  EXPECT_FALSE(rules.payload(first, "abc"));
  EXPECT_FALSE(rules.accept(ping));
  EXPECT_FALSE(rules.accept(last));
  EXPECT_FALSE(rules.payload(last, "def"));
  EXPECT_TRUE(rules.text());
  rules.reset();
  EXPECT_FALSE(rules.in_message());
}

TEST(WsMessageRules, AContinuationWithoutAMessageOrANewMessageInsideOneIsAProtocolError) {
  ws_message_rules rules{1024};
  EXPECT_EQ(rules.accept({true, ws_opcode::continuation, 1, {}}).code, 1002);
  ws_message_rules other{1024};
  EXPECT_FALSE(other.accept({false, ws_opcode::binary, 1, {}}));
  EXPECT_EQ(other.accept({true, ws_opcode::text, 1, {}}).code, 1002);
}

TEST(WsMessageRules, AMessageOverTheLimitIsRefusedWith1009FromItsHeaders) {
  ws_message_rules rules{10};
  EXPECT_FALSE(rules.accept({false, ws_opcode::binary, 6, {}}));
  auto r = rules.accept({true, ws_opcode::continuation, 5, {}});
  EXPECT_EQ(r.code, 1009);
  EXPECT_EQ(r.text, "a message over 10 bytes");
  ws_message_rules huge{64 * 1024};
  EXPECT_EQ(huge.accept({true, ws_opcode::binary, std::uint64_t{1} << 62, {}}).code, 1009);
}

TEST(WsMessageRules, InvalidUtf8InTextIsRefusedWith1007EvenAcrossFragments) {
  ws_message_rules rules{1024};
  ws_frame_header a{false, ws_opcode::text, 4, {}}, b{true, ws_opcode::continuation, 1, {}};
  ASSERT_FALSE(rules.accept(a));
  EXPECT_FALSE(rules.payload(a, "caf\xc3"));  // é split between two fragments
  ASSERT_FALSE(rules.accept(b));
  EXPECT_FALSE(rules.payload(b, "\xa9"));
  rules.reset();
  ws_frame_header bad{true, ws_opcode::text, 2, {}};
  ASSERT_FALSE(rules.accept(bad));
  EXPECT_EQ(rules.payload(bad, "\xff\xfe").code, 1007);
  rules.reset();
  ws_frame_header cut{true, ws_opcode::text, 1, {}};
  ASSERT_FALSE(rules.accept(cut));
  EXPECT_EQ(rules.payload(cut, "\xc3").code, 1007);  // a character left half-way at FIN
  rules.reset();
  ws_frame_header bin{true, ws_opcode::binary, 2, {}};
  ASSERT_FALSE(rules.accept(bin));
  EXPECT_FALSE(rules.payload(bin, "\xff\xfe"));  // binary is not checked
}

TEST(Utf8Validator, RefusesOverlongsSurrogatesAndCodePointsPastTheLast) {
  auto valid = [](std::string_view s) {
    utf8_validator v;
    return v.feed(s) && v.complete();
  };
  EXPECT_TRUE(valid("plain ascii"));
  EXPECT_TRUE(valid("\xc3\xa9\xe2\x82\xac\xf0\x9f\x98\x80"));  // é € 😀
  EXPECT_TRUE(valid("\xf4\x8f\xbf\xbf"));                      // U+10FFFF
  EXPECT_FALSE(valid("\xc0\xaf"));                             // overlong '/'
  EXPECT_FALSE(valid("\xe0\x80\xaf"));                         // overlong 3-byte
  EXPECT_FALSE(valid("\xed\xa0\x80"));                         // a surrogate
  EXPECT_FALSE(valid("\xf4\x90\x80\x80"));                     // past U+10FFFF
  EXPECT_FALSE(valid("\x80"));                                 // a stray continuation
  EXPECT_FALSE(valid("\xe2\x82"));                             // cut short
}

TEST(WsClose, CodeAndReasonParseAndAnEmptyPayloadIs1005) {
  ws_close_payload c;
  EXPECT_FALSE(parse_ws_close(make_ws_close(4000, "bye now"), c));
  EXPECT_EQ(c.code, 4000);
  EXPECT_EQ(c.reason, "bye now");
  EXPECT_FALSE(parse_ws_close("", c));
  EXPECT_EQ(c.code, 1005);
}

TEST(WsClose, BadPayloadsAreRefused) {
  ws_close_payload c;
  EXPECT_EQ(parse_ws_close("\x03", c).code, 1002);                   // one byte
  EXPECT_EQ(parse_ws_close(make_ws_close(1005, ""), c).code, 1002);  // reserved, never sent
  EXPECT_EQ(parse_ws_close(make_ws_close(999, ""), c).code, 1002);
  EXPECT_EQ(parse_ws_close(make_ws_close(5000, ""), c).code, 1002);
  EXPECT_EQ(parse_ws_close(make_ws_close(1000, "\xff"), c).code, 1007);
}

TEST(WsClose, AReasonIsCutTo123BytesWithoutSplittingACharacter) {
  std::string reason(122, 'r');
  reason += "\xc3\xa9";  // bytes 122 and 123: the character straddles the limit
  auto p = make_ws_close(1000, reason);
  EXPECT_EQ(p.size(), 2u + 122u);
  ws_close_payload c;
  EXPECT_FALSE(parse_ws_close(p, c));
}

}  // namespace
