// troupe.hpp: everything a user of troupe's core needs, in one include.
#pragma once

#include "troupe/core/actor.hpp"
#include "troupe/core/actor_context.hpp"
#include "troupe/core/actor_id.hpp"
#include "troupe/core/behavior.hpp"
#include "troupe/core/exit_reason.hpp"
#include "troupe/core/mailbox.hpp"
#include "troupe/core/protocol.hpp"
#include "troupe/core/ref.hpp"
#include "troupe/core/result.hpp"
#include "troupe/core/signals.hpp"
#include "troupe/core/system.hpp"
#include "troupe/core/system_config.hpp"
