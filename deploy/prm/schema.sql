-- deploy/prm/schema.sql — the reference PRM (partner portal) schema that crmsync syncs, with
-- forced row-level security for the portal role. Documented in docs/prm-schema.md.
--
-- Apply as a superuser to the `prm` database (deploy/dev/services start does this):
--   psql -X -q -v ON_ERROR_STOP=1 -f deploy/prm/schema.sql postgresql://postgres@127.0.0.1:55432/prm
--
-- Idempotent by a version marker (the comment on schema prm). One transaction, under an advisory
-- lock:
--   * marker equals prm_schema_version below  → nothing changes (data kept), prints "current";
--   * no schema prm                           → creates everything, prints "created";
--   * schema prm with another marker          → DROPS schema prm (ALL PRM DATA) and the
--     publication, recreates both, prints "recreated". This is a dev/demo reference schema; a
--     customer maps their own tables instead (docs/prm-schema.md) and never runs this file.
-- BUMP prm_schema_version WITH EVERY CHANGE TO THIS FILE, or existing databases keep the old one.
--
-- Cluster-wide side effects (idempotent, kept on recreate): roles prm_portal, prm_portal_app and
-- crmsync_prm; EXECUTE on pg_logical_emit_message revoked from PUBLIC in this database.

\set ON_ERROR_STOP on
\set prm_schema_version 3

SET client_min_messages = warning;
BEGIN;
SELECT pg_advisory_xact_lock(hashtext('crmsync.prm.schema')) AS prm_locked \gset

SELECT 'crmsync reference PRM schema, version ' || :'prm_schema_version' AS prm_marker \gset
SELECT coalesce((SELECT obj_description(oid, 'pg_namespace') = :'prm_marker'
                   FROM pg_namespace WHERE nspname = 'prm'), false) AS prm_current,
       EXISTS (SELECT FROM pg_namespace WHERE nspname = 'prm') AS prm_exists \gset

\if :prm_current
\echo prm schema version :prm_schema_version current (nothing changed)
COMMIT;
\quit
\endif

-- ===================================== roles (cluster-wide) ===================================
DO $roles$
BEGIN
  IF NOT EXISTS (SELECT FROM pg_roles WHERE rolname = 'prm_portal') THEN
    CREATE ROLE prm_portal NOLOGIN;
  END IF;
  IF NOT EXISTS (SELECT FROM pg_roles WHERE rolname = 'prm_portal_app') THEN
    CREATE ROLE prm_portal_app LOGIN;
  END IF;
  IF NOT EXISTS (SELECT FROM pg_roles WHERE rolname = 'crmsync_prm') THEN
    CREATE ROLE crmsync_prm LOGIN;
  END IF;
END
$roles$;
-- Attributes are re-asserted on every apply, so a hand-edited role is put back.
ALTER ROLE prm_portal NOLOGIN NOSUPERUSER NOCREATEDB NOCREATEROLE NOREPLICATION NOBYPASSRLS;
ALTER ROLE prm_portal_app LOGIN INHERIT NOSUPERUSER NOCREATEDB NOCREATEROLE NOREPLICATION NOBYPASSRLS;
ALTER ROLE crmsync_prm LOGIN REPLICATION BYPASSRLS NOSUPERUSER NOCREATEDB NOCREATEROLE;
GRANT prm_portal TO prm_portal_app;
GRANT CONNECT ON DATABASE :"DBNAME" TO prm_portal, crmsync_prm;

-- A transactional logical message with prefix 'crmsync.origin' makes the capture skip the whole
-- transaction (echo suppression, DESIGN §2). Anyone who may emit one could hide a write from the
-- sync, so in this database only the daemon may.
REVOKE EXECUTE ON FUNCTION pg_catalog.pg_logical_emit_message(boolean, text, text) FROM PUBLIC;
REVOKE EXECUTE ON FUNCTION pg_catalog.pg_logical_emit_message(boolean, text, bytea) FROM PUBLIC;
GRANT EXECUTE ON FUNCTION pg_catalog.pg_logical_emit_message(boolean, text, text) TO crmsync_prm;
GRANT EXECUTE ON FUNCTION pg_catalog.pg_logical_emit_message(boolean, text, bytea) TO crmsync_prm;

-- ===================================== schema and tables ======================================
\if :prm_exists
\echo prm schema: replacing an older version (dropping schema prm and publication crmsync_prm)
\endif
DROP PUBLICATION IF EXISTS crmsync_prm;
DROP SCHEMA IF EXISTS prm CASCADE;
CREATE SCHEMA prm;
REVOKE ALL ON SCHEMA prm FROM PUBLIC;

