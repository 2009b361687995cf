// refs.cpp: exports, proxies, lookups and watches across nodes.
#include "refs.hpp"

#include <boost/asio/post.hpp>
#include <boost/asio/steady_timer.hpp>
#include <algorithm>
#include <set>
#include <tuple>
#include <typeinfo>
#include <variant>

#include "node_impl.hpp"
#include "troupe/core/actor_context.hpp"
#include "troupe/core/detail/instruments.hpp"
#include "troupe/core/behavior.hpp"
#include "troupe/core/extension.hpp"
#include "troupe/core/system.hpp"

namespace troupe::remote::detail {

namespace {

// A ref inside a message: who owns the actor, from the receiver's point of view.
enum ref_tag : std::uint8_t {
  sender_owns = 0,    // an actor on the sending node: varint id the sender exported to us
  receiver_owns = 1,  // an actor on the receiving node: varint id the receiver exported to the sender
  third_owns = 2,     // an actor on a third node: string its address, varint id it granted the receiver
};

// An id a node grants a peer on a third node's word: random, with bit 62 set, so it is never
// one of the node's own sequential ids and cannot be guessed.
std::uint64_t grant_id() {
  auto n = make_nonce();
  std::uint64_t v = 0;
  for (int i = 0; i < 8; ++i) v = (v << 8) | n[static_cast<std::size_t>(i)];
  return (v & ((std::uint64_t{1} << 62) - 1)) | (std::uint64_t{1} << 62);
}

void put_string(serial::writer& w, std::string_view s) {
  w.put_varint(s.size());
  w.put_bytes(s);
}
bool get_string(serial::reader& r, std::string& out, std::size_t max) {
  std::uint64_t n = 0;
  std::string_view v;
  if (!r.get_varint(n)) return false;
  if (n > max) return r.fail(serial::errc::limit_exceeded, "a string of " + std::to_string(n) + " bytes");
  if (!r.get_bytes(static_cast<std::size_t>(n), v)) return false;
  out.assign(v);
  return true;
}

// Runs a function on an actor's own turn (a watch's notification, in order with its messages).
struct run_on_turn final : troupe::detail::call_envelope {
  explicit run_on_turn(std::function<void()> f) : fn(std::move(f)) {}
  void run() override { fn(); }
  void destroy() noexcept override { delete this; }
  std::function<void()> fn;
};

// The node's agent: it watches local actors that peers watch or that are linked to remote
// actors, each once, and reports their end to the node's thread (refs::on_local_down).
struct agent_start {
  endpoint_ptr target;
};
struct agent_down {
  troupe::actor_id who;
  exit_reason reason;
};
using agent_msg = std::variant<agent_start, agent_down>;

behavior<agent_msg> watch_agent(std::weak_ptr<node_impl> node) {
  auto watching = std::make_shared<std::set<troupe::actor_id>>();
  return troupe::setup<agent_msg>([node, watching](actor_context<agent_msg>& ctx) {
    return troupe::receive<agent_msg>(
        [&ctx, watching](const agent_start& w) {
          if (watching->insert(w.target->id()).second)
            ctx.watch(troupe::detail::ref_access::make<agent_msg>(w.target),
                      [](terminated&& t) { return agent_down{t.who, std::move(t.reason)}; });
          return troupe::same;
        },
        [node, watching](const agent_down& d) {
          watching->erase(d.who);
          // A node that stopped has no peers to tell: refused, the report goes.
          if (auto n = node.lock()) (void)n->post([d](node_impl& n) { n.remote_refs().on_local_down(d.who, d.reason); });
          return troupe::same;
        });
  });
}

}  // namespace

// --- the ref_context of one peer ----------------------------------------------------------------

class refs::context final : public serial::ref_context {
 public:
  context(refs& r, std::string peer) : refs_(r), peer_(std::move(peer)) {}

  result<void> encode_ref(serial::writer& out, const endpoint_ptr& target, const serial::protocol_ops& ops) override {
    if (auto* p = dynamic_cast<proxy*>(target.get())) {
      if (p->peer() != peer_) {
        // A third node's actor: that node grants it to the receiver under a fresh id (the grant
        // leaves before this message does), and the receiver dials it there.
        auto address = refs_.node_.known_address(p->peer());
        if (address.empty())
          return error{serial::errc::bad_ref, "a ref to an actor on node '" + p->peer() + "', whose address is unknown"};
        auto id = grant_id();
        refs_.send_grant(p->peer(), p->remote_id(), peer_, id);
        out.put_byte(third_owns);
        put_string(out, address);
        out.put_varint(id);
        return {};
      }
      out.put_byte(receiver_owns);
      out.put_varint(p->remote_id());
      return {};
    }
    out.put_byte(sender_owns);
    out.put_varint(refs_.export_to(peer_, target, ops));
    return {};
  }

