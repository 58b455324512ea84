-- Relay quarantine: a row the broker refuses for good (too large, invalid or unknown topic, not
-- authorised) is set aside with its error instead of blocking every row behind it.
ALTER TABLE outbox
    ADD COLUMN IF NOT EXISTS failed_at timestamptz,      -- quarantined at; NULL: publishable
    ADD COLUMN IF NOT EXISTS error     text,             -- the last refusal or transient failure
    ADD COLUMN IF NOT EXISTS attempts  integer NOT NULL DEFAULT 0,  -- failed publish attempts
    ADD COLUMN IF NOT EXISTS retried_at timestamptz,     -- last handed back by `claimsctl outbox retry`
    ADD COLUMN IF NOT EXISTS retried_by text;            -- and by whom

-- The relay scans only what it may publish: quarantined rows leave the unsent index.
DROP INDEX IF EXISTS outbox_unsent;
CREATE INDEX outbox_unsent ON outbox (id) WHERE sent_at IS NULL AND failed_at IS NULL;

-- Later rows of a quarantined row's (topic, key) are held back (per-claim order): the relay asks
-- this small index whether an earlier row of the same topic and key is quarantined.
CREATE INDEX IF NOT EXISTS outbox_quarantined ON outbox (topic, key, id) WHERE sent_at IS NULL AND failed_at IS NOT NULL;