CREATE TABLE prm.partner_orgs (
  id         uuid PRIMARY KEY DEFAULT gen_random_uuid(),
  name       text NOT NULL,
  tier       text NOT NULL CONSTRAINT partner_orgs_tier_check
               CHECK (tier IN ('registered', 'silver', 'gold', 'platinum')),
  active     boolean NOT NULL DEFAULT true,
  created_at timestamptz NOT NULL DEFAULT now(),
  updated_at timestamptz NOT NULL DEFAULT now()
);

CREATE TABLE prm.partner_users (
  id             uuid PRIMARY KEY DEFAULT gen_random_uuid(),
  partner_org_id uuid NOT NULL REFERENCES prm.partner_orgs (id),
  email          text NOT NULL CONSTRAINT partner_users_email_key UNIQUE,
  display_name   text,
  active         boolean NOT NULL DEFAULT true,
  created_at     timestamptz NOT NULL DEFAULT now(),
  updated_at     timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX partner_users_partner_org_id_idx ON prm.partner_users (partner_org_id);

CREATE TABLE prm.accounts (
  id                    uuid PRIMARY KEY DEFAULT gen_random_uuid(),
  name                  text NOT NULL,
  website               text,
  industry              text,
  billing_country       text,
  owner_partner_org_id  uuid REFERENCES prm.partner_orgs (id),
  owner_partner_user_id uuid REFERENCES prm.partner_users (id) ON DELETE SET NULL,
  modified_by_kind      text NOT NULL CONSTRAINT accounts_modified_by_kind_check
                          CHECK (modified_by_kind IN ('partner_user', 'internal_user', 'integration')),
  modified_by_id        text,
  created_at            timestamptz NOT NULL DEFAULT now(),
  updated_at            timestamptz NOT NULL DEFAULT now(),
  row_version           bigint NOT NULL DEFAULT 1
);
CREATE INDEX accounts_owner_partner_org_id_idx ON prm.accounts (owner_partner_org_id);
CREATE INDEX accounts_owner_partner_user_id_idx ON prm.accounts (owner_partner_user_id);

CREATE TABLE prm.deals (
  id                    uuid PRIMARY KEY DEFAULT gen_random_uuid(),
  account_id            uuid NOT NULL REFERENCES prm.accounts (id),
  name                  text NOT NULL,
  amount                numeric(18, 2),
  currency              char(3),
  stage                 text NOT NULL,
  close_date            date,
  registration_status   text NOT NULL DEFAULT 'draft' CONSTRAINT deals_registration_status_check
                          CHECK (registration_status IN ('draft', 'submitted', 'approved', 'rejected', 'expired')),
  discount_percent      numeric(5, 2),
  description           text,
  owner_partner_org_id  uuid REFERENCES prm.partner_orgs (id),
  owner_partner_user_id uuid REFERENCES prm.partner_users (id) ON DELETE SET NULL,
  modified_by_kind      text NOT NULL CONSTRAINT deals_modified_by_kind_check
                          CHECK (modified_by_kind IN ('partner_user', 'internal_user', 'integration')),
  modified_by_id        text,
  created_at            timestamptz NOT NULL DEFAULT now(),
  updated_at            timestamptz NOT NULL DEFAULT now(),
  row_version           bigint NOT NULL DEFAULT 1
);
CREATE INDEX deals_account_id_idx ON prm.deals (account_id);
CREATE INDEX deals_owner_partner_org_id_idx ON prm.deals (owner_partner_org_id);
CREATE INDEX deals_owner_partner_user_id_idx ON prm.deals (owner_partner_user_id);

-- record_id points at prm.accounts or prm.deals depending on object_type, and principal_id at
-- prm.partner_orgs or prm.partner_users depending on principal_type: no foreign key can say that,
-- so the deferred constraint trigger shares_references_exist checks it at commit and the
-- AFTER DELETE triggers on the four referenced tables delete the dependent share rows.
CREATE TABLE prm.shares (
  object_type    text NOT NULL CONSTRAINT shares_object_type_check
                   CHECK (object_type IN ('account', 'deal')),
  record_id      uuid NOT NULL,
  principal_type text NOT NULL CONSTRAINT shares_principal_type_check
                   CHECK (principal_type IN ('partner_org', 'partner_user')),
  principal_id   uuid NOT NULL,
  access         text NOT NULL CONSTRAINT shares_access_check CHECK (access IN ('read', 'edit')),
  created_at     timestamptz NOT NULL DEFAULT now(),
  PRIMARY KEY (object_type, record_id, principal_type, principal_id)
);
CREATE INDEX shares_principal_idx ON prm.shares (principal_type, principal_id, object_type);

-- Internal fields (DESIGN §3 field class `internal`): the portal role has no privilege at all here.
CREATE TABLE prm.account_internal (
  account_id     uuid PRIMARY KEY REFERENCES prm.accounts (id) ON DELETE CASCADE,
  internal_notes text,
  updated_at     timestamptz NOT NULL DEFAULT now()
);

CREATE TABLE prm.deal_internal (
  deal_id        uuid PRIMARY KEY REFERENCES prm.deals (id) ON DELETE CASCADE,
  cost           numeric(18, 2),
  margin_percent numeric(5, 2),
  internal_notes text,
  updated_at     timestamptz NOT NULL DEFAULT now()
);

-- ============================ session helpers (invoker, inlinable) ============================
-- The portal app sets prm.partner_org / prm.partner_user per transaction from its authenticated
-- session (set_config(..., true)); that is the trust boundary. Unset or empty → NULL → no rows.
-- A value that is not a uuid is an error (22P02), not a silent "nothing".
CREATE FUNCTION prm.setting_partner_org() RETURNS uuid
  LANGUAGE sql STABLE PARALLEL SAFE
  RETURN NULLIF(pg_catalog.current_setting('prm.partner_org', true), '')::uuid;

CREATE FUNCTION prm.setting_partner_user() RETURNS uuid
  LANGUAGE sql STABLE PARALLEL SAFE
  RETURN NULLIF(pg_catalog.current_setting('prm.partner_user', true), '')::uuid;

-- True when the current role is the portal (a member of prm_portal that RLS applies to): the
-- triggers stamp the actor and apply the partner rules only then. Superusers and BYPASSRLS roles
-- (the daemon) are never "the portal", even though pg_has_role is true for a superuser.
CREATE FUNCTION prm.acting_as_portal() RETURNS boolean
  LANGUAGE sql STABLE PARALLEL SAFE
  RETURN pg_catalog.pg_has_role(current_user, 'prm_portal', 'USAGE')
     AND NOT (SELECT r.rolsuper OR r.rolbypassrls FROM pg_catalog.pg_roles r WHERE r.rolname = current_user);

-- ================= security-definer lookups (bypass RLS, so policies never recurse) ===========
-- Owned by the applying superuser. STABLE, fixed search_path, every name schema-qualified. They
-- answer only relative to the session's settings, i.e. nothing the portal could not see anyway.

-- The session's partner org if it exists and is active, else NULL (a deactivated org sees nothing).
CREATE FUNCTION prm.session_partner_org() RETURNS uuid
  LANGUAGE sql STABLE SECURITY DEFINER SET search_path = pg_catalog, pg_temp
  RETURN (SELECT o.id FROM prm.partner_orgs o WHERE o.id = prm.setting_partner_org() AND o.active);

-- The session's partner user if it exists, is active and belongs to the session's (active) org,
-- else NULL: an inconsistent pair of settings never widens access through user shares.
CREATE FUNCTION prm.session_partner_user() RETURNS uuid
  LANGUAGE sql STABLE SECURITY DEFINER SET search_path = pg_catalog, pg_temp
  RETURN (SELECT u.id FROM prm.partner_users u
           WHERE u.id = prm.setting_partner_user() AND u.active
             AND u.partner_org_id = prm.session_partner_org());

-- Ids of records of p_object_type shared with the session's org or user with at least p_access
-- ('read' matches read and edit shares; 'edit' only edit shares).
CREATE FUNCTION prm.shared_record_ids(p_object_type text, p_access text) RETURNS SETOF uuid
  LANGUAGE sql STABLE SECURITY DEFINER SET search_path = pg_catalog, pg_temp
  ROWS 100
AS $$
  SELECT s.record_id FROM prm.shares s
   WHERE s.object_type = p_object_type
     AND (s.access = 'edit' OR p_access = 'read')
     AND ((s.principal_type = 'partner_org' AND s.principal_id = prm.session_partner_org())
       OR (s.principal_type = 'partner_user' AND s.principal_id = prm.session_partner_user()))
$$;

-- (object_type, record_id) of every account and deal the session's org owns.
CREATE FUNCTION prm.owned_records() RETURNS TABLE (object_type text, record_id uuid)
  LANGUAGE sql STABLE SECURITY DEFINER SET search_path = pg_catalog, pg_temp
  ROWS 100
AS $$
  SELECT 'account', a.id FROM prm.accounts a WHERE a.owner_partner_org_id = prm.session_partner_org()
  UNION ALL
  SELECT 'deal', d.id FROM prm.deals d WHERE d.owner_partner_org_id = prm.session_partner_org()
$$;

-- Whether the session may see the account (owner or any share): a deal may only be created on,
-- or moved to, an account the partner can see.
CREATE FUNCTION prm.session_can_see_account(p_account_id uuid) RETURNS boolean
  LANGUAGE sql STABLE SECURITY DEFINER SET search_path = pg_catalog, pg_temp
  RETURN EXISTS (SELECT FROM prm.accounts a
                  WHERE a.id = p_account_id
                    AND (a.owner_partner_org_id = prm.session_partner_org()
                      OR a.id IN (SELECT prm.shared_record_ids('account', 'read'))));

-- Whether p_user_id is an active user of the session's org (a valid owner_partner_user_id).
CREATE FUNCTION prm.is_session_org_user(p_user_id uuid) RETURNS boolean
  LANGUAGE sql STABLE SECURITY DEFINER SET search_path = pg_catalog, pg_temp
  RETURN EXISTS (SELECT FROM prm.partner_users u
                  WHERE u.id = p_user_id AND u.active AND u.partner_org_id = prm.session_partner_org());

-- The tier of the session's (active) partner org, else NULL. The deal rules gate discounts on it.
-- A definer like the others, so the answer comes from the table itself, never from what the
-- caller's privileges or policies on partner_orgs happen to show; the portal cannot change a tier
-- (no write grant on partner_orgs).
CREATE FUNCTION prm.session_partner_tier() RETURNS text
  LANGUAGE sql STABLE SECURITY DEFINER SET search_path = pg_catalog, pg_temp
  RETURN (SELECT o.tier FROM prm.partner_orgs o WHERE o.id = prm.session_partner_org());

-- ======================================= triggers =============================================
-- accounts and deals, BEFORE INSERT OR UPDATE (every role):
--   updated_at = now(); row_version = 1 on insert, OLD + 1 on update; created_at kept on update.
-- The portal: modified_by = ('partner_user', the validated session user) whatever the statement
--   says; no write without a valid session user; new rows owned by the session org (the policy
--   checks it) and by default by the session user; the owner org can never change; the owner user
--   only by the owning org and only to one of its users.
-- Every other role names its actor; if it does not, ('internal_user', session_user). An UPDATE by
--   another role that leaves a partner_user actor untouched is re-attributed the same way, so a
--   partner's name never sticks to someone else's change. The daemon writes ('integration', …).
CREATE FUNCTION prm.stamp_synced_record() RETURNS trigger
  LANGUAGE plpgsql SET search_path = pg_catalog, pg_temp
AS $$
DECLARE
  v_user uuid;
BEGIN
  NEW.updated_at := now();
  IF TG_OP = 'INSERT' THEN
    NEW.row_version := 1;
    NEW.created_at := coalesce(NEW.created_at, now());
  ELSE
    NEW.row_version := OLD.row_version + 1;
    NEW.created_at := OLD.created_at;
  END IF;

  IF prm.acting_as_portal() THEN
    v_user := prm.session_partner_user();
    IF v_user IS NULL THEN
      RAISE EXCEPTION 'prm: the portal wrote to %.% without a valid prm.partner_user for prm.partner_org',
          TG_TABLE_SCHEMA, TG_TABLE_NAME
        USING ERRCODE = 'insufficient_privilege',
              HINT = 'set prm.partner_org and prm.partner_user (an active user of that org) in the transaction';
    END IF;
    NEW.modified_by_kind := 'partner_user';
    NEW.modified_by_id := v_user::text;
    IF TG_OP = 'INSERT' THEN
      NEW.created_at := now();
      NEW.owner_partner_user_id := coalesce(NEW.owner_partner_user_id, v_user);
      IF NOT prm.is_session_org_user(NEW.owner_partner_user_id) THEN
        RAISE EXCEPTION 'prm: owner_partner_user_id must be a user of the session''s partner org'
          USING ERRCODE = 'insufficient_privilege', TABLE = TG_TABLE_NAME, SCHEMA = TG_TABLE_SCHEMA;
      END IF;
    ELSE
      IF NEW.id IS DISTINCT FROM OLD.id
         OR NEW.owner_partner_org_id IS DISTINCT FROM OLD.owner_partner_org_id THEN
        RAISE EXCEPTION 'prm: a partner cannot change the id or the owner partner org of %.%',
            TG_TABLE_SCHEMA, TG_TABLE_NAME
          USING ERRCODE = 'insufficient_privilege';
      END IF;
      IF NEW.owner_partner_user_id IS DISTINCT FROM OLD.owner_partner_user_id
         AND (OLD.owner_partner_org_id IS DISTINCT FROM prm.session_partner_org()
              OR (NEW.owner_partner_user_id IS NOT NULL
                  AND NOT prm.is_session_org_user(NEW.owner_partner_user_id))) THEN
        RAISE EXCEPTION 'prm: only the owning partner org can reassign owner_partner_user_id, and only to its own users'
          USING ERRCODE = 'insufficient_privilege', TABLE = TG_TABLE_NAME, SCHEMA = TG_TABLE_SCHEMA;
      END IF;
    END IF;
  ELSE
    IF TG_OP = 'UPDATE' AND OLD.modified_by_kind = 'partner_user'
       AND NEW.modified_by_kind IS NOT DISTINCT FROM OLD.modified_by_kind
       AND NEW.modified_by_id IS NOT DISTINCT FROM OLD.modified_by_id THEN
      NEW.modified_by_kind := 'internal_user';
      NEW.modified_by_id := session_user::text;
    END IF;
    IF NEW.modified_by_kind IS NULL THEN
      NEW.modified_by_kind := 'internal_user';
      NEW.modified_by_id := coalesce(NEW.modified_by_id, session_user::text);
    END IF;
  END IF;
  RETURN NEW;
END
$$;

-- deals, BEFORE INSERT OR UPDATE, the portal only: registration approval is the vendor's decision
-- (otherwise a partner could approve its own registration); a discount may be set or changed
-- only by a partner whose org is gold or platinum (on any deal it may insert or update: its own
-- or one shared with it for edit), never by registered or silver partners; and a deal may only
-- move to an account the partner can see.
CREATE FUNCTION prm.check_partner_deal_rules() RETURNS trigger
  LANGUAGE plpgsql SET search_path = pg_catalog, pg_temp
AS $$
DECLARE
  v_tier text;
BEGIN
  IF NOT prm.acting_as_portal() THEN
    RETURN NEW;
  END IF;
  IF (TG_OP = 'INSERT' AND NEW.discount_percent IS NOT NULL)
     OR (TG_OP = 'UPDATE' AND NEW.discount_percent IS DISTINCT FROM OLD.discount_percent) THEN
    v_tier := prm.session_partner_tier();
    IF v_tier IS NULL OR v_tier NOT IN ('gold', 'platinum') THEN
      RAISE EXCEPTION 'prm: a partner org of tier % cannot set discount_percent', coalesce(v_tier, '(none)')
        USING ERRCODE = 'insufficient_privilege', TABLE = 'deals', SCHEMA = 'prm',
              HINT = 'only gold and platinum partner orgs may set a discount; the vendor sets it otherwise';
    END IF;
  END IF;
  IF TG_OP = 'INSERT' THEN
    IF NEW.registration_status NOT IN ('draft', 'submitted') THEN
      RAISE EXCEPTION 'prm: a partner can create a deal only as draft or submitted'
        USING ERRCODE = 'insufficient_privilege', TABLE = 'deals', SCHEMA = 'prm';
    END IF;
  ELSE
    IF NEW.registration_status IS DISTINCT FROM OLD.registration_status
       AND NEW.registration_status NOT IN ('draft', 'submitted') THEN
      RAISE EXCEPTION 'prm: a partner cannot set registration_status to %', NEW.registration_status
        USING ERRCODE = 'insufficient_privilege', TABLE = 'deals', SCHEMA = 'prm';
    END IF;
    IF NEW.account_id IS DISTINCT FROM OLD.account_id AND NOT prm.session_can_see_account(NEW.account_id) THEN
      RAISE EXCEPTION 'prm: a partner can move a deal only to an account it can see'
        USING ERRCODE = 'insufficient_privilege', TABLE = 'deals', SCHEMA = 'prm';
    END IF;
  END IF;
  RETURN NEW;
END
$$;

CREATE FUNCTION prm.stamp_updated_at() RETURNS trigger
  LANGUAGE plpgsql SET search_path = pg_catalog, pg_temp
AS $$
BEGIN
  NEW.updated_at := now();
  IF TG_OP = 'UPDATE' THEN
    NEW.created_at := OLD.created_at;
  END IF;
  RETURN NEW;
END
$$;

CREATE FUNCTION prm.stamp_internal_updated_at() RETURNS trigger
  LANGUAGE plpgsql SET search_path = pg_catalog, pg_temp
AS $$
BEGIN
  NEW.updated_at := now();
  RETURN NEW;
END
$$;

-- Deferred constraint trigger on prm.shares: the record and the principal must exist at commit
-- (the daemon may write a record and its shares in any order within one transaction). Raises
-- 23503 naming the constraint, like a foreign key. Security definer: it must see rows the writer's
-- RLS hides.
CREATE FUNCTION prm.check_share_references() RETURNS trigger
  LANGUAGE plpgsql SECURITY DEFINER SET search_path = pg_catalog, pg_temp
AS $$
BEGIN
  -- The row may have been deleted or changed again after this check was queued.
  IF NOT EXISTS (SELECT FROM prm.shares s
                  WHERE (s.object_type, s.record_id, s.principal_type, s.principal_id)
                      = (NEW.object_type, NEW.record_id, NEW.principal_type, NEW.principal_id)) THEN
    RETURN NULL;
  END IF;
  IF NOT (CASE NEW.object_type
            WHEN 'account' THEN EXISTS (SELECT FROM prm.accounts a WHERE a.id = NEW.record_id)
            WHEN 'deal' THEN EXISTS (SELECT FROM prm.deals d WHERE d.id = NEW.record_id)
          END) THEN
    RAISE EXCEPTION 'prm: share of % % refers to a record that does not exist', NEW.object_type, NEW.record_id
      USING ERRCODE = 'foreign_key_violation', CONSTRAINT = 'shares_record_exists',
            TABLE = 'shares', SCHEMA = 'prm';
  END IF;
  IF NOT (CASE NEW.principal_type
            WHEN 'partner_org' THEN EXISTS (SELECT FROM prm.partner_orgs o WHERE o.id = NEW.principal_id)
            WHEN 'partner_user' THEN EXISTS (SELECT FROM prm.partner_users u WHERE u.id = NEW.principal_id)
          END) THEN
    RAISE EXCEPTION 'prm: share of % % grants to % %, which does not exist',
        NEW.object_type, NEW.record_id, NEW.principal_type, NEW.principal_id
      USING ERRCODE = 'foreign_key_violation', CONSTRAINT = 'shares_principal_exists',
            TABLE = 'shares', SCHEMA = 'prm';
  END IF;
  RETURN NULL;
END
$$;

-- AFTER DELETE on accounts, deals, partner_orgs, partner_users: delete the share rows that name
-- the deleted row (TG_ARGV[0] = object or principal, TG_ARGV[1] = its type).
CREATE FUNCTION prm.delete_dependent_shares() RETURNS trigger
  LANGUAGE plpgsql SECURITY DEFINER SET search_path = pg_catalog, pg_temp
AS $$
BEGIN
  IF TG_ARGV[0] = 'object' THEN
    DELETE FROM prm.shares s WHERE s.object_type = TG_ARGV[1] AND s.record_id = OLD.id;
  ELSE
    DELETE FROM prm.shares s WHERE s.principal_type = TG_ARGV[1] AND s.principal_id = OLD.id;
  END IF;
  RETURN NULL;
END
$$;

CREATE TRIGGER accounts_stamp BEFORE INSERT OR UPDATE ON prm.accounts
  FOR EACH ROW EXECUTE FUNCTION prm.stamp_synced_record();
CREATE TRIGGER deals_stamp BEFORE INSERT OR UPDATE ON prm.deals
  FOR EACH ROW EXECUTE FUNCTION prm.stamp_synced_record();
CREATE TRIGGER deals_partner_rules BEFORE INSERT OR UPDATE ON prm.deals
  FOR EACH ROW EXECUTE FUNCTION prm.check_partner_deal_rules();
CREATE TRIGGER partner_orgs_stamp BEFORE INSERT OR UPDATE ON prm.partner_orgs
  FOR EACH ROW EXECUTE FUNCTION prm.stamp_updated_at();
CREATE TRIGGER partner_users_stamp BEFORE INSERT OR UPDATE ON prm.partner_users
  FOR EACH ROW EXECUTE FUNCTION prm.stamp_updated_at();
CREATE TRIGGER account_internal_stamp BEFORE INSERT OR UPDATE ON prm.account_internal
  FOR EACH ROW EXECUTE FUNCTION prm.stamp_internal_updated_at();
CREATE TRIGGER deal_internal_stamp BEFORE INSERT OR UPDATE ON prm.deal_internal
  FOR EACH ROW EXECUTE FUNCTION prm.stamp_internal_updated_at();

CREATE CONSTRAINT TRIGGER shares_references_exist AFTER INSERT OR UPDATE ON prm.shares
  DEFERRABLE INITIALLY DEFERRED
  FOR EACH ROW EXECUTE FUNCTION prm.check_share_references();

CREATE TRIGGER accounts_delete_shares AFTER DELETE ON prm.accounts
  FOR EACH ROW EXECUTE FUNCTION prm.delete_dependent_shares('object', 'account');
CREATE TRIGGER deals_delete_shares AFTER DELETE ON prm.deals
  FOR EACH ROW EXECUTE FUNCTION prm.delete_dependent_shares('object', 'deal');
CREATE TRIGGER partner_orgs_delete_shares AFTER DELETE ON prm.partner_orgs
  FOR EACH ROW EXECUTE FUNCTION prm.delete_dependent_shares('principal', 'partner_org');
CREATE TRIGGER partner_users_delete_shares AFTER DELETE ON prm.partner_users
  FOR EACH ROW EXECUTE FUNCTION prm.delete_dependent_shares('principal', 'partner_user');

-- ================================ row-level security ==========================================
-- Enabled and FORCED on every synced table (FORCE also binds the table owner unless it is a
-- superuser or BYPASSRLS). Policies exist only for prm_portal; any other role without BYPASSRLS
-- sees nothing (deny by default). The security-definer calls are wrapped in (SELECT …) so they run
-- once per statement (an InitPlan or a hashed SubPlan), not once per row.
ALTER TABLE prm.partner_orgs ENABLE ROW LEVEL SECURITY;
ALTER TABLE prm.partner_orgs FORCE ROW LEVEL SECURITY;
ALTER TABLE prm.partner_users ENABLE ROW LEVEL SECURITY;
ALTER TABLE prm.partner_users FORCE ROW LEVEL SECURITY;
ALTER TABLE prm.accounts ENABLE ROW LEVEL SECURITY;
ALTER TABLE prm.accounts FORCE ROW LEVEL SECURITY;
ALTER TABLE prm.deals ENABLE ROW LEVEL SECURITY;
ALTER TABLE prm.deals FORCE ROW LEVEL SECURITY;
ALTER TABLE prm.shares ENABLE ROW LEVEL SECURITY;
ALTER TABLE prm.shares FORCE ROW LEVEL SECURITY;
-- Not synced-to-portal, but forced too: nothing but BYPASSRLS roles reads them even if a grant slips.
ALTER TABLE prm.account_internal ENABLE ROW LEVEL SECURITY;
ALTER TABLE prm.account_internal FORCE ROW LEVEL SECURITY;
ALTER TABLE prm.deal_internal ENABLE ROW LEVEL SECURITY;
ALTER TABLE prm.deal_internal FORCE ROW LEVEL SECURITY;

CREATE POLICY partner_orgs_portal_select ON prm.partner_orgs FOR SELECT TO prm_portal
  USING (id = (SELECT prm.session_partner_org()));
CREATE POLICY partner_users_portal_select ON prm.partner_users FOR SELECT TO prm_portal
  USING (partner_org_id = (SELECT prm.session_partner_org()));

CREATE POLICY accounts_portal_select ON prm.accounts FOR SELECT TO prm_portal
  USING (owner_partner_org_id = (SELECT prm.session_partner_org())
         OR id IN (SELECT prm.shared_record_ids('account', 'read')));
CREATE POLICY accounts_portal_insert ON prm.accounts FOR INSERT TO prm_portal
  WITH CHECK (owner_partner_org_id = (SELECT prm.session_partner_org()));
CREATE POLICY accounts_portal_update ON prm.accounts FOR UPDATE TO prm_portal
  USING (owner_partner_org_id = (SELECT prm.session_partner_org())
         OR id IN (SELECT prm.shared_record_ids('account', 'edit')));
CREATE POLICY accounts_portal_delete ON prm.accounts FOR DELETE TO prm_portal
  USING (owner_partner_org_id = (SELECT prm.session_partner_org()));

CREATE POLICY deals_portal_select ON prm.deals FOR SELECT TO prm_portal
  USING (owner_partner_org_id = (SELECT prm.session_partner_org())
         OR id IN (SELECT prm.shared_record_ids('deal', 'read')));
CREATE POLICY deals_portal_insert ON prm.deals FOR INSERT TO prm_portal
  WITH CHECK (owner_partner_org_id = (SELECT prm.session_partner_org())
              AND prm.session_can_see_account(account_id));
CREATE POLICY deals_portal_update ON prm.deals FOR UPDATE TO prm_portal
  USING (owner_partner_org_id = (SELECT prm.session_partner_org())
         OR id IN (SELECT prm.shared_record_ids('deal', 'edit')));
CREATE POLICY deals_portal_delete ON prm.deals FOR DELETE TO prm_portal
  USING (owner_partner_org_id = (SELECT prm.session_partner_org()));

-- Shares: the owning org sees and manages all share rows of its records; any other partner sees
-- only the rows that grant something to itself (its org or its user), so it never learns which
-- other partners a record is shared with.
CREATE POLICY shares_portal_select ON prm.shares FOR SELECT TO prm_portal
  USING ((object_type, record_id) IN (SELECT * FROM prm.owned_records())
         OR (principal_type = 'partner_org' AND principal_id = (SELECT prm.session_partner_org()))
         OR (principal_type = 'partner_user' AND principal_id = (SELECT prm.session_partner_user())));
CREATE POLICY shares_portal_insert ON prm.shares FOR INSERT TO prm_portal
  WITH CHECK ((object_type, record_id) IN (SELECT * FROM prm.owned_records()));
CREATE POLICY shares_portal_update ON prm.shares FOR UPDATE TO prm_portal
  USING ((object_type, record_id) IN (SELECT * FROM prm.owned_records()));
CREATE POLICY shares_portal_delete ON prm.shares FOR DELETE TO prm_portal
  USING ((object_type, record_id) IN (SELECT * FROM prm.owned_records()));

-- =========================================== grants ===========================================
REVOKE ALL ON ALL TABLES IN SCHEMA prm FROM PUBLIC;
REVOKE ALL ON ALL FUNCTIONS IN SCHEMA prm FROM PUBLIC;
GRANT USAGE ON SCHEMA prm TO prm_portal, crmsync_prm;

-- The portal: synced tables only, never the internal ones.
GRANT SELECT ON prm.partner_orgs, prm.partner_users TO prm_portal;
GRANT SELECT, INSERT, UPDATE, DELETE ON prm.accounts, prm.deals, prm.shares TO prm_portal;
GRANT EXECUTE ON FUNCTION prm.setting_partner_org(), prm.setting_partner_user(), prm.acting_as_portal(),
  prm.session_partner_org(), prm.session_partner_user(), prm.shared_record_ids(text, text),
  prm.owned_records(), prm.session_can_see_account(uuid), prm.is_session_org_user(uuid),
  prm.session_partner_tier()
  TO prm_portal;

-- The daemon: read and write every synced and internal table (BYPASSRLS: all partners' rows); it
-- owns nothing. The invoker helpers are called by the triggers whoever writes. SELECT on
-- partner_orgs and partner_users is also what the engine's authorization reads the partner
-- directory (orgs, tiers, users, active flags) with (connectors/prm/prm_directory_reader.h).
GRANT SELECT, INSERT, UPDATE, DELETE ON prm.partner_orgs, prm.partner_users, prm.accounts, prm.deals,
  prm.shares, prm.account_internal, prm.deal_internal TO crmsync_prm;
GRANT EXECUTE ON FUNCTION prm.setting_partner_org(), prm.setting_partner_user(), prm.acting_as_portal()
  TO crmsync_prm;

-- ===================================== start-up check =========================================
-- Synced tables (regclass names; unqualified names resolve through the caller's search_path) that
-- are missing or lack ENABLE / FORCE ROW LEVEL SECURITY. No rows = configured. crmsync calls this
-- (or the same catalog query, docs/prm-schema.md) at start and refuses to run on any row.
CREATE FUNCTION prm.rls_misconfigured_tables(tables text[])
  RETURNS TABLE (table_name text, problem text)
  LANGUAGE sql STABLE
AS $$
  SELECT t.name,
         CASE WHEN c.oid IS NULL THEN 'missing'
              WHEN NOT c.relrowsecurity THEN 'row level security not enabled'
              ELSE 'row level security not forced' END
    FROM pg_catalog.unnest(tables) WITH ORDINALITY AS t(name, ord)
    LEFT JOIN pg_catalog.pg_class c ON c.oid = pg_catalog.to_regclass(t.name)
   WHERE c.oid IS NULL OR NOT c.relrowsecurity OR NOT c.relforcerowsecurity
   ORDER BY t.ord
$$;
REVOKE ALL ON FUNCTION prm.rls_misconfigured_tables(text[]) FROM PUBLIC;
GRANT EXECUTE ON FUNCTION prm.rls_misconfigured_tables(text[]) TO crmsync_prm;

-- ========================================= publication ========================================
-- What the capture streams with pgoutput. accounts and deals use REPLICA IDENTITY FULL: an UPDATE
-- then carries the whole old row, so the capture reports exactly which fields changed (what the
-- inbound permission check judges) and a DELETE carries the old row's actor and owner. The other
-- tables keep DEFAULT (the primary key); shares' key is every identifying column.
ALTER TABLE prm.accounts REPLICA IDENTITY FULL;
ALTER TABLE prm.deals REPLICA IDENTITY FULL;
CREATE PUBLICATION crmsync_prm FOR TABLE prm.accounts, prm.deals, prm.shares, prm.account_internal,
  prm.deal_internal, prm.partner_orgs, prm.partner_users;

COMMENT ON SCHEMA prm IS :'prm_marker';
\if :prm_exists
\echo prm schema version :prm_schema_version recreated (older version dropped)
\else
\echo prm schema version :prm_schema_version created
\endif
COMMIT;
