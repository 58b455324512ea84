"""Two contract versions side by side, through the kernel on the real broker and database
(docs/contract-policy.md):

- a breaking change rolled out as schema_version 2: the consumer, upgraded first, applies what a v1
  producer still writes (upcast once, in the contract) and what a v2 producer writes; a version it does
  not accept, or a v1 document it would have refused before, is still dead-lettered naming the field;
- an additive change (an optional field, no version bump): a producer may fill it only once the
  consumers run the contract that has it. A consumer on the older contract dead-letters the event
  naming the field (never applied in part); upgraded, the same consumer code applies old and new
  producers' events, and the dead letter redriven is applied once.

The event type is a fixture (`ContractProbe`), so no released event has to grow a version for the test.
"""

from __future__ import annotations

import base64
import json
import uuid
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from datetime import UTC, datetime
from types import MappingProxyType
from typing import Any, Literal, TypeVar

import asyncpg
import pytest

from deploy.local import Stack
from shared.events import Contract, Envelope, encode_event, registered
from shared.outbox import Tx
from shared.runtime import Consumes, ServiceRuntime, ServiceSpec
from shared.settings import BrokerSettings, DatabaseSettings, ServiceSettings, Settings
from shared.topics import dlq_topic
from tests.support.applier import MIGRATIONS
from tests.support.kafka import consumed_all, eventually, make_topics, produce

pytestmark = pytest.mark.integration

SEP = "0301R0011117V000008"
E = TypeVar("E", bound=Envelope)


class ProbePayloadV1(Contract):
    nomor_sep: str
    amount: int


class ProbeV1(Envelope):
    topic = "contract.probe"
    event_type: Literal["ContractProbe"] = "ContractProbe"
    claim_id: str
    payload: ProbePayloadV1


class ProbePayloadV2(Contract):
    """v2 renames `amount` and adds a required field: a breaking change, so schema_version 2."""

    nomor_sep: str
    approved_amount: int
    verification_seq: int


def v1_to_v2(doc: dict[str, Any]) -> dict[str, Any]:
    """A v1 document as v2: `amount` is the first verification's approved amount."""
    old = doc["payload"]
    payload = {k: v for k, v in old.items() if k != "amount"}
    return {**doc, "payload": {**payload, "approved_amount": old.get("amount"), "verification_seq": 1}}


class ProbeV2(Envelope):
    topic = "contract.probe"
    event_type: Literal["ContractProbe"] = "ContractProbe"
    schema_version: Literal[2] = 2  # type: ignore[assignment]  # each version its own literal
    upcasters = MappingProxyType({1: v1_to_v2})
    claim_id: str
    payload: ProbePayloadV2


class ProbePayloadV1Next(ProbePayloadV1):
    """The additive change: an optional field, still schema_version 1."""

    catatan: str | None = None


class ProbeV1Next(ProbeV1):
    payload: ProbePayloadV1Next


def probe(cls: type[E], claim_id: str, payload: Contract) -> E:
    fields: dict[str, Any] = {
        "occurred_at": datetime(2026, 12, 1, 9, 0, tzinfo=UTC), "claim_id": claim_id,
        "correlation_id": uuid.uuid4(), "producer": "contract-test", "payload": payload,
    }  # fmt: skip
    return cls(**fields)


class Consumer:
    """A consumer through the kernel whose code is written once: it records the payload it applied."""

    def __init__(self, stack: Stack, schema: str, topic: str) -> None:
        self.stack, self.schema, self.topic = stack, schema, topic
        self.group = f"probe-{schema}"
        self.applied: dict[str, dict[str, Any]] = {}  # event id → the payload as the consumer's model read it

    async def handle(self, tx: Tx, event: Envelope) -> None:
        await tx.conn.execute(
            "INSERT INTO effects (event_id, claim_id) VALUES ($1, $2)", event.event_id, event.claim_id
        )
        self.applied[str(event.event_id)] = {"version": event.schema_version, **event.model_dump()["payload"]}

    @asynccontextmanager
    async def running(self, model: type[Envelope]) -> AsyncIterator[None]:
        """The consumer built from the contract in which `model` is this event type, until every record is read."""
        spec = ServiceSpec(
            name="probe", schema=self.schema, migrations=MIGRATIONS, default_http_port=0,
            consumes=[Consumes(self.group, {self.topic: (model,)}, lambda _ctx: self.handle)],
        )  # fmt: skip
        settings = Settings(
            broker=BrokerSettings(bootstrap_servers=self.stack.bootstrap_servers, session_timeout_ms=6000),
            database=DatabaseSettings(database_url=self.stack.database_url),
            service=ServiceSettings(retry_base_delay_s=0.01),
        )
        with registered(model):
            runtime = ServiceRuntime(spec, settings)
            await runtime.start()
            await runtime.broker.start()
            try:
                yield
                await eventually(lambda: consumed_all(self.stack.bootstrap_servers, self.group, [self.topic]))
            finally:
                await runtime.broker.stop()
                await runtime.stop()


