// log_test.cpp: log records, their text form, levels per system and changed at run time, the
// default standard-error sink, and what an actor's records say about who logged them.
#include "troupe/core/log.hpp"

#include <gtest/gtest.h>

#include <chrono>
#include <memory>
#include <mutex>
#include <string>
#include <variant>
#include <vector>

#include "troupe/core/system.hpp"
#include "troupe/testkit/test_system.hpp"

namespace {

using namespace std::chrono_literals;
using troupe::log_level;

// A capturing sink: keeps a copy of every record it gets.
struct captured {
  log_level level;
  std::chrono::system_clock::time_point time;
  std::string source;
  std::string message;
  std::vector<std::pair<std::string, std::string>> fields;
  std::string line;
};

class capture_sink final : public troupe::log_sink {
 public:
  void write(const troupe::log_record& r) noexcept override {
    captured c{r.level, r.time, std::string(r.source), std::string(r.message), {}, troupe::format_log_line(r)};
    for (const auto& f : r.fields) {
      std::string v;
      f.value.append_to(v);
      c.fields.emplace_back(std::string(f.key), std::move(v));
    }
    std::lock_guard lock(mu_);
    records_.push_back(std::move(c));
  }
  std::vector<captured> records() const {
    std::lock_guard lock(mu_);
    return records_;
  }

