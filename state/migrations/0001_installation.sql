-- Who this state database belongs to: one row, created with the schema, whose id tells operators
-- (and later the journal) which installation wrote what.
CREATE TABLE {schema}.installation (
  singleton boolean PRIMARY KEY DEFAULT true CHECK (singleton),
  installation_id uuid NOT NULL DEFAULT gen_random_uuid(),
  created_at timestamptz NOT NULL DEFAULT now()
);
INSERT INTO {schema}.installation DEFAULT VALUES;
