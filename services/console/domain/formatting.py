"""How the console writes money and instants: rupiah the Indonesian way, times in the hospital's zone."""

from __future__ import annotations

from collections.abc import Mapping
from datetime import date, datetime
from zoneinfo import ZoneInfo

WIB = "Asia/Jakarta"
# Indonesia's three zones and their abbreviations (a zone outside them is shown with its UTC offset).
ZONE_NAMES: Mapping[str, str] = {
    "Asia/Jakarta": "WIB", "Asia/Pontianak": "WIB",
    "Asia/Makassar": "WITA",
    "Asia/Jayapura": "WIT",
}  # fmt: skip
MONTHS: Mapping[str, tuple[str, ...]] = {
    "id": ("Jan", "Feb", "Mar", "Apr", "Mei", "Jun", "Jul", "Agu", "Sep", "Okt", "Nov", "Des"),
    "en": ("Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec"),
}


def rupiah(amount: int | float | None) -> str:
    """`Rp 38.940.000`: dots between thousands, no decimals (rupiah have none in claims)."""
    if amount is None:
        return "–"
    whole = round(amount)
    digits = f"{abs(whole):,}".replace(",", ".")
    return f"-Rp {digits}" if whole < 0 else f"Rp {digits}"


def parse_zones(text: str) -> dict[str, str]:
    """`kode_rs=zone,...` as a mapping; a zone ZoneInfo does not know is refused here, at start-up."""
    zones: dict[str, str] = {}
    for pair in filter(None, (p.strip() for p in text.split(","))):
        kode_rs, _, zone = pair.partition("=")
        ZoneInfo(zone.strip())  # raises for an unknown zone
        zones[kode_rs.strip()] = zone.strip()
    return zones


def zone_of(kode_rs: str | None, zones: Mapping[str, str]) -> str:
    """The hospital's zone where the data has one, else WIB."""
    return zones.get(kode_rs or "", WIB)


def local_time(value: datetime | date | str | None, zone: str = WIB, language: str = "id") -> str:
    """`1 Des 2026 09:00 WIB` for an instant in `zone`; `1 Des 2026` for a calendar date (no zone)."""
    if value is None or value == "":
        return "–"
    if isinstance(value, str):
        try:
            value = datetime.fromisoformat(value) if "T" in value or " " in value else date.fromisoformat(value)
        except ValueError:
            return str(value)
    months = MONTHS.get(language, MONTHS["id"])
    if not isinstance(value, datetime):
        return f"{value.day} {months[value.month - 1]} {value.year}"
    if value.tzinfo is None:
        value = value.replace(tzinfo=ZoneInfo("UTC"))
    at = value.astimezone(ZoneInfo(zone))
    label = ZONE_NAMES.get(zone) or at.strftime("UTC%z")
    return f"{at.day} {months[at.month - 1]} {at.year} {at:%H:%M} {label}"


def age_days(since: date | str | None, today: date) -> int | None:
    """Whole days from `since` to `today` (a claim's age in the queue)."""
    if since is None or since == "":
        return None
    start = date.fromisoformat(since) if isinstance(since, str) else since
    return (today - start).days
