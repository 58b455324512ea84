-- Grouper: one row per (claim, revision) answered, so a resent revision is answered once.
CREATE TABLE groupings (
    claim_id       text NOT NULL,
    revision       int  NOT NULL,
    content_hash   text NOT NULL,      -- of the claim data: the same revision resent is the same claim
    outcome        text NOT NULL CHECK (outcome IN ('grouped', 'rejected')),
    cbg_code       text,
    total_tarif    bigint,
    reason_codes   text[] NOT NULL DEFAULT '{}',
    tariff_table_version text,
    event_id       uuid NOT NULL,
    answered_at    timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (claim_id, revision)
);