async def dead_letters(pool: asyncpg.Pool, topic: str) -> list[tuple[bytes, bytes, str, str]]:
    """(key, original bytes, error, reason) of every dead letter the consumer wrote for `topic`."""
    rows = await pool.fetch(
        "SELECT key, value, headers::text AS h FROM outbox WHERE topic = $1 ORDER BY id", dlq_topic(topic)
    )
    out = []
    for r in rows:
        headers = {base64.b64decode(k).decode(): base64.b64decode(v).decode() for k, v in json.loads(r["h"])}
        out.append((r["key"], r["value"], headers["dlq.error"], headers["dlq.reason"]))
    return out


async def effects(pool: asyncpg.Pool) -> int:
    return int(await pool.fetchval("SELECT count(*) FROM effects"))


@pytest.fixture
async def topic(stack: Stack) -> str:
    name = f"test.probe.{uuid.uuid4().hex[:8]}"
    await make_topics(stack.bootstrap_servers, name)
    return name


async def test_a_v2_consumer_applies_v1_and_v2_producers_and_still_refuses_the_rest(
    stack: Stack, pool: asyncpg.Pool, schema: str, topic: str
) -> None:
    from_v1 = probe(ProbeV1, "C-V1", ProbePayloadV1(nomor_sep=SEP, amount=5_634_100))
    from_v2 = probe(ProbeV2, "C-V2", ProbePayloadV2(nomor_sep=SEP, approved_amount=7_000_000, verification_seq=2))
    v3 = json.loads(encode_event(probe(ProbeV2, "C-V3", from_v2.payload)))
    v3["schema_version"] = 3
    stray = json.loads(encode_event(probe(ProbeV1, "C-STRAY", from_v1.payload)))
    stray["payload"]["surplus"] = 1
    consumer = Consumer(stack, schema, topic)

    async with consumer.running(ProbeV2):
        await produce(stack.bootstrap_servers, topic, [from_v1, from_v2, (b"C-V3", json.dumps(v3).encode()),
                                                       (b"C-STRAY", json.dumps(stray).encode())])  # fmt: skip

    assert consumer.applied == {
        str(from_v1.event_id): {"version": 2, "nomor_sep": SEP, "approved_amount": 5_634_100, "verification_seq": 1},
        str(from_v2.event_id): {"version": 2, "nomor_sep": SEP, "approved_amount": 7_000_000, "verification_seq": 2},
    }
    assert await effects(pool) == 2
    letters = {key: (error, reason) for key, _, error, reason in await dead_letters(pool, topic)}
    assert letters == {
        b"C-V3": ("schema", "ContractProbe.schema_version: Input should be 2"),
        b"C-STRAY": ("schema", "ContractProbe.payload.surplus: Extra inputs are not permitted"),
    }


async def test_an_additive_field_is_applied_once_its_consumers_run_the_contract_that_has_it(
    stack: Stack, pool: asyncpg.Pool, schema: str, topic: str
) -> None:
    old_producer = probe(ProbeV1, "C-OLD", ProbePayloadV1(nomor_sep=SEP, amount=1_000))
    early = probe(ProbeV1Next, "C-EARLY", ProbePayloadV1Next(nomor_sep=SEP, amount=2_000, catatan="ruang isolasi"))
    consumer = Consumer(stack, schema, topic)

    # The producer jumped the order: the consumer still runs the contract without `catatan`.
    async with consumer.running(ProbeV1):
        await produce(stack.bootstrap_servers, topic, [old_producer, early])
    [(key, original, error, reason)] = await dead_letters(pool, topic)
    assert (key, error, reason) == (
        b"C-EARLY",
        "schema",
        "ContractProbe.payload.catatan: Extra inputs are not permitted",
    )
    assert list(consumer.applied) == [str(old_producer.event_id)]  # nothing of the early event was applied

    # Consumers upgraded first (the field optional in their contract, their code unchanged), producers after.
    later_old = probe(ProbeV1, "C-OLD-2", ProbePayloadV1(nomor_sep=SEP, amount=3_000))
    later_new = probe(ProbeV1Next, "C-NEW", ProbePayloadV1Next(nomor_sep=SEP, amount=4_000, catatan="kelas 1"))
    async with consumer.running(ProbeV1Next):
        await produce(stack.bootstrap_servers, topic, [later_old, later_new, (key, original)])  # + the redrive

    assert consumer.applied == {
        str(old_producer.event_id): {"version": 1, "nomor_sep": SEP, "amount": 1_000},
        str(later_old.event_id): {"version": 1, "nomor_sep": SEP, "amount": 3_000, "catatan": None},
        str(later_new.event_id): {"version": 1, "nomor_sep": SEP, "amount": 4_000, "catatan": "kelas 1"},
        str(early.event_id): {"version": 1, "nomor_sep": SEP, "amount": 2_000, "catatan": "ruang isolasi"},
    }
    assert await effects(pool) == 4
    assert len(await dead_letters(pool, topic)) == 1  # the one from before the upgrade, no new one
