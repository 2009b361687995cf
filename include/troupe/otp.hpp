// otp.hpp: the otp layer in one include: supervisors, servers, state machines, event managers,
// stashes, coroutine actors, process groups, routers, pools and the interaction patterns.
// Every public header of include/troupe/otp/ is here (a test checks it); headers compile in any
// order, so this is a convenience, never a requirement. Link troupe::otp.
#pragma once

#include "troupe/otp/aggregator.hpp"
#include "troupe/otp/application.hpp"
#include "troupe/otp/backoff_supervisor.hpp"
#include "troupe/otp/call.hpp"
#include "troupe/otp/child_spec.hpp"
#include "troupe/otp/circuit_breaker.hpp"
#include "troupe/otp/coroutine.hpp"
#include "troupe/otp/coroutine_actor.hpp"
#include "troupe/otp/errc.hpp"
#include "troupe/otp/event_manager.hpp"
#include "troupe/otp/event_stream.hpp"
#include "troupe/otp/flow_control.hpp"
#include "troupe/otp/ignore_ref.hpp"
#include "troupe/otp/message_adapter.hpp"
#include "troupe/otp/pipe_to_self.hpp"
#include "troupe/otp/process_groups.hpp"
#include "troupe/otp/receive_pattern.hpp"
#include "troupe/otp/receptionist.hpp"
#include "troupe/otp/router.hpp"
#include "troupe/otp/routing.hpp"
#include "troupe/otp/server.hpp"
#include "troupe/otp/stash.hpp"
#include "troupe/otp/state_machine.hpp"
#include "troupe/otp/stop_signals.hpp"
#include "troupe/otp/supervise.hpp"
#include "troupe/otp/supervisor.hpp"
#include "troupe/otp/tail_chopping.hpp"
#include "troupe/otp/worker_pool.hpp"
