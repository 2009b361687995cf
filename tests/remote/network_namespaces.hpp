// network_namespaces.hpp: network namespaces made for one multi-node test, so that a test can cut
// the links between node processes (`ip link set ... down`) and heal them, or slow them with
// tc netem. Needs root and the `ip` tool: unavailable() says why not, for GTEST_SKIP. Every
// namespace made (and with it every link inside) is removed on destruction.
#pragma once

#include <unistd.h>

#include <cstdlib>
#include <string>
#include <vector>

namespace troupe_test {

/// Runs a shell command, its output discarded; true if it succeeded.
inline bool run_quietly(const std::string& cmd) { return std::system((cmd + " >/dev/null 2>&1").c_str()) == 0; }

class network_namespaces {
 public:
  /// Why namespaces cannot be made here, or empty if they can (root, `ip` installed, and a
  /// namespace with a veth pair and a bridge could be made).
  static std::string unavailable() {
    if (::geteuid() != 0) return "needs root for ip netns (network namespaces)";
    if (!run_quietly("ip -V")) return "needs the ip tool (iproute2) for network namespaces";
    network_namespaces probe;
    auto ns = probe.add("probe");
    if (!probe.ok() || !probe.ip(ns, "link add p0 type veth peer name p1") || !probe.ip(ns, "link add b0 type bridge"))
      return "ip netns / veth / bridge not allowed here (a container without CAP_NET_ADMIN?)";
    return "";
  }

  network_namespaces() = default;
  ~network_namespaces() {
    for (auto& n : made_) run_quietly("ip netns del " + n);
  }
  network_namespaces(const network_namespaces&) = delete;
  network_namespaces& operator=(const network_namespaces&) = delete;

  /// Makes the namespace troupe_<name>_<pid> with its loopback up, and returns its name.
  std::string add(const std::string& name) {
    auto ns = "troupe_" + name + "_" + std::to_string(::getpid());
    if (run_quietly("ip netns add " + ns)) made_.push_back(ns);
    else ok_ = false;
    ip(ns, "link set lo up");
    return ns;
  }
  /// `ip -n <ns> <args>`; a failure makes ok() false.
  bool ip(const std::string& ns, const std::string& args) { return check(run_quietly("ip -n " + ns + " " + args)); }
  /// A veth pair: `if_a` in namespace `a`, `if_b` in `b`, both down until link_up.
  bool veth(const std::string& a, const std::string& if_a, const std::string& b, const std::string& if_b) {
    return check(run_quietly("ip link add " + if_a + " netns " + a + " type veth peer name " + if_b + " netns " + b));
  }
  /// Gives interface `dev` of `ns` the address `cidr` (e.g. "10.201.7.1/24") and sets it up.
  bool address(const std::string& ns, const std::string& dev, const std::string& cidr) {
    return ip(ns, "addr add " + cidr + " dev " + dev) && link(ns, dev, true);
  }
  /// Sets a link up or down: down cuts what passes through it, up heals it.
  bool link(const std::string& ns, const std::string& dev, bool up) {
    return ip(ns, "link set " + dev + (up ? " up" : " down"));
  }
  /// The prefix that runs a program inside `ns` (for child_process).
  static std::vector<std::string> exec_in(const std::string& ns) { return {"ip", "netns", "exec", ns}; }
  /// False once a namespace or a link could not be made.
  bool ok() const { return ok_; }

 private:
  bool check(bool r) {
    if (!r) ok_ = false;
    return r;
  }

  std::vector<std::string> made_;
  bool ok_ = true;
};

}  // namespace troupe_test
