"""FKTP capitation: hand-checked rows against the shipped sample tables, CSV validation."""

from __future__ import annotations

from datetime import date
from fractions import Fraction

import pytest

from services.payments.domain.capitation import (
    FktpRow,
    KbkIndicators,
    capitation_due_on,
    compute_capitation,
    parse_members_csv,
)
from services.payments.domain.capitation_tables import (
    CapitationTables,
    default_tables,
    parse_indicator_tiers,
    parse_payment_bands,
    parse_rates,
)
from services.payments.domain.csvrows import CsvError, CsvTableError
from shared.calendar import SHIPPED_OVERRIDES, WorkingCalendar

CAL = WorkingCalendar(include_cuti_bersama=True, overrides=SHIPPED_OVERRIDES)
TABLES = default_tables()


def kbk(contact: str, referral: str, prolanis: str) -> KbkIndicators:
    """Indicators from decimal strings (exact)."""
    return KbkIndicators(Fraction(contact), Fraction(referral), Fraction(prolanis))


def test_puskesmas_meeting_every_target() -> None:
    row = FktpRow("0101P001", "puskesmas", 12_000, 3, True, kbk("160", "1.5", "6"))
    r = compute_capitation(row, 2026, 3, CAL, TABLES)
    assert r.rate == 9_000  # 12_000 / 3 = 4_000 members per doctor <= 5_000, with dentist
    assert r.base_amount == 108_000_000  # 12_000 * 9_000
    assert r.indicator_scores == {
        "contact_rate_per_mille": 4,  # 160 >= 150
        "non_specialist_referral_pct": 4,  # 1.5 <= 2
        "controlled_prolanis_pct": 4,  # 6 >= 5
    }
    assert r.kbk_score == 4  # 0.4*4 + 0.5*4 + 0.1*4
    assert r.payment_pct == 100
    assert r.amount_payable == 108_000_000
    assert r.service_fee == 64_800_000  # 60 %
    assert r.operations == 43_200_000  # 108_000_000 - 64_800_000
    assert r.due_on == date(2026, 3, 16)  # 15 March 2026 is a Sunday -> Monday 16


def test_klinik_with_partial_scores() -> None:
    row = FktpRow("0101K002", "klinik_pratama", 7_777, 1, False, kbk("140", "2.2", "5"))
    r = compute_capitation(row, 2026, 8, CAL, TABLES)
    assert r.rate == 11_500  # 7_777 per doctor: <= 10_000 band, no dentist
    assert r.base_amount == 89_435_500  # 7_777 * 11_500 = 77_770_000 + 11_665_500
    # contact 140 >= 135 -> 3; referral 2.2 <= 2.5 -> 3; prolanis 5 >= 5 -> 4
    assert r.kbk_score == Fraction(31, 10)  # 0.4*3 + 0.5*3 + 0.1*4 = 1.2 + 1.5 + 0.4 = 3.1
    assert r.payment_pct == 95  # 3 <= 3.1 < 4
    assert r.amount_payable == 84_963_725  # 89_435_500 * 0.95 = 89_435_500 - 4_471_775
    # A private clinic is not bound by the 60/40 split (Permenkes 21/2016 binds local-government FKTPs).
    assert (r.service_fee, r.operations, r.ownership) == (None, None, "swasta")
    assert r.due_on == date(2026, 8, 18)  # 15 Sat, 16 Sun, 17 Mon Independence Day -> Tue 18


def test_rounding_half_up() -> None:
    row = FktpRow("0101D003", "dokter_praktik", 10_001, 1, False, kbk("125", "2.8", "3"))
    r = compute_capitation(row, 2026, 1, CAL, TABLES)
    assert r.rate == 8_300  # 10_001 per doctor > 10_000: unbounded band, no dentist
    assert r.base_amount == 83_008_300  # 10_001 * 8_300
    assert r.kbk_score == 2  # scores 2/2/2: 0.4*2 + 0.5*2 + 0.1*2
    assert r.payment_pct == Fraction(185, 2)  # 92.5 %
    assert r.amount_payable == 76_782_678  # 83_008_300 * 0.925 = 76_782_677.5 -> half up
    assert (r.service_fee, r.operations) == (None, None)  # a private doctor: no split mandated
    assert r.due_on == date(2026, 1, 15)  # a Thursday, a working day


def test_lowest_band_and_score() -> None:
    row = FktpRow("0101P004", "puskesmas", 5_000, 0, False, kbk("100", "5", "1"))
    r = compute_capitation(row, 2025, 5, CAL, TABLES)
    assert r.rate == 3_600  # no doctor: only the unbounded band fits
    assert r.base_amount == 18_000_000  # 5_000 * 3_600
    assert r.kbk_score == 0  # no tier met
    assert r.payment_pct == 90
    assert r.amount_payable == 16_200_000  # 18_000_000 * 0.9
    assert (r.service_fee, r.operations) == (9_720_000, 6_480_000)  # 60 % / 40 %
    assert r.due_on == date(2025, 5, 15)  # Thursday, working


