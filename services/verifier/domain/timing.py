"""Which day an act happened on, and whether the daily sweep may judge a day yet.

Deadlines are judged on receipt time, not processing time (README "Deadlines judged on receipt
time"): a hospital's input counts on the business date it reached BPJS (`received_at`), an
operator's command on the business date the operator made it (`occurred_at`). The sweep, which
judges the absence of an input (no decision: deemed complete; no resubmission: expired), may only
judge a day once every input received by that day's end has been applied: consumer lag measured
from broker offsets, so simulated cut-offs never have to be compared with real broker timestamps.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from datetime import date, datetime, time, timedelta, tzinfo

from services.verifier.domain.rulebook import reason
from shared.events import Reason

Partition = tuple[str, int]  # (topic, partition)


def acted_on(occurred_at: datetime, now: datetime, zone: tzinfo, max_ahead: timedelta) -> date | Reason:
    """The business date an operator's command dates its decision with, or why it is refused.

    `occurred_at` is set when the operator acts, so a command consumed after midnight still decides
    the day it was made. A command dated further ahead of our clock than `max_ahead` (clock skew
    between the operator's machine and ours) would let a decision be dated into a window that has not
    opened yet: refused, naming occurred_at.
    """
    if occurred_at > now + max_ahead:
        detail = f"{occurred_at.isoformat()} > {now.isoformat()} + {int(max_ahead.total_seconds())} s"
        return reason("V-CMD-FUTURE", field="occurred_at", detail=detail)
    return occurred_at.astimezone(zone).date()


def cut_off(on: date, zone: tzinfo) -> datetime:
    """The end of business day `on`: the first instant of the next day in the business zone."""
    return datetime.combine(on + timedelta(days=1), time.min, zone)


@dataclass(frozen=True)
class Lag:
    """A partition whose consumer group has not yet applied everything that was on it at the snapshot."""

    group: str
    topic: str
    partition: int
    committed: int  # -1: the group has never committed on this partition
    end: int

    @property
    def records(self) -> int:
        """Records still to apply."""
        return self.end - max(self.committed, 0)


def backlog(group: str, end: Mapping[Partition, int], committed: Mapping[Partition, int]) -> tuple[Lag, ...]:
    """The partitions where `group`'s committed offset is behind the end offset taken at the snapshot.

    A committed offset is the next record the group will read, so committed >= end means every record
    on the partition at the snapshot has been applied. A partition never committed on is behind unless
    it was empty.
    """
    lags = []
    for (topic, partition), end_offset in sorted(end.items()):
        done = committed.get((topic, partition), -1)
        if end_offset > 0 and done < end_offset:
            lags.append(Lag(group, topic, partition, done, end_offset))
    return tuple(lags)


@dataclass(frozen=True)
class SweepGate:
    """Whether the sweep of day `on` may run now, and if not, why."""

    on: date
    open: bool
    why: str
    lags: tuple[Lag, ...] = ()


def sweep_gate(on: date, now: datetime, zone: tzinfo, lags: tuple[Lag, ...]) -> SweepGate:
    """The sweep of `on` runs only after the day's cut-off and with no input backlog left before it.

    `lags` must come from end offsets snapshotted after the cut-off: then every input received by the
    cut-off is at or before the snapshot, and no lag means it has been applied.
    """
    if now < cut_off(on, zone):
        return SweepGate(on, False, "day-not-over")
    if lags:
        return SweepGate(on, False, "input-in-flight", lags)
    return SweepGate(on, True, "caught-up")
