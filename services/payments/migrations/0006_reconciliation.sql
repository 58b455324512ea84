-- Reconciliation with the broker: claims.paid outlives the database, so after a restore (or on any start)
-- the service rebuilds the payments the database lacks before a payment run may proceed.
--
-- How far claims.paid has been reconciled, per partition: the next start reads only what came after. The table
-- is restored with the database, so a restored database re-reads everything published since its own past.
CREATE TABLE reconciled_offsets (
    topic       text   NOT NULL,
    partition   int    NOT NULL,
    next_offset bigint NOT NULL CHECK (next_offset >= 0),
    PRIMARY KEY (topic, partition)
);

-- `claimsctl restore` writes a row here in the restored database (the backup's time); the service then reads
-- claims.paid from the beginning, and marks the row reconciled with what it rebuilt.
CREATE TABLE restores (
    id               bigserial   PRIMARY KEY,
    backup_taken_at  timestamptz,
    restored_at      timestamptz NOT NULL DEFAULT now(),
    backup_file      text        NOT NULL DEFAULT '',
    reconciled_at    timestamptz,
    payments_rebuilt int
);
CREATE INDEX restores_pending ON restores (id) WHERE reconciled_at IS NULL;
