// cluster.hpp: the cluster layer in one include: membership kept in a store (SQLite on one
// machine, PostgreSQL), member events, placement, and virtual actors (grains) with single
// activation, sharding with hand-off, process groups and the receptionist across nodes. Every public header of include/troupe/cluster/ is here (a test checks it).
// Link troupe::cluster.
#pragma once

#include "troupe/cluster/cluster.hpp"
#include "troupe/cluster/cluster_config.hpp"
#include "troupe/cluster/errc.hpp"
#include "troupe/cluster/member_events.hpp"
#include "troupe/cluster/membership_store.hpp"
#include "troupe/cluster/placement.hpp"
#include "troupe/cluster/process_groups.hpp"
#include "troupe/cluster/receptionist.hpp"
#include "troupe/cluster/retry_policy.hpp"
#include "troupe/cluster/sharding.hpp"
