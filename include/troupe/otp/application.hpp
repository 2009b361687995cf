// application.hpp: a supervision tree started from a spec, stopped in order, and tied to the
// life of the system (OTP's application). A plain thread (usually main) starts it and blocks
// in run() until the tree ends; a permanent application's end then shuts the system down, which
// an actor could not do itself (system::shutdown waits for every actor, its caller included).
// Any thread may call stop(); run() and stop() must not be called from inside an actor.
#pragma once

#include <chrono>
#include <condition_variable>
#include <memory>
#include <mutex>
#include <optional>
#include <string>

#include "troupe/core/exit_reason.hpp"
#include "troupe/core/ref.hpp"
#include "troupe/core/system.hpp"
#include "troupe/otp/supervisor.hpp"

namespace troupe::otp {

/// What the end of an application means for the system (OTP's application restart types).
enum class application_type {
  permanent,  ///< any end of the tree shuts the system down
  transient,  ///< a failed end shuts the system down; a normal one does not
  temporary,  ///< the end is only reported
};

/// An application: a name, a root supervisor and a type.
struct application_spec {
  std::string name{};
  supervisor_spec root{};
  application_type type = application_type::permanent;
};

/// A running application. Ending it with stop() never shuts the system down (as in OTP,
/// stopping an application on purpose is not a failure); the tree ending on its own does, as
/// its type says, once run() sees it.
///
///     troupe::system sys;
///     otp::application shop(sys, {.name = "shop", .root = shop_tree()});
///     troupe::exit_reason why = shop.run();   // blocks; a permanent app's end stops sys
class application {
 public:
  /// Starts the root supervisor, registered under `spec.name` (an empty name registers none),
  /// and returns once it has started its children, so they are registered and reachable (as
  /// OTP's application:start returns after init). If the root failed to start them, run()
  /// returns that failure at once. @throws usage_error if the system is stopping or the name
  /// is taken.
  application(system& sys, application_spec spec);
  application(const application&) = delete;
  application& operator=(const application&) = delete;
  /// Stops the tree in order if it still runs, and waits for it.
  ~application();

  /// The root supervisor.
  const ref<supervisor_msg>& root() const noexcept { return root_; }
  const std::string& name() const noexcept { return name_; }

  /// Blocks until the tree ends, then shuts the system down if the type says so; returns why
  /// the root supervisor stopped.
  exit_reason run();
  /// As run(), but gives up after `timeout` (returning nothing and leaving the system alone).
  std::optional<exit_reason> run_for(std::chrono::nanoseconds timeout);
  /// Stops every child of the root in reverse start order, then the root; returns its reason.
  exit_reason stop();

  /// Why the tree ended, once it has; shared with the actor that watches the root.
  struct outcome {
    std::mutex mu;
    std::condition_variable cv;
    std::optional<exit_reason> reason;  // guarded by mu
    void set(exit_reason r);
  };

 private:
  exit_reason finish(exit_reason r);

  system* sys_;
  std::string name_;
  application_type type_;
  std::shared_ptr<outcome> outcome_;
  ref<supervisor_msg> root_;
  bool stop_requested_ = false;  // the owning thread's
};

}  // namespace troupe::otp
