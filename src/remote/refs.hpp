// refs.hpp: remote refs: what a node exports to each peer, the proxies standing for actors on
// other nodes, names published for lookup, and watches across nodes. Internal to the layer.
// A peer can reach an actor only through an id this node exported to *that peer* (a ref it
// was sent, or a published name it looked up): ids are never guessable handles to anything.
// Any thread may encode (tell through a proxy); payloads are decoded on the node's thread, big
// user messages on its decoder thread (node_impl::deliver).
#pragma once

#include <chrono>
#include <cstdint>
#include <functional>
#include <map>
#include <memory>
#include <mutex>
#include <string>
#include <unordered_map>
#include <vector>

#include <boost/asio/steady_timer.hpp>

#include "troupe/core/detail/endpoint.hpp"
#include "troupe/core/ref.hpp"
#include "troupe/core/signals.hpp"
#include "troupe/serial/protocol_ops.hpp"
#include "troupe/serial/reader.hpp"
#include "troupe/serial/ref_context.hpp"
#include "troupe/serial/registry.hpp"
#include "troupe/serial/writer.hpp"

namespace troupe {
class system;
}

namespace troupe::remote::detail {

class node_impl;
using endpoint_ptr = troupe::detail::counted<troupe::detail::endpoint>;

/// What a payload on the wire carries (its first byte). Lane 0 carries the node's own
/// requests; a user message travels on the lane of its target's id, which keeps per-receiver order.
enum class payload_kind : std::uint8_t {
  user = 1,          // varint target id, fixed64 protocol fingerprint, the message (serial)
  lookup = 2,        // varint request, fixed64 protocol fingerprint, string name
  lookup_reply = 3,  // varint request, byte found, then varint id or string error
  watch = 4,         // varint id[, varint watcher]: tell me once when it stops
  terminated = 5,    // varint id, byte exit_reason::kind, string text[, varint watcher]
  link = 6,          // varint target, varint linker: link them (on the target's lane)
  unlink = 7,        // varint target, varint linker: undo a link (on the target's lane)
  exit = 8,          // varint target, varint from, byte kind, string text (on the target's lane)
  grant = 9,         // varint id, string node, varint new id: let that node reach our id as the new id
};
// Ids in a payload are in the id space of the node that exported them: `id`, `target` are the
// receiver's, `watcher`, `linker`, `from` the sender's. A signal about actor S for actor R
// travels on R's lane, the lane of S's messages to R, so it never overtakes them (Erlang's
// signal order); version-2 peers without `watcher` get it on lane 0.

class refs;

/// A ref's endpoint for an actor on another node: what it is told is encoded and queued on the
/// connection to that node. Holds the node alive (a ref may outlive its node: sends then fail).
class proxy final : public troupe::detail::endpoint {
 public:
  proxy(std::shared_ptr<node_impl> node, std::string peer, std::uint64_t id, std::uint32_t node_number,
        const serial::protocol_ops& ops);
  void enqueue(troupe::detail::envelope* e) noexcept override;
  offer_result try_enqueue(troupe::detail::envelope* e) noexcept override;
  actor_id id() const noexcept override { return {node_number_, id_}; }
  troupe::detail::system_core* proxy_home() noexcept override;
  std::string proxy_description() const override;
  void watch_remote(troupe::detail::endpoint& watcher, std::function<void(terminated&&)> notify) override;
  void link_remote(troupe::detail::cell& linker) override;
  void unlink_remote(troupe::detail::cell& linker) override;
  // Proxies made by one node for one id of one peer stand for one actor: two refs to it that
  // came apart are equal. (One made through a third node's grant has that grant's id: another.)
  bool same_target(const troupe::detail::endpoint& other) const noexcept override;
  std::size_t target_hash() const noexcept override;

  const std::string& peer() const noexcept { return peer_; }
  std::uint64_t remote_id() const noexcept { return id_; }

 private:
  void unreferenced() noexcept override { delete this; }
  std::shared_ptr<node_impl> node_;
  std::string peer_;
  std::uint64_t id_;
  std::uint32_t node_number_;
  const serial::protocol_ops* ops_;
};

class refs {
 public:
  refs(node_impl& node, troupe::system& sys);
  ~refs();

