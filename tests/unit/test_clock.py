"""Clocks: business dates, fixed and simulated time, sleep_until without real waiting."""

from __future__ import annotations

import asyncio
from collections.abc import Iterator
from datetime import UTC, date, datetime, timedelta, timezone

import pytest

import shared.clock as clock_module
from shared.clock import (
    FixedClock,
    RealClock,
    SimulatedClock,
    clock_from_settings,
    get_clock,
    set_clock,
    sleep_until,
)
from shared.settings import ClockSettings, Settings

WIB = timezone(timedelta(hours=7))
T0 = datetime(2026, 3, 16, 8, 0, tzinfo=UTC)


class FakeMonotonic:
    """A monotonic source the test moves by hand."""

    def __init__(self) -> None:
        self.value = 1000.0

    def __call__(self) -> float:
        return self.value


class RecordingSleep:
    """An asyncio.sleep stand-in that records the request and moves a fake monotonic source."""

    def __init__(self, monotonic: FakeMonotonic | None = None) -> None:
        self.calls: list[float] = []
        self.monotonic = monotonic

    async def __call__(self, seconds: float) -> None:
        self.calls.append(seconds)
        if self.monotonic is not None:
            self.monotonic.value += seconds


class JumpingRealClock(RealClock):
    """A RealClock whose now() jumps after each read, to test the real-time branch without waiting."""

    def __init__(self, start: datetime) -> None:
        super().__init__()
        self.reads = [start, start + timedelta(seconds=30)]

    def now(self) -> datetime:
        return self.reads.pop(0) if len(self.reads) > 1 else self.reads[0]


def test_real_clock_is_aware_utc() -> None:
    before = datetime.now(UTC)
    now = RealClock().now()
    after = datetime.now(UTC)
    assert now.tzinfo is UTC
    assert before <= now <= after


def test_today_is_the_business_date() -> None:
    late_utc = datetime(2026, 3, 16, 17, 30, tzinfo=UTC)  # 00:30 on the 17th in Jakarta (UTC+7)
    assert FixedClock(late_utc).today() == date(2026, 3, 17)
    assert FixedClock(late_utc, "UTC").today() == date(2026, 3, 16)
    assert FixedClock(datetime(2026, 3, 16, 15, 30, tzinfo=UTC), "Asia/Jayapura").today() == date(2026, 3, 17)


def test_fixed_clock_set_and_advance() -> None:
    clock = FixedClock(datetime(2026, 3, 16, 15, 0, tzinfo=WIB))
    assert clock.now() == datetime(2026, 3, 16, 8, 0, tzinfo=UTC)
    assert clock.now().tzinfo is UTC
    clock.advance(timedelta(days=1, hours=1))
    assert clock.now() == datetime(2026, 3, 17, 9, 0, tzinfo=UTC)
    clock.set(T0)
    assert clock.now() == T0


def test_naive_datetimes_are_refused() -> None:
    with pytest.raises(ValueError, match="timezone-aware"):
        FixedClock(datetime(2026, 3, 16))
    with pytest.raises(ValueError, match="timezone-aware"):
        FixedClock(T0).set(datetime(2026, 3, 16))


def test_simulated_clock_runs_at_speed() -> None:
    mono = FakeMonotonic()
    clock = SimulatedClock(T0, speed=86_400, monotonic=mono)
    assert clock.now() == T0
    mono.value += 1.0  # one real second is one simulated day
    assert clock.now() == T0 + timedelta(days=1)
    mono.value += 0.5
    assert clock.now() == T0 + timedelta(days=1, hours=12)
    assert clock.today() == date(2026, 3, 18)  # 2026-03-17 20:00 UTC is 03:00 on the 18th in Jakarta


def test_simulated_clock_rejects_bad_speed() -> None:
    with pytest.raises(ValueError, match="speed"):
        SimulatedClock(T0, speed=0)


def test_clock_from_settings() -> None:
    assert isinstance(clock_from_settings(ClockSettings(mode="real")), RealClock)
    fixed = clock_from_settings(ClockSettings(mode="fixed", start=T0), "Asia/Makassar")
    assert isinstance(fixed, FixedClock)
    assert fixed.now() == T0
    simulated = clock_from_settings(ClockSettings(mode="simulated", start=T0, speed=60.0))
    assert isinstance(simulated, SimulatedClock)
    assert simulated.speed == 60.0
    assert simulated.start == T0
    with pytest.raises(ValueError, match="CLOCK_START"):
        clock_from_settings(ClockSettings(mode="fixed", start=None))


def test_simulated_without_start_starts_now() -> None:
    before = datetime.now(UTC)
    clock = clock_from_settings(ClockSettings(mode="simulated", start=None, speed=2.0))
    assert isinstance(clock, SimulatedClock)
    assert before <= clock.start <= datetime.now(UTC)


