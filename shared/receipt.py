"""Which instant dates an input: when BPJS received it (hospitals) or when the operator acted (commands).

A legal window ("resubmit within 7 working days", "dispute within 14") is judged on the day the
input reached BPJS, never on the day a lagging consumer got round to it: a resubmission received
at 23:59 on the last day and consumed at 00:30 the next day is on time. See the README section
"Deadlines judged on receipt time".
"""

from __future__ import annotations

from datetime import date, datetime, tzinfo
from zoneinfo import ZoneInfo

from shared.clock import Clock
from shared.events import Envelope


def business_date(instant: datetime, zone: str | tzinfo) -> date:
    """The calendar date of `instant` in the business time zone (deadlines are such dates)."""
    tz = ZoneInfo(zone) if isinstance(zone, str) else zone
    return instant.astimezone(tz).date()


def received_instant(event: Envelope, clock: Clock) -> datetime:
    """When BPJS received the input `event` stems from: its `received_at`, else now (we are the first to see it).

    The kernel stamps `received_at` on decode (broker append time where the topic keeps it, else the
    consumer's clock) and follow-ups carry it, so the fallback only covers events built in-process.
    """
    return event.received_at if event.received_at is not None else clock.now()


def received_on(event: Envelope, clock: Clock, zone: str | tzinfo) -> date:
    """The business date BPJS received the input `event` stems from."""
    return business_date(received_instant(event, clock), zone)