def test_dentist_without_kbk() -> None:
    row = FktpRow("0101G005", "dokter_gigi", 9_000, 1, True)
    r = compute_capitation(row, 2025, 6, CAL, TABLES)
    assert r.rate == 4_000  # 9_000 members per dentist <= 9_000
    assert r.kbk_score is None
    assert r.payment_pct == 100
    assert r.amount_payable == 36_000_000  # 9_000 * 4_000
    assert (r.service_fee, r.operations) == (None, None)  # a private dentist: no split mandated
    assert r.due_on == date(2025, 6, 16)  # 15 June 2025 is a Sunday


@pytest.mark.parametrize(
    ("members", "doctors", "rate"),
    [(10_000, 2, 9_000), (10_001, 2, 7_000), (20_000, 2, 7_000), (20_001, 2, 5_000)],
)
def test_ratio_band_bounds_are_inclusive(members: int, doctors: int, rate: int) -> None:
    # 10_000/2 = 5_000 -> <=5_000 band; 5_000.5 -> <=10_000 band; 10_000.5 -> unbounded (puskesmas, dentist)
    row = FktpRow("0101P006", "puskesmas", members, doctors, True)
    assert compute_capitation(row, 2026, 3, CAL, TABLES).rate == rate


def test_score_on_a_band_edge() -> None:
    row = FktpRow("0101P007", "puskesmas", 1_000, 1, True, kbk("120", "3", "3"))
    r = compute_capitation(row, 2026, 3, CAL, TABLES)
    assert r.kbk_score == 2  # 2/2/2 exactly -> 92.5 % band (min_score 2 is inclusive)
    assert r.payment_pct == Fraction(185, 2)
    assert r.amount_payable == 8_325_000  # 1_000 * 9_000 * 0.925


def test_service_fee_share_is_a_parameter() -> None:
    row = FktpRow("0101G005", "dokter_gigi", 9_000, 1, True, ownership="pemda")
    r = compute_capitation(row, 2025, 6, CAL, TABLES, service_fee_share=Fraction(70, 100))
    assert (r.service_fee, r.operations) == (25_200_000, 10_800_000)  # 36_000_000 * 70 % / 30 %


def test_due_date_is_the_15th_or_next_working_day() -> None:
    assert capitation_due_on(2026, 3, CAL) == date(2026, 3, 16)  # Sunday 15
    assert capitation_due_on(2026, 4, CAL) == date(2026, 4, 15)  # Wednesday


HEADER = (
    "kode_faskes,facility_type,registered_members,doctors,has_dentist,"
    "contact_rate_per_mille,non_specialist_referral_pct,controlled_prolanis_pct\n"
)


def test_parse_members_csv() -> None:
    text = HEADER + (
        "0101P001,puskesmas,12000,3,yes,160,1.5,6\n"  # line 2
        "0101K002,klinik_pratama,7777,1,no,140,2.2,5\n"  # line 3
        "0101g003,dokter_gigi,9000,1,yes,,,\n"  # line 4: lower case code accepted, KBK not assessed
        "0101X004,rumah_sakit,100,1,no,,,\n"  # line 5
        "0101P005,puskesmas,-5,1,no,,,\n"  # line 6
        "0101P001,puskesmas,100,1,maybe,150,,\n"  # line 7
        "BAD,puskesmas,100,1,no,,,\n"  # line 8
        "0101P009,puskesmas,100,1,no,150,101,1e2\n"  # line 9
        "0101P010,puskesmas,100\n"  # line 10
    )
    rows, errors = parse_members_csv(text)
    assert [r.kode_faskes for r in rows] == ["0101P001", "0101K002", "0101G003"]
    assert rows[0] == FktpRow("0101P001", "puskesmas", 12_000, 3, True, kbk("160", "1.5", "6"))
    assert rows[2].indicators is None
    assert [(e.line, e.column) for e in errors] == [
        (5, "facility_type"),
        (6, "registered_members"),
        (7, "kode_faskes"),
        (7, "has_dentist"),
        (7, "non_specialist_referral_pct"),
        (7, "controlled_prolanis_pct"),
        (8, "kode_faskes"),
        (9, "non_specialist_referral_pct"),
        (9, "controlled_prolanis_pct"),
        (10, "*"),
    ]
    assert str(errors[2]) == "line 7, column kode_faskes: duplicate of line 2"
    assert "whole number >= 0" in errors[1].rule


def test_parse_members_csv_bad_header() -> None:
    rows, errors = parse_members_csv("kode_faskes,facility_type,members\n0101P001,puskesmas,1\n")
    assert rows == []
    assert CsvError(1, "members", "unknown column") in errors
    assert CsvError(1, "registered_members", "required column missing from header") in errors


