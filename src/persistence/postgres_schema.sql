-- The tables of troupe's PostgreSQL journal, layout 2. postgres_storage::open runs this on first
-- use (every statement is IF NOT EXISTS) and converts a schema of layout 1 first; a DBA may run it
-- beforehand instead:
--   psql "$CONNINFO" -f src/persistence/postgres_schema.sql
-- Events are appended under `ordering` (the offset read models page on). Writers take a
-- transaction-level advisory lock, so orderings become visible in increasing order and a read
-- model paging by offset never skips an event that commits late.
-- Events have no index by (persistence_id, sequence_nr): a unique index on those two columns took
-- about two thirds of a batch's time (bench/persist.md). An id's events are found through
-- troupe_events_by_id instead, one row per run of its events whose sequence numbers and orderings
-- both go up by one (a write puts each id's events of a batch in one run): an event's ordering is
-- first_ordering + (sequence_nr - first_seq). A writer checks each id's highest sequence number
-- under the lock, and the key (persistence_id, first_seq) makes two writers that both append after
-- one number conflict instead of both winning, even one that skips the lock.
CREATE TABLE IF NOT EXISTS troupe_events(
  ordering BIGSERIAL PRIMARY KEY,
  persistence_id TEXT NOT NULL,
  sequence_nr BIGINT NOT NULL,
  manifest TEXT NOT NULL,
  version INTEGER NOT NULL,
  tags TEXT NOT NULL,          -- tags joined by U+001F; troupe_event_tags indexes them
  payload BYTEA NOT NULL);
CREATE TABLE IF NOT EXISTS troupe_events_by_id(
  persistence_id TEXT NOT NULL,
  first_seq BIGINT NOT NULL,
  last_seq BIGINT NOT NULL,
  first_ordering BIGINT NOT NULL,
  PRIMARY KEY (persistence_id, first_seq));
CREATE TABLE IF NOT EXISTS troupe_event_tags(
  tag TEXT NOT NULL,
  ordering BIGINT NOT NULL,
  PRIMARY KEY (tag, ordering));
CREATE TABLE IF NOT EXISTS troupe_deleted(
  persistence_id TEXT PRIMARY KEY,
  highest_seq BIGINT NOT NULL);  -- `highest` in layout 1: renamed so that older troupes fail to open it
CREATE TABLE IF NOT EXISTS troupe_snapshots(
  persistence_id TEXT NOT NULL,
  sequence_nr BIGINT NOT NULL,
  manifest TEXT NOT NULL,
  version INTEGER NOT NULL,
  payload BYTEA NOT NULL,
  PRIMARY KEY (persistence_id, sequence_nr));
CREATE TABLE IF NOT EXISTS troupe_durable_state(
  persistence_id TEXT PRIMARY KEY,
  revision BIGINT NOT NULL,
  manifest TEXT NOT NULL,
  version INTEGER NOT NULL,
  payload BYTEA NOT NULL);
