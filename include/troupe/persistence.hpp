// persistence.hpp: the persistence layer in one include: event-sourced actors (effects, snapshots,
// upcasters), durable state actors with revisions, the journal and its stores (memory, SQLite,
// PostgreSQL), and events by tag as a demand-driven stream.
// Every public header of include/troupe/persistence/ is here (a test checks it); headers compile
// in any order, so this is a convenience, never a requirement. Link troupe::persistence.
#pragma once

#include "troupe/persistence/durable_state_behavior.hpp"
#include "troupe/persistence/effect.hpp"
#include "troupe/persistence/errc.hpp"
#include "troupe/persistence/event_sourced.hpp"
#include "troupe/persistence/journal.hpp"
#include "troupe/persistence/memory_storage.hpp"
#include "troupe/persistence/postgres_storage.hpp"
#include "troupe/persistence/records.hpp"
#include "troupe/persistence/serial_codec.hpp"
#include "troupe/persistence/sqlite_storage.hpp"
#include "troupe/persistence/storage.hpp"
#include "troupe/persistence/tag_stream.hpp"
#include "troupe/persistence/value_codec.hpp"
