// The web view's source. STAND-IN until the introspection API lands: a fixed little tree whose
// children get a new id when killed, so the page, the API and the tests can be built.
#include "web_source.hpp"

#include <algorithm>
#include <atomic>
#include <mutex>

#include "troupe/core/result.hpp"

namespace troupe::observe::web {
namespace {

class standin_source final : public web_source {
 public:
  standin_source() {
    rows_.push_back({1, "shop", "otp::supervisor", "waiting", 0, true, 0, 3, 0, 0, 900});
    rows_.push_back({2, "inventory", "inventory_msg", "waiting", 1, false, 0, 10, 0, 0, 400});
    rows_.push_back({3, "payments", "payments_msg", "waiting", 1, false, 2, 20, 0, 0, 500});
  }
  totals read_totals() override {
    std::lock_guard g{mu_};
    totals t;
    t.actors = rows_.size();
    for (auto& r : rows_) t.messages += r.messages, t.memory += r.memory, t.restarts += r.restarts;
    return t;
  }
  std::vector<actor_row> top(sort_key by, std::size_t n) override {
    std::lock_guard g{mu_};
    auto v = rows_;
    std::sort(v.begin(), v.end(), [by](const actor_row& a, const actor_row& b) {
      switch (by) {
        case sort_key::mailbox: return a.mailbox > b.mailbox;
        case sort_key::memory: return a.memory > b.memory;
        case sort_key::rate: return a.rate > b.rate;
      }
      return false;
    });
    if (v.size() > n) v.resize(n);
    return v;
  }
  std::vector<tree_node> trees(std::size_t) override {
    std::lock_guard g{mu_};
    tree_node root{rows_[0].id, rows_[0].name, rows_[0].type, true, rows_[0].restarts, {}, 0};
    for (std::size_t i = 1; i < rows_.size(); ++i)
      root.children.push_back({rows_[i].id, rows_[i].name, rows_[i].type, false, rows_[i].restarts, {}, 0});
    return {root};
  }
  std::optional<actor_page> actor(std::uint64_t id) override {
    std::lock_guard g{mu_};
    for (auto& r : rows_)
      if (r.id == id) {
        actor_page p{r, {}, {}, {}};
        if (r.supervisor)
          for (auto& c : rows_)
            if (c.parent == id) p.children.push_back(c.id);
        if (r.parent) p.links.push_back(r.parent);
        return p;
      }
    return std::nullopt;
  }
  std::vector<worker_row> workers() override { return {{100, 3, 1.5}, {80, 1, 2.0}}; }
  std::vector<dead_letter_row> dead_letters(std::size_t) override { return {}; }
  result<void> kill(std::uint64_t id) override {
    std::lock_guard g{mu_};
    for (auto& r : rows_)
      if (r.id == id) {
        if (r.supervisor) return error{errc::wrong_protocol, "stand-in: not killing the root"};
        r.id = next_++;
        ++r.restarts;
        return {};
      }
    return error{errc::name_not_found, "no actor " + std::to_string(id)};
  }
  std::string prometheus() override { return "# stand-in\ntroupe_actors " + std::to_string(read_totals().actors) + "\n"; }
  std::string metrics_json() override { return "{\"troupe_actors\":" + std::to_string(read_totals().actors) + "}"; }
  result<void> set_log_level(const std::string&) override { return {}; }

 private:
  std::mutex mu_;
  std::vector<actor_row> rows_;
  std::uint64_t next_ = 4;
};

}  // namespace

std::shared_ptr<web_source> make_source(system&) { return std::make_shared<standin_source>(); }

}  // namespace troupe::observe::web
