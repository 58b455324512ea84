"""Clocks: real, fixed and simulated time; instants in UTC, business dates in the business time zone."""

from __future__ import annotations

import asyncio
import threading
import time
from collections.abc import Awaitable, Callable
from datetime import UTC, date, datetime, timedelta, tzinfo
from typing import Protocol
from zoneinfo import ZoneInfo

from shared.settings import ClockSettings, get_settings

DEFAULT_BUSINESS_TIMEZONE = "Asia/Jakarta"
Sleep = Callable[[float], Awaitable[None]]


class Clock(Protocol):
    """What the services read time from."""

    def now(self) -> datetime:
        """The current instant, timezone-aware, in UTC."""
        ...

    def today(self) -> date:
        """The current business date (calendar date in the business time zone)."""
        ...


def _zone(business_timezone: str | tzinfo) -> tzinfo:
    """A tzinfo from a zone name or an existing tzinfo."""
    return ZoneInfo(business_timezone) if isinstance(business_timezone, str) else business_timezone


def _utc(instant: datetime) -> datetime:
    """`instant` converted to UTC; naive datetimes are refused because their zone is a guess."""
    if instant.tzinfo is None or instant.utcoffset() is None:
        raise ValueError(f"datetime must be timezone-aware, got naive {instant.isoformat()}")
    return instant.astimezone(UTC)


class _ZonedClock:
    """Shared `today()`: the business date of `now()`."""

    def __init__(self, business_timezone: str | tzinfo) -> None:
        self.business_timezone = _zone(business_timezone)

    def now(self) -> datetime:
        """The current instant (overridden)."""
        raise NotImplementedError

    def today(self) -> date:
        """The calendar date of now() in the business time zone."""
        return self.now().astimezone(self.business_timezone).date()


class RealClock(_ZonedClock):
    """The system clock."""

    def __init__(self, business_timezone: str | tzinfo = DEFAULT_BUSINESS_TIMEZONE) -> None:
        super().__init__(business_timezone)

    def now(self) -> datetime:
        """The system time in UTC."""
        return datetime.now(UTC)


class FixedClock(_ZonedClock):
    """A clock that moves only when told to (tests, replays)."""

    def __init__(self, at: datetime, business_timezone: str | tzinfo = DEFAULT_BUSINESS_TIMEZONE) -> None:
        super().__init__(business_timezone)
        self._now = _utc(at)
        self._lock = threading.Lock()
        self._waiters: set[asyncio.Future[None]] = set()

    def now(self) -> datetime:
        """The instant last set."""
        return self._now

    def set(self, at: datetime) -> None:
        """Move the clock to `at` (backwards too) and wake anyone waiting in `wait_until`."""
        self._now = _utc(at)
        with self._lock:
            waiters = list(self._waiters)
        for fut in waiters:
            loop = fut.get_loop()
            if not loop.is_closed():  # a waiter may outlive its loop in tests; nothing to wake then
                loop.call_soon_threadsafe(_wake, fut)

    def advance(self, delta: timedelta) -> None:
        """Move the clock by `delta`."""
        self.set(self._now + delta)

    async def wait_until(self, instant: datetime) -> None:
        """Return once the clock has been set to `instant` or later (at once if it already is)."""
        target = _utc(instant)
        loop = asyncio.get_running_loop()
        while True:
            # Register before checking, so a set() from another thread between the two is not missed.
            fut: asyncio.Future[None] = loop.create_future()
            with self._lock:
                self._waiters.add(fut)
            try:
                if self._now >= target:
                    return
                await fut
            finally:
                with self._lock:
                    self._waiters.discard(fut)


def _wake(fut: asyncio.Future[None]) -> None:
    """Resolve a waiter unless it was cancelled meanwhile."""
    if not fut.done():
        fut.set_result(None)


class SimulatedClock(_ZonedClock):
    """Time that runs `speed` times faster than real time from `start` (demos, load tests)."""

    def __init__(
        self,
        start: datetime,
        speed: float,
        business_timezone: str | tzinfo = DEFAULT_BUSINESS_TIMEZONE,
        *,
        monotonic: Callable[[], float] = time.monotonic,
    ) -> None:
        super().__init__(business_timezone)
        if speed <= 0:
            raise ValueError(f"speed must be > 0, got {speed}")
        self.start = _utc(start)
        self.speed = speed
        self._monotonic = monotonic
        # Monotonic, not wall time: a system clock step must not make simulated time jump.
        self._origin = monotonic()

    def now(self) -> datetime:
        """start + real elapsed seconds × speed."""
        return self.start + timedelta(seconds=(self._monotonic() - self._origin) * self.speed)


def next_local_time(after: datetime, zone: str | tzinfo, at: timedelta) -> datetime:
    """The first instant strictly after `after` that is local midnight + `at` in `zone` (daily jobs)."""
    tz = _zone(zone)
    local = after.astimezone(tz)
    candidate = datetime.combine(local.date(), datetime.min.time(), tz) + at
    return candidate if candidate > local else candidate + timedelta(days=1)


def clock_from_settings(settings: ClockSettings, business_timezone: str = DEFAULT_BUSINESS_TIMEZONE) -> Clock:
    """The clock the settings ask for; a simulated clock without start starts at the real now."""
    if settings.mode == "real":
        return RealClock(business_timezone)
    if settings.mode == "fixed":
        if settings.start is None:
            raise ValueError("CLOCK_MODE=fixed needs CLOCK_START (an ISO instant with offset)")
        return FixedClock(settings.start, business_timezone)
    real_now = datetime.now(UTC)
    start = settings.start if settings.start is not None else real_now
    if settings.anchor is not None:  # processes started at different moments still read the same time
        start = start + (real_now - _utc(settings.anchor)) * settings.speed
    return SimulatedClock(start, settings.speed, business_timezone)


_clock: Clock | None = None
_clock_lock = threading.Lock()


def get_clock() -> Clock:
    """The process-wide clock, built from settings on first use."""
    global _clock
    if _clock is None:
        with _clock_lock:
            if _clock is None:
                settings = get_settings()
                _clock = clock_from_settings(settings.clock, settings.policy.business_timezone)
    return _clock


def set_clock(clock: Clock | None) -> None:
    """Replace the process-wide clock (tests); None rebuilds it from settings on next use."""
    global _clock
    _clock = clock


async def sleep_until(clock: Clock, instant: datetime, *, sleep: Sleep = asyncio.sleep) -> None:
    """Sleep until `clock` reads `instant` or later; real time is scaled down by a simulated clock's speed."""
    target = _utc(instant)
    if isinstance(clock, FixedClock):
        await clock.wait_until(target)  # only set()/advance() can move it
        return
    speed = clock.speed if isinstance(clock, SimulatedClock) else 1.0
    # Loop: timers may fire a little early, and the remaining time is recomputed from the clock.
    while (remaining := (target - clock.now()).total_seconds()) > 0:
        await sleep(remaining / speed)
