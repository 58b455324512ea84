"""The policy's closed vocabularies, defined once: settings, events, the calendar and the services import them."""

from __future__ import annotations

from typing import Final, Literal, get_args

PenaltyMethod = Literal["daily_pro_rata", "full_months", "started_months"]
"""How a part month of late payment counts towards the 1 % per month penalty."""

DayUnit = Literal["working", "calendar"]
"""How a period of days is counted: working days (holidays and weekends skipped) or calendar days."""

PENALTY_METHODS: Final[tuple[PenaltyMethod, ...]] = get_args(PenaltyMethod)
DAY_UNITS: Final[tuple[DayUnit, ...]] = get_args(DayUnit)
