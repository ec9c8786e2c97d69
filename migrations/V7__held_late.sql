-- Late records held back (LATE_MODE=delay) in Postgres-canonical mode: written in the same
-- transaction as the effect they report, removed in the one that writes their outbox row when
-- they come due; a restart after a crash moves what is left into the outbox, so none is lost.
CREATE TABLE IF NOT EXISTS retailgen_held (
  shard      INT NOT NULL CHECK (shard >= 0),
  id         BIGINT NOT NULL,
  topic      TEXT NOT NULL,
  record_key TEXT NOT NULL,
  headers    BYTEA NOT NULL,
  value      BYTEA NOT NULL,
  ts         BIGINT NOT NULL,
  schema_id  INT NOT NULL,
  PRIMARY KEY (shard, id)
);
