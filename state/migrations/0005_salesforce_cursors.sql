-- Where the Salesforce capture stands, per object: the compound cursor (SystemModstamp, Id) of the
-- last record whose event Kafka acknowledged. Polls re-read an overlap window before it and drop
-- what they already sent, so records committed late or sharing the cursor's timestamp are neither
-- lost nor sent twice.
CREATE TABLE {schema}.salesforce_cursors (
  org text NOT NULL,
  object text NOT NULL,
  modstamp text NOT NULL,
  last_id text NOT NULL,
  updated_at timestamptz NOT NULL DEFAULT now(),
  PRIMARY KEY (org, object)
);
