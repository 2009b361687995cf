// metrics_export.hpp: metric families written as Prometheus' text exposition format (0.0.4) or
// as JSON, for an HTTP endpoint to serve (the web view serves them at /metrics).
// Pure functions of their input, so any thread may call them. The text escapes label values
// (\\, \", \n) and help texts (\\, \n); a histogram's buckets are cumulative, end with
// le="+Inf", and come with _sum and _count. Families with no points are written with their
// HELP and TYPE lines only.
#pragma once

#include <string>
#include <string_view>
#include <vector>

#include "troupe/observe/metrics.hpp"

namespace troupe::observe {

/// The Content-Type of to_prometheus_text's output.
///
///     res.set("Content-Type", std::string(troupe::observe::prometheus_content_type));
inline constexpr std::string_view prometheus_content_type = "text/plain; version=0.0.4; charset=utf-8";

/// The families in Prometheus' text format.
///
///     std::string body = troupe::observe::to_prometheus_text(registry.collect());
std::string to_prometheus_text(const std::vector<metric_family>& families);

/// The families as JSON: {"metrics":[{"name":..,"help":..,"type":"counter"|"gauge"|"histogram",
/// "points":[{"labels":{..},"value":..}]}]}; a histogram's point has "buckets":[{"le":..,
/// "count":..}] (cumulative, the last "le" is "+Inf"), "sum" and "count" instead of "value".
///
///     std::string body = troupe::observe::to_json(registry.collect());
std::string to_json(const std::vector<metric_family>& families);

}  // namespace troupe::observe
