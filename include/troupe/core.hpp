// core.hpp: the core layer in one include: systems, actors, behaviours, typed refs, tell and ask,
// signals, mailboxes, and the seams (scheduler, timer service, observer) other layers plug into.
// Every public header of include/troupe/core/ is here (a test checks it), so a user need not know
// which concept lives where. troupe/troupe.hpp, the older name, includes this. Headers under
// core/detail/ are not public API and come in only through the headers that need them.
#pragma once

#include "troupe/core/actor.hpp"
#include "troupe/core/actor_context.hpp"
#include "troupe/core/actor_id.hpp"
#include "troupe/core/actor_observer.hpp"
#include "troupe/core/any_ref.hpp"
#include "troupe/core/behavior.hpp"
#include "troupe/core/exit_reason.hpp"
#include "troupe/core/extension.hpp"
#include "troupe/core/log.hpp"
#include "troupe/core/mailbox.hpp"
#include "troupe/core/protocol.hpp"
#include "troupe/core/ref.hpp"
#include "troupe/core/result.hpp"
#include "troupe/core/scheduler.hpp"
#include "troupe/core/signals.hpp"
#include "troupe/core/spin_mutex.hpp"
#include "troupe/core/system.hpp"
#include "troupe/core/system_config.hpp"
#include "troupe/core/timeout.hpp"
#include "troupe/core/timer_service.hpp"
