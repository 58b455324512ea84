"""Traces: one claim's journey across the services as one OpenTelemetry trace.

The W3C trace context (`traceparent`, `tracestate`) travels in Kafka record headers and is stored in the
outbox row with the event (columns `traceparent`, `tracestate`), so it survives the transaction and the
relay puts it on the record it publishes. Each service's consumer starts one CONSUMER span per event,
child of the context in the event's headers: a span per event rather than per batch, because a batch span
with one link per event would cut every claim's chain at the batch (its 500 parents all in other traces);
per event, each claim's trace stays parent -> child from the gateway's request to the payment.

Which span an emitted event continues is found as the envelope's own fields say (shared/envelopes.py),
not from a global "current span" (a batch handler emits for many events at once):
1. the span of the event that caused it (`causation_id`) when that event is of the same journey
   (`correlation_id`): a grouping continues its submission;
2. else the latest span of the journey: in this batch, else the one this service remembered for that
   correlation id (table `trace_context`, written with each batch): a payment released by an operator's
   approval (another journey) continues the claim's verification; a sweeper's output continues the claim;
3. else, outside a consumer (the gateway's HTTP request), the current span;
4. else the causing event's span, whatever its journey.

A record that cannot be decoded (a dead letter before it is an event) gets no span; an event sent to the
DLQ by its handler gets its span, ended in error with the dead letter's code.

Off by default (TRACING_OTLP_ENDPOINT empty): no provider, no exporter, no header is read and no column
written; what is left is a check or two per batch and per emitted event, and two NULL columns the relay reads.
"""

from __future__ import annotations

import uuid
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field, replace
from typing import TYPE_CHECKING, Any

from opentelemetry import trace
from opentelemetry.context import Context
from opentelemetry.trace import Span, SpanKind, Status, StatusCode, Tracer
from opentelemetry.trace.propagation.tracecontext import TraceContextTextMapPropagator

from shared.db import Conn
from shared.events import Envelope
from shared.settings import TracingSettings

if TYPE_CHECKING:  # the SDK and the exporter are imported only when tracing is on (0.4 s and 6 MB otherwise)
    from opentelemetry.sdk.trace import TracerProvider

    from shared.consumer import Record
    from shared.outbox import OutboxRow

TRACEPARENT, TRACESTATE = "traceparent", "tracestate"
Carrier = tuple[str, str | None]  # (traceparent, tracestate)
Header = tuple[str, bytes]

_PROPAGATOR = TraceContextTextMapPropagator()
_live = 0  # Tracing instances set up and not shut down in this process: gates the current-span fallback


@dataclass
class Tracing:
    """One service's tracer, exporting over OTLP/HTTP with its own service.name (in-process tests run several)."""

    provider: TracerProvider
    tracer: Tracer
    _open: bool = True

    def batch(self, items: Sequence[tuple[Any, Envelope]], consumer: str) -> BatchTrace:
        """CONSUMER spans for a batch's (record, event) pairs, each a child of its record's headers."""
        return BatchTrace(self.tracer, items, consumer)

    def shutdown(self) -> None:
        """Export what is finished and stop the exporter."""
        global _live
        if self._open:
            self._open = False
            _live -= 1
            self.provider.shutdown()


def setup(settings: TracingSettings, service_name: str) -> Tracing | None:
    """The service's tracing when TRACING_OTLP_ENDPOINT is set, else None (off: nothing is traced)."""
    global _live
    if not settings.otlp_endpoint:
        return None
    from opentelemetry.exporter.otlp.proto.http.trace_exporter import OTLPSpanExporter
    from opentelemetry.sdk.resources import Resource
    from opentelemetry.sdk.trace import TracerProvider
    from opentelemetry.sdk.trace.export import BatchSpanProcessor
    from opentelemetry.sdk.trace.sampling import ParentBased, TraceIdRatioBased

    provider = TracerProvider(
        resource=Resource.create({"service.name": service_name}),
        sampler=ParentBased(TraceIdRatioBased(settings.sample_ratio)),
    )
    exporter = OTLPSpanExporter(endpoint=settings.otlp_endpoint, timeout=10)
    provider.add_span_processor(BatchSpanProcessor(exporter, schedule_delay_millis=settings.export_delay_ms))
    _live += 1
    return Tracing(provider, provider.get_tracer("jkn.kernel"))