def test_parse_members_csv_empty() -> None:
    rows, errors = parse_members_csv("")
    assert rows == []
    assert [(e.line, e.column) for e in errors] == [(1, "*")]


def test_shipped_tables_load() -> None:
    assert isinstance(TABLES, CapitationTables)
    assert sum(TABLES.weights.values()) == 1
    assert [b.payment_pct for b in TABLES.bands] == [90, Fraction(185, 2), 95, 100]


def test_rate_table_is_checked_against_pmk_ranges() -> None:
    text = (
        "facility_type,members_per_doctor_max,has_dentist,rate\n"
        "puskesmas,,yes,9001\n"  # line 2: above 9_000
        "dokter_gigi,,yes,3000\n"  # line 3: dentists take 'any'
        "puskesmas,,yes,5000\n"  # line 4: duplicate of line 2's key (line 2 rejected, so accepted)
        "puskesmas,,yes,5000\n"  # line 5: duplicate of line 4
        "clinic,,no,9000\n"  # line 6
    )
    with pytest.raises(CsvTableError) as info:
        parse_rates(text)
    assert [(e.line, e.column) for e in info.value.errors] == [
        (2, "rate"),
        (3, "has_dentist"),
        (5, "members_per_doctor_max"),
        (6, "facility_type"),
    ]
    assert "PMK 3/2023 range 3600-9000" in info.value.errors[0].rule


def test_rate_table_needs_an_unbounded_row_per_type() -> None:
    text = "facility_type,members_per_doctor_max,has_dentist,rate\npuskesmas,5000,yes,9000\n"
    with pytest.raises(CsvTableError, match="no unbounded row for puskesmas/yes"):
        parse_rates(text)


def test_kbk_tables_are_checked() -> None:
    with pytest.raises(CsvTableError, match="line 2, column indicator"):
        parse_indicator_tiers("indicator,threshold,score\nvisits,1,4\n")
    with pytest.raises(CsvTableError, match="line 2, column score"):
        parse_indicator_tiers("indicator,threshold,score\ncontact_rate_per_mille,150,5\n")
    with pytest.raises(CsvTableError, match="no tier for controlled_prolanis_pct"):
        parse_indicator_tiers(
            "indicator,threshold,score\ncontact_rate_per_mille,150,4\nnon_specialist_referral_pct,2,4\n"
        )
    with pytest.raises(CsvTableError, match="min_score 0 is required"):
        parse_payment_bands("min_score,payment_pct\n4,100\n")
    with pytest.raises(CsvTableError, match="line 3, column min_score: duplicate"):
        parse_payment_bands("min_score,payment_pct\n0,90\n0,95\n")
    with pytest.raises(CsvTableError, match="line 2, column payment_pct"):
        parse_payment_bands("min_score,payment_pct\n0,101\n")


def test_the_60_40_split_binds_only_local_government_fktps() -> None:
    # A klinik pratama owned by a local government splits like a puskesmas; the same clinic private does not.
    private = FktpRow("0101K002", "klinik_pratama", 7_777, 1, False, kbk("140", "2.2", "5"))
    owned_by_pemda = FktpRow("0101K002", "klinik_pratama", 7_777, 1, False, kbk("140", "2.2", "5"), "pemda")
    central = FktpRow("0101K002", "klinik_pratama", 7_777, 1, False, kbk("140", "2.2", "5"), "pusat")  # TNI/Polri
    p, g, c = (compute_capitation(r, 2026, 8, CAL, TABLES) for r in (private, owned_by_pemda, central))
    assert p.amount_payable == g.amount_payable == c.amount_payable == 84_963_725  # the same money either way
    assert (g.service_fee, g.operations) == (50_978_235, 33_985_490)  # 84_963_725 x 0.6; the remainder
    assert (p.service_fee, p.operations) == (None, None)
    assert (c.service_fee, c.operations) == (None, None)
    # A puskesmas is a local-government unit unless stated otherwise.
    assert FktpRow("0101P001", "puskesmas", 1, 1, True).owner == "pemda"


def test_ownership_column_is_optional_and_checked() -> None:
    header = "kode_faskes,facility_type,registered_members,doctors,has_dentist,ownership,"
    header += "contact_rate_per_mille,non_specialist_referral_pct,controlled_prolanis_pct\n"
    rows, errors = parse_members_csv(
        header + "0101K001,klinik_pratama,100,1,no,pemda,,,\n0101K002,klinik_pratama,100,1,no,,,,\n"
        "0101K003,klinik_pratama,100,1,no,negeri,,,\n"
    )
    assert [(r.kode_faskes, r.ownership) for r in rows] == [("0101K001", "pemda"), ("0101K002", None)]
    assert [(e.line, e.column) for e in errors] == [(4, "ownership")]
    assert "must be one of pemda, pusat, swasta, got 'negeri'" in errors[0].rule
