"""The sample tariff table orders its figures the way resource use does, over every row of the table.

The table is read as the CSV file a hospital or an auditor would open (not through the grouper), and every
pair of groups compared is written out here by hand from the official INA-CBG names.
"""

from __future__ import annotations

import csv
from collections.abc import Iterator
from pathlib import Path

import pytest

TABLE = Path(__file__).resolve().parents[3] / "services" / "grouper" / "data" / "tariffs" / "sample-2023.csv"
REGIONS = (1, 2, 3, 4, 5)
HOSPITAL_CLASSES = ("AP", "AS", "BP", "BS", "CP", "CS", "DP", "DS")
SEVERITIES = ("I", "II", "III")

Rates = tuple[int, int, int]
RATES: dict[tuple[str, int, str], Rates] = {}
with TABLE.open(encoding="utf-8", newline="") as handle:
    for row in csv.DictReader(line for line in handle if not line.startswith("#")):
        RATES[(row["code"], int(row["regional"]), row["kelas_rs"])] = (
            int(row["tarif_kelas_1"]),
            int(row["tarif_kelas_2"]),
            int(row["tarif_kelas_3"]),
        )
CODES = sorted({code for code, _, _ in RATES})
CBGS = [c for c in CODES if c.count("-") == 3]
INPATIENT = [c for c in CBGS if not c.endswith("-0")]
OUTPATIENT = [c for c in CBGS if c.endswith("-0")]

# (more resource-intensive, less resource-intensive) base groups of one family, by official name.
INPATIENT_PAIRS = [
    ("O-6-10", "O-6-13"),  # OPERASI PEMBEDAHAN CAESAR > PERSALINAN VAGINAL
    ("O-6-10", "O-6-12"),  # caesarean > vaginal delivery with another procedure
    ("O-6-12", "O-6-13"),  # vaginal delivery with a procedure > plain vaginal delivery
    ("P-8-03", "P-8-11"),  # neonate < 1000 g > 1000-1499 g (no major procedure)
    ("P-8-11", "P-8-12"),  # 1000-1499 g > 1500-1999 g
    ("P-8-12", "P-8-13"),  # 1500-1999 g > 2000-2499 g
    ("P-8-13", "P-8-17"),  # 2000-2499 g > > 2499 g
    ("P-8-11", "P-8-17"),  # very low birth weight > normal birth weight
    ("P-8-07", "P-8-17"),  # > 2499 g with a major procedure > without
    ("G-1-10", "G-1-20"),  # KRANIOTOMI > PROSEDUR SARAF KRANIAL DAN PERIFER
    ("G-1-10", "G-1-30"),  # craniotomy > spine procedures
    ("G-1-30", "G-1-20"),  # spine > cranial and peripheral nerve procedures
    ("B-1-01", "B-1-13"),  # PENCANGKOKAN HATI > other hepatobiliary procedures
    ("B-1-01", "B-1-10"),  # liver transplant > liver and pancreas procedures
    ("D-1-10", "D-1-20"),  # bone marrow transplant > other blood procedures
    ("I-1-01", "I-1-06"),  # heart/lung transplant > other cardiothoracic procedures
    ("I-1-06", "I-1-20"),  # cardiothoracic > other circulatory procedures
    ("N-1-01", "N-1-30"),  # kidney transplant > bladder and lower urinary tract procedures
    ("K-1-20", "K-1-40"),  # complex intestinal > other digestive procedures
    ("K-1-40", "K-1-50"),  # other digestive > anal procedures
    ("J-1-10", "J-1-20"),  # very complex > non-complex respiratory procedures
]
OUTPATIENT_PAIRS = [
    ("O-7-10", "O-7-13"),  # caesarean > vaginal delivery (outpatient)
    ("P-9-11", "P-9-12"),  # neonate 1000-1499 g > 1500-1999 g
    ("P-9-12", "P-9-13"),
    ("P-9-13", "P-9-17"),
    ("G-2-21", "G-2-22"),  # PROSEDUR BESAR > KECIL PADA SARAF PERIFER
    ("H-2-36", "H-2-23"),  # cataract operation > minor external eye procedure
]


def everywhere() -> Iterator[tuple[int, str]]:
    for region in REGIONS:
        for hospital in HOSPITAL_CLASSES:
            yield region, hospital


def test_the_table_is_labelled_sample() -> None:
    assert TABLE.read_text(encoding="utf-8").startswith("# SAMPLE")


def test_every_code_has_every_region_and_hospital_class() -> None:
    missing = [(c, r, h) for c in CODES for r, h in everywhere() if (c, r, h) not in RATES]
    assert missing == []


@pytest.mark.parametrize(("heavier", "lighter"), INPATIENT_PAIRS)
def test_more_resource_intensive_inpatient_groups_cost_more(heavier: str, lighter: str) -> None:
    for severity in SEVERITIES:
        for region, hospital in everywhere():
            high = RATES[(f"{heavier}-{severity}", region, hospital)]
            low = RATES[(f"{lighter}-{severity}", region, hospital)]
            assert all(h > lo for h, lo in zip(high, low, strict=True)), (heavier, lighter, severity, region)


@pytest.mark.parametrize(("heavier", "lighter"), OUTPATIENT_PAIRS)
def test_more_resource_intensive_outpatient_groups_cost_more(heavier: str, lighter: str) -> None:
    for region, hospital in everywhere():
        assert RATES[(f"{heavier}-0", region, hospital)][2] > RATES[(f"{lighter}-0", region, hospital)][2]


def test_severity_iii_above_ii_above_i_for_every_inpatient_group() -> None:
    bases = sorted({c.rsplit("-", 1)[0] for c in INPATIENT})
    for base in bases:
        for region, hospital in everywhere():
            one, two, three = (RATES[(f"{base}-{s}", region, hospital)] for s in SEVERITIES)
            for kelas in range(3):
                assert three[kelas] > two[kelas] > one[kelas], (base, region, hospital, kelas + 1)


def test_inpatient_class_1_above_2_above_3_by_the_ratio_1_4_and_1_2() -> None:
    for code in INPATIENT:
        for region, hospital in everywhere():
            k1, k2, k3 = RATES[(code, region, hospital)]
            assert k1 > k2 > k3
            # class 1 = 1.4 x and class 2 = 1.2 x class 3, each rounded to 100 rupiah on its own
            assert abs(k1 * 10 - k3 * 14) <= 1_000 and abs(k2 * 10 - k3 * 12) <= 1_000, (code, region, hospital)


def test_outpatient_groups_pay_one_tariff_for_every_class() -> None:
    for code in OUTPATIENT:
        for region, hospital in everywhere():
            k1, k2, k3 = RATES[(code, region, hospital)]
            assert k1 == k2 == k3, (code, region, hospital)


def test_hospital_class_a_above_b_above_c_above_d_for_both_ownerships() -> None:
    for code in CBGS:
        for region in REGIONS:
            for owner in ("P", "S"):
                a, b, c, d = (RATES[(code, region, f"{cls}{owner}")] for cls in "ABCD")
                for kelas in range(3):
                    assert a[kelas] > b[kelas] > c[kelas] > d[kelas], (code, region, owner, kelas + 1)


def test_regions_in_their_published_order_1_to_5() -> None:
    for code in CBGS:
        for hospital in HOSPITAL_CLASSES:
            by_region = [RATES[(code, region, hospital)] for region in REGIONS]
            for kelas in range(3):
                column = [rates[kelas] for rates in by_region]
                assert column == sorted(column) and len(set(column)) == len(column), (code, hospital, kelas + 1)