  result<endpoint_ptr> decode_ref(serial::reader& in, const serial::protocol_ops& ops) override {
    std::uint8_t tag = 0;
    std::uint64_t id = 0;
    if (!in.get_byte(tag) || !in.get_varint(id)) return in.error();
    if (tag == sender_owns) {
      if (id == 0) return error{serial::errc::bad_ref, "a ref with id 0"};
      return refs_.make_proxy(peer_, id, ops);
    }
    if (tag == third_owns) {
      // Read as (address, id): the tag's varint above was the address's length.
      std::string_view text;
      node_address a;
      if (id > 300) return error{serial::errc::bad_ref, "a node address of " + std::to_string(id) + " bytes"};
      std::uint64_t granted = 0;
      if (!in.get_bytes(static_cast<std::size_t>(id), text) || !in.get_varint(granted)) return in.error();
      if (!parse_address(text, a) || granted == 0)
        return error{serial::errc::bad_ref, "a ref to a third node with a malformed address or id"};
      if (a.name == refs_.node_.name()) return error{serial::errc::bad_ref, "a ref to this node through another"};
      refs_.node_.learn_address(a.name, std::string(text));
      return refs_.make_proxy(a.name, granted, ops);
    }
    if (tag != receiver_owns) return error{serial::errc::bad_ref, "a ref tagged " + std::to_string(tag)};
    std::lock_guard lk(refs_.mu_);
    auto& table = refs_.exports_[peer_];
    auto it = table.find(id);
    if (it == table.end())
      return error{serial::errc::bad_ref, "node '" + peer_ + "' sent back id " + std::to_string(id) + ", never exported to it"};
    if (it->second.ops == nullptr || it->second.ops->fingerprint != ops.fingerprint)
      return error{serial::errc::bad_ref, "id " + std::to_string(id) + " speaks " +
                                              (it->second.ops ? std::string(it->second.ops->name) : "no protocol sent") +
                                              ", not " + std::string(ops.name)};
    return it->second.ep;
  }