 private:
  mutable std::mutex mu_;
  std::vector<captured> records_;
};

TEST(Logger, WritesLevelTimeSourceMessageAndFieldsToItsSink) {
  auto sink = std::make_shared<capture_sink>();
  troupe::logger lg(sink);
  const auto before = std::chrono::system_clock::now();
  lg.log(log_level::warning, "billing", "slow reply", {{"took", 1500ms}, {"attempt", 3}, {"gateway", "acme"}, {"ok", false}});
  const auto after = std::chrono::system_clock::now();
  auto got = sink->records();
  ASSERT_EQ(got.size(), 1u);
  EXPECT_EQ(got[0].level, log_level::warning);
  EXPECT_GE(got[0].time, before);
  EXPECT_LE(got[0].time, after);
  EXPECT_EQ(got[0].source, "billing");
  EXPECT_EQ(got[0].message, "slow reply");
  using kv = std::pair<std::string, std::string>;
  EXPECT_EQ(got[0].fields, (std::vector<kv>{{"took", "1.5s"}, {"attempt", "3"}, {"gateway", "acme"}, {"ok", "false"}}));
  // 2026-12-06T21:04:05.123Z warning billing: slow reply took=1.5s attempt=3 gateway=acme ok=false
  EXPECT_TRUE(testing::internal::RE::FullMatch(
      got[0].line, "[0-9]{4}-[0-9]{2}-[0-9]{2}T[0-9]{2}:[0-9]{2}:[0-9]{2}\\.[0-9]{3}Z warning billing: slow reply "
                   "took=1\\.5s attempt=3 gateway=acme ok=false"))
      << got[0].line;
}

TEST(Logger, DropsRecordsBelowItsLevelAndTheLevelChangesAtRunTime) {
  auto sink = std::make_shared<capture_sink>();
  troupe::logger lg(sink);  // info by default
  EXPECT_EQ(lg.level(), log_level::info);
  lg.log(log_level::debug, "x", "hidden");
  lg.log(log_level::info, "x", "shown");
  lg.set_level(log_level::debug);
  lg.log(log_level::debug, "x", "now shown");
  lg.log(log_level::trace, "x", "still hidden");
  lg.set_level(log_level::off);
  lg.log(log_level::error, "x", "silenced");
  auto got = sink->records();
  ASSERT_EQ(got.size(), 2u);
  EXPECT_EQ(got[0].message, "shown");
  EXPECT_EQ(got[1].message, "now shown");
  EXPECT_FALSE(lg.enabled(log_level::off));
}

TEST(Logger, ASourceWithALevelOfItsOwnCoversThePathsUnderIt) {
  auto sink = std::make_shared<capture_sink>();
  troupe::logger lg{sink, log_level::warning};
  EXPECT_FALSE(lg.enabled(log_level::debug));
  lg.set_level("/shop/payments", log_level::debug);
  EXPECT_TRUE(lg.enabled(log_level::debug));  // some source may now log at debug
  lg.log(log_level::debug, "/shop/payments", "own");
  lg.log(log_level::debug, "/shop/payments/#12", "under it");
  lg.log(log_level::debug, "/shop/paymentsx", "not under it: a path continues at a slash");
  lg.log(log_level::debug, "/shop/orders", "elsewhere");
  lg.log(log_level::warning, "/shop/orders", "elsewhere, at the logger's level");
  // The longest source decides: quieter below, louder above.
  lg.set_level("/shop", log_level::error);
  lg.log(log_level::warning, "/shop/orders", "now under /shop: dropped");
  lg.log(log_level::debug, "/shop/payments/#12", "still under /shop/payments");
  std::vector<std::string> got;
  for (auto& r : sink->records()) got.push_back(r.message);
  EXPECT_EQ(got, (std::vector<std::string>{"own", "under it", "elsewhere, at the logger's level",
                                           "still under /shop/payments"}));
  EXPECT_EQ(lg.level_for("/shop/payments/#12"), log_level::debug);
  EXPECT_EQ(lg.level_for("/shop/orders"), log_level::error);
  EXPECT_EQ(lg.level_for("troupe"), log_level::warning);
  EXPECT_EQ(lg.source_levels().size(), 2u);
  EXPECT_TRUE(lg.clear_level("/shop/payments"));
  EXPECT_FALSE(lg.clear_level("/shop/payments"));
  EXPECT_EQ(lg.level_for("/shop/payments/#12"), log_level::error);
  lg.clear_level("/shop");
  EXPECT_FALSE(lg.enabled(log_level::info));  // back to the logger's level alone
}

TEST(LogLevel, NamesReadBackAndAWrongNameIsAClearError) {
  for (auto l : {log_level::trace, log_level::debug, log_level::info, log_level::warning, log_level::error, log_level::off}) {
    auto back = troupe::parse_log_level(troupe::to_string(l));
    ASSERT_TRUE(back) << troupe::to_string(l);
    EXPECT_EQ(*back, l);
  }
  EXPECT_EQ(troupe::parse_log_level("WARN").value(), log_level::warning);
  auto bad = troupe::parse_log_level("loud");
  ASSERT_FALSE(bad);
  EXPECT_EQ(bad.error().code(), std::errc::invalid_argument);
  EXPECT_NE(bad.error().message().find("'loud' is not a log level"), std::string::npos) << bad.error().message();
}

TEST(LogLine, QuotesValuesThatWouldNotParseBackAsOneField) {
  troupe::log_field fields[] = {{"who", "a b"}, {"say", "x=\"y\""}, {"empty", ""}, {"plain", "ok"}, {"n", -7}, {"f", 0.25}};
  troupe::log_record r{log_level::info, {}, "", "m", fields};
  EXPECT_EQ(troupe::format_log_text(r), R"(m who="a b" say="x=\"y\"" empty="" plain=ok n=-7 f=0.25)");
}

TEST(LogValue, AStringLiteralIsTextNotABool) {
  troupe::log_value v = "yes";
  EXPECT_EQ(v.type(), troupe::log_value::kind::string);
  EXPECT_EQ(troupe::log_value(true).type(), troupe::log_value::kind::boolean);
  EXPECT_EQ(troupe::log_value(std::uint64_t{7}).type(), troupe::log_value::kind::unsigned_integer);
  EXPECT_EQ(troupe::log_value(250us).type(), troupe::log_value::kind::duration);
}

TEST(Logger, WritesToStandardErrorByDefault) {
  troupe::logger lg;
  testing::internal::CaptureStderr();
  lg.log(log_level::error, "disk", "full", {{"free", 0}});
  const std::string out = testing::internal::GetCapturedStderr();
  EXPECT_TRUE(testing::internal::RE::FullMatch(out, "[-0-9T:.]+Z error disk: full free=0\n")) << out;
}

// --- the logger of a system ---------------------------------------------------------------------

struct ping {};

TEST(SystemLog, AnActorsRecordsNameItsPathFromItsTopLevelAncestor) {
  troupe::testkit::test_system ts;
  auto parent = ts.spawn(troupe::setup<ping>([](troupe::actor_context<ping>& ctx) {
    auto unnamed = ctx.spawn(troupe::setup<ping>([](troupe::actor_context<ping>& c) {
      c.log(log_level::info, "hello", {{"n", 1}});
      return troupe::receive<ping>([](ping) {});
    }));
    (void)unnamed;
    return troupe::receive<ping>([](ping) {});
  }), {.name = "shop"});
  ts.run_until_idle();
  auto logs = ts.logs();
  ASSERT_EQ(logs.size(), 1u);
  EXPECT_TRUE(testing::internal::RE::FullMatch(logs[0].text, "/shop/#[0-9]+: hello n=1")) << logs[0].text;
  (void)parent;
}

TEST(SystemLog, LevelsArePerSystemAndChangeAtRunTime) {
  auto sink_a = std::make_shared<capture_sink>();
  auto sink_b = std::make_shared<capture_sink>();
  troupe::system_config ca;
  ca.worker_threads = 1;
  ca.log.sink = sink_a;
  auto cb = ca;
  cb.log.sink = sink_b;
  troupe::system a{ca}, b{cb};
  troupe::set_log_level(a, log_level::debug);
  a.logger().log(log_level::debug, "main", "a debug");
  b.logger().log(log_level::debug, "main", "b debug");
  EXPECT_EQ(sink_a->records().size(), 1u);
  EXPECT_TRUE(sink_b->records().empty());
  auto r = troupe::set_log_level(b, "trace");
  ASSERT_TRUE(r);
  EXPECT_EQ(b.logger().level(), log_level::trace);
  EXPECT_FALSE(troupe::set_log_level(b, "chatty"));
  EXPECT_EQ(b.logger().level(), log_level::trace);  // a wrong name changes nothing
}

TEST(SystemLog, SetsOneSourcesLevelByNameAndDefaultTakesItAway) {
  auto sink = std::make_shared<capture_sink>();
  troupe::system_config c;
  c.worker_threads = 1;
  c.log.sink = sink;
  troupe::system sys{c};
  auto r = troupe::set_log_level(sys, "/app/db", "debug");
  ASSERT_TRUE(r);
  EXPECT_EQ(*r, log_level::debug);
  EXPECT_EQ(sys.logger().level(), log_level::info);  // the logger's own level is untouched
  sys.logger().log(log_level::debug, "/app/db/#3", "query");
  sys.logger().log(log_level::debug, "/app/web", "request");
  ASSERT_EQ(sink->records().size(), 1u);
  EXPECT_EQ(sink->records()[0].message, "query");
  EXPECT_FALSE(troupe::set_log_level(sys, "/app/db", "chatty"));
  EXPECT_EQ(sys.logger().level_for("/app/db"), log_level::debug);  // a wrong name changes nothing
  auto back = troupe::set_log_level(sys, "/app/db", "default");
  ASSERT_TRUE(back);
  EXPECT_EQ(*back, log_level::info);
  EXPECT_TRUE(sys.logger().source_levels().empty());
}

TEST(SystemLog, AFunctionLoggerGetsTheTextWithoutTime) {
  std::vector<std::string> lines;
  troupe::system_config cfg;
  cfg.worker_threads = 1;
  cfg.logger = [&lines](log_level, std::string_view text) { lines.emplace_back(text); };
  troupe::system sys{cfg};
  sys.logger().log(log_level::warning, "main", "low disk", {{"free_mb", 12}});
  ASSERT_EQ(lines.size(), 1u);
  EXPECT_EQ(lines[0], "main: low disk free_mb=12");
}

}  // namespace
