// The framing codecs: split and merged frames, limits, encoding.
#include "troupe/io/codec.hpp"

#include <gtest/gtest.h>

#include <string>
#include <vector>

namespace {

using troupe::io::codec;
using troupe::io::frame_decoder;
using troupe::io::framing;

std::string be32(std::uint32_t n) {
  return {static_cast<char>(n >> 24), static_cast<char>((n >> 16) & 0xff), static_cast<char>((n >> 8) & 0xff),
          static_cast<char>(n & 0xff)};
}

// Everything the decoder can give now.
std::vector<std::string> drain(frame_decoder& d) {
  std::vector<std::string> out;
  for (;;) {
    auto f = d.next();
    EXPECT_TRUE(f.has_value());
    if (!f || !*f) return out;
    out.push_back(std::move(**f));
  }
}

TEST(Codec, LineFramesSplitAcrossFeedsComeOutWhole) {
  frame_decoder d{{framing::line, 100}};
  d.feed("hel");
  EXPECT_TRUE(drain(d).empty());
  d.feed("lo\r");
  EXPECT_TRUE(drain(d).empty());
  d.feed("\nwor");
  EXPECT_EQ(drain(d), std::vector<std::string>{"hello"});
  d.feed("ld\n");
  EXPECT_EQ(drain(d), std::vector<std::string>{"world"});
  EXPECT_EQ(d.buffered(), 0u);
}

TEST(Codec, SeveralLineFramesInOneFeedComeOutOneByOne) {
  frame_decoder d{{framing::line, 100}};
  d.feed("a\nbb\n\nccc\ndd");
  EXPECT_EQ(drain(d), (std::vector<std::string>{"a", "bb", "", "ccc"}));
  EXPECT_EQ(d.buffered(), 2u);
}

TEST(Codec, ALineOfExactlyMaxFrameIsAcceptedAndOneMoreIsNot) {
  frame_decoder ok{{framing::line, 4}};
  ok.feed("abcd\r\n");
  EXPECT_EQ(drain(ok), std::vector<std::string>{"abcd"});

  frame_decoder bad{{framing::line, 4}};
  bad.feed("abcde\n");
  auto f = bad.next();
  ASSERT_FALSE(f.has_value());
  EXPECT_TRUE(f.error() == troupe::io::errc::frame_too_large);
}

TEST(Codec, ALineWithoutNewlineFailsOnceItPassesMaxFrameBeforeTheNewlineArrives) {
  frame_decoder d{{framing::line, 8}};
  d.feed("12345678");
  EXPECT_TRUE(drain(d).empty());  // could still end in "\r\n" or "\n"
  d.feed("9");
  d.feed("0");
  auto f = d.next();
  ASSERT_FALSE(f.has_value());
  EXPECT_TRUE(f.error() == troupe::io::errc::frame_too_large);
}

TEST(Codec, LengthPrefixedFramesSplitInsideTheHeaderAndTheBody) {
  frame_decoder d{{framing::length_prefixed, 100}};
  std::string wire = be32(5) + "hello" + be32(0) + be32(3) + "abc";
  for (char c : wire.substr(0, 6)) d.feed(std::string(1, c));  // header byte by byte, 2 body bytes
  EXPECT_TRUE(drain(d).empty());
  d.feed(wire.substr(6));
  EXPECT_EQ(drain(d), (std::vector<std::string>{"hello", "", "abc"}));
}

TEST(Codec, AnOversizedLengthHeaderFailsBeforeTheBodyArrives) {
  frame_decoder d{{framing::length_prefixed, 1024}};
  d.feed(be32(1025));
  auto f = d.next();
  ASSERT_FALSE(f.has_value());
  EXPECT_TRUE(f.error() == troupe::io::errc::frame_too_large);
}

TEST(Codec, RawChunksAreCutAtMaxFrame) {
  frame_decoder d{{framing::raw, 4}};
  d.feed("abcdefghij");
  EXPECT_EQ(drain(d), (std::vector<std::string>{"abcd", "efgh", "ij"}));
}

TEST(Codec, TheDecoderHoldsNoMemoryOnceItsFramesAreTaken) {
  frame_decoder d{{framing::line, 100}};
  d.feed("one\ntwo\n");
  EXPECT_EQ(drain(d).size(), 2u);
  EXPECT_EQ(d.buffered(), 0u);
}

TEST(Codec, EncodingAddsTheHeaderOrTheNewlineAndChecksTheLimit) {
  auto lp = troupe::io::encode_frame({framing::length_prefixed, 10}, "abc");
  ASSERT_TRUE(lp.has_value());
  EXPECT_EQ(*lp, be32(3) + "abc");
  auto line = troupe::io::encode_frame({framing::line, 10}, "abc");
  ASSERT_TRUE(line.has_value());
  EXPECT_EQ(*line, "abc\n");
  auto big = troupe::io::encode_frame({framing::line, 2}, "abc");
  ASSERT_FALSE(big.has_value());
  EXPECT_TRUE(big.error() == troupe::io::errc::frame_too_large);
  auto nl = troupe::io::encode_frame({framing::line, 10}, "a\nb");
  ASSERT_FALSE(nl.has_value());
  EXPECT_TRUE(nl.error() == troupe::io::errc::bad_frame);
}

TEST(Codec, EncodedFramesDecodeToTheSameFrames) {
  for (auto kind : {framing::length_prefixed, framing::line}) {
    codec c{kind, 64};
    frame_decoder d{c};
    std::string wire;
    std::vector<std::string> frames{"x", "", "hello world", std::string(64, 'z')};
    for (auto& f : frames) wire += *troupe::io::encode_frame(c, f);
    for (std::size_t i = 0; i < wire.size(); i += 7) d.feed(wire.substr(i, 7));
    EXPECT_EQ(drain(d), frames);
  }
}

}  // namespace
