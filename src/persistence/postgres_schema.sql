-- The tables of troupe's PostgreSQL journal. postgres_storage::open runs this on first use
-- (every statement is IF NOT EXISTS); a DBA may run it beforehand instead:
--   psql "$CONNINFO" -f src/persistence/postgres_schema.sql
-- Events are appended under `ordering` (the offset read models page on). Writers take a
-- transaction-level advisory lock, so orderings become visible in increasing order and a read
-- model paging by offset never skips an event that commits late. The unique key on
-- (persistence_id, sequence_nr) makes two writers of one id conflict instead of both winning.
CREATE TABLE IF NOT EXISTS troupe_events(
  ordering BIGSERIAL PRIMARY KEY,
  persistence_id TEXT NOT NULL,
  sequence_nr BIGINT NOT NULL,
  manifest TEXT NOT NULL,
  version INTEGER NOT NULL,
  tags TEXT NOT NULL,          -- tags joined by U+001F; troupe_event_tags indexes them
  payload BYTEA NOT NULL,
  UNIQUE (persistence_id, sequence_nr));
CREATE TABLE IF NOT EXISTS troupe_event_tags(
  tag TEXT NOT NULL,
  ordering BIGINT NOT NULL,
  PRIMARY KEY (tag, ordering));
CREATE TABLE IF NOT EXISTS troupe_deleted(
  persistence_id TEXT PRIMARY KEY,
  highest BIGINT NOT NULL);
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
