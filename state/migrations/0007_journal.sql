-- The tamper-evident journal (DESIGN §4): every sync decision, one row each, chained by a keyed
-- hash: hash = HMAC-SHA-256(journal key, prev_hash || canonical encoding of the row), written by
-- state/journal.cc only. `detail` is the exact JSON text that was hashed (text, not jsonb, so that
-- it reads back byte for byte). `crmsync journal verify` recomputes the chain.
CREATE TABLE {schema}.journal (
  seq bigint PRIMARY KEY CHECK (seq > 0),
  recorded_at timestamptz NOT NULL,
  kind text NOT NULL,
  actor text NOT NULL,
  object text NOT NULL DEFAULT '',
  record_id text NOT NULL DEFAULT '',
  source text NOT NULL,
  event_id text NOT NULL DEFAULT '',
  policy text NOT NULL DEFAULT '',
  detail text NOT NULL,
  prev_hash bytea NOT NULL CHECK (length(prev_hash) = 32),
  hash bytea NOT NULL CHECK (length(hash) = 32)
);
-- `crmsync journal show|explain --record object:id`.
CREATE INDEX journal_by_record ON {schema}.journal (object, record_id, seq) WHERE record_id <> '';

-- The end of the chain, one row. Appenders lock it (SELECT … FOR UPDATE) so that entries from
-- every worker and replica form one linear chain; it also lets verify notice entries cut off the
-- end of the table.
CREATE TABLE {schema}.journal_head (
  only_row boolean PRIMARY KEY DEFAULT true CHECK (only_row),
  last_seq bigint NOT NULL CHECK (last_seq >= 0),
  last_hash bytea NOT NULL CHECK (length(last_hash) = 32)
);
INSERT INTO {schema}.journal_head (only_row, last_seq, last_hash)
VALUES (true, 0, decode(repeat('00', 32), 'hex'));

-- Append-only: the daemon's code never updates or deletes journal rows, and these triggers refuse
-- it by accident too. (The schema's owner can disable them; the hash chain is what detects that.)
CREATE FUNCTION {schema}.journal_refuse_change() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
  RAISE EXCEPTION 'the journal is append-only: % on %.% refused', TG_OP, TG_TABLE_SCHEMA, TG_TABLE_NAME;
END
$$;
CREATE TRIGGER journal_append_only BEFORE UPDATE OR DELETE ON {schema}.journal
  FOR EACH ROW EXECUTE FUNCTION {schema}.journal_refuse_change();
CREATE TRIGGER journal_no_truncate BEFORE TRUNCATE ON {schema}.journal
  FOR EACH STATEMENT EXECUTE FUNCTION {schema}.journal_refuse_change();
CREATE TRIGGER journal_head_kept BEFORE DELETE ON {schema}.journal_head
  FOR EACH ROW EXECUTE FUNCTION {schema}.journal_refuse_change();
CREATE TRIGGER journal_head_no_truncate BEFORE TRUNCATE ON {schema}.journal_head
  FOR EACH STATEMENT EXECUTE FUNCTION {schema}.journal_refuse_change();
