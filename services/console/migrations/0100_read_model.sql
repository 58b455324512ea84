-- The console's analytics and operations read model, fed by events (services/console/entrypoints/
-- analytics_consumer.py). One fact row per claim, merged order-independently (each event sets only what it
-- knows, the latest revision wins), and small aggregates kept in step with the facts by deltas, so a
-- report reads a few thousand rows whatever the number of claims.

-- One row per claim: what the analytics and the deadlines need, from whichever events have arrived.
CREATE TABLE analytics_claims (
    claim_id           text PRIMARY KEY,
    kode_rs            text,
    month              date,            -- first day of the discharge month (service month); NULL until known
    data_revision      int,             -- the revision the claim data (month, hospital) came from
    grouped_revision   int,             -- the revision the grouping below came from
    cbg_code           text,
    severity           text,            -- I, II, III (inpatient), 0 (outpatient), from the CBG code
    primary_dx         text,            -- principal ICD-10 diagnosis, dotted (K35.8)
    tarif_rs           bigint,          -- the hospital's bill (tarif_rs total)
    grouped_tarif      bigint,          -- INA-CBG total tariff grouped (base + special CMG)
    submitted_on       date,            -- business date the grouped revision was submitted
    deemed_complete_on date,            -- when an undecided claim is deemed complete (completeness window)
    status             text NOT NULL DEFAULT 'unknown',
    status_revision    int  NOT NULL DEFAULT -1,  -- (status_revision, status_rank): the latest step known
    status_rank        int  NOT NULL DEFAULT -1,
    first_decided      boolean NOT NULL DEFAULT false,  -- revision 0 got a decision (pended/verified/rejected)
    first_pended       boolean NOT NULL DEFAULT false,  -- revision 0 was pended
    resubmit_by        date,            -- of the latest pend
    verified_on        date,
    approved           bigint,          -- approved at the main verification (seq 0)
    supplementary      bigint NOT NULL DEFAULT 0,  -- approved at supplementary verifications (seq >= 1)
    updated_at         timestamptz NOT NULL DEFAULT now()
);
-- Deadlines at risk read only the open claims, by their deadline.
CREATE INDEX analytics_claims_pends ON analytics_claims (resubmit_by) WHERE status = 'pended';
CREATE INDEX analytics_claims_undecided ON analytics_claims (deemed_complete_on)
    WHERE status IN ('submitted', 'grouped');

-- Tariff gap by month, hospital and CBG (claims grouped; those verified with what was approved).
CREATE TABLE analytics_gap (
    month          date   NOT NULL,
    kode_rs        text   NOT NULL,
    cbg_code       text   NOT NULL,
    claims         bigint NOT NULL DEFAULT 0,
    tarif_rs       bigint NOT NULL DEFAULT 0,
    grouped_tarif  bigint NOT NULL DEFAULT 0,
    verified       bigint NOT NULL DEFAULT 0,
    verified_rs    bigint NOT NULL DEFAULT 0,  -- tarif_rs of the verified claims only
    approved       bigint NOT NULL DEFAULT 0,
    PRIMARY KEY (month, kode_rs, cbg_code)
);

-- Claim value by month, hospital, principal diagnosis and severity (top-10 diagnoses, severity mix).
CREATE TABLE analytics_diagnoses (
    month          date   NOT NULL,
    kode_rs        text   NOT NULL,
    primary_dx     text   NOT NULL,
    severity       text   NOT NULL,
    claims         bigint NOT NULL DEFAULT 0,
    grouped_tarif  bigint NOT NULL DEFAULT 0,
    PRIMARY KEY (month, primary_dx, kode_rs, severity)
);

-- First-submission outcomes by month and hospital (pending rate).
CREATE TABLE analytics_pending (
    month          date   NOT NULL,
    kode_rs        text   NOT NULL,
    claims         bigint NOT NULL DEFAULT 0,
    first_decided  bigint NOT NULL DEFAULT 0,
    first_pended   bigint NOT NULL DEFAULT 0,
    PRIMARY KEY (month, kode_rs)
);

-- One row per payable (claim, verification): due date, overdue state, and its payment.
CREATE TABLE analytics_payables (
    claim_id          text NOT NULL,
    verification_seq  int  NOT NULL,
    kode_rs           text,
    amount            bigint,
    verified_on       date,
    due_on            date,            -- computed from verified_on; the payments service's own date wins
    due_from_payments boolean NOT NULL DEFAULT false,
    overdue_as_of     date,
    days_late         int,
    accrued_penalty   bigint,
    paid_on           date,
    penalty           bigint,
    total_paid        bigint,
    paid_days_late    int,
    payment_id        text,
    PRIMARY KEY (claim_id, verification_seq)
);
CREATE INDEX analytics_payables_open ON analytics_payables (due_on) WHERE paid_on IS NULL;

-- Payments by the month they were paid (on-time rate, penalties); fed with the payables' first payment.
CREATE TABLE analytics_payment_months (
    month      date   PRIMARY KEY,
    payments   bigint NOT NULL DEFAULT 0,
    on_time    bigint NOT NULL DEFAULT 0,
    approved   bigint NOT NULL DEFAULT 0,
    penalty    bigint NOT NULL DEFAULT 0,
    total_paid bigint NOT NULL DEFAULT 0,
    days_late  bigint NOT NULL DEFAULT 0  -- summed, for the average delay of the late ones
);

-- One FKTP's capitation for one month (CapitationPaid); ~23,000 FKTPs a month, read by month.
CREATE TABLE analytics_capitation (
    month              date   NOT NULL,
    kode_faskes        text   NOT NULL,
    facility_type      text   NOT NULL,
    ownership          text,
    registered_members int    NOT NULL,
    rate               bigint NOT NULL,
    base_amount        bigint NOT NULL,
    kbk_score          double precision,
    kbk_percentage     double precision NOT NULL,
    amount             bigint NOT NULL,
    due_on             date   NOT NULL,
    run_id             text   NOT NULL,
    PRIMARY KEY (month, kode_faskes)
);
