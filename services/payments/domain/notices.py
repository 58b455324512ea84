"""The overdue-notice cadence: which deadline notice a payable is owed on a given day, as pure functions."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date
from typing import Literal

from shared.calendar import WorkingCalendar

DeadlineState = Literal["overdue", "at_risk", "on_track"]
NoticeKind = Literal["overdue", "approaching"]


@dataclass(frozen=True, slots=True)
class Deadline:
    """Where an open payable stands on `today` against its due date."""

    state: DeadlineState
    working_days_left: int  # 0 once overdue
    days_late: int  # calendar days past the due date; 0 until then


def deadline_on(due_on: date, today: date, calendar: WorkingCalendar, warn_working_days: int) -> Deadline:
    """Overdue the day after `due_on`; at risk within `warn_working_days` working days of it."""
    if today > due_on:
        return Deadline("overdue", 0, (today - due_on).days)
    left = calendar.working_days_between(today, due_on)
    return Deadline("at_risk" if left <= warn_working_days else "on_track", left, 0)


def notice_due(deadline: Deadline, today_is_working_day: bool, noticed_before: bool) -> NoticeKind | None:
    """The notice owed today, given whether a notice of that kind was ever sent for this payable.

    Overdue: once when the due date passes (whatever the day), then once per working day until paid.
    Approaching: once per payable, on the first check inside the warning window (a missed day still warns).
    Once per day is the caller's to enforce (the notices table is keyed by payable, kind and day).
    """
    if deadline.state == "overdue":
        return "overdue" if not noticed_before or today_is_working_day else None
    if deadline.state == "at_risk":
        return None if noticed_before else "approaching"
    return None
