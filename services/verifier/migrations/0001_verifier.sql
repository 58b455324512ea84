-- Verifier: per-claim status, the eligibility projection, the audit trail.

CREATE TABLE claims (
    claim_id         text PRIMARY KEY,
    state            text NOT NULL,
    status           jsonb NOT NULL,           -- the domain's ClaimStatus, whole
    nomor_sep        text NOT NULL,
    nomor_kartu      text NOT NULL,
    kode_rs          text NOT NULL,
    correlation_id   uuid NOT NULL,
    cmg              text,
    jenis_rawat      int,
    tgl_pulang       date,
    has_verification boolean NOT NULL DEFAULT false,
    review_reasons   jsonb,                    -- why the rules hold it for a human
    grouped_event_id uuid,
    updated_at       timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX claims_by_sep ON claims (nomor_sep);
CREATE INDEX claims_by_card ON claims (nomor_kartu);
CREATE INDEX claims_open ON claims (state) WHERE state IN
    ('grouped', 'resubmitted', 'in_review', 'pended', 'verified_adjusted', 'rejected');

CREATE TABLE participants (
    nomor_kartu   text NOT NULL,
    valid_from    date NOT NULL,
    seq           bigserial,
    nik           text NOT NULL,
    status        text NOT NULL,
    status_reason text,
    kelas_hak     int  NOT NULL,
    member_type   text NOT NULL,
    valid_to      date,
    event_id      uuid NOT NULL UNIQUE,
    PRIMARY KEY (nomor_kartu, valid_from, seq)
);

-- Append-only history per claim: every event in and out, every rule result, every ruling.
CREATE TABLE claim_history (
    id         bigserial PRIMARY KEY,
    claim_id   text NOT NULL,
    at         timestamptz NOT NULL,
    kind       text NOT NULL,       -- in, out, finding, decision, refused, review, ruling
    event_type text,
    event_id   uuid,
    detail     jsonb NOT NULL
);
CREATE INDEX claim_history_by_claim ON claim_history (claim_id, id);

CREATE FUNCTION claim_history_is_append_only() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    RAISE EXCEPTION 'claim_history is append-only';
END $$;
CREATE TRIGGER claim_history_append_only BEFORE UPDATE OR DELETE ON claim_history
    FOR EACH ROW EXECUTE FUNCTION claim_history_is_append_only();
