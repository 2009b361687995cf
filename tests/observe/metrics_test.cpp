// metrics_test.cpp: counters, gauges and histograms in a registry, and their export as
// Prometheus text (checked by a small parser of the exposition format) and as JSON.
#include "troupe/observe/metrics.hpp"

#include <gtest/gtest.h>

#include <cmath>
#include <map>
#include <nlohmann/json.hpp>
#include <regex>
#include <sstream>
#include <string>
#include <thread>
#include <vector>

#include "troupe/observe/metrics_export.hpp"

namespace {

namespace ob = troupe::observe;

// --- a parser of the text exposition format (0.0.4), strict where Prometheus is -------------------
struct sample {
  std::string name;
  std::map<std::string, std::string> labels;
  double value;
};
struct parsed {
  std::map<std::string, std::string> help, type;
  std::vector<sample> samples;
};

// Unescapes a label value (\\, \", \n); fails the test on any other escape.
std::string unescape(const std::string& s) {
  std::string out;
  for (std::size_t i = 0; i < s.size(); ++i) {
    if (s[i] != '\\') {
      out += s[i];
      continue;
    }
    ++i;
    if (i == s.size()) ADD_FAILURE() << "dangling backslash in " << s;
    else if (s[i] == 'n') out += '\n';
    else if (s[i] == '\\' || s[i] == '"') out += s[i];
    else ADD_FAILURE() << "bad escape \\" << s[i];
  }
  return out;
}

parsed parse(const std::string& text) {
  static const std::regex name_re("[a-zA-Z_:][a-zA-Z0-9_:]*");
  static const std::regex label_re("[a-zA-Z_][a-zA-Z0-9_]*");
  parsed p;
  EXPECT_TRUE(text.empty() || text.back() == '\n') << "the text must end with a newline";
  std::istringstream in(text);
  std::string line;
  while (std::getline(in, line)) {
    if (line.starts_with("# HELP ") || line.starts_with("# TYPE ")) {
      auto rest = line.substr(7);
      auto sp = rest.find(' ');
      EXPECT_NE(sp, std::string::npos) << line;
      auto name = rest.substr(0, sp);
      EXPECT_TRUE(std::regex_match(name, name_re)) << name;
      auto& m = line[2] == 'H' ? p.help : p.type;
      EXPECT_FALSE(m.contains(name)) << "a second " << line.substr(2, 4) << " line for " << name;
      m[name] = rest.substr(sp + 1);
      if (line[2] == 'T') {
        EXPECT_TRUE(m[name] == "counter" || m[name] == "gauge" || m[name] == "histogram") << line;
        EXPECT_TRUE(std::none_of(p.samples.begin(), p.samples.end(), [&](auto& s) { return s.name.starts_with(name); }))
            << "TYPE after samples of " << name;
      }
      continue;
    }
    EXPECT_FALSE(line.starts_with("#")) << line;
    sample s;
    std::size_t i = 0;
    while (i < line.size() && line[i] != '{' && line[i] != ' ') ++i;
    s.name = line.substr(0, i);
    EXPECT_TRUE(std::regex_match(s.name, name_re)) << line;
    if (i < line.size() && line[i] == '{') {
      ++i;
      while (line[i] != '}') {
        auto eq = line.find('=', i);
        auto lname = line.substr(i, eq - i);
        EXPECT_TRUE(std::regex_match(lname, label_re)) << lname;
        EXPECT_EQ(line[eq + 1], '"') << line;
        std::size_t j = eq + 2;
        std::string raw;
        while (line[j] != '"') {
          if (line[j] == '\\') raw += line[j++];
          raw += line[j++];
        }
        s.labels[lname] = unescape(raw);
        i = j + 1;
        if (line[i] == ',') ++i;
      }
      ++i;
    }
    EXPECT_EQ(line[i], ' ') << line;
    auto v = line.substr(i + 1);
    s.value = v == "+Inf" ? INFINITY : v == "-Inf" ? -INFINITY : std::stod(v);
    p.samples.push_back(std::move(s));
  }
  return p;
}

const sample* find(const parsed& p, const std::string& name, const std::map<std::string, std::string>& labels) {
  for (auto& s : p.samples)
    if (s.name == name && s.labels == labels) return &s;
  return nullptr;
}

TEST(Metrics, CounterGaugeAndHistogramKeepTheirValuesAcrossThreads) {
  ob::metrics_registry reg;
  auto& c = reg.counter("jobs_total", "Jobs done.");
  auto& g = reg.gauge("queue_length", "Jobs waiting.");
  auto& h = reg.histogram("job_seconds", "Time per job.", {0.1, 1});
  std::vector<std::thread> threads;
  for (int t = 0; t < 4; ++t)
    threads.emplace_back([&] {
      for (int i = 0; i < 1000; ++i) {
        c.inc();
        g.add(1);
        h.observe(0.5);
      }
    });
  for (auto& t : threads) t.join();
  EXPECT_EQ(c.value(), 4000u);
  EXPECT_EQ(g.value(), 4000.0);
  auto v = h.value();
  EXPECT_EQ(v.count, 4000u);
  EXPECT_EQ(v.counts, (std::vector<std::uint64_t>{0, 4000, 0}));
  EXPECT_DOUBLE_EQ(v.sum, 2000.0);
}

TEST(Metrics, RegisteringTheSameNameAndLabelsAgainGivesTheSameMetric) {
  ob::metrics_registry reg;
  auto& a = reg.counter("hits_total", "Hits.", {{"page", "/"}});
  auto& b = reg.counter("hits_total", "Hits.", {{"page", "/"}});
  auto& other = reg.counter("hits_total", "Hits.", {{"page", "/about"}});
  EXPECT_EQ(&a, &b);
  EXPECT_NE(&a, &other);
  EXPECT_THROW(reg.gauge("hits_total", "Not a gauge."), troupe::usage_error);
}

TEST(Metrics, RefusesNamesLabelsAndBucketsPrometheusWouldRefuse) {
  ob::metrics_registry reg;
  EXPECT_THROW(reg.counter("9lives", "x"), troupe::usage_error);
  EXPECT_THROW(reg.counter("has-dash", "x"), troupe::usage_error);
  EXPECT_THROW(reg.counter("ok", "x", {{"__reserved", "v"}}), troupe::usage_error);
  EXPECT_THROW(reg.counter("ok2", "x", {{"bad label", "v"}}), troupe::usage_error);
  EXPECT_THROW(reg.histogram("h", "x", {1, 1}), troupe::usage_error);
  EXPECT_THROW(reg.histogram("h2", "x", {1, INFINITY}), troupe::usage_error);
  EXPECT_THROW(reg.histogram("h3", "x", {1}, {{"le", "1"}}), troupe::usage_error);
  EXPECT_TRUE(ob::check_metric_name("troupe:rate_5m").has_value());
  auto bad = ob::check_metric_name("");
  ASSERT_FALSE(bad.has_value());
  EXPECT_TRUE(bad.error() == ob::errc::bad_metric);
  // Nothing half-registered: the valid names still work.
  reg.counter("ok", "x").inc();
  EXPECT_EQ(reg.collect().size(), 1u);
}

TEST(PrometheusText, WritesHelpTypeAndSamplesThatAParserReadsBack) {
  ob::metrics_registry reg;
  reg.counter("requests_total", "Requests served.\nBy code.", {{"code", "200"}}).inc(7);
  reg.counter("requests_total", "Requests served.\nBy code.", {{"code", "500"}}).inc(2);
  reg.gauge("temperature_celsius", "Back\\slash in help.").set(-3.5);
  // A label value with every character that must be escaped.
  reg.gauge("odd_labels", "Escaping.", {{"path", "C:\\dir \"quoted\"\nnext"}}).set(1);
  auto text = ob::to_prometheus_text(reg.collect());
  auto p = parse(text);
  EXPECT_EQ(p.type["requests_total"], "counter");
  EXPECT_EQ(p.type["temperature_celsius"], "gauge");
  EXPECT_EQ(p.help["requests_total"], "Requests served.\\nBy code.");  // newline escaped in help
  EXPECT_EQ(p.help["temperature_celsius"], "Back\\\\slash in help.");
  ASSERT_NE(find(p, "requests_total", {{"code", "200"}}), nullptr);
  EXPECT_EQ(find(p, "requests_total", {{"code", "200"}})->value, 7);
  EXPECT_EQ(find(p, "requests_total", {{"code", "500"}})->value, 2);
  EXPECT_EQ(find(p, "temperature_celsius", {})->value, -3.5);
  ASSERT_NE(find(p, "odd_labels", {{"path", "C:\\dir \"quoted\"\nnext"}}), nullptr) << text;
  // Every sample's family has its HELP and TYPE.
  for (auto& s : p.samples) EXPECT_TRUE(p.type.contains(s.name)) << s.name;
}

TEST(PrometheusText, WritesHistogramBucketsCumulativeEndingWithInfAndCount) {
  ob::metrics_registry reg;
  auto& h = reg.histogram("latency_seconds", "Latency.", {0.01, 0.1, 1}, {{"route", "/a"}});
  for (double v : {0.005, 0.01, 0.05, 0.5, 0.5, 7.0}) h.observe(v);
  auto p = parse(ob::to_prometheus_text(reg.collect()));
  EXPECT_EQ(p.type["latency_seconds"], "histogram");
  std::vector<std::pair<std::string, double>> buckets;
  for (auto& s : p.samples)
    if (s.name == "latency_seconds_bucket") {
      EXPECT_EQ(s.labels.at("route"), "/a");
      buckets.emplace_back(s.labels.at("le"), s.value);
    }
  ASSERT_EQ(buckets.size(), 4u);
  EXPECT_EQ(buckets[0], (std::pair<std::string, double>{"0.01", 2}));  // le is inclusive
  EXPECT_EQ(buckets[1], (std::pair<std::string, double>{"0.1", 3}));
  EXPECT_EQ(buckets[2], (std::pair<std::string, double>{"1", 5}));
  EXPECT_EQ(buckets[3], (std::pair<std::string, double>{"+Inf", 6}));
  for (std::size_t i = 1; i < buckets.size(); ++i) EXPECT_GE(buckets[i].second, buckets[i - 1].second);
  EXPECT_EQ(find(p, "latency_seconds_count", {{"route", "/a"}})->value, 6);
  EXPECT_DOUBLE_EQ(find(p, "latency_seconds_sum", {{"route", "/a"}})->value, 8.065);
}

TEST(PrometheusText, IncludesTheCollectorsFamiliesUntilTheyAreRemoved) {
  ob::metrics_registry reg;
  auto id = reg.add_collector([](std::vector<ob::metric_family>& out) {
    out.push_back({"computed", "At export.", ob::metric_type::gauge, {{{}, 42, {}}}});
  });
  auto p = parse(ob::to_prometheus_text(reg.collect()));
  ASSERT_NE(find(p, "computed", {}), nullptr);
  EXPECT_EQ(find(p, "computed", {})->value, 42);
  reg.remove_collector(id);
  EXPECT_TRUE(reg.collect().empty());
}

TEST(MetricsJson, HoldsTheSameFiguresAsTheText) {
  ob::metrics_registry reg;
  reg.counter("a_total", "A.", {{"k", "v\"x"}}).inc(3);
  reg.histogram("h_seconds", "H.", {1, 2}).observe(1.5);
  auto j = nlohmann::json::parse(ob::to_json(reg.collect()));
  auto& m = j.at("metrics");
  ASSERT_EQ(m.size(), 2u);
  EXPECT_EQ(m[0].at("name"), "a_total");
  EXPECT_EQ(m[0].at("type"), "counter");
  EXPECT_EQ(m[0].at("points")[0].at("labels").at("k"), "v\"x");
  EXPECT_EQ(m[0].at("points")[0].at("value"), 3.0);
  auto& hp = m[1].at("points")[0];
  EXPECT_EQ(m[1].at("type"), "histogram");
  EXPECT_EQ(hp.at("count"), 1);
  EXPECT_EQ(hp.at("buckets").size(), 3u);
  EXPECT_EQ(hp.at("buckets")[0].at("count"), 0);
  EXPECT_EQ(hp.at("buckets")[1].at("count"), 1);
  EXPECT_EQ(hp.at("buckets")[2].at("le"), "+Inf");
}

}  // namespace
