-- Webhook signing secrets sealed at rest (Fernet with NOTIFIER_SECRETS_KEY: the key never reaches the
-- database), several per subscription so a secret can be rotated without a gap: during the overlap
-- every delivery is signed with the old and the new secret, after it with the new one only.

CREATE TABLE webhook_secrets (
    id               bigserial PRIMARY KEY,
    subscription_id  bigint NOT NULL REFERENCES subscriptions (id),
    sealed           bytea  NOT NULL,              -- Fernet token of the HMAC key; the key itself is never stored
    created_at       timestamptz NOT NULL,
    signs_until      timestamptz,                  -- end of a rotation's overlap; null: signs until replaced
    CHECK (signs_until IS NULL OR signs_until >= created_at)
);
CREATE INDEX webhook_secrets_of ON webhook_secrets (subscription_id, id);

-- `subscriptions.secret` held the key in clear (0001). The notifier seals what is left there when it
-- starts (it holds the key; SQL cannot) and empties the column, so its NOT NULL rule for webhooks goes.
DO $$
DECLARE name text;
BEGIN
    SELECT c.conname INTO name FROM pg_constraint c
     WHERE c.conrelid = 'subscriptions'::regclass AND c.contype = 'c'
       AND pg_get_constraintdef(c.oid) LIKE '%secret IS NOT NULL%';
    IF name IS NOT NULL THEN
        EXECUTE format('ALTER TABLE subscriptions DROP CONSTRAINT %I', name);
    END IF;
END $$;
COMMENT ON COLUMN subscriptions.secret IS 'legacy clear-text secret (0001): sealed into webhook_secrets at start-up';
