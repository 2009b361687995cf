// error.hpp: the failures the observe layer reports through troupe::result: introspection asked
// of a system built without it, an actor that is gone, a metric that Prometheus would refuse.
// Each is an `observe::errc` in `observe::error_category()`, wrapped in a `troupe::error` with a
// text a person can act on. Any thread may use these.
#pragma once

#include <system_error>

#include "troupe/core/result.hpp"

namespace troupe::observe {

/// What went wrong in the observe layer.
///
///     auto r = troupe::observe::list_actors(sys);
///     if (!r && r.error() == troupe::observe::errc::introspection_off) { /* set system_config::introspection */ }
enum class errc {
  introspection_off = 1,  ///< the system was built without system_config::introspection
  no_such_actor,          ///< no live actor has that id
  bad_metric,             ///< a metric name, label name or bucket list Prometheus would refuse
};

/// The `std::error_category` of `observe::errc` ("troupe.observe").
const std::error_category& error_category() noexcept;

inline std::error_code make_error_code(errc e) noexcept { return {static_cast<int>(e), error_category()}; }

/// `r.error() == troupe::observe::errc::no_such_actor`, as for troupe::errc.
inline bool operator==(const troupe::error& e, errc c) noexcept { return e.code() == make_error_code(c); }

}  // namespace troupe::observe

template <>
struct std::is_error_code_enum<troupe::observe::errc> : std::true_type {};
