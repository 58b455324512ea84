"""Lock-out: the third wrong password in a row locks the name; locked, even the right password is refused."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from services.console.domain.accounts import Guard, after_failure, outcome

NOW = datetime(2026, 12, 1, 3, 0, tzinfo=UTC)
LOCKOUT = timedelta(minutes=15)


def fail(guard: Guard, at: datetime = NOW) -> Guard:
    return after_failure(guard, at, 3, LOCKOUT)


def test_the_third_wrong_password_locks_for_the_lockout() -> None:
    once = fail(Guard())
    twice = fail(once)
    assert (once, twice) == (Guard(1, None), Guard(2, None))
    locked = fail(twice)
    assert locked == Guard(3, NOW + LOCKOUT)
    assert outcome(locked, True, NOW + timedelta(minutes=14)) == "locked"
    assert outcome(locked, False, NOW) == "locked"


def test_the_lock_runs_out_and_the_count_starts_again() -> None:
    locked = Guard(3, NOW + LOCKOUT)
    later = NOW + LOCKOUT
    assert outcome(locked, True, later) == "signed_in"
    assert fail(locked, later) == Guard(1, None)


def test_below_the_limit_the_password_decides() -> None:
    assert outcome(Guard(2, None), True, NOW) == "signed_in"
    assert outcome(Guard(2, None), False, NOW) == "failed"
