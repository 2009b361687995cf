// cell_extras.hpp: the parts of an actor's control block that most actors never need.
// Made on first use, so an idle actor with no name, children, watchers, links or timers stays
// small. Touched only on the actor's own turn, except `name` and the mailbox's bound, which are
// immutable after spawn, and `queued`, an atomic. An actor with a counted mailbox gets its
// extras at spawn, before any other thread can reach it.
#pragma once

#include <cstdint>
#include <functional>
#include <memory>
#include <string>
#include <unordered_map>
#include <vector>

#include "troupe/core/detail/cell.hpp"
#include "troupe/core/detail/instruments.hpp"

namespace troupe::detail {

struct timer_shared {
  // Set by the actor when it cancels; a firing checks it. With service_id, a seq_cst Dekker pair
  // (cell_timers.cpp: retire() and timer_job::arm()) so that a re-arm racing a cancel is undone.
  std::atomic<bool> cancelled{false};
  std::atomic<std::uint64_t> service_id{0};  // the pending entry in the timer service
};

struct timer_record {
  std::string key;
  std::uint32_t tag;
  cell::timer_mode mode;
  std::shared_ptr<timer_shared> shared;
};

struct watch_record {
  counted<cell> target;
  std::function<void(terminated&&)> deliver;
};

// The actors one actor watches, is watched by, or is linked with. Most actors have a handful,
// so it is a vector; one that has many (a supervisor of 100,000 children, the grain service of a
// cluster node watching every activation) gets a position index as well, so that adding,
// finding and removing one stay O(1) instead of a scan each (which made starting n watched
// actors O(n^2)). A small list keeps the order entries came in (watchers are told in the order
// they watched); an indexed one does not: removal moves the last entry into the hole.
template <class T>
class relation_list {
 public:
  static constexpr std::size_t indexed_from = 32;

  T* find(const cell* c) noexcept {
    if (index_) {
      auto it = index_->find(c);
      return it == index_->end() ? nullptr : &items_[it->second];
    }
    for (auto& x : items_)
      if (key(x) == c) return &x;
    return nullptr;
  }
  void push_back(T x) {
    items_.push_back(std::move(x));
    if (!index_ && items_.size() < indexed_from) return;
    try {
      if (!index_) {
        auto index = std::make_unique<std::unordered_map<const cell*, std::size_t>>();
        for (std::size_t i = 0; i < items_.size(); ++i) index->emplace(key(items_[i]), i);
        index_ = std::move(index);
      } else {
        index_->emplace(key(items_.back()), items_.size() - 1);
      }
    } catch (...) {
      items_.pop_back();  // all or nothing: the list and its index agree
      throw;
    }
  }
  /// Removes `*x`, an entry find() returned.
  void erase(T* x) noexcept {
    const auto i = static_cast<std::size_t>(x - items_.data());
    if (!index_) {
      items_.erase(items_.begin() + static_cast<std::ptrdiff_t>(i));
      return;
    }
    index_->erase(key(*x));
    if (i + 1 != items_.size()) {
      *x = std::move(items_.back());
      index_->find(key(*x))->second = i;
    }
    items_.pop_back();
  }
  void clear() noexcept {
    items_.clear();
    index_.reset();
  }
  auto begin() noexcept { return items_.begin(); }
  auto end() noexcept { return items_.end(); }
  std::size_t size() const noexcept { return items_.size(); }

 private:
  static const cell* key(const watch_record& r) noexcept { return r.target.get(); }
  static const cell* key(const counted<cell>& c) noexcept { return c.get(); }

  std::vector<T> items_;
  std::unique_ptr<std::unordered_map<const cell*, std::size_t>> index_;  // from indexed_from on
};

struct cell_extras {
  // From the message pool, as the cell is: an instrumented or named actor has one from spawn.
  static void* operator new(std::size_t size) { return pool_allocate(size); }
  static void operator delete(void* p, std::size_t size) noexcept { pool_deallocate(p, size); }

  std::string name;
  cell* first_child = nullptr;  // children, linked through their sibling pointers
  relation_list<counted<cell>> watchers;  // told `down` when we terminate
  relation_list<watch_record> watching;   // what we watch, and how to deliver its `terminated`
  relation_list<counted<cell>> links;
  // Set: we trap exits. Boxed (most actors never trap) to keep the extras within a pool block.
  std::unique_ptr<std::function<void(exit_signal&&)>> exit_handler;
  exit_reason reason;  // why we stop (when not plain normal)
  std::vector<timer_record> timers;

  // The mailbox's bound (cell::counted_ only); immutable after spawn.
  std::size_t mailbox_capacity = mailbox_options::unbounded;
  // A counted mailbox: user messages admitted and not yet taken by the actor. Incremented by
  // senders before they push, decremented by the actor as it takes one, so it never goes below
  // the true count of pushed messages; it may briefly count a message admitted but not yet pushed.
  // (A tallied one counts its pushes in its inbox and its probe instead: cell_mailbox.cpp.)
  std::atomic<std::size_t> queued{0};
  // Messages drop_oldest took from the inbox to reach older ones and must not drop (timer
  // messages, notices, asks' answers): they come before anything still in the inbox.
  envelope* kept = nullptr;
  // Introspection's figures: made at spawn in an instrumented system (system_config::introspection),
  // null otherwise, so that extras cost one pointer more when introspection is off.
  std::unique_ptr<actor_probe> probe;

  // The small fields together, so that they share padding.
  std::uint32_t children = 0;
  std::uint32_t timer_seq = 0;
  // A sampled mailbox (cell::sampled_) times the pushes whose count before the push, plus
  // sample_phase, masked, is 0: one in sample_mask + 1 (at most 2^16). The phase is the actor's
  // own (its serial, masked), so that an actor that gets one message is timed one time in
  // sample_mask + 1 too: with one phase for all, every actor's first message was timed, and a
  // spawn storm read the clock three times per actor and contended on its protocol's histograms
  // (bench fjcreate, skynet). Immutable after spawn.
  std::uint16_t sample_mask = 0;
  std::uint16_t sample_phase = 0;
  overflow_policy mailbox_overflow = overflow_policy::drop_new;  // with mailbox_capacity
};

// Every instrumented actor has extras (its probe is in them), so a spawn storm makes and frees
// one per actor: within the pool's largest block they come from the spawning thread's cache, past
// it from malloc, which cost bench fjcreate with metrics a tenth of its time.
static_assert(sizeof(cell_extras) <= pool_max_block || sizeof(void*) != 8, "cell_extras outgrew the message pool's blocks");

/// Makes a user message timed_user (metrics): `tag` holds the time of the tell in 32 ns units,
/// modulo 2^32. cell_mailbox.cpp.
void stamp_timed(envelope& e) noexcept;

}  // namespace troupe::detail
