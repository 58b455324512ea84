-- A dead letter too large for its DLQ record keeps the original bytes here; the DLQ record carries a
-- reference (header dlq.body-ref = id, dlq.body-schema = this schema) and a truncated preview.
CREATE TABLE IF NOT EXISTS dead_letter_bodies (
    id               bigserial   PRIMARY KEY,
    consumer         text        NOT NULL,
    source_topic     text        NOT NULL,
    source_partition integer     NOT NULL,
    source_offset    bigint      NOT NULL,
    key              bytea,
    body             bytea       NOT NULL,
    headers          jsonb       NOT NULL DEFAULT '[]'::jsonb,
    created_at       timestamptz NOT NULL DEFAULT now()
);
