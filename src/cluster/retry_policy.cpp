// retry_policy.cpp: which failures a retry by policy may cure.
#include "troupe/cluster/retry_policy.hpp"

#include "troupe/remote/errc.hpp"

namespace troupe::cluster {

bool transient_failure(const troupe::error& e) noexcept {
  // receiver_dead: the activation stopped with the call in its queue (deactivated, handed off,
  // or its node stopped serving); the next try activates it again.
  return e == troupe::remote::errc::node_down || e == troupe::errc::timeout || e == troupe::errc::request_dropped ||
         e == troupe::errc::receiver_dead;
}

}  // namespace troupe::cluster
