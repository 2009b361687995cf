// timeout.hpp: how troupe spells a time limit, in every layer.
// Every duration a public API takes (a timeout, a delay, a restart window, a shutdown time) is a
// std::chrono::nanoseconds, so milliseconds and seconds convert to it implicitly and nothing is
// rounded. `troupe::infinity` means "no deadline" wherever a duration is taken: an ask that waits
// for its reply or its receiver's death, a child given all the time it needs to stop.
#pragma once

#include <chrono>

namespace troupe {

/// No deadline (OTP's `infinity`): the operation ends only with its outcome.
///
///     auto f = account.ask([](troupe::ref<long> r) { return balance{r}; }, troupe::infinity);
///     spec.shutdown = troupe::infinity;   // a child given all the time it needs to stop
inline constexpr std::chrono::nanoseconds infinity = std::chrono::nanoseconds::max();

}  // namespace troupe
