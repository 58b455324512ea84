-- Four eyes: a command that moves money (a payment run, a VEDIKA correction, a capitation run, a day's
-- fund allocation) is held here until a finance approver other than its requester approves it. The table
-- is the payments audit trail of who asked, who approved, when, and by which signed command.
CREATE TABLE held_commands (
    subject_kind       text        NOT NULL
        CHECK (subject_kind IN ('payment_run', 'payment_correction', 'capitation_run', 'funds_allocation')),
    subject_id         text        NOT NULL,
    command            jsonb       NOT NULL,  -- the request as received (signature included), applied on approval
    requested_by       text        NOT NULL,
    requested_event_id uuid        NOT NULL,
    requested_at       timestamptz NOT NULL,
    approved_by        text,
    approved_event_id  uuid,
    approved_at        timestamptz,
    PRIMARY KEY (subject_kind, subject_id),
    CONSTRAINT four_eyes CHECK (approved_by IS NULL OR approved_by <> requested_by)
);

ALTER TABLE payment_runs ADD COLUMN approved_by text;
ALTER TABLE capitation_runs ADD COLUMN requested_by text, ADD COLUMN approved_by text;

-- What finance set aside for a day's scheduled run (approved allocations only); the run pays at most their sum.
CREATE TABLE funds_allocations (
    allocation_id text   PRIMARY KEY,
    business_date date   NOT NULL,
    amount        bigint NOT NULL CHECK (amount >= 0),
    allocated_by  text   NOT NULL,
    approved_by   text   NOT NULL CHECK (approved_by <> allocated_by),
    created_at    timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX funds_allocations_by_day ON funds_allocations (business_date);
