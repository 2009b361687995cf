// sqlite_schema.hpp: the tables of troupe's SQLite journal, in one place: sqlite_storage.cpp
// creates them, and bench/persist_floor.cpp (the plain loop it is measured against) inserts
// into the same ones, so that the two cannot drift apart. Private to the persistence layer.
#pragma once

namespace troupe::persistence::detail {

// Why this layout (measured in ../shared/peers/persistence and with callgrind, bench/persist.md):
// rows are appended under `ordering` (the rowid, which is also the offset that events by tag page
// on), because 100 actors inserting at once into anything keyed by (persistence id, sequence
// number) land each row in another page of the b-tree: a unique index on those two columns cost
// about 4,800 of the 10,450 instructions a row took (layout 1, before 2026-12-07). So the
// (id, sequence) lookup is by runs instead: troupe_events_by_id holds one row per run of an id's
// events whose sequence numbers and offsets both go up by one (a write groups each id's events
// of a batch into one such run), and an event's offset is first_ordering + (sequence_nr -
// first_seq). Its key (persistence_id, first_seq) is one entry per id per batch, not per event.
// Two writers of one id cannot both win: every write checks the id's highest sequence number
// inside its write transaction (BEGIN IMMEDIATE holds the file's write lock), looking it up again
// whenever another connection has committed since (PRAGMA data_version); the key refuses two runs
// that start at one number besides.
// Offsets are handed out by the writer above the larger of max(ordering) and the newest ordering
// ever deleted (troupe_deleted_offset), never by SQLite: its rowid is max(rowid) + 1, so once the
// newest events were deleted a new event would take an offset a read model had already passed.
// (AUTOINCREMENT would also do, but updates sqlite_sequence once per statement and cannot be
// added to the table of a file written by an earlier version.)
//
// The name troupe_events_by_id was an index in layout 1 (a unique index on (persistence_id,
// sequence_nr)). A file of layout 1 is converted when opened (each event its own run). An older
// troupe opening a file of layout 2 fails, since its CREATE UNIQUE INDEX troupe_events_by_id meets
// this table: "there is already a table named troupe_events_by_id".
inline constexpr const char* sqlite_event_tables = R"sql(
CREATE TABLE IF NOT EXISTS troupe_events(
  ordering INTEGER PRIMARY KEY,
  persistence_id TEXT NOT NULL,
  sequence_nr INTEGER NOT NULL,
  manifest TEXT NOT NULL,
  version INTEGER NOT NULL,
  tags TEXT NOT NULL,
  payload BLOB NOT NULL);
CREATE TABLE IF NOT EXISTS troupe_events_by_id(
  persistence_id TEXT NOT NULL,
  first_seq INTEGER NOT NULL,
  last_seq INTEGER NOT NULL,
  first_ordering INTEGER NOT NULL,
  PRIMARY KEY(persistence_id, first_seq)) WITHOUT ROWID;
)sql";

// The rest of the journal's tables; none of them is written per event without tags.
inline constexpr const char* sqlite_other_tables = R"sql(
CREATE TABLE IF NOT EXISTS troupe_event_tags(
  tag TEXT NOT NULL, ordering INTEGER NOT NULL, PRIMARY KEY(tag, ordering)) WITHOUT ROWID;
CREATE TABLE IF NOT EXISTS troupe_deleted(
  persistence_id TEXT PRIMARY KEY, highest INTEGER NOT NULL) WITHOUT ROWID;
CREATE TABLE IF NOT EXISTS troupe_deleted_offset(
  id INTEGER PRIMARY KEY CHECK (id = 1), highest INTEGER NOT NULL);
CREATE TABLE IF NOT EXISTS troupe_snapshots(
  persistence_id TEXT NOT NULL, sequence_nr INTEGER NOT NULL, manifest TEXT NOT NULL,
  version INTEGER NOT NULL, payload BLOB NOT NULL,
  PRIMARY KEY(persistence_id, sequence_nr)) WITHOUT ROWID;
CREATE TABLE IF NOT EXISTS troupe_durable_state(
  persistence_id TEXT PRIMARY KEY, revision INTEGER NOT NULL, manifest TEXT NOT NULL,
  version INTEGER NOT NULL, payload BLOB NOT NULL) WITHOUT ROWID;
)sql";

// Layout 1 to 2, the last step (after dropping the index and creating the event tables, in one
// write transaction): each stored event becomes a run of its own, correct at once.
inline constexpr const char* sqlite_fill_runs_from_layout_1 = R"sql(
INSERT INTO troupe_events_by_id(persistence_id, first_seq, last_seq, first_ordering)
  SELECT persistence_id, sequence_nr, sequence_nr, ordering FROM troupe_events ORDER BY persistence_id, sequence_nr;
)sql";

}  // namespace troupe::persistence::detail
