-- Payments: payables, runs, payments, an append-only double-entry ledger, notices.

CREATE TABLE payables (
    id               bigserial PRIMARY KEY,
    claim_id         text    NOT NULL,
    verification_seq int     NOT NULL,
    nomor_sep        text    NOT NULL,
    kode_rs          text    NOT NULL,
    amount           bigint  NOT NULL CHECK (amount >= 0),
    verified_on      date    NOT NULL,
    due_on           date    NOT NULL,
    deemed_complete  boolean NOT NULL DEFAULT false,
    correlation_id   uuid    NOT NULL,
    source_event_id  uuid    NOT NULL,
    created_at       timestamptz NOT NULL DEFAULT now(),
    -- One payable per verification of a claim, however often the event is redelivered or republished.
    UNIQUE (claim_id, verification_seq)
);
CREATE INDEX payables_due ON payables (due_on, verified_on, id);

CREATE TABLE payment_runs (
    run_id       text PRIMARY KEY,          -- the idempotency key of a run
    funds        bigint NOT NULL CHECK (funds >= 0),
    run_on       date   NOT NULL,
    requested_by text   NOT NULL,
    paid_count   int    NOT NULL,
    paid_total   bigint NOT NULL,
    remaining    bigint NOT NULL,
    created_at   timestamptz NOT NULL DEFAULT now()
);

CREATE TABLE payments (
    payment_id   text PRIMARY KEY,
    payable_id   bigint NOT NULL UNIQUE REFERENCES payables (id),  -- never pay a payable twice
    run_id       text   NOT NULL REFERENCES payment_runs (run_id),
    paid_on      date   NOT NULL,
    amount       bigint NOT NULL,
    penalty      bigint NOT NULL,
    total_paid   bigint NOT NULL,
    days_late    int    NOT NULL,
    penalty_method text NOT NULL,
    created_at   timestamptz NOT NULL DEFAULT now()
);
CREATE SEQUENCE payment_number;

-- Append-only double entry: every row moves `amount` from credit_account to debit_account.
CREATE TABLE ledger_entries (
    id             bigserial PRIMARY KEY,
    entry_id       text   NOT NULL UNIQUE,
    kind           text   NOT NULL CHECK (kind IN ('payable', 'payment', 'penalty', 'adjustment', 'capitation')),
    debit_account  text   NOT NULL,
    credit_account text   NOT NULL,
    amount         bigint NOT NULL CHECK (amount >= 0),
    booked_on      date   NOT NULL,
    claim_id       text,
    kode_rs        text,
    payable_id     bigint REFERENCES payables (id),
    run_id         text,
    memo           text   NOT NULL DEFAULT '',
    created_at     timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX ledger_by_hospital ON ledger_entries (kode_rs, booked_on);

CREATE FUNCTION ledger_is_append_only() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    RAISE EXCEPTION 'ledger_entries is append-only: post a correcting entry instead of %', TG_OP;
END $$;
CREATE TRIGGER ledger_append_only BEFORE UPDATE OR DELETE ON ledger_entries
    FOR EACH ROW EXECUTE FUNCTION ledger_is_append_only();

-- Enforcement notices already published, so each goes out once.
CREATE TABLE notices (
    payable_id bigint NOT NULL REFERENCES payables (id),
    kind       text   NOT NULL CHECK (kind IN ('approaching', 'overdue')),
    as_of      date   NOT NULL,
    PRIMARY KEY (payable_id, kind, as_of)
);

CREATE TABLE capitation_runs (
    run_id     text PRIMARY KEY,
    month      text NOT NULL,
    facilities int  NOT NULL,
    total      bigint NOT NULL,
    created_at timestamptz NOT NULL DEFAULT now()
);
CREATE TABLE capitation_payments (
    run_id      text NOT NULL REFERENCES capitation_runs (run_id),
    month       text NOT NULL,
    kode_faskes text NOT NULL,
    amount      bigint NOT NULL,
    detail      jsonb NOT NULL,
    PRIMARY KEY (month, kode_faskes)   -- one capitation per facility per month
);
