"""Dates, instants and rupiah as an Indonesian or English reader expects them."""

from __future__ import annotations

from datetime import date, datetime
from zoneinfo import ZoneInfo

from services.notifier.domain.model import Language

MONTHS: dict[Language, tuple[str, ...]] = {
    "id": ("Januari", "Februari", "Maret", "April", "Mei", "Juni", "Juli", "Agustus", "September", "Oktober",
           "November", "Desember"),
    "en": ("January", "February", "March", "April", "May", "June", "July", "August", "September", "October",
           "November", "December"),
}  # fmt: skip
WEEKDAYS: dict[Language, tuple[str, ...]] = {
    "id": ("Senin", "Selasa", "Rabu", "Kamis", "Jumat", "Sabtu", "Minggu"),
    "en": ("Monday", "Tuesday", "Wednesday", "Thursday", "Friday", "Saturday", "Sunday"),
}


def format_date(day: date, lang: Language, *, weekday: bool = False) -> str:
    """`19 November 2026`; with the weekday: `Kamis, 19 November 2026` / `Thursday, 19 November 2026`."""
    text = f"{day.day} {MONTHS[lang][day.month - 1]} {day.year}"
    return f"{WEEKDAYS[lang][day.weekday()]}, {text}" if weekday else text


def format_instant(instant: datetime, lang: Language, zone: str) -> str:
    """An instant in the reader's zone: `10 November 2026 pukul 10.00 WIB` / `10 November 2026, 10:00 WIB`."""
    local = instant.astimezone(ZoneInfo(zone))
    abbr = local.tzname() or zone
    day = format_date(local.date(), lang)
    if lang == "id":
        return f"{day} pukul {local:%H.%M} {abbr}"
    return f"{day}, {local:%H:%M} {abbr}"


def format_rupiah(amount: int, lang: Language) -> str:
    """Whole rupiah: `Rp 5.634.100` / `IDR 5,634,100`."""
    sign = "-" if amount < 0 else ""
    grouped = f"{abs(amount):,}"
    if lang == "id":
        return f"{sign}Rp {grouped.replace(',', '.')}"
    return f"{sign}IDR {grouped}"