# ------------------------------------------------------------------------------------- headers and carriers


def context_from_headers(headers: Iterable[tuple[str, bytes | None]]) -> Context:
    """The trace context a record's `traceparent` / `tracestate` headers carry (empty if none or malformed)."""
    carrier: dict[str, str] = {}
    for name, value in headers:
        if name in (TRACEPARENT, TRACESTATE) and value:
            carrier[name] = value.decode("ascii", "replace")
    return _PROPAGATOR.extract(carrier) if carrier else Context()


def carrier_of(span: Span) -> Carrier | None:
    """The W3C form of `span`'s context, or None for a span that has none (tracing off, no parent)."""
    ctx = span.get_span_context()
    if not ctx.is_valid:
        return None
    # What TraceContextTextMapPropagator.inject writes (version 00), formatted directly: it runs per event.
    state = ctx.trace_state.to_header() if ctx.trace_state else ""
    return f"00-{ctx.trace_id:032x}-{ctx.span_id:016x}-{int(ctx.trace_flags):02x}", state or None


def headers_of(traceparent: str | None, tracestate: str | None) -> tuple[Header, ...]:
    """The record headers that carry a stored context (none when the row has none)."""
    if not traceparent:
        return ()
    state = ((TRACESTATE, tracestate.encode("ascii", "replace")),) if tracestate else ()
    return ((TRACEPARENT, traceparent.encode("ascii", "replace")), *state)


def current_carrier() -> Carrier | None:
    """The current span's context (the gateway's request), while some tracing is set up; else None."""
    if not _live:
        return None
    span = trace.get_current_span()
    return carrier_of(span) if span.get_span_context().is_valid else None


# ------------------------------------------------------------------------------------- the kernel's side


@dataclass
class BatchTrace:
    """A consumer batch's spans, one per event, and what its emitted events continue."""

    tracer: Tracer
    items: Sequence[tuple[Record, Envelope]]
    consumer: str
    spans: dict[uuid.UUID, Span] = field(default_factory=dict)
    carriers: dict[uuid.UUID, Carrier] = field(default_factory=dict)  # event id -> its span's context
    journeys: dict[uuid.UUID, Carrier] = field(default_factory=dict)  # correlation id -> latest span's
    correlation: dict[uuid.UUID, uuid.UUID] = field(default_factory=dict)  # event id -> correlation id

    def __post_init__(self) -> None:
        for rec, ev in self.items:
            if ev.event_id in self.spans:
                continue  # the same event twice in a batch: applied once, one span
            span = self.tracer.start_span(
                f"process {rec.topic}", context=context_from_headers(rec.headers or ()), kind=SpanKind.CONSUMER,
                attributes={  # few: each costs the SDK a check per span, and there is a span per event
                    "messaging.system": "kafka", "messaging.destination.name": rec.topic,
                    "messaging.message.id": str(ev.event_id), "jkn.claim_id": ev.claim_id or "",
                    "jkn.correlation_id": str(ev.correlation_id),
                },
            )  # fmt: skip
            self.spans[ev.event_id] = span
            self.correlation[ev.event_id] = ev.correlation_id
            carrier = carrier_of(span)
            if carrier is not None:
                self.carriers[ev.event_id] = carrier
                self.journeys[ev.correlation_id] = carrier

    def parent_of(self, event: Envelope) -> Carrier | None:
        """Rules 1 and 2 within the batch: the causing event's span if of the same journey, else the journey's."""
        cause = event.causation_id
        if cause in self.carriers and self.correlation[cause] == event.correlation_id:
            return self.carriers[cause]
        return self.journeys.get(event.correlation_id)

    def cause_of(self, event: Envelope) -> Carrier | None:
        """Rule 4: the causing event's span, whatever its journey."""
        return self.carriers.get(event.causation_id) if event.causation_id is not None else None

    async def remember(self, conn: Conn) -> None:
        """Keep each journey's latest span (in the batch's transaction), for events emitted later without it."""
        if not self.journeys:
            return
        ids = sorted(self.journeys)  # one lock order for concurrent batches
        await conn.execute(
            """INSERT INTO trace_context (correlation_id, traceparent, tracestate)
               SELECT * FROM unnest($1::uuid[], $2::text[], $3::text[])
               ON CONFLICT (correlation_id) DO UPDATE
               SET traceparent = EXCLUDED.traceparent, tracestate = EXCLUDED.tracestate, updated_at = now()""",
            ids, [self.journeys[i][0] for i in ids], [self.journeys[i][1] for i in ids],
        )  # fmt: skip

    def end(self, failed: dict[uuid.UUID, str]) -> None:
        """End every span once the batch committed; an event sent to the DLQ ends in error with its code."""
        for event_id, span in self.spans.items():
            if event_id in failed:
                span.set_status(Status(StatusCode.ERROR, failed[event_id]))
            span.end()


