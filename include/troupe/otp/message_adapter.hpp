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
#include "troupe/core/extension.hpp"
#include "troupe/core/protocol.hpp"
#include "troupe/core/ref.hpp"

namespace troupe::otp {

/// A `ref<From>` whose messages reach `ctx`'s actor as `map(From&&)`, a message of its protocol.
/// Make adapters in `setup` and keep them: each call makes a new one.
///
///     using reader_msg = std::variant<got_price, tick>;
///     auto prices = troupe::otp::message_adapter<price>(ctx, [](price p) { return got_price{p.cents}; });
///     feed.tell(subscribe{prices});         // the feed speaks `price`; we receive got_price
template <class From, class P, class F>
  requires accepts<P, std::invoke_result_t<F&, From&&>>
ref<From> message_adapter(actor_context<P>& ctx, F map) {
  // Holds the owner's control block (not the actor) alive, like any ref. The conversion
  // belongs to the owner: if it throws, the owner crashes (let it crash), not the sender that
  // happened to run it.
  return make_function_ref<From>(
      [owner = ctx.self(), map = std::move(map)](From&& m) mutable noexcept {
        try {
          owner.tell(map(std::move(m)));
        } catch (const std::exception& ex) {
          request_stop(owner, {exit_reason::kind::exception, std::string("a message adapter's function threw: ") + ex.what()});
        } catch (...) {
          request_stop(owner, {exit_reason::kind::exception, "a message adapter's function threw"});
        }
      },
      ctx.id());
}

}  // namespace troupe::otp
