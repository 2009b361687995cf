// observe.hpp: the observe layer in one include: introspection of a running system (actors,
// supervision trees, workers, dead letters), metrics (counters, gauges, histograms) and their
// export as Prometheus text and JSON, the runtime's own metrics, and the live web view.
// Every public header of include/troupe/observe/ is here (a test checks it); headers compile in
// any order. Link troupe::observe.
#pragma once

#include "troupe/observe/connection_metrics.hpp"
#include "troupe/observe/dead_letter_log.hpp"
#include "troupe/observe/error.hpp"
#include "troupe/observe/introspection.hpp"
#include "troupe/observe/kill.hpp"
#include "troupe/observe/metrics.hpp"
#include "troupe/observe/metrics_export.hpp"
#include "troupe/observe/runtime_metrics.hpp"
#include "troupe/observe/web_view.hpp"
