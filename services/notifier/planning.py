"""Turn something to tell into delivery rows: route to subscriptions, render, store (no sending here)."""

from __future__ import annotations

from datetime import datetime

from services.notifier.adapters import metrics, repository
from services.notifier.domain.messages import render, webhook_body
from services.notifier.domain.model import PlannedDelivery
from services.notifier.domain.notices import Source, notice_of
from services.notifier.domain.routing import route
from shared.db import Conn


async def plan(conn: Conn, schema: str, source: Source, now: datetime) -> int:
    """Plan one delivery per matching subscription in the caller's transaction; returns how many are new."""
    notice = notice_of(source, now)
    candidates = await repository.candidate_subscriptions(conn, notice.kode_rs)
    subscriptions = route(candidates, notice.event_type, notice.kode_rs)
    rows = []
    for sub in subscriptions:
        message = render(source, sub.language, sub.timezone)
        body = webhook_body(notice, message, sub.id, sub.language) if sub.channel == "webhook" else None
        rows.append(
            PlannedDelivery(
                event_id=notice.event_id,
                subscription_id=sub.id,
                event_type=notice.event_type,
                claim_id=notice.claim_id,
                kode_rs=notice.kode_rs,
                channel=sub.channel,
                subject=message.subject,
                text=message.text,
                body=body,
            )
        )
    planned = await repository.insert_deliveries(conn, schema, rows, now)
    if planned:
        metrics.DELIVERIES_PLANNED.labels(notice.event_type).inc(planned)
    return planned
