"""Rupiah the Indonesian way and instants in the hospital's zone (WIB unless the data names WITA or WIT)."""

from __future__ import annotations

from datetime import UTC, date, datetime
from zoneinfo import ZoneInfoNotFoundError

import pytest

from services.console.domain.formatting import age_days, local_time, parse_zones, rupiah, zone_of
from services.console.domain.i18n import translate


def test_rupiah_has_dots_between_thousands_and_no_decimals() -> None:
    assert rupiah(38_940_000) == "Rp 38.940.000"
    assert rupiah(915_900) == "Rp 915.900"
    assert rupiah(0) == "Rp 0"
    assert rupiah(-1_500) == "-Rp 1.500"
    assert rupiah(None) == "–"


def test_an_instant_is_shown_in_the_hospitals_zone() -> None:
    at = datetime(2026, 12, 1, 2, 30, tzinfo=UTC)
    assert local_time(at) == "1 Des 2026 09:30 WIB"
    assert local_time(at, "Asia/Makassar") == "1 Des 2026 10:30 WITA"
    assert local_time(at, "Asia/Jayapura") == "1 Des 2026 11:30 WIT"
    assert local_time(at, language="en") == "1 Dec 2026 09:30 WIB"
    assert local_time("2026-12-01T16:59:00+00:00") == "1 Des 2026 23:59 WIB"  # the evening, not the next day


def test_a_date_is_a_calendar_day_without_zone() -> None:
    assert local_time(date(2026, 8, 17)) == "17 Agu 2026"
    assert local_time("2026-05-01", language="en") == "1 May 2026"
    assert local_time(None) == "–"


def test_zones_come_from_the_setting_and_default_to_wib() -> None:
    zones = parse_zones("1701R001=Asia/Makassar, 9471R001=Asia/Jayapura")
    assert zone_of("1701R001", zones) == "Asia/Makassar"
    assert zone_of("9471R001", zones) == "Asia/Jayapura"
    assert zone_of("0301R001", zones) == "Asia/Jakarta"
    assert zone_of(None, zones) == "Asia/Jakarta"
    with pytest.raises(ZoneInfoNotFoundError):
        parse_zones("0301R001=Asia/Atlantis")


def test_age_in_days() -> None:
    assert age_days("2026-11-24", date(2026, 12, 1)) == 7
    assert age_days(None, date(2026, 12, 1)) is None


def test_texts_are_indonesian_by_default_and_english_on_request() -> None:
    assert translate("id", "login.failed") == "ID operator atau kata sandi salah."
    assert translate("en", "login.failed") == "Wrong operator id or password."
    assert translate("en", "approvals.paid", count=2, total="Rp 1.000") == "2 claims paid, Rp 1.000 in all"
    assert translate("en", "no.such.key") == "no.such.key"
