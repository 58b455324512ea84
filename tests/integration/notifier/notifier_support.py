"""Helpers for the notifier's integration tests: a real HTTP receiver, a real SMTP server, the service."""

from __future__ import annotations

import asyncio
import email
import email.policy
import re
import time
import uuid
from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager
from dataclasses import dataclass, field
from email.message import EmailMessage
from pathlib import Path
from typing import Any, cast

import asyncpg
from aiosmtpd.controller import Controller
from aiosmtpd.smtp import SMTP, Envelope, Session

from deploy.local import Stack, free_port
from services.notifier.adapters import repository
from services.notifier.adapters.egress import Resolver, system_resolver
from services.notifier.adapters.sealing import SecretBox, new_key
from services.notifier.domain.model import SubscriptionRequest
from services.notifier.domain.routing import with_defaults
from services.notifier.service import make_spec
from services.notifier.settings import NotifierSettings
from shared.clock import RealClock, get_clock, set_clock
from shared.events import Envelope as Event
from shared.events import parse_event_obj
from shared.runtime import ServiceRuntime
from shared.settings import BrokerSettings, DatabaseSettings, ServiceSettings, Settings
from shared.topics import EVENT_TOPICS
from tests.support.factories import example
from tests.support.kafka import make_topics, produce

README = Path(__file__).resolve().parents[3] / "services" / "notifier" / "README.md"
SECRET = "rs-0301-signing-secret-2026"
SECRETS_KEY = new_key()  # NOTIFIER_SECRETS_KEY of every test notifier (production must set its own)
CLOCK = RealClock()  # the tests' own time, whatever clock another test left installed


# --------------------------------------------------------------------------- HTTP receiver


@dataclass(frozen=True)
class Reply:
    status: int = 200
    headers: tuple[tuple[str, str], ...] = ()
    delay_s: float = 0.0


@dataclass
class Received:
    path: str
    headers: dict[str, str]  # lower-cased names
    body: bytes
    status: int
    arrived: float  # time.monotonic()


