"""End to end: one claim's journey is one trace, from the hospital's HTTP request to the gateway seeing it paid.

The real gateway, grouper, verifier and payments (in-process, each its own tracer and service.name) export
over OTLP/HTTP to a tiny receiver in this test, which decodes ExportTraceServiceRequest. The hospital sends
its own `traceparent`; the chain asserted is the hospital's span -> gateway `POST /v1/claims` -> grouper
`process claims.submitted` -> verifier `process claims.grouped` -> payments `process claims.verified`
-> gateway `process claims.paid`, each span the parent of the next (the payment itself is released by an
operator's approval, another journey: it still continues the claim's trace, shared/tracing.py rule 2).
"""

from __future__ import annotations

import asyncio
import contextlib
import gzip
import json
import random
import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, date, datetime

import httpx
import pytest
from opentelemetry.proto.collector.trace.v1.trace_service_pb2 import ExportTraceServiceRequest

from deploy.local import Stack
from services.gateway.adapters.sealing import SecretBox
from services.grouper.service import SPEC as GROUPER
from services.payments.service import SPEC as PAYMENTS
from services.simulator.scenario import Kind, claim_for, member_for
from services.verifier.service import SPEC as VERIFIER
from shared import db
from shared.clock import FixedClock
from shared.events import ParticipantChanged, PaymentRunRequested, PaymentRunRequestedPayload, parse_event
from shared.settings import TracingSettings
from tests.support.gateway import gateway_settings, gateway_spec, register, served
from tests.support.kafka import eventually
from tests.support.operators import approved
from tests.support.payments import payments_clock
from tests.support.services import new_lane, running

pytestmark = pytest.mark.e2e

AT = datetime(2026, 3, 10, 2, 0, tzinfo=UTC)  # 09:00 in Jakarta, a Tuesday
KODE_RS = "0301R000"
HOSPITAL_TRACE, HOSPITAL_SPAN = "4bf92f3577b34da6a3ce929d0e0e4736", "00f067aa0ba902b7"
SERVER, CONSUMER = 2, 5  # opentelemetry.proto.trace.v1.Span.SpanKind


@dataclass(frozen=True)
class Span:
    service: str
    name: str
    kind: int
    trace_id: str
    span_id: str
    parent_id: str
    claim_id: str


