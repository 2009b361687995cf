// cluster.cpp: the cluster's thread: heartbeats, reading the membership table, votes, events.
#include "troupe/cluster/cluster.hpp"

#include <algorithm>
#include <sstream>

namespace troupe::cluster {

namespace detail {

namespace {
// "voter=ms,voter=ms" <-> pairs.
std::vector<std::pair<std::string, std::int64_t>> parse_votes(const std::string& s) {
  std::vector<std::pair<std::string, std::int64_t>> out;
  std::istringstream in(s);
  std::string item;
  while (std::getline(in, item, ',')) {
    auto eq = item.rfind('=');
    if (eq == std::string::npos) continue;
    out.emplace_back(item.substr(0, eq), std::atoll(item.c_str() + eq + 1));
  }
  return out;
}
std::string format_votes(const std::vector<std::pair<std::string, std::int64_t>>& v) {
  std::string s;
  for (auto& [who, when] : v) s += (s.empty() ? "" : ",") + who + "=" + std::to_string(when);
  return s;
}
}  // namespace

cluster_core::cluster_core(troupe::system& sys, remote::node& node, std::unique_ptr<membership_store> store,
                           cluster_config cfg)
    : sys_(sys), node_(node), store_(std::move(store)), cfg_(std::move(cfg)), self_(node.name()) {
  if (!cfg_.placement) cfg_.placement = std::make_shared<hash_placement>();
}

cluster_core::~cluster_core() { stop(); }

std::int64_t cluster_core::now_ms() {
  return std::chrono::duration_cast<std::chrono::milliseconds>(std::chrono::system_clock::now().time_since_epoch())
      .count();
}

result<void> cluster_core::start() {
  if (auto r = store_->join(cfg_.name, self_, node_.address(), now_ms()); !r) return r.error();
  auto ms = store_->members(cfg_.name);
  if (!ms) return ms.error();
  {
    std::lock_guard lk(mu_);
    members_ = std::move(*ms);
  }
  serving_.store(true, std::memory_order_release);  // release: publishes members_ to serving() readers
  // The remote layer's failure detector: a member whose connection went down is suspected at
  // once (a killed node's socket resets; a frozen one misses heartbeats for down_after).
  std::weak_ptr<cluster_core> weak = weak_from_this();
  node_.add_monitor([weak](std::variant<remote::node_up, remote::node_down> e) {
    auto self = weak.lock();
    if (!self) return;
    if (auto* d = std::get_if<remote::node_down>(&e)) {
      listener_list ls;
      {
        std::lock_guard lk(self->mu_);
        self->unreachable_.emplace(d->node, now_ms());
        ls = self->listeners_;
      }
      for (auto& [id, f] : ls) f(node_unreachable{d->node});
    } else {
      std::lock_guard lk(self->mu_);
      self->unreachable_.erase(std::get<remote::node_up>(e).node);
    }
  });
  thread_ = std::thread([this] { run(); });
  return {};
}

void cluster_core::stop() {
  {
    std::lock_guard lk(mu_);
    if (stopping_) return;
    stopping_ = true;
  }
  cv_.notify_all();
  if (thread_.joinable()) thread_.join();
  if (!removed_) {
    // Leaving: our grains may activate elsewhere at once. The row is set to `left` by a
    // conditional write, so a vote that got there first stands.
    (void)store_->unregister_all(cfg_.name, self_);
    if (auto ms = store_->members(cfg_.name))
      for (auto m : *ms)
        if (m.node == self_ && (m.status == member_status::up || m.status == member_status::leaving)) {
          m.status = member_status::left;
          (void)store_->update_if(cfg_.name, m);
        }
    removed("this node left the cluster");
  }
}

void cluster_core::release_node() {
  std::unique_lock lk(node_mu_);
  node_released_ = true;
}

void cluster_core::leave(std::chrono::nanoseconds timeout) {
  auto done = std::make_shared<std::promise<void>>();
  auto handed_off = done->get_future();
  post([this, done](membership_store& s) {
    if (removed_) return done->set_value();
    // Conditional, as every write of a row: a vote that got there first stands (then there is
    // nothing to hand off: this node stops serving at its next heartbeat).
    bool marked = false;
    for (int attempt = 0; attempt < 3 && !marked; ++attempt) {
      auto ms = s.members(cfg_.name);
      if (!ms) break;
      for (auto m : *ms)
        if (m.node == self_ && m.status == member_status::up) {
          m.status = member_status::leaving;
          auto w = s.update_if(cfg_.name, m);
          marked = w && *w;
        }
      if (marked) {
        if (auto again = s.members(cfg_.name)) {
          std::lock_guard lk(mu_);
          members_ = std::move(*again);  // this node is no longer up: allocation moves its shards
        }
      }
    }
    if (!marked || up_members().empty()) return done->set_value();  // nobody to hand off to
    // The hand-off starts once every other up member has read the row as leaving (tick), so
    // none of them still sends this node a shard's calls by allocation after it handed the
    // shard off (they would bounce between the two views until dropped).
    for (auto& m : up_members()) leave_seen_[m.node] = m.heartbeat_ms;
    handed_off_.emplace(std::move(*done));
  });
  // Bounded: a shard whose entities do not stop is stopped ahead of its queue after its
  // handoff_timeout; `timeout` bounds the rest (a store that does not answer).
  if (handed_off.wait_for(timeout) != std::future_status::ready)
    log(log_level::warning, "leaving: shards not all handed off within the timeout; leaving anyway");
  stop();
}

void cluster_core::post(job j, bool batched) {
  {
    std::lock_guard lk(mu_);
    if (stopping_) return;
    jobs_.push_back({std::move(j), batched});
  }
  cv_.notify_all();
}

std::vector<member> cluster_core::up_members() const {
  std::lock_guard lk(mu_);
  std::vector<member> up;
  for (auto& m : members_)
    if (m.status == member_status::up) up.push_back(m);
  return up;
}

std::vector<std::string> cluster_core::up_nodes() const {
  std::vector<std::string> out;
  for (auto& m : up_members()) out.push_back(m.node);
  return out;
}

std::optional<std::string> cluster_core::address_of(const std::string& node) const {
  std::lock_guard lk(mu_);
  for (auto& m : members_)
    if (m.node == node) return m.address;
  return std::nullopt;
}

bool cluster_core::is_up(const std::string& node) const {
  std::lock_guard lk(mu_);
  for (auto& m : members_)
    if (m.node == node) return m.status == member_status::up;
  return false;
}

std::uint64_t cluster_core::listen(std::function<void(const cluster_event&)> f) {
  std::vector<member_up> now;
  std::uint64_t id = 0;
  {
    std::lock_guard lk(mu_);
    id = ++listener_ids_;
    listeners_.emplace_back(id, f);
    for (auto& m : members_)
      if (m.status == member_status::up && announced_.count(m.node)) now.push_back({m.node, m.address});
  }
  for (auto& u : now) f(u);
  return id;
}

void cluster_core::unlisten(std::uint64_t id) {
  std::lock_guard lk(mu_);
  std::erase_if(listeners_, [id](const auto& l) { return l.first == id; });
}

std::size_t cluster_core::listener_count() const {
  std::lock_guard lk(mu_);
  return listeners_.size();
}

void cluster_core::log(log_level level, const std::string& text) const {
  if (sys_.config().logger) sys_.config().logger(level, "cluster '" + cfg_.name + "' " + self_ + ": " + text);
}

void cluster_core::emit(const cluster_event& e) {
  listener_list ls;
  {
    std::lock_guard lk(mu_);
    ls = listeners_;
  }
  for (auto& [id, f] : ls) f(e);
}

void cluster_core::removed(const std::string& reason) {
  if (removed_) return;
  removed_ = true;
  serving_.store(false, std::memory_order_release);  // release: pairs with the acquire in serving()
  log(log_level::warning, reason);
  emit(member_removed{self_, reason});
}

void cluster_core::run() {
  auto next = std::chrono::steady_clock::now();
  // The registrations made so far are committed first, so the tick reads a table that has them.
  auto tick_if_due = [&] {
    if (std::chrono::steady_clock::now() < next) return;
    flush_registrations(*store_);
    tick(*store_);
    next = std::chrono::steady_clock::now() + cfg_.heartbeat_interval;
  };
  for (;;) {
    std::deque<queued_job> batch;
    {
      std::unique_lock lk(mu_);
      cv_.wait_until(lk, next, [&] { return stopping_ || !jobs_.empty(); });
      if (stopping_) return;
      batch.swap(jobs_);
    }
    for (auto& j : batch) {
      if (!j.batched) flush_registrations(*store_);  // what came before it is decided first
      j.run(*store_);
      // Between jobs too: a backlog must not hold the heartbeat back. A node whose store is
      // slower than its first calls would look dead to the others and be voted out, taking
      // every grain it holds with it, where it is only slow.
      tick_if_due();
    }
    flush_registrations(*store_);
    tick_if_due();
  }
}

void cluster_core::register_later(grain_id g, std::function<void(result<std::string>)> done) {
  registrations_.push_back({std::move(g), std::move(done)});
}

// A node activating many grains at once (a burst of first calls) commits once for all of them:
// one transaction instead of one each, whose commits were most of an activation's time. If the
// transaction fails, none of it counts, and each is tried alone as before.
void cluster_core::flush_registrations(membership_store& s) {
  if (registrations_.empty()) return;
  auto pending = std::move(registrations_);
  registrations_.clear();
  // The fence: a dead holder's grains are taken over only once its last heartbeat is two
  // intervals old. By then it has tried its next heartbeat, found itself out, and stopped
  // serving (if it reaches the store), so its activation ends before the new one starts.
  auto takeover_before = now_ms() - 2 * std::chrono::duration_cast<std::chrono::milliseconds>(cfg_.heartbeat_interval).count();
  if (pending.size() > 1) {
    std::vector<grain_id> grains;
    grains.reserve(pending.size());
    for (auto& r : pending) grains.push_back(r.grain);
    if (auto holders = s.register_grains(cfg_.name, grains, self_, takeover_before)) {
      for (std::size_t i = 0; i < pending.size(); ++i) pending[i].done(std::move((*holders)[i]));
      return;
    }
  }
  for (auto& r : pending) r.done(s.register_grain(cfg_.name, r.grain.type, r.grain.key, self_, takeover_before));
}

void cluster_core::tick(membership_store& s) {
  if (removed_) return;
  auto now = now_ms();
  auto hb = s.heartbeat(cfg_.name, self_, now);
  if (!hb) {
    log(log_level::warning, "heartbeat failed: " + hb.error().message());
    return;
  }
  if (*hb && handed_off_) {
    // Leaving: done once no shard registration is left here.
    if (auto held = s.count_held(cfg_.name, self_, "shard."); held && *held == 0) {
      handed_off_->set_value();
      handed_off_.reset();
    }
  }
  if (!*hb) {
    if (handed_off_) {  // voted out while leaving: nothing more to hand off
      handed_off_->set_value();
      handed_off_.reset();
    }
    // Told by the table: the others voted us out. Stop serving before anything else, so no
    // grain here answers while its next activation may already run elsewhere (no zombie).
    std::string why = "this node was voted out of the cluster";
    if (auto ms = s.members(cfg_.name))
      for (auto& m : *ms)
        if (m.node == self_) why += " (status " + std::string(to_string(m.status)) + ", votes: " + m.suspicions + ")";
    removed(why);
    return;
  }
  // The load least_loaded_placement weighs: published when it changed, so an idle cluster
  // writes nothing more than its heartbeats.
  if (auto n = std::max<std::int64_t>(0, activations_.load(std::memory_order_relaxed)); n != published_activations_) {
    if (auto r = s.publish_load(cfg_.name, self_, static_cast<std::uint64_t>(n)); r) published_activations_ = n;
    else log(log_level::warning, "publishing the load failed: " + r.error().message());
  }
  auto ms = s.members(cfg_.name);
  if (!ms) {
    log(log_level::warning, "reading the members failed: " + ms.error().message());
    return;
  }
  {
    std::map<std::string, std::uint64_t> loads;
    for (auto& m : *ms)
      if (m.status == member_status::up) loads[m.node] = m.activations;
    cfg_.placement->loads(loads);
  }
  // Events: who came up, who went, as this node sees the table now. announced_ changes under
  // mu_ together with the copy of the listeners, so a listener added meanwhile (listen())
  // hears each member's up exactly once: in its snapshot or as an event after it.
  std::map<std::string, std::int64_t> unreachable;
  std::vector<cluster_event> events;
  listener_list ls;
  {
    std::lock_guard lk(mu_);
    members_ = *ms;
    unreachable = unreachable_;
    for (auto& m : *ms) {
      bool up = m.status == member_status::up;
      if (up && !announced_.count(m.node)) {
        announced_.insert(m.node);
        // A connection lost before this node saw the member up was to an earlier incarnation
        // (voted out, then started again): it says nothing of this one, which would otherwise be
        // voted out in this very tick, before this node has even dialled it. This one is
        // suspected only once its own connection goes down, or if it is never reached
        // (unreachable_after).
        unreachable_.erase(m.node);
        unreachable.erase(m.node);
        events.push_back(member_up{m.node, m.address});
      } else if (!up && announced_.count(m.node)) {
        announced_.erase(m.node);
        if (m.node == self_) continue;  // our own removal is noticed by the heartbeat above
        events.push_back(member_removed{m.node, m.status == member_status::left      ? std::string("left the cluster")
                                                : m.status == member_status::leaving ? std::string("leaving the cluster")
                                                                                     : "voted out (votes: " + m.suspicions + ")"});
      }
    }
    if (!events.empty()) ls = listeners_;
  }
  for (auto& e : events)
    for (auto& [id, f] : ls) f(e);
  if (handed_off_ && !handoff_started_) {
    // A heartbeat committed after the row said leaving is followed, in the same tick of that
    // member, by a reading of the table that sees it.
    bool all_seen = true;
    for (auto& m : *ms)
      if (auto it = leave_seen_.find(m.node); m.status == member_status::up && it != leave_seen_.end() &&
                                              it->second == m.heartbeat_ms)
        all_seen = false;
    if (all_seen) {
      handoff_started_ = true;
      log(log_level::info, "leaving: every member has seen it; handing off its shards");
      emit(self_leaving{});
    }
  }
  // Keep a connection to every up member, so the remote failure detector watches each of them.
  auto connected = node_.connected_nodes();
  std::map<std::string, std::int64_t> unconnected;
  for (auto& m : *ms) {
    if (m.status != member_status::up || m.node == self_) continue;
    if (std::find(connected.begin(), connected.end(), m.node) != connected.end()) continue;
    // Only the node whose name sorts first dials: two nodes dialling each other at once make the
    // remote layer replace one connection, which it reports as the node going down (and fails
    // asks in flight on it).
    if (self_ < m.node) (void)node_.connect(m.address);
    auto since = unconnected_since_.find(m.node);
    unconnected[m.node] = since == unconnected_since_.end() ? now : since->second;
  }
  unconnected_since_ = std::move(unconnected);
  // Suspects: a member whose connection went down and has not come back for two heartbeat
  // intervals (a connection replaced by a simultaneous dial comes back at once; a killed node's
  // refuses, a frozen one's handshake never completes), one never reached for unreachable_after
  // (the failure detector watches only connections that came up), or whose heartbeat row is stale.
  // A suspicion from a lost connection counts only on the side of a partition that reaches a
  // majority of the up members (itself included; exactly half: the half with the member whose
  // name sorts first). Both sides of a partition reach the store, so without this the smaller
  // side would vote the larger one out as eagerly as the other way round. A stale heartbeat row
  // needs no majority: that member is not writing to the store, wherever it is.
  std::size_t up_count = 0, reached = 0;
  std::string first_up;
  bool first_reached = false;
  for (auto& m : *ms) {
    if (m.status != member_status::up) continue;
    ++up_count;
    bool r = m.node == self_ || std::find(connected.begin(), connected.end(), m.node) != connected.end();
    if (r) ++reached;
    if (first_up.empty() || m.node < first_up) {
      first_up = m.node;
      first_reached = r;
    }
  }
  bool quorum = 2 * reached > up_count || (2 * reached == up_count && first_reached);
  auto timeout_ms = std::chrono::duration_cast<std::chrono::milliseconds>(cfg_.member_timeout).count();
  auto grace_ms = 2 * std::chrono::duration_cast<std::chrono::milliseconds>(cfg_.heartbeat_interval).count();
  auto unreachable_ms = std::chrono::duration_cast<std::chrono::milliseconds>(cfg_.unreachable_after).count();
  for (auto& m : *ms) {
    if (m.status != member_status::up || m.node == self_) continue;
    auto u = unreachable.find(m.node);
    bool lost = u != unreachable.end() && now - u->second >= grace_ms &&
                std::find(connected.begin(), connected.end(), m.node) == connected.end();
    auto c = unconnected_since_.find(m.node);
    bool never = c != unconnected_since_.end() && now - c->second >= unreachable_ms;
    if (((lost || never) && quorum) || now - m.heartbeat_ms > timeout_ms) vote(s, m);
  }
}

void cluster_core::vote(membership_store& s, const member& target) {
  if (removed_ || target.status != member_status::up || target.node == self_) return;
  auto now = now_ms();
  auto expiry = std::chrono::duration_cast<std::chrono::milliseconds>(cfg_.vote_expiry).count();
  auto votes = parse_votes(target.suspicions);
  std::erase_if(votes, [&](auto& v) { return v.first == self_ || now - v.second > expiry; });
  votes.emplace_back(self_, now);
  std::size_t others = 0;
  for (auto& m : up_members())
    if (m.node != target.node) ++others;
  std::size_t needed = std::max<std::size_t>(1, std::min(cfg_.votes_needed, others));
  member next = target;
  next.suspicions = format_votes(votes);
  if (votes.size() >= needed) next.status = member_status::dead;
  auto ok = s.update_if(cfg_.name, next);
  if (!ok) {
    log(log_level::warning, "voting on '" + target.node + "' failed: " + ok.error().message());
    return;
  }
  if (!*ok) return;  // someone else wrote the row first: the next tick reads it and votes again
  if (next.status == member_status::dead) log(log_level::warning, "declared '" + target.node + "' dead (votes: " + next.suspicions + ")");
  // Keep our copy current so that a second vote in this tick starts from the written version.
  std::lock_guard lk(mu_);
  for (auto& m : members_)
    if (m.node == next.node) {
      m = next;
      ++m.version;
    }
}

}  // namespace detail

result<std::unique_ptr<cluster>> cluster::join(troupe::system& sys, remote::node& node,
                                               std::unique_ptr<membership_store> store, cluster_config cfg) {
  auto core = std::make_shared<detail::cluster_core>(sys, node, std::move(store), std::move(cfg));
  if (auto r = core->start(); !r) {
    core->stop();
    core->release_node();
    return r.error();
  }
  return std::unique_ptr<cluster>(new cluster(std::move(core)));
}

cluster::~cluster() {
  core_->stop();
  core_->release_node();
}

}  // namespace troupe::cluster
