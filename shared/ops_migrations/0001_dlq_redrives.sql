-- claimsctl's own audit schema (`ops`, search_path): what operators did through the CLI. The CLI never
-- writes a service's tables, so its audit lives here, owned by the CLI and migrated by it on first use.

-- One row per dead letter per `claimsctl dlq redrive` (dry runs too, flagged). The dead letter is named by
-- its broker coordinates: the DLQ topic as on the broker (KAFKA_TOPIC_PREFIX included, so environments
-- sharing a database stay apart), partition, offset, and the record's timestamp (a new broker reuses offsets).
CREATE TABLE IF NOT EXISTS dlq_redrives (
    id                bigserial   PRIMARY KEY,
    redrive_id        uuid        NOT NULL,     -- the operation: the `redrive.id` header on what it republished
    dlq_topic         text        NOT NULL,
    dlq_partition     integer     NOT NULL,
    dlq_offset        bigint      NOT NULL,
    dlq_timestamp_ms  bigint      NOT NULL,
    source_topic      text        NOT NULL,     -- where it was republished (prefix included)
    event_id          uuid,                     -- null when the original is not a readable event
    error             text,                     -- dlq.error
    consumer          text,                     -- dlq.consumer
    redriven_by       text        NOT NULL,
    redriven_at       timestamptz NOT NULL,
    dry_run           boolean     NOT NULL
);
-- A dead letter is redriven at most once: the second attempt (or a second operator racing the first)
-- conflicts here and is reported "already redriven".
CREATE UNIQUE INDEX IF NOT EXISTS dlq_redrives_once
    ON dlq_redrives (dlq_topic, dlq_partition, dlq_offset, dlq_timestamp_ms) WHERE NOT dry_run;
CREATE INDEX IF NOT EXISTS dlq_redrives_by_operation ON dlq_redrives (redrive_id);
