"""Indonesian working days: Monday–Friday minus national holidays and (by setting) cuti bersama."""

from __future__ import annotations

import csv
import re
import threading
from bisect import bisect_right
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass
from datetime import MAXYEAR, MINYEAR, date, timedelta
from pathlib import Path
from typing import Final, Literal, get_args

import holidays

from shared.policy_types import DayUnit
from shared.settings import PolicySettings, get_settings

HolidayKind = Literal["holiday", "cuti_bersama"]
OverrideAction = Literal["holiday", "working", "cuti_bersama"]
OVERRIDE_ACTIONS: Final[tuple[str, ...]] = get_args(OverrideAction)
OVERRIDE_COLUMNS: Final = ("date", "action", "name")

# The project's copy of the SKB decrees; an operator may point the setting at an edited copy instead.
SHIPPED_OVERRIDES: Final = Path(__file__).resolve().parent / "data" / "calendar_overrides.csv"
# Pinned so holiday names (kept for audit messages) do not change with the package's default language.
HOLIDAYS_LANGUAGE: Final = "en_US"

HolidayLibrary = Callable[[int], Mapping[date, tuple[HolidayKind, str]]]

_ISO_DATE = re.compile(r"\d{4}-\d{2}-\d{2}")
_SATURDAY, _SUNDAY = 5, 6


def library_holidays(year: int) -> dict[date, tuple[HolidayKind, str]]:
    """Holidays of `year` from the `holidays` package: public, and cuti bersama (its government category)."""
    found: dict[date, tuple[HolidayKind, str]] = {}
    # Government first, so a date that is both (never seen so far) ends up a plain holiday.
    order: tuple[tuple[str, HolidayKind], ...] = (("government", "cuti_bersama"), ("public", "holiday"))
    for category, kind in order:
        days = holidays.country_holidays("ID", years=year, categories=(category,), language=HOLIDAYS_LANGUAGE)
        for day, name in days.items():
            found[day] = (kind, str(name))
    return found


@dataclass(frozen=True, slots=True)
class CalendarOverride:
    """One row of the overrides file: `action` replaces whatever the library says about `day`."""

    day: date
    action: OverrideAction
    name: str


class CalendarOverridesError(ValueError):
    """The overrides file is invalid; `errors` lists every problem as 'source:line: column: rule'."""

    def __init__(self, errors: list[str]) -> None:
        super().__init__("invalid calendar overrides:\n" + "\n".join(errors))
        self.errors = errors


def parse_overrides(text: str, source: str = "<overrides>") -> list[CalendarOverride]:
    """Parse overrides CSV text (date,action,name; '#' lines are comments); raise listing all errors."""
    rows: list[CalendarOverride] = []
    errors: list[str] = []
    seen: dict[date, int] = {}
    header: list[str] | None = None
    for lineno, raw in enumerate(text.splitlines(), start=1):
        if not raw.strip() or raw.lstrip().startswith("#"):
            continue
        fields = [f.strip() for f in next(csv.reader([raw]))]
        if header is None:
            header = fields
            if tuple(fields) != OVERRIDE_COLUMNS:
                errors.append(f"{source}:{lineno}: header: must be exactly {','.join(OVERRIDE_COLUMNS)}")
                break
            continue
        if len(fields) != len(OVERRIDE_COLUMNS):
            errors.append(f"{source}:{lineno}: row: expected 3 fields (quote names containing commas)")
            continue
        day_text, action, name = fields
        problems: list[str] = []
        day: date | None = None
        if not _ISO_DATE.fullmatch(day_text):
            problems.append(f"date: must be YYYY-MM-DD, got {day_text!r}")
        else:
            try:
                day = date.fromisoformat(day_text)
            except ValueError:
                problems.append(f"date: not a calendar date: {day_text!r}")
        if day is not None and day in seen:
            problems.append(f"date: {day} already set on line {seen[day]}; edit that row instead")
        if action not in OVERRIDE_ACTIONS:
            problems.append(f"action: must be one of {', '.join(OVERRIDE_ACTIONS)}, got {action!r}")
        if not name:
            problems.append("name: required (name the decree, e.g. 'SKB 1497/2025')")
        errors.extend(f"{source}:{lineno}: {problem}" for problem in problems)
        if day is not None and not problems:
            seen[day] = lineno
            rows.append(CalendarOverride(day, action, name))  # type: ignore[arg-type]  # checked above
    if header is None:
        errors.append(f"{source}:1: header: missing (expected {','.join(OVERRIDE_COLUMNS)})")
    if errors:
        raise CalendarOverridesError(errors)
    return rows


def load_overrides(path: Path) -> list[CalendarOverride]:
    """Read and parse an overrides file."""
    return parse_overrides(path.read_text(encoding="utf-8"), source=str(path))


@dataclass(frozen=True, slots=True)
class _Year:
    """Precomputed days of one year: sorted working-day ordinals and the set of non-working ones."""

    working: list[int]
    closed: frozenset[int]