class Receiver:
    """An OTLP/HTTP traces endpoint (POST /v1/traces, protobuf) that keeps every span it is sent."""

    def __init__(self) -> None:
        self.spans: list[Span] = []
        self._server: asyncio.Server | None = None

    async def start(self) -> str:
        self._server = await asyncio.start_server(self._serve, "127.0.0.1", 0)
        return f"http://127.0.0.1:{self._server.sockets[0].getsockname()[1]}/v1/traces"

    async def stop(self) -> None:
        assert self._server is not None
        self._server.close()

    async def _serve(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        with contextlib.suppress(asyncio.IncompleteReadError, ConnectionError):
            while True:  # the exporter keeps its connection alive between requests
                head = (await reader.readuntil(b"\r\n\r\n")).decode("latin-1").split("\r\n")
                fields = dict(line.split(":", 1) for line in head[1:] if ":" in line)
                headers = {k.strip().lower(): v.strip() for k, v in fields.items()}
                body = await reader.readexactly(int(headers.get("content-length", "0")))
                if headers.get("content-encoding") == "gzip":
                    body = gzip.decompress(body)
                ok = head[0].startswith("POST /v1/traces ")
                if ok:
                    self._take(body)
                status = "200 OK" if ok else "404 Not Found"
                writer.write(f"HTTP/1.1 {status}\r\nContent-Type: application/x-protobuf\r\n"
                             "Content-Length: 0\r\n\r\n".encode())  # fmt: skip
                await writer.drain()
        writer.close()

    def _take(self, body: bytes) -> None:
        request = ExportTraceServiceRequest.FromString(body)
        for resource in request.resource_spans:
            service = next(a.value.string_value for a in resource.resource.attributes if a.key == "service.name")
            for scope in resource.scope_spans:
                for s in scope.spans:
                    attrs = {a.key: a.value.string_value for a in s.attributes}
                    self.spans.append(Span(service, s.name, s.kind, s.trace_id.hex(), s.span_id.hex(),
                                           s.parent_span_id.hex(), attrs.get("jkn.claim_id", "")))  # fmt: skip

    def one(self, service: str, name: str, trace_id: str, parent_id: str | None = None) -> Span | None:
        """The span of `service` named `name` in the trace (child of `parent_id` if given), if it came.

        A batch redelivered after a rebalance is processed again (the inbox skips its events): a second span
        of the same name, child of the same parent, would be right too, so the first one is taken.
        """
        found = [s for s in self.spans if (s.service, s.name, s.trace_id) == (service, name, trace_id)
                 and parent_id in (None, s.parent_id)]  # fmt: skip
        return found[0] if found else None


@pytest.fixture
def clock(monkeypatch: pytest.MonkeyPatch) -> Iterator[FixedClock]:
    yield from payments_clock(monkeypatch, AT)  # runs only when asked (the daily schedule is off)


async def test_one_claim_from_the_hospitals_request_to_its_payment_is_one_trace_parent_to_child(
    stack: Stack, clock: FixedClock
) -> None:
    receiver = Receiver()
    endpoint = await receiver.start()
    lane = await new_lane(stack)
    settings = lane.settings().model_copy(
        update={"tracing": TracingSettings(otlp_endpoint=endpoint, export_delay_ms=100)}
    )
    gw = gateway_settings()
    gateway = gateway_spec(lane, gw)
    card, sep = "1000000000001", f"{KODE_RS}0326V000001"
    claim = claim_for(random.Random(1), KODE_RS, card, sep, date(2026, 3, 7), Kind.CLEAN)
    member = ParticipantChanged(occurred_at=clock.now(), correlation_id=uuid.uuid4(), producer="membership",
                                payload=member_for(card, 1, inactive=False))  # fmt: skip
    async with contextlib.AsyncExitStack() as services:
        for spec in (GROUPER, VERIFIER, PAYMENTS):
            await services.enter_async_context(running(lane.isolate(spec), settings))
        url = await services.enter_async_context(served(gateway, settings))
        hospital = await register(stack.database_url, gateway.schema, SecretBox([gw.secrets_key.get_secret_value()]),
                                  "cons-trace", KODE_RS)  # fmt: skip
        await lane.publish([member])
        body = json.dumps(claim.model_dump(mode="json")).encode()
        hospital_context = {"traceparent": f"00-{HOSPITAL_TRACE}-{HOSPITAL_SPAN}-01", "tracestate": "rs=0301R000"}
        async with httpx.AsyncClient(base_url=url, timeout=30) as http:
            answer = await http.post("/v1/claims", content=body, headers=hospital.headers(body) | hospital_context
                                     | {"Content-Type": "application/json"})  # fmt: skip
        assert answer.status_code == 202, answer.text
        claim_id = answer.json()["claim_id"]

        async def paid() -> bool:
            if receiver.one("payments", "process claims.verified", HOSPITAL_TRACE) is None:
                return False  # verified and booked as a payable: the run may pay it
            run = PaymentRunRequested(occurred_at=clock.now(), correlation_id=uuid.uuid4(), producer="unsigned",
                                      payload=PaymentRunRequestedPayload(run_id=f"RUN-{lane.suffix}", funds=10**12,
                                                                         requested_by="unsigned"))  # fmt: skip
            await lane.publish(approved(run))
            return True

        await eventually(paid, within=30)
        await eventually(lambda: _seen(receiver, "gateway", "process claims.paid"), within=30)

        chain = [
            ("gateway", "POST /v1/claims", SERVER),
            ("grouper", "process claims.submitted", CONSUMER),
            ("verifier", "process claims.grouped", CONSUMER),
            ("payments", "process claims.verified", CONSUMER),
            ("gateway", "process claims.paid", CONSUMER),
        ]
        parent = HOSPITAL_SPAN
        for service, name, kind in chain:
            span = receiver.one(service, name, HOSPITAL_TRACE, parent)
            assert span is not None, (
                f"no {name} span of {service} in the hospital's trace, child of {parent}: "
                f"{[s for s in receiver.spans if s.service == service]}"
            )
            assert span.kind == kind, f"{service} {name}"
            parent = span.span_id
        # Every span of the claim, in every service, is in that one trace.
        assert {s.trace_id for s in receiver.spans if s.claim_id == claim_id} == {HOSPITAL_TRACE}

        # The outbox row of the grouping stored the grouper's span; the relay put it on the record.
        grouper_span = receiver.one("grouper", "process claims.submitted", HOSPITAL_TRACE)
        assert grouper_span is not None
        expected = f"00-{HOSPITAL_TRACE}-{grouper_span.span_id}-01"
        pool = await db.create_pool(stack.database_url, lane.isolate(GROUPER).schema, max_size=1)
        try:
            stored = await pool.fetchrow("SELECT traceparent, tracestate FROM outbox WHERE topic = 'claims.grouped'")
        finally:
            await pool.close()
        assert stored is not None and (stored["traceparent"], stored["tracestate"]) == (expected, "rs=0301R000")
        (grouped,) = [r for r in await lane.records("claims.grouped")]
        assert (("traceparent", expected.encode()) in grouped.headers) and (
            ("tracestate", b"rs=0301R000") in grouped.headers
        )
        paid_records = [r for r in await lane.records("claims.paid")]
        assert [parse_event(r.value).claim_id for r in paid_records] == [claim_id]
    await receiver.stop()


async def _seen(receiver: Receiver, service: str, name: str) -> bool:
    return receiver.one(service, name, HOSPITAL_TRACE) is not None
