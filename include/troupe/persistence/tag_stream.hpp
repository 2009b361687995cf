// tag_stream.hpp: events by tag as a demand-driven stream, for read models (the first step of
// Akka Projections). A tag_stream actor reads the journal from an offset in pages, sends its
// consumer at most as many events as the consumer has asked for, in offset order, and, once
// caught up, polls for new ones while demand is left. The consumer keeps the last offset it
// handled (with its read model) and starts a new stream from there after a restart: delivery is
// at-least-once across restarts, exactly-once and in order within one stream.
#pragma once

#include <algorithm>
#include <chrono>
#include <cstdint>
#include <memory>
#include <string>
#include <utility>
#include <vector>

#include "troupe/core/actor_context.hpp"
#include "troupe/core/behavior.hpp"
#include "troupe/core/extension.hpp"
#include "troupe/persistence/detail/on_turn.hpp"
#include "troupe/persistence/journal.hpp"

namespace troupe::persistence {

/// Events sent to a tag stream's consumer; `offset` of the last one is where to resume.
struct tagged_events {
  std::vector<persistent_event> events;
};

/// The consumer asks for `n` more events.
struct demand {
  std::uint64_t n;
};

/// Where a tag stream reads and whom it feeds.
///
///     tag_stream_spec s{.journal = j, .tag = "bank", .after = saved_offset, .consumer = me};
struct tag_stream_spec {
  std::shared_ptr<persistence::journal> journal{};
  std::string tag{};
  /// Start after this offset (0: from the beginning).
  std::uint64_t after = 0;
  ref<tagged_events> consumer{};
  /// How often to look for new events once caught up, while demand is left.
  std::chrono::nanoseconds poll_interval = std::chrono::milliseconds{100};
  /// Events read per journal round trip at most.
  std::uint64_t page = 1024;
};

namespace detail {

class tag_stream_runner : public std::enable_shared_from_this<tag_stream_runner> {
 public:
  tag_stream_runner(tag_stream_spec s, actor_context<demand>& ctx) : spec_(std::move(s)), ctx_(&ctx) {}

  void on_demand(std::uint64_t n) {
    demand_ += n;
    if (!reading_ && !polling_) read();
  }

 private:
  void read() {
    if (demand_ == 0) return;
    reading_ = true;
    spec_.journal->async_read_by_tag(spec_.tag, spec_.after, std::min(demand_, spec_.page),
                                     on_turn<std::vector<persistent_event>>(
                                         shared_from_this(), ctx_->self(),
                                         [](tag_stream_runner& r, result<std::vector<persistent_event>> evs) {
                                           r.on_page(std::move(evs));
                                         }));
  }

  void on_page(result<std::vector<persistent_event>> evs) {
    reading_ = false;
    if (!evs) throw persistence_failure(troupe::error{evs.error().code(), "events tagged '" + spec_.tag +
                                                                            "' after " + std::to_string(spec_.after) +
                                                                            ": " + evs.error().message()});
    if (evs->empty()) {
      // Caught up: look again later (a call on this actor's own turn, no message of its protocol).
      polling_ = true;
      auto me = shared_from_this();
      troupe::start_turn_timer(*ctx_, "troupe.tag_stream.poll", spec_.poll_interval, [me] {
        me->polling_ = false;
        me->read();
      });
      return;
    }
    spec_.after = evs->back().offset;
    demand_ -= std::min<std::uint64_t>(demand_, evs->size());
    spec_.consumer.tell(tagged_events{std::move(*evs)});
    read();
  }

  tag_stream_spec spec_;
  actor_context<demand>* ctx_;  // the actor's own context: used only on its turn
  std::uint64_t demand_ = 0;
  bool reading_ = false;
  bool polling_ = false;
};

}  // namespace detail

/// The behaviour of a tag stream; its consumer tells it `demand{n}`.
///
///     auto stream = sys.spawn(persistence::tag_stream(spec));
///     stream.tell(persistence::demand{100});   // up to 100 events arrive as tagged_events
inline behavior<demand> tag_stream(tag_stream_spec spec) {
  return troupe::setup<demand>([spec = std::move(spec)](actor_context<demand>& ctx) {
    auto runner = std::make_shared<detail::tag_stream_runner>(spec, ctx);
    return troupe::receive<demand>([runner](const demand& d) {
      runner->on_demand(d.n);
      return troupe::same;
    });
  });
}

}  // namespace troupe::persistence
