"""Traces in the kernel without a broker: the W3C headers round trip, which span an emitted event continues,
and the outbox columns that carry it (shared/tracing.py)."""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from typing import Any

import pytest
from opentelemetry.sdk.trace import ReadableSpan, TracerProvider
from opentelemetry.sdk.trace.export import SimpleSpanProcessor
from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter
from opentelemetry.trace import SpanKind, get_current_span

from shared import tracing
from shared.consumer import RecordView
from shared.events import Envelope
from shared.outbox import OutboxRow, Tx, record_headers
from shared.settings import TracingSettings
from tests.support.factories import submitted

PARENT = "00-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-01"


@pytest.fixture
def kit() -> Iterator[tuple[tracing.Tracing, InMemorySpanExporter]]:
    """A tracer whose finished spans stay in memory, counted as set up (as the runtime's would be)."""
    exported = InMemorySpanExporter()
    provider = TracerProvider()
    provider.add_span_processor(SimpleSpanProcessor(exported))
    tracing._live += 1
    kit = tracing.Tracing(provider, provider.get_tracer("test"))
    yield kit, exported
    kit.shutdown()


def record(event: Envelope, *headers: tuple[str, bytes], topic: str = "claims.submitted") -> RecordView:
    return RecordView(topic, 0, 7, event.key.encode(), b"{}", headers)


def traceparent(context: Any) -> str:
    """The W3C form of a span context (new roots carry the random-trace-id flag as well: 03)."""
    return f"00-{context.trace_id:032x}-{context.span_id:016x}-{int(context.trace_flags):02x}"


def caused_by(cause: Envelope, *, same_journey: bool = True) -> Envelope:
    """An event emitted because of `cause` (causation = its id), of its journey or of another one."""
    other = submitted()
    return other.model_copy(
        update={"causation_id": cause.event_id, "correlation_id": cause.correlation_id if same_journey else
                other.correlation_id}
    )  # fmt: skip


class FakeConn:
    """Records statements; answers trace_context look-ups from `journeys`."""

    def __init__(self, journeys: dict[uuid.UUID, tuple[str, str | None]] | None = None) -> None:
        self.executed: list[tuple[str, tuple[Any, ...]]] = []
        self.journeys = journeys or {}

    async def execute(self, sql: str, *args: Any) -> str:
        self.executed.append((sql, args))
        return "INSERT 0 1"

    async def fetch(self, sql: str, *args: Any) -> list[dict[str, Any]]:
        assert "FROM trace_context" in sql
        return [{"correlation_id": c, "traceparent": p, "tracestate": s}
                for c, (p, s) in self.journeys.items() if c in args[0]]  # fmt: skip


def test_a_span_context_survives_the_record_headers() -> None:
    context = tracing.context_from_headers([("traceparent", PARENT.encode()), ("tracestate", b"jkn=1")])
    span = get_current_span(context)
    carrier = tracing.carrier_of(span)
    assert carrier == (PARENT, "jkn=1")
    assert tracing.headers_of(*carrier) == (("traceparent", PARENT.encode()), ("tracestate", b"jkn=1"))


def test_a_malformed_or_missing_traceparent_gives_no_parent() -> None:
    assert tracing.carrier_of(get_current_span(tracing.context_from_headers([("traceparent", b"junk")]))) is None
    assert tracing.carrier_of(get_current_span(tracing.context_from_headers([("event_type", b"X")]))) is None
    assert tracing.headers_of(None, None) == ()


def test_tracing_is_off_without_an_endpoint() -> None:
    assert tracing.setup(TracingSettings(), "grouper") is None
    assert tracing.setup(TracingSettings(otlp_endpoint=""), "grouper") is None


async def test_tracing_off_writes_the_outbox_as_it_always_did() -> None:
    conn = FakeConn()
    tx = Tx(conn, "s")  # type: ignore[arg-type]
    assert tx.trace is None
    tx.emit(submitted())
    await tx.flush()
    insert = conn.executed[0][0]
    assert "traceparent" not in insert
    assert len(conn.executed[0][1]) == 5