@pytest.fixture
def reset_clock() -> Iterator[None]:
    set_clock(None)
    yield
    set_clock(None)


def test_set_clock_and_get_clock(reset_clock: None) -> None:
    fixed = FixedClock(T0)
    set_clock(fixed)
    assert get_clock() is fixed


def test_get_clock_builds_from_settings(reset_clock: None, monkeypatch: pytest.MonkeyPatch) -> None:
    settings = Settings(clock=ClockSettings(mode="fixed", start=T0))
    monkeypatch.setattr(clock_module, "get_settings", lambda: settings)
    clock = get_clock()
    assert isinstance(clock, FixedClock)
    assert clock.now() == T0
    assert get_clock() is clock


async def test_sleep_until_scales_by_speed() -> None:
    mono = FakeMonotonic()
    clock = SimulatedClock(T0, speed=3600, monotonic=mono)
    sleep = RecordingSleep(mono)
    await sleep_until(clock, T0 + timedelta(hours=2), sleep=sleep)
    assert sleep.calls == [2.0]  # 7200 simulated seconds / 3600 = 2 real seconds
    assert clock.now() == T0 + timedelta(hours=2)


async def test_sleep_until_sleeps_again_after_an_early_wake_up() -> None:
    mono = FakeMonotonic()
    clock = SimulatedClock(T0, speed=10, monotonic=mono)
    calls: list[float] = []

    async def early(seconds: float) -> None:
        calls.append(seconds)
        mono.value += seconds / 2  # wakes half-way

    await sleep_until(clock, T0 + timedelta(seconds=40), sleep=early)
    assert calls[:2] == [4.0, 2.0]
    assert clock.now() >= T0 + timedelta(seconds=40)


async def test_sleep_until_past_returns_at_once() -> None:
    sleep = RecordingSleep()
    await sleep_until(FixedClock(T0), T0 - timedelta(days=1), sleep=sleep)
    await sleep_until(FixedClock(T0), T0, sleep=sleep)
    mono = FakeMonotonic()
    await sleep_until(SimulatedClock(T0, 100, monotonic=mono), T0 - timedelta(seconds=1), sleep=sleep)
    assert sleep.calls == []


async def test_sleep_until_real_clock_uses_real_seconds() -> None:
    sleep = RecordingSleep()
    clock = JumpingRealClock(T0)
    await sleep_until(clock, T0 + timedelta(seconds=30), sleep=sleep)
    assert sleep.calls == [30.0]


async def test_sleep_until_fixed_clock_waits_for_advance() -> None:
    clock = FixedClock(T0)
    waiter = asyncio.create_task(sleep_until(clock, T0 + timedelta(hours=1)))
    await asyncio.sleep(0)
    assert not waiter.done()
    clock.advance(timedelta(minutes=30))  # not far enough
    await asyncio.sleep(0)
    await asyncio.sleep(0)
    assert not waiter.done()
    clock.advance(timedelta(minutes=30))
    await asyncio.wait_for(waiter, timeout=1)  # a bound only against a hang; it finishes at once


async def test_sleep_until_refuses_naive_instants() -> None:
    with pytest.raises(ValueError, match="timezone-aware"):
        await sleep_until(FixedClock(T0), datetime(2026, 3, 16))


def test_an_anchor_makes_processes_started_apart_read_the_same_simulated_time() -> None:
    from datetime import UTC, datetime, timedelta

    from shared.clock import clock_from_settings
    from shared.settings import ClockSettings

    start = datetime(2026, 1, 5, 1, 0, tzinfo=UTC)
    anchor = datetime.now(UTC) - timedelta(seconds=10)  # the first process started 10 s ago
    clock = clock_from_settings(ClockSettings(mode="simulated", start=start, speed=1440, anchor=anchor))
    # 10 real seconds at 1440x = 4 simulated hours past CLOCK_START, give or take this test's own runtime.
    assert timedelta(hours=4) <= clock.now() - start < timedelta(hours=4, minutes=5)


def test_next_local_time_is_strictly_after_and_in_the_business_zone() -> None:
    from datetime import UTC, datetime, timedelta

    from shared.clock import next_local_time

    ten = timedelta(hours=10)
    nine_wib = datetime(2026, 3, 2, 2, 0, tzinfo=UTC)  # 09:00 in Jakarta
    assert next_local_time(nine_wib, "Asia/Jakarta", ten) == datetime(2026, 3, 2, 3, 0, tzinfo=UTC)
    ten_wib = datetime(2026, 3, 2, 3, 0, tzinfo=UTC)  # exactly 10:00: the next one is tomorrow
    assert next_local_time(ten_wib, "Asia/Jakarta", ten) == datetime(2026, 3, 3, 3, 0, tzinfo=UTC)
