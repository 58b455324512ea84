"""Sign-in rules: lock-out after repeated wrong passwords, and sessions that expire.

Failures are counted per login name, whether or not an account has that name, so an unknown operator id
and a wrong password answer alike (and lock alike): the page never tells which operator ids exist.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Literal

Outcome = Literal["signed_in", "failed", "locked"]


@dataclass(frozen=True)
class Guard:
    """Wrong passwords in a row for one login name, and until when it is locked."""

    failed: int = 0
    locked_until: datetime | None = None

    def locked_at(self, now: datetime) -> bool:
        return self.locked_until is not None and now < self.locked_until


def after_failure(guard: Guard, now: datetime, max_failures: int, lockout: timedelta) -> Guard:
    """One more wrong password; the `max_failures`-th in a row locks the name for `lockout`.

    A lock that has run out starts the count afresh.
    """
    failed = 1 if guard.locked_until is not None and not guard.locked_at(now) else guard.failed + 1
    return Guard(failed, now + lockout if failed >= max_failures else None)


def outcome(guard: Guard, password_ok: bool, now: datetime) -> Outcome:
    """A locked name stays locked even with the right password; otherwise the password decides."""
    if guard.locked_at(now):
        return "locked"
    return "signed_in" if password_ok else "failed"