async def test_a_consumer_span_per_event_is_the_child_of_its_headers_and_the_parent_of_what_it_causes(
    kit: tuple[tracing.Tracing, InMemorySpanExporter],
) -> None:
    tracer, exported = kit
    first, second = submitted(), submitted()
    batch = tracer.batch([(record(first, ("traceparent", PARENT.encode())), first), (record(second), second)], "g")
    conn = FakeConn()
    tx = Tx(conn, "s", trace=tracing.TxTrace(batch))  # type: ignore[arg-type]
    out_first, out_second = caused_by(first), caused_by(second)
    tx.emit(out_first)
    tx.emit(out_second)
    await tx.flush()
    await batch.remember(conn)  # type: ignore[arg-type]
    batch.end({second.event_id: "schema"})

    spans: dict[str, ReadableSpan] = {s.attributes["messaging.message.id"]: s for s in exported.get_finished_spans()}  # type: ignore[index,misc]
    one, two = spans[str(first.event_id)], spans[str(second.event_id)]
    assert one.name == "process claims.submitted" and one.kind == SpanKind.CONSUMER
    assert one.context is not None and two.context is not None and one.parent is not None
    assert (f"{one.context.trace_id:032x}", f"{one.parent.span_id:016x}") == (PARENT[3:35], PARENT[36:52])
    assert two.parent is None  # no traceparent: a new trace
    assert two.status.description == "schema"

    sql, args = conn.executed[0]
    assert "traceparent, tracestate" in sql
    assert args[4] == [str(out_first.event_id), str(out_second.event_id)]
    assert args[5] == [f"00-{PARENT[3:35]}-{one.context.span_id:016x}-01", traceparent(two.context)]
    remembered = conn.executed[-1]
    assert "INSERT INTO trace_context" in remembered[0]
    assert sorted(remembered[1][0]) == sorted([first.correlation_id, second.correlation_id])


async def test_an_event_of_another_journey_continues_its_claims_latest_span(
    kit: tuple[tracing.Tracing, InMemorySpanExporter],
) -> None:
    """A payment released by an approval (its own journey): the claim's remembered span, not the approval's."""
    tracer, _ = kit
    approval = submitted()
    batch = tracer.batch([(record(approval, topic="ops.approvals"), approval)], "payments")
    claim_span = "00-11111111111111111111111111111111-2222222222222222-01"
    paid = caused_by(approval, same_journey=False)
    orphan = caused_by(approval, same_journey=False)  # a journey this service never saw
    conn = FakeConn({paid.correlation_id: (claim_span, None)})
    tx = Tx(conn, "s", trace=tracing.TxTrace(batch))  # type: ignore[arg-type]
    tx.emit(paid)
    tx.emit(orphan)
    await tx.flush()
    approval_span = tracing.carrier_of(batch.spans[approval.event_id])
    assert approval_span is not None
    assert conn.executed[0][1][5] == [claim_span, approval_span[0]]


async def test_outside_a_consumer_the_current_span_is_continued(
    kit: tuple[tracing.Tracing, InMemorySpanExporter],
) -> None:
    tracer, _ = kit
    conn = FakeConn()
    with tracer.tracer.start_as_current_span("POST /v1/claims") as span:
        tx = Tx(conn, "s")  # type: ignore[arg-type]  # the gateway's: no batch, tracing on
        tx.emit(submitted())
        await tx.flush()
    assert conn.executed[0][1][5] == [traceparent(span.get_span_context())]


def test_the_relay_puts_the_stored_context_after_the_stored_headers() -> None:
    row = OutboxRow("claims.grouped", b"C-1", b"{}", (("event_type", b"ClaimGrouped"),))
    stored = {"headers": '[["ZXZlbnRfdHlwZQ==", "Q2xhaW1Hcm91cGVk"]]', "traceparent": PARENT, "tracestate": None}
    assert record_headers(stored) == [*row.headers, ("traceparent", PARENT.encode())]
    assert record_headers(stored | {"traceparent": None}) == list(row.headers)