  // --- any thread ---------------------------------------------------------------------------
  result<void> publish(std::string name, endpoint_ptr ep, const serial::protocol_ops& ops);
  void allow(const serial::protocol_ops& ops);
  /// The id under which `peer` may reach `ep` (the same id each time for one endpoint).
  std::uint64_t export_to(const std::string& peer, const endpoint_ptr& ep, const serial::protocol_ops& ops);
  /// An id for `ep` that `peer` can name in signals (watch, link, exit) but not send messages
  /// to unless it is also exported with its protocol; the same id as export_to's.
  std::uint64_t export_identity(const std::string& peer, const endpoint_ptr& ep);
  /// Encodes and queues a message told to a proxy; a message that cannot go is logged and dropped.
  troupe::detail::endpoint::offer_result send_user(const std::string& peer, std::uint64_t id, troupe::detail::envelope* e,
                                                   const serial::protocol_ops& ops);
  std::uint32_t node_number(const std::string& peer);
  /// A proxy for actor `id` on `peer`, speaking `ops`.
  endpoint_ptr make_proxy(const std::string& peer, std::uint64_t id, const serial::protocol_ops& ops);
  troupe::system& system() noexcept { return sys_; }

  /// True for a payload the node hands to its decoder thread: a user message over `threshold`
  /// bytes (the other kinds touch the node thread's tables and are small).
  static bool decodes_elsewhere(const std::string& payload, std::size_t threshold) noexcept {
    return payload.size() > threshold && static_cast<std::uint8_t>(payload[0]) == static_cast<std::uint8_t>(payload_kind::user);
  }

  // --- the node's thread (on_payload: also the decoder thread, for user messages) ---------------
  void lookup(std::string peer, std::string name, const serial::protocol_ops& ops, std::chrono::nanoseconds timeout,
              std::function<void(result<endpoint_ptr>)> done);
  void watch(const std::string& peer, std::uint64_t id, actor_id who, endpoint_ptr watcher,
             std::function<void(terminated&&)> notify);
  void on_payload(const std::string& from, std::uint64_t lane, std::string&& payload);
  void on_node_down(const std::string& peer, const std::string& reason);
  /// The node stops: pending lookups fail with errc::stopped (and their timers go); watchers of
  /// remote actors get `terminated` and actors linked to remote actors the exit, both
  /// noconnection, once each; watches and links made later get the same at once.
  void stop();
  /// Sends `terminated` for `id` to `peer`'s actor `watcher` (0: an old peer's, on lane 0).
  void send_terminated(const std::string& peer, std::uint64_t id, const exit_reason& reason, std::uint64_t watcher);
  /// Links `local` with actor `id` on `peer` (from a proxy's link_remote).
  void link(const std::string& peer, std::uint64_t id, endpoint_ptr local);
  void unlink(const std::string& peer, std::uint64_t id, troupe::detail::endpoint* local);
  /// A local actor watched for peers or linked to remote actors stopped (from the agent).
  void on_local_down(actor_id who, const exit_reason& reason);

  // --- any thread ---------------------------------------------------------------------------
  /// A watch or link made when this node had stopped (node_impl::post refused it): noconnection
  /// at once, on the watcher's or linker's turn.
  void refuse_watch(const std::string& peer, actor_id who, endpoint_ptr watcher, std::function<void(terminated&&)> notify);
  void refuse_link(const std::string& peer, std::uint64_t id, endpoint_ptr local);

