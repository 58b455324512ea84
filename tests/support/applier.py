"""A minimal service for the kernel tests: records each applied event as a row in `effects`.

Run as a process (`python -m tests.support.applier`) for the SIGKILL test, with
APPLIER_SCHEMA and APPLIER_TOPIC in the environment.
"""

from __future__ import annotations

import os
from collections.abc import Callable
from pathlib import Path

from shared.consumer import Handler
from shared.events import ClaimSubmitted, Envelope
from shared.outbox import Tx
from shared.runtime import Consumes, ServiceContext, ServiceSpec, serve

MIGRATIONS = Path(__file__).resolve().parents[1] / "integration" / "migrations"


async def record_effect(tx: Tx, event: Envelope) -> None:
    """The effect under test: one row per application."""
    await tx.conn.execute("INSERT INTO effects (event_id, claim_id) VALUES ($1, $2)", event.event_id, event.claim_id)


def make_spec(schema: str, topic: str, handler: Handler = record_effect, name: str | None = None) -> ServiceSpec:
    """A service consuming ClaimSubmitted on `topic` with `handler`."""
    factory: Callable[[ServiceContext], Handler] = lambda _ctx: handler  # noqa: E731
    return ServiceSpec(
        name="applier",
        schema=schema,
        migrations=MIGRATIONS,
        consumes=[Consumes(name or f"applier-{schema}", {topic: (ClaimSubmitted,)}, factory)],
        default_http_port=0,  # any free port: tests run several
    )


if __name__ == "__main__":
    serve(make_spec(os.environ["APPLIER_SCHEMA"], os.environ["APPLIER_TOPIC"]))
