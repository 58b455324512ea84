"""Service runtime: every service builds its FastStream app here.

What each service gets: migrations at start-up, an asyncpg pool on its own schema, the
outbox relay, batch consumers wired through the reliability kernel (manual offset
commit after the database commit), `/health/live`, `/health/ready` (database and
broker), `/metrics` (FastStream's Prometheus middleware plus the kernel's counters),
JSON logs, background tasks on the configured clock, and graceful shutdown on SIGTERM.
"""

from __future__ import annotations

import asyncio
import contextlib
import dataclasses
import json
import logging
import os
import time
from collections.abc import Awaitable, Callable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import asyncpg
import structlog
from aiokafka import AIOKafkaProducer
from faststream import AckPolicy
from faststream.asgi import AsgiFastStream, AsgiResponse, get
from faststream.kafka import KafkaBroker
from faststream.kafka.annotations import KafkaMessage
from faststream.kafka.prometheus import KafkaPrometheusMiddleware
from prometheus_client import CONTENT_TYPE_LATEST, generate_latest

from shared import db, kafka_compat, metrics, tracing
from shared.application import Application
from shared.clock import Clock, get_clock
from shared.consumer import BatchProcessor, Handler
from shared.events import Envelope
from shared.inbox import purge_older_than
from shared.kafka_security import client_options, faststream_security
from shared.logs import adopt_framework_loggers, configure_logging
from shared.operators import command_checks
from shared.outbox import OutboxRelay, purge_sent
from shared.settings import Settings, get_settings

log = structlog.get_logger(__name__)
kafka_compat.install()  # a header name that is not UTF-8 must not stall a subscriber

STACK_ENV = Path(".local/stack.env")


@dataclass
class ServiceContext:
    """What handlers and background tasks of a running service share."""

    settings: Settings
    pool: asyncpg.Pool
    clock: Clock
    producer: AIOKafkaProducer
    schema: str
    extras: dict[str, Any] = field(default_factory=dict)


@dataclass(frozen=True)
class Consumes:
    """One consumer group: the topics it reads, the event types each carries, and its application.

    The application's handler table must name exactly the accepted types, or the service does not start.
    """

    name: str
    accepted: Mapping[str, tuple[type[Envelope], ...]]
    handler_factory: Callable[[ServiceContext], Application[Any] | Handler]


@dataclass(frozen=True)
class ServiceSpec:
    name: str
    schema: str
    migrations: Path | None
    consumes: Sequence[Consumes]
    background: Sequence[Callable[[ServiceContext], Awaitable[None]]] = ()
    default_http_port: int = 8080
    # An HTTP API of the service's own (the gateway's), built with the runtime and served on every path the
    # runtime's routes (/health/live, /health/ready, /metrics, /asyncapi) do not take.
    http_app: Callable[[ServiceRuntime], Any] | None = None


def resolve_endpoints(settings: Settings) -> tuple[str, str]:
    """Broker and database from the environment, else from the running local stack's file."""
    bootstrap = settings.broker.bootstrap_servers
    dsn = settings.database.database_url
    if (not bootstrap or not dsn) and STACK_ENV.exists():
        found = dict(line.split("=", 1) for line in STACK_ENV.read_text().splitlines() if "=" in line)
        bootstrap = bootstrap or found.get("KAFKA_BOOTSTRAP_SERVERS", "")
        dsn = dsn or found.get("DATABASE_URL", "")
    if not bootstrap or not dsn:
        raise RuntimeError(
            "No broker or database configured: set KAFKA_BOOTSTRAP_SERVERS and DATABASE_URL, "
            "or start the local stack with `make run` / `python -m deploy.local up`"
        )
    return bootstrap, db.with_tls(dsn, settings.database)  # DB_SSLMODE / DB_SSLROOTCERT for every connection


