-- Where the PRM capture stands: one row per replication slot. The slot itself holds the stream
-- position (confirmed_flush_lsn); this row remembers that the slot existed, so that a slot that
-- vanished (dropped, or lost in a failover) is detected instead of silently starting from "now".
CREATE TABLE {schema}.prm_capture (
  slot_name text PRIMARY KEY,
  system_id text NOT NULL,
  publication text NOT NULL,
  slot_created_at timestamptz NOT NULL DEFAULT now(),
  creation_reason text NOT NULL CHECK (creation_reason IN ('initial', 'slot_lost', 'snapshot_interrupted')),
  consistent_point pg_lsn NOT NULL,
  snapshot_completed_at timestamptz,
  confirmed_lsn pg_lsn,
  updated_at timestamptz NOT NULL DEFAULT now()
);
