// refs.hpp: remote refs: what a node exports to each peer, the proxies standing for actors on
// other nodes, names published for lookup, and watches across nodes. Internal to the layer.
// A peer can reach an actor only through an id this node exported to *that peer* (a ref it
// was sent, or a published name it looked up): ids are never guessable handles to anything.
// Any thread may encode (tell through a proxy); payloads are decoded on the node's thread.
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
  watch = 4,         // varint id: tell me once when it stops
  terminated = 5,    // varint id, byte exit_reason::kind, string text
};

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
  /// Encodes and queues a message told to a proxy; a message that cannot go is logged and dropped.
  troupe::detail::endpoint::offer_result send_user(const std::string& peer, std::uint64_t id, troupe::detail::envelope* e,
                                                   const serial::protocol_ops& ops);
  std::uint32_t node_number(const std::string& peer);
  /// A proxy for actor `id` on `peer`, speaking `ops`.
  endpoint_ptr make_proxy(const std::string& peer, std::uint64_t id, const serial::protocol_ops& ops);
  troupe::system& system() noexcept { return sys_; }

  // --- the node's thread --------------------------------------------------------------------
  void lookup(std::string peer, std::string name, const serial::protocol_ops& ops, std::chrono::nanoseconds timeout,
              std::function<void(result<endpoint_ptr>)> done);
  void watch(const std::string& peer, std::uint64_t id, actor_id who, endpoint_ptr watcher,
             std::function<void(terminated&&)> notify);
  void on_payload(const std::string& from, std::uint64_t lane, std::string&& payload);
  void on_node_down(const std::string& peer, const std::string& reason);
  /// The node stops: pending lookups fail with errc::stopped (and their timers go).
  void stop();
  /// Sends `terminated` for `id` to `peer` (from the watch agent).
  void send_terminated(const std::string& peer, std::uint64_t id, const exit_reason& reason);

 private:
  class context;  // the ref_context for one peer
  struct export_entry {
    endpoint_ptr ep;
    const serial::protocol_ops* ops = nullptr;
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
  };
  void handle_user(const std::string& from, serial::reader& in);
  void handle_lookup(const std::string& from, serial::reader& in);
  void handle_lookup_reply(const std::string& from, serial::reader& in);
  void handle_watch(const std::string& from, serial::reader& in);
  void handle_terminated(const std::string& from, serial::reader& in);
  void fire(remote_watch& w, terminated t);
  void send_system(const std::string& peer, std::string payload);

  node_impl& node_;
  troupe::system& sys_;

  mutable std::mutex mu_;
  std::uint64_t next_id_ = 1;                                                      // guarded by mu_
  std::map<std::string, std::unordered_map<std::uint64_t, export_entry>> exports_;  // guarded by mu_
  std::map<std::string, std::unordered_map<troupe::detail::endpoint*, std::uint64_t>> export_ids_;  // guarded by mu_
  std::map<std::string, export_entry, std::less<>> published_;  // guarded by mu_
  serial::registry allowed_;                                   // guarded by mu_: the allow-list
  std::map<std::string, std::uint32_t> node_numbers_;          // guarded by mu_

  // The node's thread only.
  std::uint64_t next_lookup_ = 1;
  std::unordered_map<std::uint64_t, pending_lookup> lookups_;
  std::map<std::pair<std::string, std::uint64_t>, std::vector<remote_watch>> watches_;
  // Watches peers asked for: (peer, id) already watched, and the agent actor that watches.
  std::map<std::pair<std::string, std::uint64_t>, bool> watched_for_peers_;
  endpoint_ptr agent_;
};

}  // namespace troupe::remote::detail