@dataclass
class Receiver:
    """A tiny HTTP/1.1 server: answers each path from a script (then 200), records every request."""

    port: int = 0
    requests: list[Received] = field(default_factory=list)
    scripts: dict[str, list[Reply]] = field(default_factory=dict)
    in_flight: dict[str, int] = field(default_factory=dict)
    most_in_flight: dict[str, int] = field(default_factory=dict)
    _server: asyncio.Server | None = None
    _handlers: set[asyncio.Task[Any]] = field(default_factory=set)

    def url(self, path: str) -> str:
        return f"http://127.0.0.1:{self.port}{path}"

    def script(self, path: str, *replies: Reply) -> None:
        self.scripts[path] = list(replies)

    def to(self, path: str) -> list[Received]:
        return [r for r in self.requests if r.path == path]

    def accepted(self, path: str) -> list[Received]:
        return [r for r in self.to(path) if 200 <= r.status < 300]

    async def start(self) -> None:
        self._server = await asyncio.start_server(self._serve, "127.0.0.1", 0)
        self.port = self._server.sockets[0].getsockname()[1]

    async def stop(self) -> None:
        if self._server is not None:
            self._server.close()
        for task in list(self._handlers):
            task.cancel()
        await asyncio.gather(*self._handlers, return_exceptions=True)

    async def _serve(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        task = asyncio.current_task()
        assert task is not None
        self._handlers.add(task)
        path = "?"
        try:
            head = (await reader.readuntil(b"\r\n\r\n")).decode("latin-1").split("\r\n")
            _, path, _ = head[0].split(" ", 2)
            headers = {k.strip().lower(): v.strip() for k, v in (h.split(":", 1) for h in head[1:] if ":" in h)}
            body = await reader.readexactly(int(headers.get("content-length", "0")))
            queue = self.scripts.get(path, [])
            reply = queue.pop(0) if queue else Reply()
            self.in_flight[path] = self.in_flight.get(path, 0) + 1
            self.most_in_flight[path] = max(self.most_in_flight.get(path, 0), self.in_flight[path])
            self.requests.append(Received(path, headers, body, reply.status, time.monotonic()))
            try:
                if reply.delay_s:
                    await asyncio.sleep(reply.delay_s)
                extra = "".join(f"{k}: {v}\r\n" for k, v in reply.headers)
                head_out = f"HTTP/1.1 {reply.status} Scripted\r\nContent-Length: 2\r\nConnection: close\r\n{extra}"
                writer.write(f"{head_out}\r\nok".encode())
                await writer.drain()
            finally:
                self.in_flight[path] -= 1
        except (asyncio.IncompleteReadError, ConnectionError, ValueError):
            pass
        finally:
            writer.close()
            self._handlers.discard(task)


# --------------------------------------------------------------------------- SMTP server


class Inbox:
    """aiosmtpd handler keeping every message."""

    def __init__(self) -> None:
        self.messages: list[EmailMessage] = []
        self.replies: list[str] = []  # scripted answers to DATA before accepting, e.g. "451 4.3.0 try later"

    async def handle_DATA(self, server: SMTP, session: Session, envelope: Envelope) -> str:
        if self.replies:
            return self.replies.pop(0)
        raw = envelope.original_content or b""
        self.messages.append(email.message_from_bytes(raw, policy=email.policy.default))
        return "250 Message accepted for delivery"

    def about(self, needle: str) -> list[EmailMessage]:
        return [m for m in self.messages if needle in str(m["Subject"])]


@dataclass
class SmtpServer:
    inbox: Inbox
    port: int
    controller: Controller


async def start_smtp() -> SmtpServer:
    inbox = Inbox()
    port = free_port()
    controller = Controller(inbox, hostname="127.0.0.1", port=port)
    await asyncio.to_thread(controller.start)
    return SmtpServer(inbox, port, controller)


# --------------------------------------------------------------------------- the service


def notifier_settings(smtp_port: int = 1, **changes: Any) -> NotifierSettings:
    """Small timeouts and backoff so a whole retry budget takes about a second."""
    values: dict[str, Any] = {
        "smtp_host": "127.0.0.1", "smtp_port": smtp_port, "smtp_security": "none", "smtp_timeout_s": 2.0,
        "webhook_timeout_s": 2.0, "max_attempts": 4, "backoff_base_s": 0.05, "backoff_max_s": 0.5,
        "concurrency": 8, "per_subscription_concurrency": 2, "lease_s": 5.0, "poll_interval_s": 0.2,
        "secrets_key": SECRETS_KEY,
        # The tests' HTTP receivers listen on loopback, which is refused unless allow-listed: allow it explicitly.
        "webhook_allow": "127.0.0.1",
    }  # fmt: skip
    values.update(changes)
    return NotifierSettings(**values)


def kernel_settings(stack: Stack) -> Settings:
    return Settings(
        broker=BrokerSettings(bootstrap_servers=stack.bootstrap_servers, session_timeout_ms=6000, max_batch=100),
        database=DatabaseSettings(database_url=stack.database_url),
        service=ServiceSettings(retry_base_delay_s=0.01),
    )


@dataclass
class Notifier:
    """The names one test's notifier uses: its schema, consumer group and topic prefix."""

    stack: Stack
    schema: str
    config: NotifierSettings

    def tuned(self, **changes: Any) -> NotifierSettings:
        """This test's settings with some changed (validated again)."""
        return NotifierSettings(**{**self.config.model_dump(), **changes})

    @property
    def prefix(self) -> str:
        return f"{self.schema}."

    def topic(self, name: str) -> str:
        return self.prefix + name

    async def create_topics(self) -> None:
        await make_topics(self.stack.bootstrap_servers, *(self.topic(t.name) for t in EVENT_TOPICS))

    @asynccontextmanager
    async def running(
        self, config: NotifierSettings | None = None, resolver: Resolver = system_resolver
    ) -> AsyncIterator[ServiceRuntime]:
        """The notifier as it runs in production: migrations, consumer, dispatcher, DLQ watcher."""
        spec = make_spec(config or self.config, schema=self.schema, group=f"notifier-{self.schema}",
                         topic_prefix=self.prefix, resolver=resolver)  # fmt: skip
        previous = get_clock()
        set_clock(RealClock())
        runtime = ServiceRuntime(spec, kernel_settings(self.stack))
        await runtime.start()
        await runtime.broker.start()
        try:
            yield runtime
        finally:
            await runtime.broker.stop()
            await runtime.stop()
            set_clock(previous)

    async def publish(self, *events: Event) -> None:
        for ev in events:
            await produce(self.stack.bootstrap_servers, self.topic(ev.topic), [ev])


async def subscribe(pool: asyncpg.Pool, request: SubscriptionRequest) -> int:
    """Store a subscription as the CLI does, secret sealed, but without the subscription-time destination check
    (the dispatcher checks again on every connection; test_notifier_egress.py covers both checks)."""
    sealed = SecretBox([SECRETS_KEY]).seal(request.secret) if request.secret else None
    async with pool.acquire() as conn:
        return await repository.add_subscription(conn, with_defaults(request), CLOCK.now(), sealed)


def webhook(kode_rs: str, url: str, **changes: Any) -> SubscriptionRequest:
    values: dict[str, Any] = {"audience": "hospital", "kode_rs": kode_rs, "channel": "webhook", "target": url,
                              "secret": SECRET}  # fmt: skip
    values.update(changes)
    return SubscriptionRequest(**values)


def operators_email(address: str, **changes: Any) -> SubscriptionRequest:
    return SubscriptionRequest(audience="operators", kode_rs=None, channel="email", target=address, **changes)


def kode_rs() -> str:
    """A hospital code no other test uses."""
    return f"T{uuid.uuid4().hex[:7].upper()}"


def event(event_type: str, kode: str, **payload: Any) -> Event:
    """The worked example of `event_type` for hospital `kode`, with a fresh event and claim id."""
    doc = example(event_type)
    doc["event_id"] = str(uuid.uuid4())
    doc["claim_id"] = f"{kode}-{uuid.uuid4().hex[:8]}"
    doc["payload"]["kode_rs"] = kode
    doc["payload"].update(payload)
    return parse_event_obj(doc)


async def fetchval(pool: asyncpg.Pool, sql: str, *args: object) -> Any:
    return await pool.fetchval(sql, *args)


def documented_verifier() -> Callable[..., bool]:
    """The receiver example of the README, executed as written."""
    block = re.search(r"```python\n(.*?)```", README.read_text(), re.S)
    assert block, "the README has no python receiver example"
    namespace: dict[str, Any] = {}
    exec(block.group(1), namespace)
    return cast(Callable[..., bool], namespace["verify_jkn_webhook"])


def signed_headers(received: Received) -> dict[str, str]:
    """The signature headers as the README's example reads them."""
    h = received.headers
    return {"X-JKN-Timestamp": h["x-jkn-timestamp"], "X-JKN-Signature": h["x-jkn-signature"]}
