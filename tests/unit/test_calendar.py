"""Working-day calendar: decreed 2025/2026 holidays, due dates by hand, overrides, properties."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import date, timedelta
from pathlib import Path

import pytest
from hypothesis import given
from hypothesis import strategies as st

import shared.calendar as cal_module
from shared.calendar import (
    SHIPPED_OVERRIDES,
    CalendarOverride,
    CalendarOverridesError,
    WorkingCalendar,
    add_working_days,
    calendar_from_settings,
    get_calendar,
    is_working_day,
    parse_overrides,
    set_calendar,
    working_days_between,
)
from shared.settings import PolicySettings

# Built once: hypothesis must not rebuild it per example, and the year tables are cached inside.
CAL = WorkingCalendar(include_cuti_bersama=True, overrides=SHIPPED_OVERRIDES)
NO_CB = WorkingCalendar(include_cuti_bersama=False, overrides=SHIPPED_OVERRIDES)


def d(text: str) -> date:
    """Short literal dates for the tables."""
    return date.fromisoformat(text)


# DOMAIN.md, copied by hand. 2026 per SKB 1497/2025; 2025 per SKB 1017/2024 and SKB 933/2025.
HOLIDAYS_2026 = [d(x) for x in (
    "2026-01-01", "2026-01-16", "2026-02-17", "2026-03-19", "2026-03-21", "2026-03-22", "2026-04-03",
    "2026-04-05", "2026-05-01", "2026-05-14", "2026-05-27", "2026-05-31", "2026-06-01", "2026-06-16",
    "2026-08-17", "2026-08-25", "2026-12-25",
)]  # fmt: skip
CUTI_BERSAMA_2026 = [d(x) for x in (
    "2026-02-16", "2026-03-18", "2026-03-20", "2026-03-23", "2026-03-24", "2026-05-15", "2026-05-28",
    "2026-12-24",
)]  # fmt: skip
HOLIDAYS_2025 = [d(x) for x in (
    "2025-01-01", "2025-01-27", "2025-01-29", "2025-03-29", "2025-03-31", "2025-04-01", "2025-04-18",
    "2025-04-20", "2025-05-01", "2025-05-12", "2025-05-29", "2025-06-01", "2025-06-06", "2025-06-27",
    "2025-08-17", "2025-09-05", "2025-12-25",
)]  # fmt: skip
CUTI_BERSAMA_2025 = [d(x) for x in (
    "2025-01-28", "2025-03-28", "2025-04-02", "2025-04-03", "2025-04-04", "2025-04-07", "2025-05-13",
    "2025-05-30", "2025-06-09", "2025-08-18", "2025-12-26",
)]  # fmt: skip
DECREED = HOLIDAYS_2025 + CUTI_BERSAMA_2025 + HOLIDAYS_2026 + CUTI_BERSAMA_2026

# March 2026 around Nyepi / Idul Fitri (cuti bersama counted):
#   Mon 16 W | Tue 17 W | Wed 18 CB | Thu 19 Nyepi | Fri 20 CB | Sat 21 Idul Fitri | Sun 22 Idul Fitri
#   Mon 23 CB | Tue 24 CB | Wed 25 W | Thu 26 W | Fri 27 W | Mon 30 W | Tue 31 W
#   Apr: Wed 1 W | Thu 2 W | Fri 3 Good Friday | Mon 6..Fri 10 W | Mon 13 W | Tue 14 W
DUE_DATES = [
    # 17(1) 25(2) 26(3) 27(4) 30(5) 31(6) Apr1(7) 2(8) 6(9) 7(10) 8(11) 9(12) 10(13) 13(14) 14(15)
    (d("2026-03-16"), 15, d("2026-04-14")),
    (d("2026-03-13"), 1, d("2026-03-16")),  # Fri -> weekend -> Mon 16(1)
    (d("2026-03-17"), 1, d("2026-03-25")),  # 18..24 all closed -> 25(1)
    (d("2026-03-18"), 1, d("2026-03-25")),  # start on a cuti bersama day: next working day counts 1
    (d("2026-03-19"), 0, d("2026-03-19")),  # n = 0 is the start itself, even on a holiday
    (d("2026-03-17"), 3, d("2026-03-27")),  # 25(1) 26(2) 27(3)
    (d("2026-03-31"), 2, d("2026-04-02")),  # Apr1(1) 2(2)
    (d("2026-03-31"), 3, d("2026-04-06")),  # Apr1(1) 2(2), 3 Good Friday, 4-5 weekend, 6(3)
    (d("2026-02-13"), 1, d("2026-02-18")),  # Fri 13; 16 CB, 17 Imlek -> Wed 18(1)
    # May 2026: Wed 27 Idul Adha, Thu 28 CB, Fri 29 W, Sun 31 Vesak, Mon Jun 1 Pancasila
    (d("2026-05-26"), 1, d("2026-05-29")),  # 29(1)
    (d("2026-05-26"), 2, d("2026-06-02")),  # 29(1) Jun2(2)
    # 2025 -> 2026: Thu 25 Christmas, Fri 26 CB, 29 30 31 W, Thu Jan 1 New Year, Fri 2 W, Fri 16 Isra Mi'raj
    (d("2025-12-24"), 1, d("2025-12-29")),  # 29(1)
    (d("2025-12-24"), 4, d("2026-01-02")),  # 29(1) 30(2) 31(3) Jan2(4)
    # 29(1) 30(2) 31(3) Jan2(4) 5(5) 6(6) 7(7) 8(8) 9(9) 12(10) 13(11) 14(12) 15(13) [16 closed] 19(14) 20(15)
    (d("2025-12-24"), 15, d("2026-01-20")),
    # 2026 -> 2027: Thu 24 CB, Fri 25 Christmas, 28..31 W, Fri Jan 1 2027 New Year, Mon Jan 4 W
    (d("2026-12-23"), 1, d("2026-12-28")),  # 28(1)
    (d("2026-12-23"), 4, d("2026-12-31")),  # 28(1) 29(2) 30(3) 31(4)
    (d("2026-12-23"), 5, d("2027-01-04")),  # ... 31(4), Jan 1-3 closed, Jan4(5)
]


@pytest.mark.parametrize(("start", "n", "expected"), DUE_DATES)
def test_due_dates_by_hand(start: date, n: int, expected: date) -> None:
    assert CAL.add_working_days(start, n) == expected


NO_CB_DUE_DATES = [
    # 17(1) 18(2) 20(3) 23(4) 24(5) 25(6) 26(7) 27(8) 30(9) 31(10) Apr1(11) 2(12) 6(13) 7(14) 8(15)
    (d("2026-03-16"), 15, d("2026-04-08")),
    (d("2026-03-17"), 1, d("2026-03-18")),
    (d("2026-03-18"), 1, d("2026-03-20")),  # 19 Nyepi stays a holiday
    (d("2026-12-23"), 1, d("2026-12-24")),
    # 26 Dec 2025 open: 26(1) 29(2) 30(3) 31(4) Jan2(5) 5(6) 6(7) 7(8) 8(9) 9(10) 12(11) 13(12) 14(13) 15(14) 19(15)
    (d("2025-12-24"), 15, d("2026-01-19")),
]


@pytest.mark.parametrize(("start", "n", "expected"), NO_CB_DUE_DATES)
def test_due_dates_without_cuti_bersama(start: date, n: int, expected: date) -> None:
    assert NO_CB.add_working_days(start, n) == expected


@pytest.mark.parametrize("day", DECREED, ids=str)
def test_every_decreed_date_is_not_a_working_day(day: date) -> None:
    assert not CAL.is_working_day(day)


@pytest.mark.parametrize("year", [2025, 2026])
def test_non_working_weekdays_match_the_decrees_exactly(year: int) -> None:
    days = [date(year, 1, 1) + timedelta(i) for i in range(366 if year % 4 == 0 else 365)]
    closed_weekdays = {x for x in days if x.weekday() < 5 and not CAL.is_working_day(x)}
    assert closed_weekdays == {x for x in DECREED if x.year == year and x.weekday() < 5}


def test_weekends_are_not_working_days() -> None:
    assert not CAL.is_working_day(d("2026-03-14"))  # Saturday
    assert not CAL.is_working_day(d("2026-03-15"))  # Sunday
    assert CAL.is_working_day(d("2026-03-16"))  # Monday


@pytest.mark.parametrize(
    "day", [d(x) for x in ("2026-02-16", "2026-03-18", "2026-03-20", "2026-03-23", "2026-03-24", "2026-12-24")]
)
def test_cuti_bersama_setting_flips_the_day(day: date) -> None:
    assert not CAL.is_working_day(day)
    assert NO_CB.is_working_day(day)


@pytest.mark.parametrize("day", [d("2026-03-19"), d("2026-12-25"), d("2025-04-01")])
def test_holidays_stay_closed_without_cuti_bersama(day: date) -> None:
    assert not NO_CB.is_working_day(day)


def test_working_days_between() -> None:
    assert CAL.working_days_between(d("2026-03-16"), d("2026-04-14")) == 15
    assert CAL.working_days_between(d("2026-04-14"), d("2026-03-16")) == -15
    assert CAL.working_days_between(d("2026-03-17"), d("2026-03-24")) == 0  # 18..24 all closed
    assert CAL.working_days_between(d("2026-03-16"), d("2026-03-16")) == 0
    assert CAL.working_days_between(d("2025-12-24"), d("2026-01-20")) == 15  # across the year end
    assert CAL.working_days_between(d("2026-03-13"), d("2026-03-16")) == 1  # b counts, a does not


def test_next_working_day_and_add_days() -> None:
    assert CAL.next_working_day_on_or_after(d("2026-03-16")) == d("2026-03-16")
    assert CAL.next_working_day_on_or_after(d("2026-03-18")) == d("2026-03-25")
    assert CAL.add_days(d("2026-03-16"), 15, "working") == d("2026-04-14")
    assert CAL.add_days(d("2026-03-13"), 10, "calendar") == d("2026-03-23")  # no roll-forward off the CB day
    with pytest.raises(ValueError, match="unit"):
        CAL.add_days(d("2026-03-16"), 1, "weeks")  # type: ignore[arg-type]
    with pytest.raises(ValueError, match="n must be >= 0"):
        CAL.add_working_days(d("2026-03-16"), -1)


def test_overrides_add_and_remove_days() -> None:
    rows = parse_overrides(
        "date,action,name\n"
        "2026-03-25,holiday,Regional election (test)\n"
        "2026-03-19,working,Nyepi reopened (test)\n"
        "2026-03-28,working,Saturday swap (test)\n"
        "2026-04-09,cuti_bersama,Extra leave (test)\n"
    )
    with_cb = WorkingCalendar(include_cuti_bersama=True, overrides=rows)
    without_cb = WorkingCalendar(include_cuti_bersama=False, overrides=rows)
    assert not with_cb.is_working_day(d("2026-03-25"))  # added holiday
    assert with_cb.is_working_day(d("2026-03-19"))  # holiday removed
    assert with_cb.is_working_day(d("2026-03-28"))  # `working` opens even a Saturday
    assert not with_cb.is_working_day(d("2026-04-09"))
    assert without_cb.is_working_day(d("2026-04-09"))  # a cuti_bersama row follows the setting
    # 17(1) 19(2) 26(3): 25 is now a holiday, 19 a working day
    assert with_cb.add_working_days(d("2026-03-16"), 3) == d("2026-03-26")


def test_overrides_file_is_read(tmp_path: Path) -> None:
    path = tmp_path / "overrides.csv"
    path.write_text('# comment\n\ndate,action,name\n2026-07-01,holiday,"Test, with comma"\n', encoding="utf-8")
    policy = PolicySettings(cuti_bersama_are_holidays=False, calendar_overrides_file=path)
    calendar = calendar_from_settings(policy)
    assert not calendar.is_working_day(d("2026-07-01"))
    assert calendar.is_working_day(d("2026-03-18"))  # cuti bersama off; the package still supplies 19 Mar
    assert not calendar.is_working_day(d("2026-03-19"))


def test_shipped_file_is_the_default() -> None:
    calendar = calendar_from_settings(PolicySettings(cuti_bersama_are_holidays=True, calendar_overrides_file=None))
    assert calendar.add_working_days(d("2026-03-16"), 15) == d("2026-04-14")


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("date,action,name\n2026-13-01,holiday,x\n", ":2: date: not a calendar date"),
        ("date,action,name\n26-03-01,holiday,x\n", ":2: date: must be YYYY-MM-DD"),
        ("date,action,name\n2026-03-02,closed,x\n", ":2: action: must be one of holiday, working, cuti_bersama"),
        ("date,action,name\n2026-03-02,holiday,\n", ":2: name: required"),
        (
            "date,action,name\n2026-03-02,holiday,a\n2026-03-02,working,b\n",
            ":3: date: 2026-03-02 already set on line 2",
        ),
        ("day,action,name\n", ":1: header: must be exactly date,action,name"),
        ("date,action,name\n2026-03-02,holiday\n", ":2: row: expected 3 fields"),
        ("# only a comment\n", ":1: header: missing"),
    ],
)
def test_bad_overrides_are_reported_with_line_numbers(text: str, message: str) -> None:
    with pytest.raises(CalendarOverridesError, match=message.replace("(", r"\(")):
        parse_overrides(text, source="x.csv")


def test_every_error_is_reported_at_once() -> None:
    with pytest.raises(CalendarOverridesError) as info:
        parse_overrides("date,action,name\n2026-13-01,holiday,x\n2026-03-02,nope,x\n")
    assert len(info.value.errors) == 2


@pytest.fixture
def default_calendar() -> Iterator[WorkingCalendar]:
    calendar = WorkingCalendar(include_cuti_bersama=False, overrides=[])
    set_calendar(calendar)
    yield calendar
    set_calendar(None)


def test_module_functions_use_the_default_calendar(default_calendar: WorkingCalendar) -> None:
    assert get_calendar() is default_calendar
    assert is_working_day(d("2026-03-18"))  # this default calendar ignores cuti bersama
    assert add_working_days(d("2026-03-16"), 15) == d("2026-04-08")
    assert working_days_between(d("2026-03-16"), d("2026-04-08")) == 15


def test_default_calendar_is_built_from_settings_once() -> None:
    set_calendar(None)
    try:
        assert get_calendar() is get_calendar()
        assert cal_module._default is not None
    finally:
        set_calendar(None)


def test_library_can_be_replaced() -> None:
    bare = WorkingCalendar(overrides=[CalendarOverride(d("2026-03-16"), "holiday", "x")], library=lambda _y: {})
    assert bare.is_working_day(d("2026-03-19"))  # no library: only weekends and overrides close days
    assert not bare.is_working_day(d("2026-03-16"))


def test_far_years_load_lazily_and_fail_cleanly() -> None:
    assert CAL.add_working_days(date(2031, 12, 31), 600) > date(2034, 1, 1)
    with pytest.raises(OverflowError):
        CAL.add_working_days(date(9999, 12, 30), 5)


# Properties over 2024–2028 (2027/2028 are the package's estimates; the properties hold for any data).
dates = st.dates(min_value=date(2024, 1, 1), max_value=date(2028, 12, 31))


@given(dates, st.integers(min_value=1, max_value=400))
def test_result_is_a_working_day_after_start(start: date, n: int) -> None:
    result = CAL.add_working_days(start, n)
    assert result > start
    assert CAL.is_working_day(result)


@given(dates, st.integers(min_value=0, max_value=400))
def test_between_inverts_add(start: date, n: int) -> None:
    assert CAL.working_days_between(start, CAL.add_working_days(start, n)) == n
    assert NO_CB.working_days_between(start, NO_CB.add_working_days(start, n)) == n


@given(dates, st.integers(min_value=-90, max_value=90))
def test_between_matches_a_day_by_day_count(a: date, offset: int) -> None:
    b = a + timedelta(days=offset)
    low, high = min(a, b), max(a, b)
    count = sum(CAL.is_working_day(low + timedelta(i)) for i in range(1, (high - low).days + 1))
    assert CAL.working_days_between(a, b) == (count if b >= a else -count)


@given(dates)
def test_next_working_day_is_the_first_one(day: date) -> None:
    found = CAL.next_working_day_on_or_after(day)
    assert CAL.is_working_day(found)
    assert all(not CAL.is_working_day(day + timedelta(i)) for i in range((found - day).days))
