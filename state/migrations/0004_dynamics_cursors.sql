-- Where the Dataverse change capture stands: one delta link per environment and entity set
-- (crm-apis.md B.6). A row is written only after Kafka acknowledged every event read up to that
-- link, so a crash re-reads (same event ids) and never skips. Re-baselines (an expired or unknown
-- delta token) are counted and their reason kept for operators.
CREATE TABLE {schema}.dynamics_capture (
  org text NOT NULL,
  entity_set text NOT NULL,
  delta_link text NOT NULL,
  baseline_completed_at timestamptz NOT NULL DEFAULT now(),
  rebaseline_count integer NOT NULL DEFAULT 0,
  last_rebaseline_reason text,
  last_rebaseline_at timestamptz,
  updated_at timestamptz NOT NULL DEFAULT now(),
  PRIMARY KEY (org, entity_set)
);