class WorkingCalendar:
    """Working-day arithmetic over lazily built, cached per-year tables."""

    def __init__(
        self,
        include_cuti_bersama: bool = True,
        overrides: str | Path | Iterable[CalendarOverride] | None = None,
        *,
        library: HolidayLibrary = library_holidays,
    ) -> None:
        """Build a calendar; `overrides` is a CSV path or parsed rows, and they win over `library`."""
        rows = load_overrides(Path(overrides)) if isinstance(overrides, str | Path) else list(overrides or ())
        self.include_cuti_bersama = include_cuti_bersama
        self._overrides: dict[int, dict[date, OverrideAction]] = {}
        for row in rows:
            self._overrides.setdefault(row.day.year, {})[row.day] = row.action
        self._library = library
        self._years: dict[int, _Year] = {}
        self._lock = threading.Lock()

    def _year(self, year: int) -> _Year:
        """The cached table of `year`, built on first use."""
        table = self._years.get(year)
        if table is None:
            if not MINYEAR <= year <= MAXYEAR:
                raise OverflowError(f"year {year} is out of range")
            with self._lock:
                table = self._years.get(year) or self._build(year)
                self._years[year] = table
        return table

    def _build(self, year: int) -> _Year:
        """Classify every day of `year`; an override replaces the library's classification of its date."""
        kinds: dict[date, OverrideAction] = {day: kind for day, (kind, _) in self._library(year).items()}
        kinds.update(self._overrides.get(year, {}))
        closing = {"holiday", "cuti_bersama"} if self.include_cuti_bersama else {"holiday"}
        first = date(year, 1, 1).toordinal()
        last = date(year, 12, 31).toordinal()
        working: list[int] = []
        closed: set[int] = set()
        for ordinal in range(first, last + 1):
            kind = kinds.get(date.fromordinal(ordinal)) if kinds else None
            weekend = (ordinal - 1) % 7 in (_SATURDAY, _SUNDAY)  # ordinal 1 (0001-01-01) was a Monday
            # `working` is an explicit operator decision, so it opens even a weekend date.
            if kind in closing or (weekend and kind != "working"):
                closed.add(ordinal)
            else:
                working.append(ordinal)
        return _Year(working, frozenset(closed))

    def is_working_day(self, d: date) -> bool:
        """True if `d` is a working day."""
        return d.toordinal() not in self._year(d.year).closed

    def add_working_days(self, start: date, n: int) -> date:
        """The n-th working day after `start` (n >= 0; n = 0 gives `start`; `start` may be a holiday)."""
        if n < 0:
            raise ValueError(f"n must be >= 0, got {n}")
        if n == 0:
            return start
        year = start.year
        table = self._year(year)
        index = bisect_right(table.working, start.toordinal()) + n - 1
        while index >= len(table.working):  # the answer lies in a later year
            index -= len(table.working)
            year += 1
            table = self._year(year)
        return date.fromordinal(table.working[index])

    def working_days_between(self, a: date, b: date) -> int:
        """Count working days d with a < d <= b; if b < a, minus the count for (b, a]."""
        if b < a:
            return -self.working_days_between(b, a)
        first, last = self._year(a.year), self._year(b.year)
        if a.year == b.year:
            return bisect_right(first.working, b.toordinal()) - bisect_right(first.working, a.toordinal())
        middle = sum(len(self._year(y).working) for y in range(a.year + 1, b.year))
        after_a = len(first.working) - bisect_right(first.working, a.toordinal())
        return after_a + middle + bisect_right(last.working, b.toordinal())

    def next_working_day_on_or_after(self, d: date) -> date:
        """`d` if it is a working day, else the first working day after it."""
        return d if self.is_working_day(d) else self.add_working_days(d, 1)

    def add_days(self, start: date, n: int, unit: DayUnit) -> date:
        """`start` plus n working days, or plus n calendar days (no holiday roll-forward) for 'calendar'."""
        if unit == "working":
            return self.add_working_days(start, n)
        if unit == "calendar":
            return start + timedelta(days=n)
        raise ValueError(f"unit must be 'working' or 'calendar', got {unit!r}")


def calendar_from_settings(policy: PolicySettings) -> WorkingCalendar:
    """A calendar per the policy settings; no overrides file set means the shipped one."""
    path = policy.calendar_overrides_file or SHIPPED_OVERRIDES
    return WorkingCalendar(include_cuti_bersama=policy.cuti_bersama_are_holidays, overrides=path)


_default: WorkingCalendar | None = None
_default_lock = threading.Lock()


def get_calendar() -> WorkingCalendar:
    """The process-wide calendar, built from settings on first use."""
    global _default
    if _default is None:
        with _default_lock:
            if _default is None:
                _default = calendar_from_settings(get_settings().policy)
    return _default


def set_calendar(calendar: WorkingCalendar | None) -> None:
    """Replace the process-wide calendar (tests); None rebuilds it from settings on next use."""
    global _default
    _default = calendar


def is_working_day(d: date) -> bool:
    """True if `d` is a working day in the process-wide calendar."""
    return get_calendar().is_working_day(d)


def add_working_days(start: date, n: int) -> date:
    """The n-th working day after `start` in the process-wide calendar."""
    return get_calendar().add_working_days(start, n)


def working_days_between(a: date, b: date) -> int:
    """Working days d with a < d <= b in the process-wide calendar (negative if b < a)."""
    return get_calendar().working_days_between(a, b)
