-- The sync engine's memory (DESIGN §2, §4). One row per synced record: its ids on every side (the
-- id map), the base snapshot (the values every side last agreed on, exact JSON text), and the last
-- version seen from each side (older change events are superseded, not re-applied).
CREATE TABLE {schema}.sync_records (
  object text NOT NULL CHECK (object IN ('account', 'deal')),
  record_id text NOT NULL,  -- the canonical id: the record's PRM id
  on_prm boolean NOT NULL DEFAULT false,
  salesforce_id text,
  dynamics_id text,
  base text NOT NULL DEFAULT '{}',
  versions text NOT NULL DEFAULT '{}',
  deleted boolean NOT NULL DEFAULT false,
  updated_at timestamptz NOT NULL DEFAULT now(),
  PRIMARY KEY (object, record_id)
);
CREATE UNIQUE INDEX sync_records_salesforce_id_key ON {schema}.sync_records (object, salesforce_id)
  WHERE salesforce_id IS NOT NULL;
CREATE UNIQUE INDEX sync_records_dynamics_id_key ON {schema}.sync_records (object, dynamics_id)
  WHERE dynamics_id IS NOT NULL;

-- Events whose effect is recorded: a re-delivered event finds itself here and changes nothing.
CREATE TABLE {schema}.applied_events (
  event_id text PRIMARY KEY,
  outcome text NOT NULL,
  applied_at timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX applied_events_applied_at_idx ON {schema}.applied_events (applied_at);

-- Field conflicts under the `manual` policy, waiting for an operator (and resolved ones, kept).
CREATE TABLE {schema}.conflicts (
  id bigserial PRIMARY KEY,
  object text NOT NULL,
  record_id text NOT NULL,
  field text NOT NULL,
  policy text NOT NULL,
  base text,               -- JSON value, NULL when there was no base
  side_values text NOT NULL,  -- JSON object side -> value
  event_id text NOT NULL,
  status text NOT NULL DEFAULT 'open' CHECK (status IN ('open', 'resolved')),
  created_at timestamptz NOT NULL DEFAULT now(),
  resolved_at timestamptz,
  resolution text
);
CREATE UNIQUE INDEX conflicts_open_key ON {schema}.conflicts (object, record_id, field) WHERE status = 'open';

-- Events waiting for a record they refer to (a deal whose account is not mapped yet).
CREATE TABLE {schema}.parked_events (
  id bigserial PRIMARY KEY,
  event_id text NOT NULL UNIQUE,
  object text NOT NULL,
  waiting_for text NOT NULL,  -- "account:<side>:<id on that side>"
  reason text NOT NULL,
  event text NOT NULL,        -- the canonical event JSON
  parked_at timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX parked_events_waiting_for_idx ON {schema}.parked_events (waiting_for);

-- The delete guard: deletes applied per source (the window count), and deletes held for an operator.
CREATE TABLE {schema}.recent_deletes (
  source text NOT NULL,
  applied_at timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX recent_deletes_source_idx ON {schema}.recent_deletes (source, applied_at);
CREATE TABLE {schema}.held_deletes (
  id bigserial PRIMARY KEY,
  event_id text NOT NULL UNIQUE,
  source text NOT NULL,
  object text NOT NULL,
  record_id text NOT NULL,
  event text NOT NULL,
  status text NOT NULL DEFAULT 'held' CHECK (status IN ('held', 'approved', 'discarded')),
  held_at timestamptz NOT NULL DEFAULT now(),
  decided_at timestamptz,
  decided_by text
);
