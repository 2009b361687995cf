// message_adapter.hpp: a ref of another protocol whose messages arrive as messages of mine.
// An actor that talks to services speaking other protocols (their replies, their events) makes
// an adapter per foreign protocol: each message sent to the adapter is converted by a function
// and put in the owner's mailbox, as if sent to the owner directly (Akka's messageAdapter).
// The adapter may be used from any thread; the conversion runs on the sender's thread, so it
// must be a pure function of the message. Once the owner stops, what reaches the adapter goes
// to dead letters, as messages to the owner would. No allocation per message beyond the
// converted message's own envelope.
#pragma once

#include <exception>
#include <string>
#include <type_traits>
#include <utility>

#include "troupe/core/actor_context.hpp"
#include "troupe/core/detail/endpoint.hpp"
#include "troupe/core/detail/envelope.hpp"
#include "troupe/core/protocol.hpp"
#include "troupe/core/ref.hpp"

namespace troupe::otp {

namespace detail {

// Converts each envelope of From into one of To and pushes it into the owner's mailbox. Holds
// the owner's control block (not the actor) alive, like any ref.
template <class From, class To, class F>
class adapter_endpoint final : public troupe::detail::endpoint {
 public:
  adapter_endpoint(troupe::detail::counted<troupe::detail::endpoint> owner, F map)
      : owner_(std::move(owner)), map_(std::move(map)) {}

  void enqueue(troupe::detail::envelope* e) noexcept override {
    auto* in = static_cast<troupe::detail::user_envelope<From>*>(e);
    troupe::detail::envelope* out = nullptr;
    try {
      out = troupe::detail::make_user_envelope<To>(map_(std::move(in->msg)));
    } catch (const std::exception& ex) {
      crash_owner(std::string("a message adapter's function threw: ") + ex.what());
    } catch (...) {
      crash_owner("a message adapter's function threw");
    }
    troupe::detail::pool_delete(in);
    if (out != nullptr) owner_->enqueue(out);
  }
  actor_id id() const noexcept override { return owner_->id(); }

 private:
  // The conversion belongs to the owner: if it throws, the owner crashes (let it crash), not
  // the sender that happened to run it.
  void crash_owner(std::string text) noexcept {
    try {
      if (auto* c = owner_->as_cell()) c->request_stop(exit_reason{exit_reason::kind::exception, std::move(text)});
    } catch (...) {
      // Out of memory while reporting: the message is lost, the owner lives on.
    }
  }
  void unreferenced() noexcept override { delete this; }

  troupe::detail::counted<troupe::detail::endpoint> owner_;
  F map_;
};

}  // namespace detail

/// A `ref<From>` whose messages reach `ctx`'s actor as `map(From&&)`, a message of its protocol.
/// Make adapters in `setup` and keep them: each call makes a new one.
///
///     using reader_msg = std::variant<got_price, tick>;
///     auto prices = troupe::otp::message_adapter<price>(ctx, [](price p) { return got_price{p.cents}; });
///     feed.tell(subscribe{prices});         // the feed speaks `price`; we receive got_price
template <class From, class P, class F>
  requires accepts<P, std::invoke_result_t<F&, From&&>>
ref<From> message_adapter(actor_context<P>& ctx, F map) {
  using endpoint_type = detail::adapter_endpoint<From, P, std::decay_t<F>>;
  auto owner = troupe::detail::ref_access::endpoint_of(ctx.self());
  return troupe::detail::ref_access::make<From>(
      troupe::detail::counted<troupe::detail::endpoint>::adopt(new endpoint_type(owner, std::move(map))));
}

}  // namespace troupe::otp
