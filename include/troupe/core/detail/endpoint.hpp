// endpoint.hpp: anything a ref can point at: an actor's cell, or the one-shot reply slot of an
// ask. Endpoints are intrusively reference counted (a ref is one pointer; copying it is one
// atomic increment). `enqueue` may be called from any thread. An endpoint is its own identity
// unless it stands for a target it is not (a remote actor's proxy, a grain's function ref):
// then it says so through same_target/target_hash, which refs compare and hash by.
#pragma once

#include <atomic>
#include <cstddef>
#include <cstdint>
#include <functional>
#include <string>
#include <utility>

#include "troupe/core/actor_id.hpp"
#include "troupe/core/detail/envelope.hpp"
#include "troupe/core/result.hpp"
#include "troupe/core/signals.hpp"

namespace troupe::detail {

class cell;
class system_core;

class endpoint {
 public:
  endpoint() = default;
  endpoint(const endpoint&) = delete;
  endpoint& operator=(const endpoint&) = delete;

  /// Takes ownership of `e`, a user_envelope of the endpoint's protocol.
  virtual void enqueue(envelope* e) noexcept = 0;
  /// What became of a message given to try_enqueue.
  enum class offer_result : std::uint8_t { queued, full, closed };
  /// Like enqueue, but says whether `e` was queued: `full` when a bounded mailbox refused it,
  /// `closed` when the actor had stopped. Either way the endpoint has disposed of it.
  virtual offer_result try_enqueue(envelope* e) noexcept {
    enqueue(e);
    return offer_result::queued;
  }
  virtual actor_id id() const noexcept = 0;
  /// The actor cell behind this endpoint, or nullptr for a reply slot.
  virtual cell* as_cell() noexcept { return nullptr; }

  // --- for endpoints that stand for an actor elsewhere (the remote layer's proxies) -----------
  /// The system that sends for a proxy (its asks' timers live there); nullptr for others.
  virtual system_core* proxy_home() noexcept { return nullptr; }
  /// "actor #7 on node 'b'" for a proxy; empty for others.
  virtual std::string proxy_description() const { return {}; }
  /// Completes a reply slot with `e` now (its asker's node went away); others ignore it.
  virtual void abandon(const error& e) noexcept { (void)e; }
  /// A proxy's watch: `notify` runs once, on `watcher`'s turn, when the actor stops or its
  /// node becomes unreachable. Others ignore it (a cell is watched through the cell).
  virtual void watch_remote(endpoint& watcher, std::function<void(terminated&&)> notify) {
    (void)watcher;
    (void)notify;
  }
  /// A proxy's link: `linker`, a local actor, is linked to the actor the proxy stands for; its
  /// node delivers the remote actor's exit (cell::exit_from_remote) and tells it of the
  /// linker's. Others ignore it (a cell is linked through the cell).
  virtual void link_remote(cell& linker) { (void)linker; }
  /// Undoes link_remote; an exit already on its way may still arrive.
  virtual void unlink_remote(cell& linker) { (void)linker; }

  // --- identity: what refs compare (same_target below) ----------------------------------------
  /// True when `other`, another endpoint, stands for the same target as this one: two proxies
  /// for one remote actor, two function refs made for one name. Must be symmetric and agree
  /// with target_hash. The default: an endpoint is only itself (local actors, reply slots, plain
  /// function refs), and then refs compare by address alone. Any thread; never blocks.
  virtual bool same_target(const endpoint& other) const noexcept {
    (void)other;
    return false;
  }
  /// The hash of the target: equal for endpoints that are the same_target. Any thread.
  virtual std::size_t target_hash() const noexcept { return std::hash<const void*>{}(this); }

  void add_ref() noexcept {
    // relaxed: a new reference is made from an existing one, which already keeps us alive.
    refs_.fetch_add(1, std::memory_order_relaxed);
  }
  /// add_ref() for an endpoint that no other thread can reach yet (just made, not yet
  /// published): a plain store, where add_ref() needs a read-modify-write.
  void add_ref_unpublished() noexcept {
    // relaxed: whatever publishes the endpoint later (a lock, a queue) publishes this count too.
    refs_.store(refs_.load(std::memory_order_relaxed) + 1, std::memory_order_relaxed);
  }
  void release() noexcept {
    // acq_rel: every use through other references happens-before the last release's cleanup.
    if (refs_.fetch_sub(1, std::memory_order_acq_rel) == 1) unreferenced();
  }
  /// release() for a holder that is usually the last one (the runtime's reference to an actor
  /// that has finalized). When the count is 1, that one is ours and no other can appear: a
  /// reference is made only from another, or from a list that has already let the endpoint go.
  /// Then a load replaces the read-modify-write, which costs many times more.
  void release_usually_last() noexcept {
    // acquire: as the fetch_sub's in release(): every use through the references already
    // dropped, each ended by a releasing decrement, happens-before the cleanup.
    if (refs_.load(std::memory_order_acquire) == 1) return unreferenced();
    release();
  }

 protected:
  virtual ~endpoint() = default;
  /// Called once, when the last reference goes; usually deletes the endpoint.
  virtual void unreferenced() noexcept = 0;

 private:
  std::atomic<std::uint32_t> refs_{1};  // the creator holds the first reference
};

/// True for an actor that has terminated (never for a reply slot).
bool endpoint_terminated(endpoint& e) noexcept;
/// "actor 'name'" or "actor #serial", for errors and logs.
std::string describe_endpoint(endpoint& e);

/// True when refs to `a` and `b` are equal: one endpoint (or both none), or two that stand for
/// the same target. The address is compared first: a ref and its copies cost one comparison,
/// refs to two endpoints one virtual call more.
inline bool same_target(const endpoint* a, const endpoint* b) noexcept {
  return a == b || (a != nullptr && b != nullptr && a->same_target(*b));
}
/// The hash refs to `e` share with every ref equal to them (0 for none).
inline std::size_t target_hash(const endpoint* e) noexcept { return e != nullptr ? e->target_hash() : 0; }

/// An owning pointer that holds one reference to an endpoint (or a class derived from one).
template <class T>
class counted {
 public:
  counted() = default;
  /// Adopts a reference the caller already holds.
  static counted adopt(T* p) noexcept { counted c; c.p_ = p; return c; }
  /// Takes a new reference.
  static counted share(T* p) noexcept { if (p) p->add_ref(); return adopt(p); }
  counted(const counted& o) noexcept : p_(o.p_) { if (p_) p_->add_ref(); }
  counted(counted&& o) noexcept : p_(std::exchange(o.p_, nullptr)) {}
  template <class U> requires std::is_convertible_v<U*, T*>
  counted(counted<U>&& o) noexcept : p_(o.detach()) {}
  counted& operator=(counted o) noexcept { std::swap(p_, o.p_); return *this; }
  ~counted() { if (p_) p_->release(); }

  T* get() const noexcept { return p_; }
  T* operator->() const noexcept { return p_; }
  T& operator*() const noexcept { return *p_; }
  explicit operator bool() const noexcept { return p_ != nullptr; }
  T* detach() noexcept { return std::exchange(p_, nullptr); }
  friend bool operator==(const counted& a, const counted& b) noexcept { return a.p_ == b.p_; }

 private:
  T* p_ = nullptr;
};

}  // namespace troupe::detail
