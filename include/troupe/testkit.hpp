// testkit.hpp: the test kit in one include: the deterministic test system with virtual time and
// seeds, probes, test inboxes and the behaviour test kit.
// Every public header of include/troupe/testkit/ is here (a test checks it); headers compile in
// any order, so this is a convenience, never a requirement. Link troupe::testkit.
#pragma once

#include "troupe/testkit/behavior_test_kit.hpp"
#include "troupe/testkit/deterministic_scheduler.hpp"
#include "troupe/testkit/seeds.hpp"
#include "troupe/testkit/test_inbox.hpp"
#include "troupe/testkit/test_probe.hpp"
#include "troupe/testkit/test_system.hpp"
#include "troupe/testkit/virtual_clock.hpp"
