"""Generate the SAMPLE tariff table for every CBG and special CMG the grouping tables can produce.

Deterministic (no randomness, exact fractions): the same tables give the same bytes. Plausible, not
official, and ordered by construction:
- class-3 tariff = BASE_CLASS3 x the group's relative weight (`cbg_weights.csv`, one per official base
  group, chosen so that within a family the more resource-intensive group weighs more) x the severity
  multiplier (I 1, II 1.5, III 2.2: III > II > I) x the region factor x the hospital-class factor;
- inpatient class 2 = 1.2 x and class 1 = 1.4 x class 3 (ASSUMPTION: the ratio the published INA-CBG
  tables show approximately, e.g. Permenkes 64/2016 and 3/2023 annexes; not checked row by row);
  outpatient groups carry one tariff for every class;
- hospital class A > B > C > D (private variant 3 % above the government one), tariff regions 1 < 2 < 3
  < 4 < 5 (the regions' published order: region 1 mostly Java and Bali … region 5 the eastern provinces);
- rounded half up to 100 rupiah.
No figure of a specific group is taken from the official table (it is not public in machine-readable form).
A test (tests/unit/grouper/test_tariff_orderings.py) checks the orderings over the whole generated table.

Run: .venv/bin/python -m services.grouper.data.generate_sample_tariffs
"""

from __future__ import annotations

from datetime import date
from fractions import Fraction
from pathlib import Path

from services.grouper.domain.csvdata import read_table
from services.grouper.domain.tables import GrouperTables, load_grouper_tables
from services.grouper.domain.tariff_import import write_tariff_table
from services.grouper.domain.tariffs import TARIFF_REGIONS, ClassRates, TariffKey, TariffManifest

VERSION = "SAMPLE-PMK3-2023-v1"
EFFECTIVE_FROM = date(2023, 1, 1)
LABEL = "SAMPLE – not the official Permenkes 3/2023 table"
STEM = "sample-2023"
OUT_DIR = Path(__file__).resolve().parent / "tariffs"

DATA_DIR = Path(__file__).resolve().parent
BASE_CLASS3 = 3_000_000  # rupiah for weight 1.000, class 3, region 1, class C government hospital, severity I
SEVERITY_FACTOR = {"0": Fraction(1), "I": Fraction(1), "II": Fraction(3, 2), "III": Fraction(11, 5)}
INPATIENT_CLASS_FACTOR = (Fraction(7, 5), Fraction(6, 5), Fraction(1))  # class 1, 2, 3
OUTPATIENT_CLASS_FACTOR = (Fraction(1), Fraction(1), Fraction(1))
REGION_FACTOR = {
    1: Fraction(1),
    2: Fraction(103, 100),
    3: Fraction(106, 100),
    4: Fraction(110, 100),
    5: Fraction(118, 100),
}
HOSPITAL_FACTOR = {
    "AP": Fraction(3, 2), "AS": Fraction(309, 200), "BP": Fraction(6, 5), "BS": Fraction(309, 250),
    "CP": Fraction(1), "CS": Fraction(103, 100), "DP": Fraction(9, 10), "DS": Fraction(927, 1000),
}  # fmt: skip
SPECIAL_BASE = {
    "YY01": 15_000_000, "YY02": 6_000_000, "YY03": 2_500_000, "RR01": 5_000_000, "RR02": 30_000_000,
    "RR03": 15_000_000, "RR04": 20_000_000, "II01": 1_500_000, "II02": 2_000_000, "DD01": 3_500_000,
    "DD02": 2_000_000, "SA01": 600_000, "CA01": 400_000,
}  # fmt: skip


def round_100(amount: Fraction) -> int:
    """Half up to whole hundreds of rupiah."""
    return int((amount / 100 + Fraction(1, 2)) // 1) * 100


def load_weights(data_dir: Path = DATA_DIR) -> dict[str, Fraction]:
    """Relative weight per official base group (cbg_weights.csv)."""
    return {r["cbg"]: Fraction(r["weight"]) for r in read_table(data_dir / "cbg_weights.csv")}


def cbg_rates(cbg: str, region: int, hospital: str, weights: dict[str, Fraction]) -> ClassRates:
    """Class 1, 2, 3 tariffs of one CBG in one region and hospital class."""
    cmg, case_type, zz, severity = cbg.split("-")
    class_3 = BASE_CLASS3 * weights[f"{cmg}-{case_type}-{zz}"]
    class_3 *= SEVERITY_FACTOR[severity] * REGION_FACTOR[region] * HOSPITAL_FACTOR[hospital]
    factors = OUTPATIENT_CLASS_FACTOR if severity == "0" else INPATIENT_CLASS_FACTOR
    return round_100(class_3 * factors[0]), round_100(class_3 * factors[1]), round_100(class_3 * factors[2])


def special_rates(code: str, region: int, hospital: str) -> ClassRates:
    """Special CMG top-up: the same for every care class."""
    amount = round_100(SPECIAL_BASE[code] * REGION_FACTOR[region] * HOSPITAL_FACTOR[hospital])
    return amount, amount, amount


def sample_rates(tables: GrouperTables) -> dict[TariffKey, ClassRates]:
    """Every producible CBG and every special CMG x region x hospital class."""
    weights = load_weights()
    missing = sorted({c.rsplit("-", 1)[0] for c in tables.producible_cbgs()} - weights.keys())
    if missing:
        raise ValueError(f"cbg_weights.csv: no weight for {missing}")
    rates: dict[TariffKey, ClassRates] = {}
    for region in TARIFF_REGIONS:
        for hospital in sorted(HOSPITAL_FACTOR):
            for cbg in tables.producible_cbgs():
                rates[(cbg, region, hospital)] = cbg_rates(cbg, region, hospital, weights)
            for code in sorted(tables.special.by_code):
                rates[(code, region, hospital)] = special_rates(code, region, hospital)
    return rates


def main() -> None:
    """Write data/tariffs/sample-2023.csv and its manifest."""
    tables = load_grouper_tables()
    manifest = TariffManifest(VERSION, EFFECTIVE_FROM, None, LABEL, "", "")
    comment = f"{LABEL}\nversion {VERSION}, generated by services/grouper/data/generate_sample_tariffs.py"
    for path in write_tariff_table(OUT_DIR, STEM, manifest, sample_rates(tables), comment):
        print(path)


if __name__ == "__main__":
    main()
