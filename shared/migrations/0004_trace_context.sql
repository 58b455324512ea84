-- Traces (shared/tracing.py): the W3C trace context an outbox row's event continues, put in the record's
-- headers by the relay; NULL when tracing is off or nothing was traced.
ALTER TABLE outbox
    ADD COLUMN IF NOT EXISTS traceparent text,
    ADD COLUMN IF NOT EXISTS tracestate  text;

-- Each journey's (correlation id's) latest consumer span in this service, so an event emitted later without
-- its journey's event in hand (a payment run released by an approval, a sweeper's output) continues the
-- claim's trace. Written only while tracing is on; housekeeping forgets rows untouched for 120 days.
CREATE TABLE IF NOT EXISTS trace_context (
    correlation_id uuid        PRIMARY KEY,
    traceparent    text        NOT NULL,
    tracestate     text,
    updated_at     timestamptz NOT NULL DEFAULT now()
);
