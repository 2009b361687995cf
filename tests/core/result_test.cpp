// result_test.cpp: result<T>, the one channel for failures a caller must plan for.
#include "troupe/core/result.hpp"

#include <gtest/gtest.h>

#include <memory>
#include <string>
#include <system_error>
#include <vector>

namespace {

static_assert(std::is_error_code_enum_v<troupe::errc>);

troupe::result<int> parse(const std::string& s) {
  if (s.empty()) return troupe::error{troupe::errc::name_not_found, "empty"};
  return std::stoi(s);
}

TEST(Result, HoldsAValueOrAnError) {
  auto ok = parse("12");
  ASSERT_TRUE(ok.has_value());
  EXPECT_TRUE(static_cast<bool>(ok));
  EXPECT_EQ(*ok, 12);
  EXPECT_EQ(ok.value(), 12);

  auto bad = parse("");
  ASSERT_FALSE(bad.has_value());
  EXPECT_EQ(bad.error(), troupe::errc::name_not_found);
  EXPECT_EQ(bad.error().context(), "empty");
}

TEST(Result, ValueOnAnErrorThrowsBadResultAccessCarryingTheError) {
  troupe::result<int> r{troupe::errc::timeout, "ask to 'x'"};
  try {
    (void)r.value();
    FAIL() << "value() did not throw";
  } catch (const troupe::bad_result_access& e) {
    EXPECT_EQ(e.error(), troupe::errc::timeout);
    EXPECT_NE(std::string(e.what()).find("timeout: ask to 'x'"), std::string::npos) << e.what();
  }
  troupe::result<void> v{troupe::errc::system_stopped};
  EXPECT_THROW(v.value(), troupe::bad_result_access);
  troupe::result<void> fine;
  EXPECT_TRUE(fine.has_value());
  EXPECT_NO_THROW(fine.value());
}

TEST(Result, AndThenChainsAndTransformMapsPassingErrorsOn) {
  auto twice = [](int v) -> troupe::result<int> { return v * 2; };
  auto fail = [](int) -> troupe::result<int> { return troupe::error{troupe::errc::request_dropped}; };
  EXPECT_EQ(*parse("4").and_then(twice), 8);
  EXPECT_EQ(parse("4").and_then(fail).error(), troupe::errc::request_dropped);
  EXPECT_EQ(parse("").and_then(twice).error(), troupe::errc::name_not_found);
  auto text = parse("5").transform([](int v) { return std::to_string(v) + "!"; });
  EXPECT_EQ(*text, "5!");
  EXPECT_EQ(parse("").transform([](int v) { return v + 1; }).error(), troupe::errc::name_not_found);
}

// On a temporary, * and value() give the value itself: a reference into the temporary would
// dangle by the time a range-for's body runs (ASan: stack-use-after-scope).
static_assert(std::is_same_v<decltype(*std::declval<troupe::result<std::string>>()), std::string>);
static_assert(std::is_same_v<decltype(std::declval<troupe::result<std::string>>().value()), std::string>);
static_assert(std::is_same_v<decltype(*std::declval<troupe::result<std::string>&>()), std::string&>);

troupe::result<std::vector<std::string>> names() {
  return std::vector<std::string>{"a long name that lives on the heap, not in the string", "b"};
}

TEST(Result, DereferencingATemporaryInARangeForKeepsTheValueAlive) {
  std::vector<std::string> seen;
  for (auto& n : *names()) seen.push_back(n);  // dangled when * returned T&&
  for (auto& n : names().value()) seen.push_back(n);
  ASSERT_EQ(seen.size(), 4u);
  EXPECT_EQ(seen[0], "a long name that lives on the heap, not in the string");
  EXPECT_EQ(seen[3], "b");
  auto owned = *troupe::result<std::unique_ptr<int>>(std::make_unique<int>(7));  // moved out
  EXPECT_EQ(*owned, 7);
}

TEST(Result, ErrorMessagesSayTheCodeThenTheContext) {
  troupe::error e{troupe::errc::receiver_dead, "actor 'x' stopped"};
  EXPECT_EQ(e.message(), "receiver dead: actor 'x' stopped");
  EXPECT_EQ(troupe::error{troupe::errc::timeout}.message(), "timeout");
  EXPECT_STREQ(e.code().category().name(), "troupe");
  std::error_code ec = troupe::errc::wrong_protocol;  // usable as a plain std::error_code
  EXPECT_EQ(ec.message(), "wrong protocol");
  EXPECT_EQ(ec, troupe::make_error_code(troupe::errc::wrong_protocol));
  for (int c = 1; c <= 7; ++c) EXPECT_NE(troupe::error_category().message(c), "unknown troupe error") << c;
}

TEST(Result, ErrorsOfOtherCategoriesAreNotTroupeErrors) {
  troupe::error e{std::make_error_code(std::errc::timed_out)};
  EXPECT_FALSE(e == troupe::errc::timeout);
}

}  // namespace