 private:
  refs& refs_;
  std::string peer_;
};

// --- proxy ----------------------------------------------------------------------------------------

proxy::proxy(std::shared_ptr<node_impl> node, std::string peer, std::uint64_t id, std::uint32_t node_number,
             const serial::protocol_ops& ops)
    : node_(std::move(node)), peer_(std::move(peer)), id_(id), node_number_(node_number), ops_(&ops) {}

void proxy::enqueue(troupe::detail::envelope* e) noexcept { (void)try_enqueue(e); }

troupe::detail::endpoint::offer_result proxy::try_enqueue(troupe::detail::envelope* e) noexcept {
  return node_->remote_refs().send_user(peer_, id_, e, *ops_);
}

troupe::detail::system_core* proxy::proxy_home() noexcept { return &troupe::detail::system_access::core(node_->remote_refs().system()); }

std::string proxy::proxy_description() const {
  return "actor #" + std::to_string(id_) + " on node '" + peer_ + "'";
}

namespace {
// A watch or link for the node's thread. A node that has begun to stop refuses it and leaves it
// whole (node_impl::post), and then the caller answers with noconnection at once.
struct watch_job {
  std::string peer;
  std::uint64_t id;
  actor_id who;
  endpoint_ptr watcher;
  std::function<void(terminated&&)> notify;
  void operator()(node_impl& n) { n.remote_refs().watch(peer, id, who, std::move(watcher), std::move(notify)); }
};
struct link_job {
  std::string peer;
  std::uint64_t id;
  endpoint_ptr linker;
  void operator()(node_impl& n) { n.remote_refs().link(peer, id, std::move(linker)); }
};
}  // namespace

void proxy::watch_remote(troupe::detail::endpoint& watcher, std::function<void(terminated&&)> notify) {
  watch_job job{peer_, id_, id(), endpoint_ptr::share(&watcher), std::move(notify)};
  if (!node_->post(std::move(job)))  // refused: `job` is still whole
    node_->remote_refs().refuse_watch(job.peer, job.who, std::move(job.watcher), std::move(job.notify));
}

void proxy::link_remote(troupe::detail::cell& linker) {
  link_job job{peer_, id_, endpoint_ptr::share(&linker)};
  if (!node_->post(std::move(job)))  // refused: `job` is still whole
    node_->remote_refs().refuse_link(job.peer, job.id, std::move(job.linker));
}

void proxy::unlink_remote(troupe::detail::cell& linker) {
  auto l = endpoint_ptr::share(&linker);
  // Refused: the node stopped, and its links went with it (the linker heard noconnection).
  (void)node_->post([peer = peer_, id = id_, l](node_impl& n) { n.remote_refs().unlink(peer, id, l.get()); });
}

bool proxy::same_target(const troupe::detail::endpoint& other) const noexcept {
  if (typeid(other) != typeid(proxy)) return false;
  auto& o = static_cast<const proxy&>(other);
  // The node's number for a peer stands for its name (refs::node_number); the node, for the
  // space those numbers and ids are in.
  return o.node_ == node_ && o.node_number_ == node_number_ && o.id_ == id_;
}

std::size_t proxy::target_hash() const noexcept {
  return std::hash<troupe::actor_id>{}(id()) ^ std::hash<const void*>{}(node_.get());
}

// --- refs -----------------------------------------------------------------------------------------

refs::refs(node_impl& node, troupe::system& sys) : node_(node), sys_(sys) {}
refs::~refs() = default;

endpoint_ptr refs::make_proxy(const std::string& peer, std::uint64_t id, const serial::protocol_ops& ops) {
  auto* p = new proxy(node_.shared_from_this(), peer, id, node_number(peer), ops);
  return endpoint_ptr::adopt(p);
}

std::uint32_t refs::node_number(const std::string& peer) {
  std::lock_guard lk(mu_);
  auto [it, fresh] = node_numbers_.try_emplace(peer, static_cast<std::uint32_t>(node_numbers_.size() + 1));
  (void)fresh;
  return it->second;
}

result<void> refs::publish(std::string name, endpoint_ptr ep, const serial::protocol_ops& ops) {
  if (!ep || ep->as_cell() == nullptr) return error{troupe::errc::receiver_dead, "only local actors can be published"};
  std::lock_guard lk(mu_);
  if (auto r = allowed_.add(ops); !r) return r;
  published_[std::move(name)] = export_entry{std::move(ep), &ops};
  return {};
}

void refs::allow(const serial::protocol_ops& ops) {
  std::lock_guard lk(mu_);
  (void)allowed_.add(ops);
}

std::uint64_t refs::export_to(const std::string& peer, const endpoint_ptr& ep, const serial::protocol_ops& ops) {
  return export_entry_for(peer, ep, &ops);
}

std::uint64_t refs::export_identity(const std::string& peer, const endpoint_ptr& ep) {
  return export_entry_for(peer, ep, nullptr);
}

std::uint64_t refs::export_entry_for(const std::string& peer, const endpoint_ptr& ep, const serial::protocol_ops* ops) {
  std::lock_guard lk(mu_);
  // A protocol we hand out a ref of is one we agree to decode: the allow-list grows only by
  // what this program itself registers, publishes or sends.
  if (ops != nullptr) (void)allowed_.add(*ops);
  auto& ids = export_ids_[peer];
  if (auto it = ids.find(ep.get()); it != ids.end()) {
    auto& e = exports_[peer][it->second];
    if (e.ops == nullptr) e.ops = ops;  // known for signals, now reachable by messages too
    return it->second;
  }
  std::uint64_t id = next_id_++;
  ids.emplace(ep.get(), id);
  exports_[peer].emplace(id, export_entry{ep, ops});
  return id;
}

troupe::detail::endpoint::offer_result refs::send_user(const std::string& peer, std::uint64_t id,
                                                       troupe::detail::envelope* e, const serial::protocol_ops& ops) {
  std::string payload;
  context ctx(*this, peer);
  serial::writer w(payload, &ctx);
  w.put_byte(static_cast<std::uint8_t>(payload_kind::user));
  w.put_varint(id);
  w.put_fixed64(ops.fingerprint);
  try {
    ops.encode_envelope(w, e);
  } catch (const std::exception& x) {
    w.fail(serial::errc::invalid_value, std::string("encoding threw: ") + x.what());
  }
  ops.destroy_envelope(e);
  if (!w.ok()) {
    node_.log(log_level::error, "a message to actor #" + std::to_string(id) + " on node '" + peer +
                                    "' could not be encoded and was dropped: " + w.error().message());
    return troupe::detail::endpoint::offer_result::closed;
  }
  auto sent = node_.send(peer, id, std::move(payload));
  if (!sent) {
    if (sent.error() == errc::send_queue_full) return troupe::detail::endpoint::offer_result::full;
    node_.log(log_level::info, "a message to actor #" + std::to_string(id) + " on node '" + peer +
                                   "' was dropped: " + sent.error().message());
    return troupe::detail::endpoint::offer_result::closed;
  }
  return troupe::detail::endpoint::offer_result::queued;
}

void refs::send_system(const std::string& peer, std::string payload, std::uint64_t lane) {
  if (auto r = node_.send(peer, lane, std::move(payload)); !r)
    node_.log(log_level::info, "a control message to node '" + peer + "' was dropped: " + r.error().message());
}

void refs::lookup(std::string peer, std::string name, const serial::protocol_ops& ops, std::chrono::nanoseconds timeout,
                  std::function<void(result<endpoint_ptr>)> done) {
  std::uint64_t req = next_lookup_++;
  std::string payload;
  serial::writer w(payload);
  w.put_byte(static_cast<std::uint8_t>(payload_kind::lookup));
  w.put_varint(req);
  w.put_fixed64(ops.fingerprint);
  put_string(w, name);
  allow(ops);  // the reply's messages will be of this protocol
  auto& pending = lookups_.emplace(req, pending_lookup{peer, &ops, std::move(done), nullptr}).first->second;
  send_system(peer, std::move(payload));
  if (timeout != std::chrono::nanoseconds::max()) {
    auto t = std::make_shared<boost::asio::steady_timer>(node_.context(), timeout);
    pending.timer = t;
    t->async_wait([this, req, name, peer](boost::system::error_code ec) {
      if (ec) return;
      auto it = lookups_.find(req);
      if (it == lookups_.end()) return;
      auto done = std::move(it->second.done);
      lookups_.erase(it);
      done(error{troupe::errc::timeout, "no answer from node '" + peer + "' to the lookup of '" + name + "'"});
    });
  }
}

void refs::watch(const std::string& peer, std::uint64_t id, actor_id who, endpoint_ptr watcher,
                 std::function<void(terminated&&)> notify) {
  if (stopped_) return refuse_watch(peer, who, std::move(watcher), std::move(notify));
  if (!node_.is_up(peer)) {
    // Watching an actor on a node that is not connected: noconnection at once, as in Erlang.
    remote_watch w{std::move(watcher), std::move(notify), who};
    return fire(w, terminated{who, {exit_reason::kind::noconnection, "node '" + peer + "' is not connected"}});
  }
  // The watcher is named to the peer, so that its terminated comes on the watcher's lane,
  // behind the actor's last messages to it.
  auto wid = export_identity(peer, watcher);
  auto& list = watches_[{peer, id}];
  bool first = std::none_of(list.begin(), list.end(), [&](const remote_watch& w) { return w.watcher_id == wid; });
  list.push_back(remote_watch{std::move(watcher), std::move(notify), who, wid});
  publish_relations(list.back().watcher);
  if (!first) return;
  std::string payload;
  serial::writer w(payload);
  w.put_byte(static_cast<std::uint8_t>(payload_kind::watch));
  w.put_varint(id);
  w.put_varint(wid);
  send_system(peer, std::move(payload));
}

exit_reason refs::stopped_reason(const std::string& peer) const {
  return {exit_reason::kind::noconnection, "node '" + node_.name() + "' stopped: no connection to node '" + peer + "'"};
}

void refs::refuse_watch(const std::string& peer, actor_id who, endpoint_ptr watcher, std::function<void(terminated&&)> notify) {
  remote_watch w{std::move(watcher), std::move(notify), who};
  fire(w, terminated{who, stopped_reason(peer)});
}

void refs::refuse_link(const std::string& peer, std::uint64_t id, endpoint_ptr local) {
  deliver_exit(local, peer, id, stopped_reason(peer));
}

void refs::fire(remote_watch& w, terminated t) {
  auto notify = std::move(w.notify);
  auto* e = new run_on_turn([notify = std::move(notify), t = std::move(t)]() mutable { notify(std::move(t)); });
  w.watcher->enqueue(e);  // a stopped watcher destroys it unrun
}

void refs::send_terminated(const std::string& peer, std::uint64_t id, const exit_reason& reason, std::uint64_t watcher) {
  std::string payload;
  serial::writer w(payload);
  w.put_byte(static_cast<std::uint8_t>(payload_kind::terminated));
  w.put_varint(id);
  w.put_byte(static_cast<std::uint8_t>(reason.what));
  put_string(w, reason.text);
  w.put_varint(watcher);
  send_system(peer, std::move(payload), watcher);
}

void refs::send_exit(const std::string& peer, std::uint64_t target, std::uint64_t from, const exit_reason& reason) {
  std::string payload;
  serial::writer w(payload);
  w.put_byte(static_cast<std::uint8_t>(payload_kind::exit));
  w.put_varint(target);
  w.put_varint(from);
  w.put_byte(static_cast<std::uint8_t>(reason.what));
  put_string(w, reason.text);
  send_system(peer, std::move(payload), target);
}

void refs::send_grant(const std::string& owner, std::uint64_t id, const std::string& to, std::uint64_t as) {
  std::string payload;
  serial::writer w(payload);
  w.put_byte(static_cast<std::uint8_t>(payload_kind::grant));
  w.put_varint(id);
  put_string(w, to);
  w.put_varint(as);
  send_system(owner, std::move(payload));
}

bool refs::awaits_grant(const std::string& from, const std::string& payload) {
  serial::reader r(payload, allowed_.limits());
  std::uint8_t kind = 0;
  std::uint64_t id = 0;
  if (!r.get_byte(kind) || !r.get_varint(id) || (id >> 62) != 1) return false;
  std::lock_guard lk(mu_);
  auto it = exports_.find(from);
  return it == exports_.end() || it->second.find(id) == it->second.end();
}

void refs::park(const std::string& from, std::string&& payload) {
  if (!node_.context().get_executor().running_in_this_thread()) {
    // From the decoder thread: park on the node's thread (its lane waits until this has run).
    // Refused: the node stopped, and the message would have gone nowhere.
    (void)node_.post([from, p = std::move(payload)](node_impl& n) mutable { n.remote_refs().park(from, std::move(p)); });
    return;
  }
  if (!awaits_grant(from, payload)) return on_payload(from, 0, std::move(payload));  // granted meanwhile
  serial::reader r(payload, allowed_.limits());
  std::uint8_t kind = 0;
  std::uint64_t id = 0;
  (void)r.get_byte(kind);
  (void)r.get_varint(id);
  constexpr std::size_t max_parked = 16 * 1024 * 1024;
  if (parked_bytes_ + payload.size() > max_parked)
    return undecodable(from, id, {}, nullptr, "too many messages wait for grants");
  auto& slot = parked_[{from, id}];
  parked_bytes_ += payload.size();
  slot.payloads.push_back(std::move(payload));
  if (slot.timer) return;
  // The grant left the introducing node before the ref did; 5 s covers a slow path to it.
  slot.timer = std::make_shared<boost::asio::steady_timer>(node_.context(), std::chrono::seconds(5));
  slot.timer->async_wait([this, key = std::make_pair(from, id)](boost::system::error_code ec) {
    if (ec) return;
    auto it = parked_.find(key);
    if (it == parked_.end()) return;
    node_.log(log_level::warning, std::to_string(it->second.payloads.size()) + " message(s) from node '" + key.first +
                                      "' to id " + std::to_string(key.second) +
                                      " went to dead letters: no node granted that id within 5 s");
    for (auto& p : it->second.payloads) {
      parked_bytes_ -= p.size();
      undecodable(key.first, key.second, {}, nullptr, "no node granted that id within 5 s", false);
    }
    parked_.erase(it);
  });
}

void refs::handle_grant(const std::string& from, serial::reader& in) {
  std::uint64_t id = 0, as = 0;
  std::string to;
  if (!in.get_varint(id) || !get_string(in, to, 256) || !in.get_varint(as) || (as >> 62) != 1)
    return node_.log(log_level::warning, "a malformed grant from node '" + from + "' was dropped");
  std::unique_lock lk(mu_);
  auto& mine = exports_[from];
  auto it = mine.find(id);
  if (it == mine.end() || it->second.ops == nullptr) return;  // not theirs to pass on: nothing granted
  exports_[to].try_emplace(as, it->second);
  lk.unlock();
  // Messages that came before the grant (the grantee was quicker than the introducer) go now.
  auto p = parked_.find({to, as});
  if (p == parked_.end()) return;
  auto waiting = std::move(p->second);
  parked_.erase(p);
  if (waiting.timer) waiting.timer->cancel();
  for (auto& m : waiting.payloads) {
    parked_bytes_ -= m.size();
    on_payload(to, as, std::move(m));
  }
}

void refs::agent_watch(const endpoint_ptr& local) {
  if (!agent_) {
    auto r = sys_.spawn(watch_agent(node_.weak_from_this()));
    agent_ = troupe::detail::ref_access::endpoint_of(r);
  }
  troupe::detail::ref_access::make<agent_msg>(agent_).tell(agent_start{local});
}

void refs::deliver_exit(const endpoint_ptr& local, const std::string& peer, std::uint64_t remote, exit_reason reason) {
  actor_id from{node_number(peer), remote};
  std::string who = "actor #" + std::to_string(remote) + " on node '" + peer + "'";
  auto* e = new run_on_turn([local, from, who = std::move(who), reason = std::move(reason)]() mutable {
    if (auto* c = local->as_cell()) c->exit_from_remote(from, who, std::move(reason));
  });
  local->enqueue(e);  // a stopped actor destroys it unrun
}

void refs::link(const std::string& peer, std::uint64_t id, endpoint_ptr local) {
  if (stopped_) return refuse_link(peer, id, std::move(local));
  for (auto& l : links_)
    if (l.peer == peer && l.remote == id && l.local == local) return;  // linked already
  if (!node_.is_up(peer))
    return deliver_exit(local, peer, id, {exit_reason::kind::noconnection, "node '" + peer + "' is not connected"});
  auto lid = export_identity(peer, local);
  links_.push_back(link_entry{peer, id, local, lid});
  std::string payload;
  serial::writer w(payload);
  w.put_byte(static_cast<std::uint8_t>(payload_kind::link));
  w.put_varint(id);
  w.put_varint(lid);
  send_system(peer, std::move(payload), id);
  agent_watch(local);
  publish_relations(local);
}

void refs::unlink(const std::string& peer, std::uint64_t id, troupe::detail::endpoint* local) {
  auto it = std::find_if(links_.begin(), links_.end(),
                         [&](const link_entry& l) { return l.peer == peer && l.remote == id && l.local.get() == local; });
  if (it == links_.end()) return;
  std::string payload;
  serial::writer w(payload);
  w.put_byte(static_cast<std::uint8_t>(payload_kind::unlink));
  w.put_varint(id);
  w.put_varint(it->local_id);
  auto l = std::move(it->local);
  links_.erase(it);
  send_system(peer, std::move(payload), id);
  publish_relations(l);
}

void refs::on_local_down(actor_id who, const exit_reason& reason) {
  if (auto it = peer_watches_.find(who); it != peer_watches_.end()) {
    auto ws = std::move(it->second);
    peer_watches_.erase(it);
    for (auto& w : ws) send_terminated(w.peer, w.id, reason, w.watcher);
  }
  for (auto it = links_.begin(); it != links_.end();) {
    if (it->local->id() == who) {
      send_exit(it->peer, it->remote, it->local_id, reason);
      it = links_.erase(it);
    } else {
      ++it;
    }
  }
}

void refs::on_payload(const std::string& from, std::uint64_t lane, std::string&& payload) {
  context ctx(*this, from);
  serial::reader in(payload, allowed_.limits(), &ctx);
  std::uint8_t kind = 0;
  if (!in.get_byte(kind)) return undecodable(from, 0, {}, nullptr, "an empty payload");
  (void)lane;
  if (static_cast<payload_kind>(kind) == payload_kind::user && awaits_grant(from, payload)) return park(from, std::move(payload));
  switch (static_cast<payload_kind>(kind)) {
    case payload_kind::user: return handle_user(from, in);
    case payload_kind::lookup: return handle_lookup(from, in);
    case payload_kind::lookup_reply: return handle_lookup_reply(from, in);
    case payload_kind::watch: return handle_watch(from, in);
    case payload_kind::terminated: return handle_terminated(from, in);
    case payload_kind::link: return handle_link(from, in);
    case payload_kind::unlink: return handle_unlink(from, in);
    case payload_kind::exit: return handle_exit(from, in);
    case payload_kind::grant: return handle_grant(from, in);
  }
  node_.log(log_level::warning, "a payload of unknown kind " + std::to_string(kind) + " from node '" + from + "' was dropped");
  undecodable(from, 0, {}, nullptr, "a payload of unknown kind " + std::to_string(kind), false);
}

void refs::undecodable(const std::string& from, std::uint64_t id, const endpoint_ptr& target,
                       const serial::protocol_ops* ops, const std::string& why, bool log) {
  if (log)
    node_.log(log_level::warning, "a message from node '" + from + "' to id " + std::to_string(id) +
                                      " went to dead letters: " + why);
  // The record names the local actor when the id was one, and the target's protocol when known:
  // the message itself never existed here, so its C++ type cannot be named.
  troupe::dead_letter d;
  if (target) {
    d.recipient = target->id();
    if (auto* c = target->as_cell()) d.recipient_name = c->name();
  }
  d.message_type = ops != nullptr ? "a message of " + std::string(ops->name) + " from node '" + from + "'"
                                  : "a message from node '" + from + "'";
  d.reason = dead_letter_reason::undecodable;
  d.detail = why;
  troupe::report_dead_letter(sys_, std::move(d));
}

void refs::handle_user(const std::string& from, serial::reader& in) {
  std::uint64_t id = 0, fingerprint = 0;
  if (!in.get_varint(id) || !in.get_fixed64(fingerprint)) return undecodable(from, id, {}, nullptr, "truncated before its protocol fingerprint");
  export_entry target;
  bool allowed = false;
  {
    std::lock_guard lk(mu_);
    auto& table = exports_[from];
    if (auto it = table.find(id); it != table.end()) target = it->second;
    allowed = allowed_.find(fingerprint) != nullptr;
  }
  auto drop = [&](const std::string& why) { undecodable(from, id, target.ep, target.ops, why); };
  if (!target.ep || target.ops == nullptr) return drop("no actor was exported to that node under this id");
  if (!allowed || target.ops->fingerprint != fingerprint)
    return drop("its protocol is not the target's, or not on this node's allow-list");
  auto* e = target.ops->decode_envelope_raw(in);
  if (e == nullptr) return drop(in.error().message());
  if (!in.at_end()) {
    target.ops->destroy_envelope(e);
    return drop("bytes left over after the message");
  }
  target.ep->enqueue(e);
  if (target.ep->as_cell() == nullptr && target.ep->proxy_home() == nullptr) {
    // A reply slot answers once: its export goes with the answer.
    std::lock_guard lk(mu_);
    exports_[from].erase(id);
    export_ids_[from].erase(target.ep.get());
  }
}

void refs::handle_lookup(const std::string& from, serial::reader& in) {
  std::uint64_t req = 0, fingerprint = 0;
  std::string name;
  if (!in.get_varint(req) || !in.get_fixed64(fingerprint) || !get_string(in, name, 1024))
    return node_.log(log_level::warning, "a malformed lookup from node '" + from + "' was dropped");
  std::string payload;
  serial::writer w(payload);
  w.put_byte(static_cast<std::uint8_t>(payload_kind::lookup_reply));
  w.put_varint(req);
  export_entry found;
  {
    std::lock_guard lk(mu_);
    if (auto it = published_.find(name); it != published_.end()) found = it->second;
  }
  if (!found.ep || troupe::detail::endpoint_terminated(*found.ep)) {
    w.put_byte(0);
    put_string(w, "no actor is published as '" + name + "' on node '" + node_.name() + "'");
  } else if (found.ops->fingerprint != fingerprint) {
    w.put_byte(2);
    put_string(w, "'" + name + "' on node '" + node_.name() + "' speaks " + std::string(found.ops->name));
  } else {
    w.put_byte(1);
    w.put_varint(export_to(from, found.ep, *found.ops));
  }
  send_system(from, std::move(payload));
}

void refs::handle_lookup_reply(const std::string& from, serial::reader& in) {
  std::uint64_t req = 0;
  std::uint8_t found = 0;
  if (!in.get_varint(req) || !in.get_byte(found)) return;
  auto it = lookups_.find(req);
  if (it == lookups_.end() || it->second.peer != from) return;  // timed out already, or not theirs
  auto p = std::move(it->second);
  lookups_.erase(it);
  if (p.timer) p.timer->cancel();
  if (found == 1) {
    std::uint64_t id = 0;
    if (!in.get_varint(id) || id == 0) return p.done(error{serial::errc::bad_ref, "a malformed lookup reply"});
    return p.done(make_proxy(from, id, *p.ops));
  }
  std::string text;
  get_string(in, text, 4096);
  p.done(error{found == 2 ? troupe::errc::wrong_protocol : troupe::errc::name_not_found, text});
}

void refs::handle_watch(const std::string& from, serial::reader& in) {
  std::uint64_t id = 0, watcher = 0;
  if (!in.get_varint(id)) return;
  if (!in.at_end() && !in.get_varint(watcher)) return;
  endpoint_ptr target;
  {
    std::lock_guard lk(mu_);
    auto& table = exports_[from];
    if (auto it = table.find(id); it != table.end()) target = it->second.ep;
  }
  if (!target || target->as_cell() == nullptr)
    return send_terminated(from, id, {exit_reason::kind::normal, "no such actor (never exported to this node)"}, watcher);
  peer_watches_[target->id()].push_back(peer_watch{from, id, watcher, target});
  agent_watch(target);
  publish_relations(target);
}

namespace {
exit_reason read_reason(serial::reader& in, bool& ok) {
  std::uint8_t kind = 0;
  std::string text;
  ok = in.get_byte(kind) && get_string(in, text, 64 * 1024);
  if (kind > static_cast<std::uint8_t>(exit_reason::kind::noconnection)) kind = static_cast<std::uint8_t>(exit_reason::kind::exception);
  return {static_cast<exit_reason::kind>(kind), std::move(text)};
}
}  // namespace

void refs::handle_terminated(const std::string& from, serial::reader& in) {
  std::uint64_t id = 0, watcher = 0;
  bool ok = false;
  if (!in.get_varint(id)) return;
  auto reason = read_reason(in, ok);
  if (!ok) return;
  if (!in.at_end() && !in.get_varint(watcher)) return;  // version-2 peers before links send none: all
  auto it = watches_.find({from, id});
  if (it == watches_.end()) return;
  std::vector<remote_watch> fired;
  auto& list = it->second;
  for (auto w = list.begin(); w != list.end();) {
    if (watcher == 0 || w->watcher_id == watcher) {
      fired.push_back(std::move(*w));
      w = list.erase(w);
    } else {
      ++w;
    }
  }
  if (list.empty()) watches_.erase(it);
  for (auto& w : fired) publish_relations(w.watcher);
  for (auto& w : fired) fire(w, terminated{w.who, reason});
}

void refs::handle_link(const std::string& from, serial::reader& in) {
  std::uint64_t target = 0, linker = 0;
  if (!in.get_varint(target) || !in.get_varint(linker) || linker == 0) return;
  endpoint_ptr local;
  {
    std::lock_guard lk(mu_);
    auto& table = exports_[from];
    if (auto it = table.find(target); it != table.end()) local = it->second.ep;
  }
  if (!local || local->as_cell() == nullptr)
    return send_exit(from, linker, target, {exit_reason::kind::normal, "no such actor (never exported to this node)"});
  for (auto& l : links_)
    if (l.peer == from && l.remote == linker && l.local == local) return;
  links_.push_back(link_entry{from, linker, local, target});
  agent_watch(local);  // a local actor already stopped is reported at once: its exit goes back
  publish_relations(local);
}

void refs::handle_unlink(const std::string& from, serial::reader& in) {
  std::uint64_t target = 0, linker = 0;
  if (!in.get_varint(target) || !in.get_varint(linker)) return;
  std::vector<endpoint_ptr> touched;
  std::erase_if(links_, [&](const link_entry& l) {
    const bool match = l.peer == from && l.remote == linker && l.local_id == target;
    if (match) touched.push_back(l.local);
    return match;
  });
  for (auto& l : touched) publish_relations(l);
}

void refs::handle_exit(const std::string& from, serial::reader& in) {
  std::uint64_t target = 0, sender = 0;
  bool ok = false;
  if (!in.get_varint(target) || !in.get_varint(sender)) return;
  auto reason = read_reason(in, ok);
  if (!ok) return;
  auto it = std::find_if(links_.begin(), links_.end(),
                         [&](const link_entry& l) { return l.peer == from && l.remote == sender && l.local_id == target; });
  if (it == links_.end()) return;  // unlinked meanwhile
  auto local = std::move(it->local);
  links_.erase(it);
  publish_relations(local);
  deliver_exit(local, from, sender, std::move(reason));
}

void refs::stop() {
  stopped_ = true;
  auto all = std::move(lookups_);
  lookups_.clear();
  for (auto& [req, p] : all) {
    if (p.timer) p.timer->cancel();
    p.done(error{errc::stopped, "node '" + node_.name() + "' stopped before the lookup was answered"});
  }
  // Watchers of remote actors hear noconnection, once each, as when a peer goes down; so do our
  // actors linked to remote actors. A watch or link that comes later hears it at once (watch(),
  // link(), or from its caller when node_impl::post refuses it).
  auto watched = std::move(watches_);
  watches_.clear();
  auto cut = std::move(links_);
  links_.clear();
  auto watchers = std::move(peer_watches_);
  peer_watches_.clear();
  // With the tables empty, each actor that had a link or watch across nodes now lists none.
  for (auto& [key, ws] : watched)
    for (auto& w : ws) publish_relations(w.watcher);
  for (auto& l : cut) publish_relations(l.local);
  for (auto& [who, ws] : watchers)
    for (auto& w : ws) publish_relations(w.local);
  for (auto& [key, ws] : watched)
    for (auto& w : ws) fire(w, terminated{w.who, stopped_reason(key.first)});
  for (auto& l : cut) deliver_exit(l.local, l.peer, l.remote, stopped_reason(l.peer));
  for (auto& [key, p] : parked_)
    if (p.timer) p.timer->cancel();
  parked_.clear();
  agent_ = endpoint_ptr{};
  // No peer can reach the actors exported to it any more; a stopped node must not keep them (or
  // what they hold, such as proxies to this node) alive.
  std::lock_guard lk(mu_);
  exports_.clear();
  export_ids_.clear();
}

void refs::on_node_down(const std::string& peer, const std::string& reason) {
  // Asks waiting for a reply from that node fail now, not at their timeout.
  std::vector<endpoint_ptr> slots;
  {
    std::lock_guard lk(mu_);
    auto& table = exports_[peer];
    for (auto it = table.begin(); it != table.end();) {
      if (it->second.ep->as_cell() == nullptr && it->second.ep->proxy_home() == nullptr) {
        slots.push_back(std::move(it->second.ep));
        export_ids_[peer].erase(slots.back().get());
        it = table.erase(it);
      } else {
        ++it;
      }
    }
  }
  for (auto& s : slots) s->abandon(error{errc::node_down, "node '" + peer + "' went down before replying: " + reason});
  for (auto it = lookups_.begin(); it != lookups_.end();) {
    if (it->second.peer == peer) {
      if (it->second.timer) it->second.timer->cancel();
      auto done = std::move(it->second.done);
      it = lookups_.erase(it);
      done(error{errc::node_down, "node '" + peer + "' went down before answering a lookup: " + reason});
    } else {
      ++it;
    }
  }
  // Watchers of its actors hear noconnection, once each.
  for (auto it = watches_.begin(); it != watches_.end();) {
    if (it->first.first == peer) {
      auto ws = std::move(it->second);
      it = watches_.erase(it);
      for (auto& w : ws) publish_relations(w.watcher);
      for (auto& w : ws) fire(w, terminated{w.who, {exit_reason::kind::noconnection, "node '" + peer + "' down: " + reason}});
    } else {
      ++it;
    }
  }
  // Its watchers of ours are gone; our actors linked to its actors get noconnection, once each.
  std::vector<endpoint_ptr> touched;
  for (auto& [who, ws] : peer_watches_)
    std::erase_if(ws, [&](const peer_watch& w) {
      if (w.peer != peer) return false;
      touched.push_back(w.local);
      return true;
    });
  std::erase_if(peer_watches_, [](const auto& kv) { return kv.second.empty(); });
  std::vector<link_entry> cut;
  for (auto it = links_.begin(); it != links_.end();) {
    if (it->peer == peer) {
      cut.push_back(std::move(*it));
      it = links_.erase(it);
    } else {
      ++it;
    }
  }
  for (auto& l : cut) touched.push_back(l.local);
  for (auto& l : touched) publish_relations(l);
  for (auto& l : cut) deliver_exit(l.local, peer, l.remote, {exit_reason::kind::noconnection, "node '" + peer + "' down: " + reason});
}

void refs::publish_relations(const endpoint_ptr& local) noexcept {
  auto* c = local ? local->as_cell() : nullptr;
  auto* p = c != nullptr ? c->probe() : nullptr;
  if (p == nullptr) return;  // no introspection: nobody reads them
  using relation = troupe::detail::actor_probe::remote_relation;
  try {
    std::vector<relation> out;
    for (auto& l : links_)
      if (l.local == local) out.push_back({relation::kind::link, l.peer, {node_number(l.peer), l.remote}});
    for (auto& [key, ws] : watches_)
      for (auto& w : ws)
        if (w.watcher == local) out.push_back({relation::kind::monitor, key.first, {node_number(key.first), key.second}});
    if (auto it = peer_watches_.find(local->id()); it != peer_watches_.end())
      for (auto& w : it->second) out.push_back({relation::kind::monitored_by, w.peer, {node_number(w.peer), w.watcher}});
    auto key = [](const relation& r) { return std::tie(r.what, r.node, r.id); };
    std::sort(out.begin(), out.end(), [&](const relation& a, const relation& b) { return key(a) < key(b); });
    out.erase(std::unique(out.begin(), out.end(), [&](const relation& a, const relation& b) { return key(a) == key(b); }),
              out.end());
    auto v = out.empty() ? nullptr : std::make_unique<std::vector<relation>>(std::move(out));
    std::lock_guard lock(p->relations_mu);
    p->remote.swap(v);
    // the old list is freed after the lock, by v's destructor
  } catch (const std::exception&) {
    // Out of memory: introspection shows the previous list; the links themselves are intact.
  }
}

}  // namespace troupe::remote::detail