@dataclass
class TxTrace:
    """One transaction's part: the context each outbox row it writes continues (rules in the module's doc)."""

    batch: BatchTrace | None = None
    waiting: dict[str, tuple[uuid.UUID, Carrier | None]] = field(default_factory=dict)

    def stamp(self, row: OutboxRow, event: Envelope) -> OutboxRow:
        """`row` with the context it continues, or as it is, waiting for `resolve` to look its journey up."""
        carrier = self.batch.parent_of(event) if self.batch is not None else current_carrier()
        if carrier is not None:
            return replace(row, traceparent=carrier[0], tracestate=carrier[1])
        if row.event_id is not None:
            self.waiting[row.event_id] = (event.correlation_id, self.batch.cause_of(event) if self.batch else None)
        return row

    async def resolve(self, conn: Conn, rows: list[OutboxRow]) -> list[OutboxRow]:
        """Rows still waiting get their journey's remembered span (one query), else their cause's."""
        todo = {r.event_id: self.waiting[r.event_id] for r in rows if r.event_id in self.waiting}
        self.waiting.clear()
        if not todo:
            return rows
        found: dict[uuid.UUID, Carrier] = {
            r["correlation_id"]: (r["traceparent"], r["tracestate"])
            for r in await conn.fetch(
                "SELECT correlation_id, traceparent, tracestate FROM trace_context WHERE correlation_id = ANY($1)",
                list({corr for corr, _ in todo.values()}),
            )
        }
        out: list[OutboxRow] = []
        for row in rows:
            if row.event_id not in todo:
                out.append(row)
                continue
            corr, cause = todo[row.event_id]
            carrier = found.get(corr) or cause
            out.append(replace(row, traceparent=carrier[0], tracestate=carrier[1]) if carrier else row)
        return out


def for_transaction(batch: BatchTrace | None = None) -> TxTrace | None:
    """A transaction's tracing: a consumer batch's, or (gateway, background tasks) while tracing is on."""
    if batch is None and not _live:
        return None
    return TxTrace(batch)


async def purge_trace_context(conn: Conn, older_than_days: int) -> int:
    """Forget journeys untouched for `older_than_days` (housekeeping)."""
    status: str = await conn.execute(
        "DELETE FROM trace_context WHERE updated_at < now() - make_interval(days => $1)", older_than_days
    )
    return int(status.split()[-1])


# ------------------------------------------------------------------------------------- HTTP (the gateway)


class ServerSpans:
    """ASGI middleware: a SERVER span per HTTP request, child of the caller's `traceparent` if it sent one.

    The span is current while the request is handled, so the outbox rows it writes continue it (rule 3).
    """

    def __init__(self, app: Any, tracer: Tracer) -> None:
        self.app = app
        self.tracer = tracer

    async def __call__(self, scope: Any, receive: Any, send: Any) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        method = str(scope.get("method", "GET"))
        headers = [(k.decode("latin-1"), v) for k, v in scope.get("headers", ())]
        status = 500

        async def sent(message: Any) -> None:
            nonlocal status
            if message["type"] == "http.response.start":
                status = int(message["status"])
            await send(message)

        with self.tracer.start_as_current_span(
            method, context=context_from_headers(headers), kind=SpanKind.SERVER,
            attributes={"http.request.method": method, "url.path": str(scope.get("path", ""))},
        ) as span:  # fmt: skip
            try:
                await self.app(scope, receive, sent)
            finally:
                template = getattr(scope.get("route"), "path", None)  # known once routed: /v1/claims/{claim_id}
                if template:
                    span.update_name(f"{method} {template}")
                    span.set_attribute("http.route", template)
                span.set_attribute("http.response.status_code", status)
                if status >= 500:
                    span.set_status(Status(StatusCode.ERROR))
