// Route patterns: literals, `:name` captures, `*rest`, percent-decoding.
#include "troupe/io/http_route.hpp"

#include <gtest/gtest.h>

#include <map>
#include <string>

namespace {

namespace io = troupe::io;

TEST(HttpRoute, MatchesLiteralsCapturesAndTheRest) {
  std::map<std::string, std::string, std::less<>> p;
  EXPECT_TRUE(io::match_path(io::split_pattern("/rooms/:name"), "/rooms/lobby", p));
  EXPECT_EQ(p["name"], "lobby");
  EXPECT_FALSE(io::match_path(io::split_pattern("/rooms/:name"), "/rooms", p));
  EXPECT_FALSE(io::match_path(io::split_pattern("/rooms/:name"), "/rooms/a/b", p));
  EXPECT_FALSE(io::match_path(io::split_pattern("/rooms/:name"), "/halls/a", p));
  EXPECT_TRUE(io::match_path(io::split_pattern("/files/*rest"), "/files/a/b.txt", p));
  EXPECT_EQ(p["rest"], "a/b.txt");
  EXPECT_TRUE(io::match_path(io::split_pattern("/"), "/", p));
  EXPECT_FALSE(io::match_path(io::split_pattern("/rooms/:name"), "/rooms/%zz", p));
}

TEST(HttpRoute, PercentDecodingRefusesABrokenEscape) {
  bool ok = true;
  EXPECT_EQ(io::percent_decode("a%20b", ok), "a b");
  EXPECT_TRUE(ok);
  (void)io::percent_decode("a%2", ok);
  EXPECT_FALSE(ok);
}

}  // namespace
