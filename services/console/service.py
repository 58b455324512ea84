"""The operator console: sign-in, the reviewers', dispute panel's and finance's queues, signed commands.

Its pages are server-rendered (Jinja2, htmx served from /static). It reads the queues from the owning
services' own tables through their repositories (as claimsctl does), and every action is a command signed
with the operator's key and written to the console's outbox, so the relay publishes it to the owning
service's command topic. The analytics read model, when present, is its consumer.
"""

from __future__ import annotations

import importlib
from pathlib import Path

from services.console.entrypoints.housekeeping import forget_expired_sessions
from shared.runtime import Consumes, ServiceRuntime, ServiceSpec


def http_app(runtime: ServiceRuntime) -> object:
    """The FastAPI app (imported here so a consumer-only import of the spec stays light)."""
    from services.console.entrypoints.http import create_app

    return create_app(runtime)


def optional_consumers() -> list[Consumes]:
    """The analytics read model's consumer, if this checkout has it."""
    name = "services.console.entrypoints.analytics_consumer"
    try:
        module = importlib.import_module(name)
    except ModuleNotFoundError as exc:
        if exc.name != name:
            raise  # the module exists but a dependency is missing: say so, never skip it quietly
        return []
    consumes: Consumes = module.ANALYTICS_CONSUMES
    return [consumes]


SPEC = ServiceSpec(
    name="console",
    schema="console",
    migrations=Path(__file__).parent / "migrations",
    consumes=optional_consumers(),
    background=[forget_expired_sessions],
    default_http_port=8086,
    http_app=http_app,
)
