"""Operations use cases: the operations page's picture of the system, and the audited DLQ redrive.

Deadlines come from the console's own read model; outbox backlog, consumer lag, dead letters and the
notifier's failed deliveries are read where claimsctl reads them (adapters/operations_queries.py).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import date

from services.console.adapters import operations_queries as queries
from services.console.domain.operations import (
    DEFAULT_HORIZON_WORKING_DAYS,
    AtRisk,
    Calendar,
    GroupLag,
    OutboxBacklog,
    OverduePayable,
    at_risk,
    horizon_end,
)
from shared import dlq
from shared.db import Conn
from shared.runtime import ServiceSpec
from shared.settings import Settings


@dataclass(frozen=True)
class Where:
    """Where the operational data lives: the broker, the database, and the services to look at."""

    settings: Settings
    bootstrap: str
    dsn: str
    services: Sequence[ServiceSpec]
    notifier_schema: str = "notifier"

    @property
    def prefix(self) -> str:
        return self.settings.broker.topic_prefix

    def outboxes(self) -> list[tuple[str, str]]:
        return [(s.name, s.schema) for s in self.services]

    def groups(self) -> list[tuple[str, str, list[str]]]:
        return [(s.name, c.name, list(c.accepted)) for s in self.services for c in s.consumes]


@dataclass
class OperationsView:
    today: date
    horizon: int
    deadlines: list[AtRisk]
    overdue: list[OverduePayable]
    outbox: list[OutboxBacklog] = field(default_factory=list)
    lag: list[GroupLag] = field(default_factory=list)
    letters: list[dlq.DlqRecord] = field(default_factory=list)
    redriven: dict[str, dlq.PastRedrive] = field(default_factory=dict)
    notifications: list[queries.NotificationFailure] = field(default_factory=list)
    broker_error: str | None = None


async def deadlines_view(conn: Conn, calendar: Calendar, today: date, horizon: int) -> OperationsView:
    """What the read model says is due within `horizon` working days, and what is overdue."""
    until = horizon_end(calendar, today, horizon)
    found = await queries.deadlines(conn, today, until)
    return OperationsView(today, horizon, at_risk(calendar, today, found), await queries.overdue_payables(conn, today))


async def operations_view(
    conn: Conn, where: Where, calendar: Calendar, today: date, horizon: int = DEFAULT_HORIZON_WORKING_DAYS
) -> OperationsView:
    """The whole page: deadlines, overdue payables, outboxes, lag, dead letters, failed notifications."""
    view = await deadlines_view(conn, calendar, today, horizon)
    view.outbox = await queries.outbox_backlog(conn, where.outboxes())
    view.notifications = await queries.notification_failures(conn, where.notifier_schema)
    view.lag = await queries.consumer_lag(where.bootstrap, where.prefix, where.groups())
    try:
        view.letters, view.redriven = await queries.dead_letters(where.bootstrap, where.prefix, where.dsn)
    except Exception as exc:  # the broker or the audit schema unreachable: the rest of the page still helps
        view.broker_error = f"{type(exc).__name__}: {exc}"[:300]
    return view


async def redrive(where: Where, letter_ids: Sequence[str], operator_id: str) -> dlq.RedriveOperation:
    """Redrive dead letters as the signed-in operator (audited like `claimsctl dlq redrive --by`)."""
    return await queries.redrive(where.settings, where.bootstrap, where.dsn, letter_ids, operator_id)
