-- Permission-aware sync (DESIGN §3). Each synced record remembers its sharing as every side last
-- agreed on it (owner org, owner user, grants: canonical JSON, like `base`), and a counter that moves
-- whenever that sharing changes: the sharing sweep reads a CRM against one version of it and the
-- engine refuses the sweep's finding if the version moved meanwhile (a sweep that raced a write
-- must not undo it).
-- `side_sharing` holds, per CRM, the owner and shares crmsync last wrote or saw there (in that
-- CRM's principals): the sweep reports only differences from it, so a grant a CRM never held is
-- never mistaken for one revoked there.
ALTER TABLE {schema}.sync_records
  ADD COLUMN sharing text NOT NULL DEFAULT '{}',
  ADD COLUMN sharing_version bigint NOT NULL DEFAULT 0,
  ADD COLUMN side_sharing text NOT NULL DEFAULT '{}';

-- PRM changes denied by the inbound authorization (also in the journal, as `denied`): for
-- `crmsync status` and the anomaly flags without scanning the journal.
CREATE TABLE {schema}.denied_changes (
  id bigserial PRIMARY KEY,
  event_id text NOT NULL,
  object text NOT NULL,
  record_id text NOT NULL,
  actor text NOT NULL,
  partner_org text,
  scope text NOT NULL CHECK (scope IN ('record', 'fields', 'sharing')),
  reason text NOT NULL,
  denied_at timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX denied_changes_denied_at_idx ON {schema}.denied_changes (denied_at);
CREATE INDEX denied_changes_partner_org_idx ON {schema}.denied_changes (partner_org, denied_at);

-- Partner orgs flagged by the anomaly checks (change rate, denied changes): for `crmsync status`.
CREATE TABLE {schema}.partner_flags (
  id bigserial PRIMARY KEY,
  partner_org text NOT NULL,
  reason text NOT NULL CHECK (reason IN ('change_rate', 'denied_changes')),
  value bigint NOT NULL,
  threshold bigint NOT NULL,
  flagged_at timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX partner_flags_flagged_at_idx ON {schema}.partner_flags (flagged_at);
