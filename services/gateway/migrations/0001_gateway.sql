-- Gateway: the hospitals it knows, their sealed secrets, the claims they draft and submit through it,
-- the answers kept for idempotent retries, and the read model of every claim's fate.

-- Who may call: a hospital (its claims only) or a BPJS operator (reads every claim).
CREATE TABLE hospitals (
    cons_id        text PRIMARY KEY,               -- X-cons-id, as VClaim issues one per hospital
    kode_rs        text,                           -- the hospital's code (kode PPK); NULL for an operator
    name           text NOT NULL,
    role           text NOT NULL CHECK (role IN ('hospital', 'operator')),
    kode_tarif     text,                           -- default E-Klaim kode_tarif (AP, BS, RSCM ...)
    regional_tarif int,                            -- tariff region 1-5 (E-Klaim's hospital setup)
    rate_per_s     double precision,               -- own rate limit; NULL: GATEWAY_RATE_PER_S
    burst          int,                            -- own burst; NULL: GATEWAY_RATE_BURST
    created_at     timestamptz NOT NULL DEFAULT now(),
    CHECK ((role = 'hospital') = (kode_rs IS NOT NULL))
);
CREATE UNIQUE INDEX hospitals_one_credential_per_rs ON hospitals (kode_rs) WHERE kode_rs IS NOT NULL;

-- Signing secrets, sealed (Fernet): HMAC needs the secret itself, so it cannot be hashed.
-- A rotation adds one and gives the previous one an expiry: two are valid during the overlap.
CREATE TABLE hospital_secrets (
    id          bigserial PRIMARY KEY,
    cons_id     text NOT NULL REFERENCES hospitals (cons_id) ON DELETE CASCADE,
    sealed      bytea NOT NULL,
    created_at  timestamptz NOT NULL DEFAULT now(),
    expires_at  timestamptz                        -- NULL: valid until the next rotation
);
CREATE INDEX hospital_secrets_by_cons_id ON hospital_secrets (cons_id, id);

-- A claim as the hospital builds it (E-Klaim new_claim / set_claim_data) and submits it (claim_final,
-- POST /v1/claims). One row per SEP: revision is the one claim_final submits (or submitted last).
CREATE TABLE drafts (
    nomor_sep      text PRIMARY KEY,
    claim_id       text NOT NULL UNIQUE,
    kode_rs        text NOT NULL,
    state          text NOT NULL CHECK (state IN ('draft', 'final')),
    revision       int  NOT NULL DEFAULT 0,
    submitted      boolean NOT NULL DEFAULT false, -- some revision was published (delete_claim refuses)
    fields         jsonb NOT NULL,                 -- the claim's fields in the contract's names and types
    correlation_id uuid NOT NULL,                  -- the same for every revision of the claim
    new_claim_hash text,                           -- of the new_claim request: the same one again is a retry
    final_hash     text,                           -- of the request that submitted `revision`
    final_answer   jsonb,                          -- and its answer, returned again on a retry
    created_at     timestamptz NOT NULL DEFAULT now(),
    updated_at     timestamptz NOT NULL DEFAULT now(),
    finalized_at   timestamptz
);
CREATE INDEX drafts_by_hospital ON drafts (kode_rs);

-- Answers to requests sent with an Idempotency-Key, kept for retries (GATEWAY_IDEMPOTENCY_KEEP_HOURS).
CREATE TABLE idempotency (
    cons_id       text NOT NULL,
    key           text NOT NULL,
    request_hash  text NOT NULL,                   -- method, path and body: the same key with another request is refused
    status        int  NOT NULL,
    body          jsonb NOT NULL,
    content_type  text NOT NULL,
    created_at    timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (cons_id, key)
);
CREATE INDEX idempotency_by_age ON idempotency (created_at);

-- The read model: each claim's fate, folded from claims.grouped/rejected/pended/verified/dispute-resolved/paid
-- (and the gateway's own submissions), for GET /v1/claims/{id} and the VClaim monitor.
CREATE TABLE claim_views (
    claim_id     text PRIMARY KEY,
    kode_rs      text NOT NULL,
    nomor_sep    text NOT NULL,
    jenis_rawat  int,
    tgl_pulang   date,
    status       text NOT NULL,
    view         jsonb NOT NULL,                   -- the whole view (services/gateway/domain/monitor.py)
    updated_at   timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX claim_views_monitor ON claim_views (kode_rs, tgl_pulang, jenis_rawat, status, claim_id);
CREATE INDEX claim_views_monitor_all ON claim_views (tgl_pulang, jenis_rawat, status, claim_id);
