-- Scale-out: instances sharing one database (SHARD_INDEX of SHARD_COUNT) number their runs and
-- keep their outbox rows apart; an unsharded run is shard 0.
ALTER TABLE retailgen_runs ADD COLUMN IF NOT EXISTS shard INT NOT NULL DEFAULT 0 CHECK (shard >= 0);
ALTER TABLE retailgen_runs DROP CONSTRAINT IF EXISTS retailgen_runs_pkey;
ALTER TABLE retailgen_runs ADD CONSTRAINT retailgen_runs_pkey PRIMARY KEY (shard, run);

ALTER TABLE retailgen_outbox ADD COLUMN IF NOT EXISTS shard INT NOT NULL DEFAULT 0 CHECK (shard >= 0);
ALTER TABLE retailgen_outbox DROP CONSTRAINT IF EXISTS retailgen_outbox_pkey;
ALTER TABLE retailgen_outbox ADD CONSTRAINT retailgen_outbox_pkey PRIMARY KEY (shard, seq);
