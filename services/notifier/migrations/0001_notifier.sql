-- Notifier: subscriptions, one planned delivery per (event, subscription), every attempt,
-- dead letters, and the DLQ arrivals operators were told about.

CREATE TABLE subscriptions (
    id           bigserial PRIMARY KEY,
    audience     text    NOT NULL CHECK (audience IN ('hospital', 'operators')),
    kode_rs      text,
    channel      text    NOT NULL CHECK (channel IN ('webhook', 'email')),
    target       text    NOT NULL,                 -- webhook URL or e-mail address
    secret       text,                             -- webhook HMAC key: never printed
    language     text    NOT NULL DEFAULT 'id' CHECK (language IN ('id', 'en')),
    timezone     text    NOT NULL DEFAULT 'Asia/Jakarta',
    event_types  text[]  NOT NULL,
    active       boolean NOT NULL DEFAULT true,
    created_at   timestamptz NOT NULL,
    removed_at   timestamptz,
    CHECK ((audience = 'hospital') = (kode_rs IS NOT NULL)),
    CHECK (channel <> 'webhook' OR secret IS NOT NULL)
);
CREATE INDEX subscriptions_route ON subscriptions (kode_rs) WHERE active;

CREATE TABLE deliveries (
    id               bigserial PRIMARY KEY,
    event_id         uuid   NOT NULL,              -- the event (or alert) told: the receiver's Idempotency-Key
    subscription_id  bigint NOT NULL REFERENCES subscriptions (id),
    event_type       text   NOT NULL,
    claim_id         text,
    kode_rs          text,
    channel          text   NOT NULL,
    subject          text   NOT NULL,
    text             text   NOT NULL,
    body             bytea,                        -- the exact JSON POSTed: the same bytes on every attempt
    status           text   NOT NULL DEFAULT 'pending'
                     CHECK (status IN ('pending', 'in_flight', 'delivered', 'dead', 'cancelled')),
    attempts         int    NOT NULL DEFAULT 0,    -- attempts started (a claim counts one)
    next_attempt_at  timestamptz NOT NULL,
    lease_until      timestamptz,
    lease_token      uuid,
    last_error       text,
    created_at       timestamptz NOT NULL,
    delivered_at     timestamptz,
    -- Exactly one delivery per event and subscription, however often the event arrives.
    UNIQUE (event_id, subscription_id)
);
CREATE INDEX deliveries_due ON deliveries (next_attempt_at) WHERE status = 'pending';
CREATE INDEX deliveries_leased ON deliveries (lease_until) WHERE status = 'in_flight';
CREATE INDEX deliveries_claim ON deliveries (claim_id);

CREATE TABLE delivery_attempts (
    id           bigserial PRIMARY KEY,
    delivery_id  bigint NOT NULL REFERENCES deliveries (id),
    attempt      int    NOT NULL,
    started_at   timestamptz NOT NULL,
    latency_ms   int    NOT NULL,
    status_code  int,                              -- HTTP status or SMTP reply code; null: no answer
    outcome      text   NOT NULL CHECK (outcome IN ('delivered', 'retry', 'failed')),
    error        text,
    UNIQUE (delivery_id, attempt)
);

CREATE TABLE dead_letters (
    delivery_id      bigint PRIMARY KEY REFERENCES deliveries (id),
    event_id         uuid   NOT NULL,
    subscription_id  bigint NOT NULL,
    event_type       text   NOT NULL,
    claim_id         text,
    attempts         int    NOT NULL,
    reason           text   NOT NULL,
    created_at       timestamptz NOT NULL
);

CREATE TABLE dlq_arrivals (
    topic             text   NOT NULL,
    record_partition  int    NOT NULL,
    record_offset     bigint NOT NULL,
    record_ts         bigint NOT NULL,             -- broker timestamp (ms): offsets restart with a new broker
    record_key        text,
    error             text,
    reason            text,
    consumer          text,
    received_at       timestamptz NOT NULL,
    PRIMARY KEY (topic, record_partition, record_offset, record_ts)
);
