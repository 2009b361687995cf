// metrics_export.cpp: Prometheus' text exposition format (0.0.4) and JSON.
#include "troupe/observe/metrics_export.hpp"

#include <charconv>
#include <cmath>

#include <nlohmann/json.hpp>

namespace troupe::observe {

namespace {

// Shortest text that reads back as the same double; Prometheus' spellings for the non-finite.
void append_number(std::string& out, double v) {
  if (std::isnan(v)) {
    out += "NaN";
    return;
  }
  if (std::isinf(v)) {
    out += v > 0 ? "+Inf" : "-Inf";
    return;
  }
  char buf[32];
  auto r = std::to_chars(buf, buf + sizeof buf, v);
  out.append(buf, r.ptr);
}

// Label values escape backslash, double quote and newline; help texts backslash and newline.
void append_escaped(std::string& out, std::string_view s, bool quotes) {
  for (char c : s) {
    if (c == '\\') out += "\\\\";
    else if (c == '\n') out += "\\n";
    else if (c == '"' && quotes) out += "\\\"";
    else out += c;
  }
}

void append_labels(std::string& out, const labels& l, std::string_view le = {}) {
  if (l.empty() && le.empty()) return;
  out += '{';
  bool first = true;
  for (auto& [k, v] : l) {
    if (!first) out += ',';
    first = false;
    out += k;
    out += "=\"";
    append_escaped(out, v, true);
    out += '"';
  }
  if (!le.empty()) {
    if (!first) out += ',';
    out += "le=\"";
    out += le;
    out += '"';
  }
  out += '}';
}

const char* type_name(metric_type t) {
  switch (t) {
    case metric_type::counter:
      return "counter";
    case metric_type::gauge:
      return "gauge";
    case metric_type::histogram:
      return "histogram";
  }
  return "untyped";
}

}  // namespace

std::string to_prometheus_text(const std::vector<metric_family>& families) {
  std::string out;
  for (auto& f : families) {
    out += "# HELP ";
    out += f.name;
    out += ' ';
    append_escaped(out, f.help, false);
    out += "\n# TYPE ";
    out += f.name;
    out += ' ';
    out += type_name(f.type);
    out += '\n';
    for (auto& p : f.points) {
      if (f.type != metric_type::histogram) {
        out += f.name;
        append_labels(out, p.labels);
        out += ' ';
        append_number(out, p.value);
        out += '\n';
        continue;
      }
      const auto& h = p.histogram;
      std::uint64_t cumulative = 0;
      for (std::size_t i = 0; i <= h.bounds.size(); ++i) {
        cumulative += i < h.counts.size() ? h.counts[i] : 0;
        std::string le;
        if (i < h.bounds.size()) append_number(le, h.bounds[i]);
        else le = "+Inf";
        out += f.name;
        out += "_bucket";
        append_labels(out, p.labels, le);
        out += ' ';
        out += std::to_string(cumulative);
        out += '\n';
      }
      out += f.name;
      out += "_sum";
      append_labels(out, p.labels);
      out += ' ';
      append_number(out, h.sum);
      out += '\n';
      out += f.name;
      out += "_count";
      append_labels(out, p.labels);
      out += ' ';
      // The +Inf bucket and _count must agree, so _count is the buckets' total.
      out += std::to_string(cumulative);
      out += '\n';
    }
  }
  return out;
}

std::string to_json(const std::vector<metric_family>& families) {
  using nlohmann::json;
  json metrics = json::array();
  for (auto& f : families) {
    json points = json::array();
    for (auto& p : f.points) {
      json labels = json::object();
      for (auto& [k, v] : p.labels) labels[k] = v;
      json point{{"labels", std::move(labels)}};
      if (f.type == metric_type::histogram) {
        json buckets = json::array();
        std::uint64_t cumulative = 0;
        const auto& h = p.histogram;
        for (std::size_t i = 0; i <= h.bounds.size(); ++i) {
          cumulative += i < h.counts.size() ? h.counts[i] : 0;
          json le = i < h.bounds.size() ? json(h.bounds[i]) : json("+Inf");
          buckets.push_back({{"le", std::move(le)}, {"count", cumulative}});
        }
        point["buckets"] = std::move(buckets);
        point["sum"] = h.sum;
        point["count"] = cumulative;
      } else {
        point["value"] = p.value;
      }
      points.push_back(std::move(point));
    }
    metrics.push_back({{"name", f.name}, {"help", f.help}, {"type", type_name(f.type)}, {"points", std::move(points)}});
  }
  // Invalid UTF-8 in a label value or help text is replaced, not thrown on: an export never fails.
  return json{{"metrics", std::move(metrics)}}.dump(-1, ' ', false, json::error_handler_t::replace);
}

}  // namespace troupe::observe
