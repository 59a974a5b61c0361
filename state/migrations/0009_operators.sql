-- Operators' decisions on dead letters (`crmsync dead-letters retry|discard`). A dead letter is
-- named by its place on the dead-letter topic, "<partition>:<offset>"; its event id is kept too so
-- that a decision never hides a different letter if the topic were ever re-created.
CREATE TABLE {schema}.dead_letter_decisions (
  topic text NOT NULL,
  dead_letter_id text NOT NULL,
  event_id text NOT NULL DEFAULT '',
  decision text NOT NULL CHECK (decision IN ('retried', 'discarded')),
  decided_by text NOT NULL,
  decided_at timestamptz NOT NULL DEFAULT now(),
  note text NOT NULL DEFAULT '',
  PRIMARY KEY (topic, dead_letter_id)
);

-- What each running `crmsync run` last said about itself, every few seconds (`crmsync status`
-- works from any host, and tells "not running" from a stale or stopped row).
CREATE TABLE {schema}.daemon_heartbeats (
  instance_id text PRIMARY KEY,
  host text NOT NULL,
  pid integer NOT NULL,
  version text NOT NULL,
  started_at timestamptz NOT NULL,
  beat_at timestamptz NOT NULL DEFAULT now(),
  stopped_at timestamptz,
  ready boolean NOT NULL DEFAULT false,
  pipelines text NOT NULL DEFAULT '{}',  -- JSON object: pipeline -> "running" | "failed"
  last_error text,                       -- one line, no secrets, no record data
  last_error_at timestamptz
);
