-- retailgen's own bookkeeping for the canonical-store contract (not reference data).

-- Every start of `retailgen run` against this database: the run number becomes part of the id
-- space, so a restart never reuses an id an earlier run published.
CREATE TABLE IF NOT EXISTS retailgen_runs (
  run        INT PRIMARY KEY CHECK (run >= 0),
  seed       BIGINT NOT NULL,
  started_at TIMESTAMPTZ NOT NULL DEFAULT now(),
  version    TEXT NOT NULL
);

-- Transactional outbox: records committed together with the effects they report, removed by
-- the relay only after the broker acknowledged them; published first at the next start.
CREATE TABLE IF NOT EXISTS retailgen_outbox (
  seq        BIGINT PRIMARY KEY,
  topic      TEXT NOT NULL,
  record_key TEXT NOT NULL,
  headers    BYTEA NOT NULL,
  value      BYTEA NOT NULL,
  ts         BIGINT NOT NULL,
  schema_id  INT NOT NULL
);

-- The stock each warehouse_inventory row last reported on inventory-changes: a row that differs
-- at start was changed by someone else, and is reported as an ADJUSTMENT before anything else.
CREATE TABLE IF NOT EXISTS retailgen_stock_reported (
  warehouse_id TEXT NOT NULL,
  product_id   TEXT NOT NULL,
  qty          INT NOT NULL,
  PRIMARY KEY (warehouse_id, product_id)
);

-- How far the Kafka-canonical mirror has applied the inventory topic, per partition.
CREATE TABLE IF NOT EXISTS retailgen_mirror_offsets (
  topic       TEXT NOT NULL,
  partition   INT NOT NULL,
  next_offset BIGINT NOT NULL,
  updated_at  TIMESTAMPTZ NOT NULL DEFAULT now(),
  PRIMARY KEY (topic, partition)
);
