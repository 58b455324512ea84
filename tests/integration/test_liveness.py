"""`/health/live` names a relay or consumer that has had work waiting without progress; standbys are live.

Asked over HTTP of the service's own ASGI app, against the real database and brokers.
"""

from __future__ import annotations

import logging
import uuid
from collections.abc import AsyncIterator, Iterator
from contextlib import asynccontextmanager
from typing import Any

import asyncpg
import httpx
import pytest
from aiokafka import AIOKafkaProducer

from deploy.local import Stack, start_embedded_broker
from shared import metrics
from shared.events import Envelope
from shared.outbox import OutboxRelay, Tx
from shared.runtime import ServiceRuntime, build_app
from shared.settings import BrokerSettings, DatabaseSettings, ServiceSettings, Settings
from tests.support.applier import make_spec, record_effect
from tests.support.factories import submitted
from tests.support.kafka import eventually, make_topics, produce

pytestmark = pytest.mark.integration


@pytest.fixture(autouse=True)
def _keep_logging() -> Iterator[None]:
    """build_app configures the process's logging as a service's; give the test process its own back."""
    root = logging.getLogger()
    handlers, level = root.handlers[:], root.level
    yield
    root.handlers[:] = handlers
    root.setLevel(level)


def settings_for(stack: Stack, bootstrap: str | None = None, **service: Any) -> Settings:
    return Settings(
        broker=BrokerSettings(bootstrap_servers=bootstrap or stack.bootstrap_servers, session_timeout_ms=6000),
        database=DatabaseSettings(database_url=stack.database_url),
        service=ServiceSettings(retry_base_delay_s=0.01, log_level="WARNING", **service),
    )


@asynccontextmanager
async def http(app: Any) -> AsyncIterator[httpx.AsyncClient]:
    async with httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://service") as client:
        yield client


async def live(client: httpx.AsyncClient) -> tuple[int, dict[str, Any]]:
    response = await client.get("/health/live")
    body: dict[str, Any] = response.json()
    return response.status_code, body


async def test_a_leading_relay_whose_broker_is_gone_is_reported_and_a_standby_is_not(
    stack: Stack, pool: asyncpg.Pool, schema: str
) -> None:
    bootstrap, broker = start_embedded_broker()  # a broker of its own, to take away
    port = int(bootstrap.rsplit(":", 1)[1])
    producer = AIOKafkaProducer(bootstrap_servers=bootstrap, acks="all", request_timeout_ms=2000)
    await producer.start()
    leader_app = build_app(make_spec(schema, "test.unused"), settings_for(stack, bootstrap, stall_after_s=2))
    standby_app = build_app(make_spec(schema, "test.unused"), settings_for(stack, bootstrap, stall_after_s=2))
    leader: ServiceRuntime = leader_app.runtime  # type: ignore[attr-defined]
    standby: ServiceRuntime = standby_app.runtime  # type: ignore[attr-defined]
    leader.relay = OutboxRelay(stack.database_url, schema, producer, poll_interval_s=0.2)
    leader.relay.start()
    await eventually(lambda: _is_leader(leader.relay))
    standby.relay = OutboxRelay(stack.database_url, schema, producer, poll_interval_s=0.2)
    standby.relay.start()
    try:
        async with http(leader_app) as leader_http, http(standby_app) as standby_http:
            await _write(pool, "test.liveness", 1)
            await eventually(lambda: _unsent_is(pool, 0))
            assert await live(leader_http) == (200, {"status": "live"})

            broker.kill()
            broker.wait()
            await _write(pool, "test.liveness", 3)
            await eventually(lambda: _stalled(leader_http), within=20)
            status, body = await live(leader_http)
            assert status == 503
            assert [(p["part"], p["schema"]) for p in body["stalled"]] == [("outbox-relay", schema)]
            assert await live(standby_http) == (200, {"status": "live"})
            # The failed rounds are counted and the gauges stay current while the broker is away.
            await eventually(lambda: _sample_at_least("outbox_relay_errors_total", schema, 1, kind="transient"))
            assert metrics.registry.get_sample_value("outbox_backlog", {"schema": schema}) == 3

            _, broker = start_embedded_broker(port)  # the broker is back: the relay catches up, live again
            await eventually(lambda: _unsent_is(pool, 0), within=60)
            await eventually(lambda: _live_again(leader_http))
    finally:
        await standby.relay.stop()
        await leader.relay.stop()
        await producer.stop()
        broker.kill()
        broker.wait()


async def test_a_consumer_whose_batch_keeps_failing_is_reported_until_it_is_applied(
    stack: Stack, pool: asyncpg.Pool, schema: str
) -> None:
    topic = f"test.{uuid.uuid4().hex[:8]}"
    await make_topics(stack.bootstrap_servers, topic, partitions=1)
    database = {"up": False}

    async def handler(tx: Tx, event: Envelope) -> None:
        if not database["up"]:
            raise ConnectionRefusedError("database unreachable")
        await record_effect(tx, event)

    app = build_app(make_spec(schema, topic, handler), settings_for(stack, stall_after_s=3, retry_attempts=2))
    runtime: ServiceRuntime = app.runtime  # type: ignore[attr-defined]
    await runtime.start()
    await runtime.broker.start()
    try:
        async with http(app) as client:
            assert await live(client) == (200, {"status": "live"})
            await produce(stack.bootstrap_servers, topic, [submitted()])
            await eventually(lambda: _stalled(client), within=30)
            status, body = await live(client)
            assert status == 503
            assert [(p["part"], p["consumer"]) for p in body["stalled"]] == [("consumer", f"applier-{schema}")]
            assert body["stalled"][0]["no_progress_for_s"] >= 3

            database["up"] = True
            await eventually(lambda: _effects(pool, 1), within=60)
            await eventually(lambda: _live_again(client))
    finally:
        await runtime.broker.stop()
        await runtime.stop()


async def _is_leader(relay: OutboxRelay | None) -> bool:
    return relay is not None and relay.is_leader


async def _write(pool: asyncpg.Pool, topic: str, n: int) -> None:
    """Rows waiting to be published (the relays poll every 0.2 s, no wake-up needed)."""
    await pool.executemany(
        "INSERT INTO outbox (topic, key, value) VALUES ($1, $2, $3)",
        [(topic, f"C-LIVE-{uuid.uuid4().hex[:6]}".encode(), b"{}") for _ in range(n)],
    )


async def _unsent_is(pool: asyncpg.Pool, n: int) -> bool:
    return int(await pool.fetchval("SELECT count(*) FROM outbox WHERE sent_at IS NULL")) == n


async def _stalled(client: httpx.AsyncClient) -> bool:
    return (await live(client))[0] == 503


async def _live_again(client: httpx.AsyncClient) -> bool:
    return await live(client) == (200, {"status": "live"})


async def _sample_at_least(name: str, schema: str, n: float, **labels: str) -> bool:
    return (metrics.registry.get_sample_value(name, {"schema": schema, **labels}) or 0) >= n


async def _effects(pool: asyncpg.Pool, n: int) -> bool:
    return int(await pool.fetchval("SELECT count(*) FROM effects")) >= n