 private:
  class context;  // the ref_context for one peer
  // Logs why a user message from `from` to `id` was dropped and reports it as a dead letter
  // (dead_letter_reason::undecodable); `target` and `ops` when the id was exported. Any thread.
  void undecodable(const std::string& from, std::uint64_t id, const endpoint_ptr& target,
                   const serial::protocol_ops* ops, const std::string& why, bool log = true);
  struct export_entry {
    endpoint_ptr ep;
    const serial::protocol_ops* ops = nullptr;  // nullptr: exported for signals only
  };
  struct pending_lookup {
    std::string peer;
    const serial::protocol_ops* ops = nullptr;
    std::function<void(result<endpoint_ptr>)> done;
    std::shared_ptr<boost::asio::steady_timer> timer;  // its timeout, cancelled when answered
  };
  struct remote_watch {
    endpoint_ptr watcher;
    std::function<void(terminated&&)> notify;
    actor_id who;
    std::uint64_t watcher_id = 0;  // the watcher as exported to the peer
  };
  // A peer's actor `watcher` watches our actor `local`, exported to that peer as `id`.
  struct peer_watch {
    std::string peer;
    std::uint64_t id = 0;
    std::uint64_t watcher = 0;
    endpoint_ptr local;  // for introspection's list (publish_relations)
  };
  // A link between our `local` (exported to `peer` as `local_id`) and `peer`'s actor `remote`.
  struct link_entry {
    std::string peer;
    std::uint64_t remote = 0;
    endpoint_ptr local;
    std::uint64_t local_id = 0;
  };
  void handle_user(const std::string& from, serial::reader& in);
  void handle_lookup(const std::string& from, serial::reader& in);
  void handle_lookup_reply(const std::string& from, serial::reader& in);
  void handle_watch(const std::string& from, serial::reader& in);
  void handle_terminated(const std::string& from, serial::reader& in);
  void handle_link(const std::string& from, serial::reader& in);
  void handle_unlink(const std::string& from, serial::reader& in);
  void handle_exit(const std::string& from, serial::reader& in);
  void handle_grant(const std::string& from, serial::reader& in);
  /// A user message to a granted id (bit 62) not granted yet: it waits for the grant.
  bool awaits_grant(const std::string& from, const std::string& payload);
  void park(const std::string& from, std::string&& payload);
  /// Asks `owner` to let node `to` reach its actor `id` (exported to us) as `as`.
  void send_grant(const std::string& owner, std::uint64_t id, const std::string& to, std::uint64_t as);
  void fire(remote_watch& w, terminated t);
  exit_reason stopped_reason(const std::string& peer) const;
  void send_system(const std::string& peer, std::string payload, std::uint64_t lane = 0);
  std::uint64_t export_entry_for(const std::string& peer, const endpoint_ptr& ep, const serial::protocol_ops* ops);
  /// Tells the node's agent to watch `local` (it reports to on_local_down).
  void agent_watch(const endpoint_ptr& local);
  void send_exit(const std::string& peer, std::uint64_t target, std::uint64_t from, const exit_reason& reason);
  /// Runs the exit of `peer`'s actor `remote` on `local`'s turn.
  void deliver_exit(const endpoint_ptr& local, const std::string& peer, std::uint64_t remote, exit_reason reason);
  /// Copies `local`'s links and watches across nodes, from the tables below, into its probe, for
  /// introspection (system_config::introspection; nothing without it). After each change.
  void publish_relations(const endpoint_ptr& local) noexcept;

  node_impl& node_;
  troupe::system& sys_;

  mutable std::mutex mu_;
  std::uint64_t next_id_ = 1;                                                      // guarded by mu_
  std::map<std::string, std::unordered_map<std::uint64_t, export_entry>> exports_;  // guarded by mu_
  // By target, not address: two endpoints that are one target (a grain's refs, made apart) get
  // one id, so the peer's refs to it are equal too, and sent back they are equal to ours.
  struct by_target {
    std::size_t operator()(const troupe::detail::endpoint* e) const noexcept { return troupe::detail::target_hash(e); }
    bool operator()(const troupe::detail::endpoint* a, const troupe::detail::endpoint* b) const noexcept {
      return troupe::detail::same_target(a, b);
    }
  };
  using export_id_table = std::unordered_map<troupe::detail::endpoint*, std::uint64_t, by_target, by_target>;
  std::map<std::string, export_id_table> export_ids_;  // guarded by mu_
  std::map<std::string, export_entry, std::less<>> published_;  // guarded by mu_
  serial::registry allowed_;                                   // guarded by mu_: the allow-list
  std::map<std::string, std::uint32_t> node_numbers_;          // guarded by mu_

  // The node's thread only.
  std::uint64_t next_lookup_ = 1;
  std::unordered_map<std::uint64_t, pending_lookup> lookups_;
  std::map<std::pair<std::string, std::uint64_t>, std::vector<remote_watch>> watches_;
  std::map<actor_id, std::vector<peer_watch>> peer_watches_;  // by the local actor watched
  std::vector<link_entry> links_;                              // few: scanned
  endpoint_ptr agent_;  // watches local actors for peers and links
  bool stopped_ = false;  // stop() ran: watches and links hear noconnection at once
  // Messages to ids a third node has not granted yet (the grantee was quicker), 5 s at most.
  struct parked {
    std::vector<std::string> payloads;
    std::shared_ptr<boost::asio::steady_timer> timer;
  };
  std::map<std::pair<std::string, std::uint64_t>, parked> parked_;
  std::size_t parked_bytes_ = 0;
};

}  // namespace troupe::remote::detail
