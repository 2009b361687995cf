// seeds.hpp: choosing, exploring and replaying the seeds of deterministic runs.
// A test that explores interleavings runs one seed after another; the first seed whose run
// fails is printed with the line that replays it: TROUPE_TEST_SEED=<seed> runs that seed alone.
// Call from the test's thread.
#pragma once

#include <cstddef>
#include <cstdint>
#include <functional>
#include <optional>

namespace troupe::testkit {

/// The seed in the environment variable TROUPE_TEST_SEED, or `fallback` when it is unset.
/// @throws usage_error if the variable is set but is not a number.
std::uint64_t seed_from_environment(std::uint64_t fallback = 1);

/// Runs `trial(seed)` for the seeds 1, 2, ..., `count`, or only for TROUPE_TEST_SEED when it
/// is set. Stops at the first seed for which `trial` returns false, prints it to standard error
/// with the command that replays it, and returns it; nullopt when every trial held.
///
///     auto failing = troupe::testkit::explore_seeds(500, [](std::uint64_t seed) {
///       troupe::testkit::test_system ts{seed};
///       // ... run the protocol under ts, return whether its invariant held
///       return true;
///     });
///     EXPECT_EQ(failing, std::nullopt);
std::optional<std::uint64_t> explore_seeds(std::size_t count, const std::function<bool(std::uint64_t)>& trial);

}  // namespace troupe::testkit
