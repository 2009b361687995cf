// placement.cpp: the placements that come with the cluster layer.
#include "troupe/cluster/placement.hpp"

#include <algorithm>
#include <cstdint>
#include <string_view>

namespace troupe::cluster {

namespace {
// FNV-1a 64 then a splitmix64 finaliser: stable across builds and processes (std::hash is not
// promised to be), and well mixed for rendezvous hashing.
std::uint64_t mix(std::string_view a, std::string_view b, std::string_view c) {
  std::uint64_t h = 1469598103934665603ull;
  auto feed = [&](std::string_view s) {
    for (unsigned char ch : s) {
      h ^= ch;
      h *= 1099511628211ull;
    }
    h ^= 0xff;  // a separator no name contains, so ("ab","c") and ("a","bc") differ
    h *= 1099511628211ull;
  };
  feed(a);
  feed(b);
  feed(c);
  h += 0x9e3779b97f4a7c15ull;
  h = (h ^ (h >> 30)) * 0xbf58476d1ce4e5b9ull;
  h = (h ^ (h >> 27)) * 0x94d049bb133111ebull;
  return h ^ (h >> 31);
}
}  // namespace

std::string hash_placement::choose(const std::string& type, const std::string& key, const std::vector<std::string>& up,
                                   const std::string&) {
  return *std::max_element(up.begin(), up.end(), [&](const std::string& x, const std::string& y) {
    return mix(type, key, x) < mix(type, key, y);
  });
}

std::string random_placement::choose(const std::string&, const std::string&, const std::vector<std::string>& up,
                                     const std::string&) {
  return up[std::uniform_int_distribution<std::size_t>(0, up.size() - 1)(rng_)];
}

std::string least_loaded_placement::choose(const std::string& type, const std::string& key,
                                           const std::vector<std::string>& up, const std::string&) {
  auto load = [&](const std::string& n) {
    auto p = published_.find(n);
    auto q = placed_.find(n);
    return (p == published_.end() ? 0 : p->second) + (q == placed_.end() ? 0 : q->second);
  };
  auto best = *std::min_element(up.begin(), up.end(), [&](const std::string& x, const std::string& y) {
    auto lx = load(x), ly = load(y);
    return lx != ly ? lx < ly : mix(type, key, x) > mix(type, key, y);
  });
  ++placed_[best];
  return best;
}

void least_loaded_placement::loads(const std::map<std::string, std::uint64_t>& activations) {
  // A member's new count includes (some of) what this node placed there since the last one; its
  // unchanged count includes none of it yet, so that part is kept.
  for (auto& [node, n] : activations) {
    auto p = published_.find(node);
    if (p == published_.end() || p->second != n) placed_.erase(node);
  }
  std::erase_if(placed_, [&](const auto& kv) { return !activations.count(kv.first); });
  published_ = activations;
}

std::string prefer_local_placement::choose(const std::string&, const std::string&, const std::vector<std::string>& up,
                                           const std::string& self) {
  return std::find(up.begin(), up.end(), self) != up.end() ? self : up.front();
}

}  // namespace troupe::cluster
