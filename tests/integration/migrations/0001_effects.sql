-- A deliberately unconstrained effect table: a duplicate application would show as a second row.
CREATE TABLE IF NOT EXISTS effects (
    event_id uuid NOT NULL,
    claim_id text NOT NULL,
    applied_at timestamptz NOT NULL DEFAULT now()
);
