-- The secret store (DESIGN §5): every version of every secret, encrypted (state/secret_crypto.h).
-- Stages: pending (staged, being tested) → current (in use) → previous (still accepted until
-- usable_until, the grace window) → destroyed (ciphertext and keys erased, row kept as history).
CREATE TABLE {schema}.secret_versions (
  name text NOT NULL CHECK (name ~ '^[a-z0-9][a-z0-9._-]{0,127}$'),
  version integer NOT NULL CHECK (version > 0),
  stage text NOT NULL CHECK (stage IN ('pending', 'current', 'previous', 'destroyed')),
  master_key_id text,
  wrapped_key bytea,
  wrap_nonce bytea,
  ciphertext bytea,
  nonce bytea,
  created_at timestamptz NOT NULL DEFAULT now(),
  created_by text NOT NULL,
  stage_changed_at timestamptz NOT NULL DEFAULT now(),
  usable_until timestamptz,
  PRIMARY KEY (name, version),
  CHECK ((stage = 'destroyed') = (ciphertext IS NULL)),
  CHECK ((stage = 'destroyed') = (wrapped_key IS NULL))
);
CREATE UNIQUE INDEX secret_versions_one_current ON {schema}.secret_versions (name) WHERE stage = 'current';
CREATE UNIQUE INDEX secret_versions_one_pending ON {schema}.secret_versions (name) WHERE stage = 'pending';

-- Who did what to which secret version; never a value. (The tamper-evident sync journal takes
-- these entries over when it exists.)
CREATE TABLE {schema}.secret_audit (
  id bigserial PRIMARY KEY,
  at timestamptz NOT NULL DEFAULT now(),
  operator text NOT NULL,
  action text NOT NULL,
  name text NOT NULL,
  version integer,
  from_stage text,
  to_stage text,
  detail text
);
