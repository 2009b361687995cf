// receptionist_test.cpp: the receptionist across three real node processes sharing a SQLite
// membership store: a service registered on one node is found on the others, a subscriber on
// another node gets a listing after each change, and a killed node's services vanish.
#include <gtest/gtest.h>

#include <chrono>
#include <string>

#include "cluster/groups_test_support.hpp"

namespace {

using troupe::cluster::testing::GroupsTest;
using troupe::cluster::testing::store_kind;
using namespace std::chrono_literals;

class Receptionist : public GroupsTest {};

TEST_P(Receptionist, AServiceRegisteredOnOneNodeIsFoundAndListedOnTheOthers) {
  start();
  node(1).command("svc_subscribe ping");
  ASSERT_TRUE(node(1).expect("listing ping 0", 5s)) << logs();  // at once: nothing yet
  run(0, "svc_register ping p", "svc_registered ping p");
  EXPECT_EQ(until(2, "svc_find", "ping", "a/p"), "a/p") << logs();
  EXPECT_EQ(until(1, "svc_find", "ping", "a/p"), "a/p") << logs();
  ASSERT_TRUE(node(1).expect("listing ping 1", 5s)) << logs();
  node(0).command("pg_stop p");  // deregistered by stopping
  EXPECT_TRUE(node(1).expect("listing ping 0", 5s)) << logs();
  EXPECT_EQ(until(2, "svc_find", "ping", ""), "") << logs();
  // Groups and services are separate scopes, even under one name.
  EXPECT_EQ(until(2, "pg_members", "ping", ""), "") << logs();
}

TEST_P(Receptionist, AKilledNodesServicesVanishFromTheOthersListings) {
  start();
  run(0, "svc_register ping p", "svc_registered ping p");
  run(2, "svc_register ping p", "svc_registered ping p");
  ASSERT_EQ(until(1, "svc_find", "ping", "a/p,c/p"), "a/p,c/p") << logs();
  node(2).kill9();
  EXPECT_EQ(until(1, "svc_find", "ping", "a/p", 3s), "a/p") << logs();
  EXPECT_EQ(until(0, "svc_find", "ping", "a/p", 3s), "a/p") << logs();
}

INSTANTIATE_TEST_SUITE_P(Sqlite, Receptionist, ::testing::Values(store_kind::sqlite), troupe::cluster::testing::store_name);

}  // namespace
