"""The notifier's service spec (no I/O at import): what it consumes and what runs beside it.

One consumer group over the topics hospitals and operators hear about (its use cases only
plan deliveries, application.py), the dispatcher that sends them, and the DLQ watcher for operators.
"""

from __future__ import annotations

from pathlib import Path

from services.notifier.adapters.egress import Resolver, system_resolver
from services.notifier.domain.messages import HANDLED_EVENTS
from services.notifier.entrypoints.consumer import consumer
from services.notifier.entrypoints.dead_letters import watch_dead_letters
from services.notifier.entrypoints.dispatcher import run_dispatcher
from services.notifier.settings import NotifierSettings, get_notifier_settings
from shared.runtime import Consumes, ServiceContext, ServiceSpec, resolve_endpoints
from shared.topics import DLQ_SUFFIX, all_topics

MIGRATIONS = Path(__file__).resolve().parent / "migrations"
NAME = "notifier"
HTTP_PORT = 8084


def dlq_topics(prefix: str = "") -> tuple[str, ...]:
    """Every dead-letter topic of the system."""
    return tuple(prefix + t.name for t in all_topics() if t.name.endswith(DLQ_SUFFIX))


def make_spec(
    config: NotifierSettings | None = None,
    *,
    schema: str = NAME,
    group: str = NAME,
    topic_prefix: str = "",
    resolver: Resolver = system_resolver,
) -> ServiceSpec:
    """The notifier; tests pass their own settings, schema, group, topic prefix and webhook host resolver."""
    accepted = {topic_prefix + cls.topic: (cls,) for cls in HANDLED_EVENTS}

    async def dispatcher(ctx: ServiceContext) -> None:
        _, dsn = resolve_endpoints(ctx.settings)
        settings = config or get_notifier_settings()
        await run_dispatcher(ctx.pool, ctx.schema, ctx.clock, settings, dsn, resolver=resolver)

    async def dead_letters(ctx: ServiceContext) -> None:
        bootstrap, _ = resolve_endpoints(ctx.settings)
        await watch_dead_letters(
            ctx.pool, ctx.schema, ctx.clock, bootstrap, dlq_topics(topic_prefix), f"{group}-dlq",
            session_timeout_ms=ctx.settings.broker.session_timeout_ms,
        )  # fmt: skip

    return ServiceSpec(
        name=NAME,
        schema=schema,
        migrations=MIGRATIONS,
        consumes=[Consumes(group, accepted, consumer)],
        background=[dispatcher, dead_letters],
        default_http_port=HTTP_PORT,
    )


SPEC = make_spec()