def make_producer(bootstrap: str, settings: Settings) -> AIOKafkaProducer:
    """A producer that waits for every in-sync replica (acks=all); idempotent where the broker allows."""
    return AIOKafkaProducer(
        bootstrap_servers=bootstrap,
        acks="all",
        enable_idempotence=settings.broker.enable_idempotence,
        linger_ms=2,
        max_batch_size=256 * 1024,
        **client_options(settings.broker),  # TLS and SASL as configured
    )


class ServiceRuntime:
    """The running pieces of one service instance, started and stopped with the app."""

    def __init__(self, spec: ServiceSpec, settings: Settings | None = None) -> None:
        self.spec = spec
        self.settings = settings or get_settings()
        self.bootstrap, self.dsn = resolve_endpoints(self.settings)
        self.broker = KafkaBroker(
            self.bootstrap,
            security=faststream_security(self.settings.broker),
            graceful_timeout=self.settings.service.shutdown_timeout_s,
            log_level=logging.DEBUG,  # per-batch "Received/Processed" lines only when debugging
            logger=logging.getLogger("jkn.broker"),  # through our JSON formatter, not FastStream's own
            middlewares=[KafkaPrometheusMiddleware(registry=metrics.registry, app_name=spec.name)],
        )
        self.ctx: ServiceContext | None = None
        self.tracing = tracing.setup(self.settings.tracing, spec.name)  # None unless TRACING_OTLP_ENDPOINT
        self.relay: OutboxRelay | None = None
        self.processors: dict[str, BatchProcessor] = {}
        self._tasks: list[asyncio.Task[None]] = []
        self._failures: dict[str, int] = {}
        # consumer → when the batch it holds began waiting to be applied (cleared once one is applied)
        self._waiting_since: dict[str, float] = {}
        # A failed batch waits first, doubling to longest, before it is redelivered (tests shorten the wait).
        self.redelivery_backoff_s: tuple[float, float] = (0.5, 30.0)
        self._subscribers: dict[str, Any] = {}  # consumer → its FastStream subscriber (holds the AIOKafkaConsumer)
        self._lag_labels: set[tuple[str, str, str]] = set()
        # (consumer, topic, partition) → offset of the next record to apply: lag counts what is held, not applied
        self._next_to_apply: dict[tuple[str, str, int], int] = {}
        for consumes in spec.consumes:
            self._subscribe(consumes)

    def _subscribe(self, consumes: Consumes) -> None:
        b = self.settings.broker

        subscriber = self._subscribers[consumes.name] = self.broker.subscriber(
            *(b.topic_prefix + t for t in consumes.accepted),
            group_id=b.topic_prefix + consumes.name,  # an isolated environment has its own groups
            batch=True,
            max_records=b.max_batch,
            batch_timeout_ms=b.batch_timeout_ms,
            fetch_max_wait_ms=b.fetch_max_wait_ms,
            auto_offset_reset="earliest",
            session_timeout_ms=b.session_timeout_ms,
            heartbeat_interval_ms=max(b.session_timeout_ms // 4, 500),
            ack_policy=AckPolicy.MANUAL,
            parser=tolerant_batch_parser,
            decoder=raw_bodies,
        )

        @subscriber
        async def on_batch(message: KafkaMessage) -> None:
            await self.handle_batch(consumes.name, message)

    async def handle_batch(self, name: str, message: KafkaMessage) -> None:
        """Apply a batch, then commit its offsets; on failure rewind so nothing is committed past it."""
        records = message.raw_message if isinstance(message.raw_message, tuple) else (message.raw_message,)
        self._waiting_since.setdefault(name, time.monotonic())
        for r in records:
            self._next_to_apply.setdefault((name, r.topic, r.partition), r.offset)
        try:
            await self.processors[name].process(records)
        except Exception as exc:
            # Not committed past: rewind and try again, backing off so a lasting failure does not spin.
            failures = self._failures[name] = self._failures.get(name, 0) + 1
            first, longest = self.redelivery_backoff_s
            delay = min(first * 2 ** (failures - 1), longest)
            log.error("batch not applied, will be redelivered", consumer=name, error=repr(exc), retry_in_s=delay)
            await asyncio.sleep(delay)
            await message.nack()
            return
        self._failures[name] = 0
        self._waiting_since.pop(name, None)
        applied_ms, age = time.time() * 1000, metrics.RECORD_AGE.labels(name)
        for r in records:
            age.observe(max(applied_ms - r.timestamp, 0) / 1000)
            self._next_to_apply[(name, r.topic, r.partition)] = r.offset + 1
        try:
            await message.ack()
        except Exception as exc:  # e.g. a rebalance revoked the partitions: the inbox absorbs the redelivery
            log.warning("offset commit failed, batch will be redelivered", consumer=name, error=repr(exc))

    async def start(self) -> None:
        """Migrate, open the pool, start the producer, the relay, the consumers' processors and tasks."""
        s = self.settings
        await db.migrate(self.dsn, self.spec.schema, *([self.spec.migrations] if self.spec.migrations else []))
        pool = await db.create_pool(
            self.dsn, self.spec.schema, min_size=s.database.db_pool_min, max_size=s.database.db_pool_max
        )
        producer = make_producer(self.bootstrap, s)
        await producer.start()
        self.ctx = ServiceContext(s, pool, get_clock(), producer, self.spec.schema)
        for consumes in self.spec.consumes:
            self.processors[consumes.name] = BatchProcessor(
                pool,
                self.spec.schema,
                consumes.name,
                consumes.accepted,
                consumes.handler_factory(self.ctx),
                retry_attempts=s.service.retry_attempts,
                retry_base_delay_s=s.service.retry_base_delay_s,
                topic_prefix=s.broker.topic_prefix,
                clock=self.ctx.clock,
                max_record_bytes=s.broker.max_record_bytes,
                max_output_bytes=s.broker.max_output_bytes,
                checks=command_checks(  # signed operator commands
                    s.operators.registry_file, consumes.accepted, self.ctx.clock, s.operators.command_max_age_days
                ),
                tracing=self.tracing,
            )
        self.relay = OutboxRelay(
            self.dsn, self.spec.schema, producer, batch=s.service.outbox_batch, topic_prefix=s.broker.topic_prefix
        )
        self.relay.start()
        for task in (*self.spec.background, housekeeping):
            self._tasks.append(asyncio.create_task(_forever(task, self.ctx), name=f"{self.spec.name}-bg"))
        self._tasks.append(asyncio.create_task(self._export_progress(), name=f"{self.spec.name}-progress"))
        log.info("service started", service=self.spec.name, schema=self.spec.schema)

    async def stop(self) -> None:
        """Stop tasks, relay, producer and pool (the broker's subscribers are stopped by FastStream first)."""
        for t in self._tasks:
            t.cancel()
        for t in self._tasks:
            with contextlib.suppress(asyncio.CancelledError, Exception):
                await t
        if self.relay is not None:
            await self.relay.stop()
        if self.ctx is not None:
            await self.ctx.producer.stop()
            await self.ctx.pool.close()
        if self.tracing is not None:
            await asyncio.to_thread(self.tracing.shutdown)  # exports the last spans (blocking I/O)
        log.info("service stopped", service=self.spec.name)

    def stalled(self, now: float | None = None) -> list[dict[str, Any]]:
        """The parts that have had work waiting without progress for SERVICE_STALL_AFTER_S (none: live).

        The relay is stalled when, leading or failing to (a lost session, a database away), no round has
        published, quarantined or found nothing to do for that long; a standby relay never is. A consumer
        is stalled when the batch it holds has not been applied for that long (failing and redelivered,
        or hung). No I/O: the parts keep their own timestamps.
        """
        now = time.monotonic() if now is None else now
        limit = self.settings.service.stall_after_s
        found: list[dict[str, Any]] = []
        relay_idle = self.relay.stalled_for(now) if self.relay is not None else None
        if relay_idle is not None and relay_idle > limit:
            found.append({"part": "outbox-relay", "schema": self.spec.schema, "no_progress_for_s": round(relay_idle)})
        for name, since in sorted(self._waiting_since.items()):
            if now - since > limit:
                found.append({"part": "consumer", "consumer": name, "no_progress_for_s": round(now - since)})
        return found

    async def _export_progress(self, every_s: float = 10.0) -> None:
        """Every few seconds: consumer lag per assigned partition, and the stall timers /health/live judges."""
        while True:
            with contextlib.suppress(Exception):  # metrics must never take the service down
                await self.export_progress()
            await asyncio.sleep(every_s)

    async def export_progress(self, now: float | None = None) -> None:
        """Set the lag and stall gauges (no broker request: the consumers' last fetch responses).

        Lag is highwater minus the next offset to apply (records fetched but not applied count), or minus
        the consumer's position where this instance has not received a batch of that partition yet.
        """
        now = time.monotonic() if now is None else now
        if self.relay is not None:
            metrics.OUTBOX_RELAY_STALLED.labels(self.spec.schema).set(self.relay.stalled_for(now) or 0.0)
            metrics.OUTBOX_RELAY_LEADER.labels(self.spec.schema).set(1 if self.relay.is_leader else 0)
        seen: set[tuple[str, str, str]] = set()
        for name, subscriber in self._subscribers.items():
            since = self._waiting_since.get(name)
            metrics.CONSUMER_STALLED.labels(name).set(0.0 if since is None else now - since)
            consumer = getattr(subscriber, "consumer", None)
            if consumer is None:
                continue
            group = self.settings.broker.topic_prefix + name
            assigned = set(consumer.assignment())
            for key in [k for k in self._next_to_apply if k[0] == name and (k[1], k[2]) not in assigned]:
                del self._next_to_apply[key]  # revoked: another instance applies it now
            for tp in assigned:
                with contextlib.suppress(Exception):  # not fetched yet, or revoked meanwhile
                    highwater = consumer.highwater(tp)
                    applied = self._next_to_apply.get((name, tp.topic, tp.partition))
                    if applied is None:
                        applied = await asyncio.wait_for(consumer.position(tp), 1.0)
                    if highwater is not None:
                        labels = (group, tp.topic, str(tp.partition))
                        metrics.CONSUMER_LAG.labels(*labels).set(max(highwater - applied, 0))
                        seen.add(labels)
        for gone in self._lag_labels - seen:  # partitions another instance owns now
            with contextlib.suppress(KeyError):
                metrics.CONSUMER_LAG.remove(*gone)
        self._lag_labels = seen

    async def ready(self) -> dict[str, bool]:
        """Readiness: the database answers and the broker answers."""
        checks = {"database": False, "broker": False}
        if self.ctx is not None:
            with contextlib.suppress(Exception):
                checks["database"] = await asyncio.wait_for(self.ctx.pool.fetchval("SELECT 1"), 2) == 1
        with contextlib.suppress(Exception):
            checks["broker"] = bool(await self.broker.ping(timeout=2))
        return checks


INBOX_KEEP_DAYS = 120  # longer than any topic's retention (shared/topics.py: 90 days at most)
OUTBOX_KEEP_DAYS = 7  # published rows: the broker and the service's own tables keep the history


async def housekeeping(ctx: ServiceContext) -> None:
    """Every 6 real hours: drop published outbox rows and inbox ids no topic can redeliver any more."""
    while True:
        async with ctx.pool.acquire() as conn:
            sent = await purge_sent(conn, OUTBOX_KEEP_DAYS)
            seen = await purge_older_than(conn, INBOX_KEEP_DAYS)
            await tracing.purge_trace_context(conn, INBOX_KEEP_DAYS)
        if sent or seen:
            log.info("housekeeping", outbox_rows_purged=sent, inbox_ids_purged=seen)
        await asyncio.sleep(6 * 3600)


def _utf8_or_empty(value: bytes | None) -> bytes:
    try:
        (value or b"").decode()
    except UnicodeDecodeError:
        return b""
    return value or b""


async def tolerant_batch_parser(records: Any, original: Callable[[Any], Awaitable[Any]]) -> Any:
    """FastStream decodes every header as UTF-8 and fails the whole batch on one that is not.

    Parse copies whose headers FastStream can read, then hand the kernel the original records,
    so a dead letter keeps the exact bytes it arrived with.
    """
    readable = tuple(
        dataclasses.replace(r, headers=[(k, _utf8_or_empty(v)) for k, v in (r.headers or ())]) for r in records
    )
    parsed = await original(readable)
    parsed.raw_message = records
    return parsed


async def raw_bodies(message: Any) -> Any:
    """The kernel reads the raw records itself; FastStream need not decode bodies or headers."""
    return [r.value for r in message.raw_message]


async def _forever(task: Callable[[ServiceContext], Awaitable[None]], ctx: ServiceContext) -> None:
    """Run a background task; if it fails, log and start it again (a sweeper must not die quietly)."""
    while True:
        try:
            await task(ctx)
            return
        except asyncio.CancelledError:
            raise
        except Exception as exc:
            log.error("background task failed, restarting", task=getattr(task, "__name__", "?"), error=repr(exc))
            await asyncio.sleep(1.0)


def liveness_response(runtime: ServiceRuntime) -> AsgiResponse:
    """200 while every part makes progress; 503 naming each stalled part (a restart may cure it)."""
    stalled = runtime.stalled()
    body = {"status": "stalled", "stalled": stalled} if stalled else {"status": "live"}
    return AsgiResponse(
        json.dumps(body).encode(), 503 if stalled else 200, headers={"content-type": "application/json"}
    )


class ServiceApp(AsgiFastStream):
    """FastStream's ASGI app; a path none of its routes takes goes to the service's own HTTP API, if any."""

    http_app: Any = None

    async def not_found(self, scope: Any, receive: Any, send: Any) -> None:
        if self.http_app is not None:
            await self.http_app(scope, receive, send)
            return
        await super().not_found(scope, receive, send)


def build_app(spec: ServiceSpec, settings: Settings | None = None) -> AsgiFastStream:
    """The ASGI + FastStream application of one service."""
    settings = settings or get_settings()
    configure_logging(settings.service.log_level, settings.service.log_format, spec.name)
    runtime = ServiceRuntime(spec, settings)

    @get
    async def live(scope: Any) -> AsgiResponse:
        return liveness_response(runtime)

    @get
    async def ready(scope: Any) -> AsgiResponse:
        checks = await runtime.ready()
        ok = all(checks.values())
        body = json.dumps({"status": "ready" if ok else "not-ready", "checks": checks}).encode()
        return AsgiResponse(body, 200 if ok else 503, headers={"content-type": "application/json"})

    @get
    async def prometheus(scope: Any) -> AsgiResponse:
        return AsgiResponse(generate_latest(metrics.registry), 200, headers={"content-type": CONTENT_TYPE_LATEST})

    app = ServiceApp(
        runtime.broker,
        asgi_routes=[("/health/live", live), ("/health/ready", ready), ("/metrics", prometheus)],
        logger=logging.getLogger("jkn.app"),
        on_startup=[runtime.start],
        after_startup=[adopt_framework_loggers],  # the broker's loggers exist once it has started
        after_shutdown=[runtime.stop],
        asyncapi_path="/asyncapi",
    )
    if spec.http_app is not None:
        app.http_app = spec.http_app(runtime)
    app.runtime = runtime  # type: ignore[attr-defined]
    return app


def serve(spec: ServiceSpec) -> None:
    """Run one service: HTTP on SERVICE_HTTP_HOST:SERVICE_HTTP_PORT (default: the service's port)."""
    settings = get_settings()
    app = build_app(spec, settings)
    port = settings.service.http_port or int(os.environ.get("PORT", spec.default_http_port))
    asyncio.run(
        app.run(
            run_extra_options={
                "host": settings.service.http_host,
                "port": port,
                "timeout_graceful_shutdown": int(settings.service.shutdown_timeout_s),
                "log_config": None,  # uvicorn's records go through our JSON formatter
            }
        )
    )
