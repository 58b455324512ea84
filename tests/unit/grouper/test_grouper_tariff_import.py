"""Tariff table import: every bad row reported with its line, nothing written unless all are valid."""

from __future__ import annotations

from datetime import date
from pathlib import Path

import pytest

from services.grouper.domain import NoTariffTableError, import_tariff_csv, load_tariff_tables
from services.grouper.domain.tariffs import TARIFF_COLUMNS, TARIFF_REGIONS
from tests.unit.grouper.grouper_claim_factory import TABLES

CLASSES = sorted(TABLES.tariff_classes())
CODES = ("K-1-12-I", "K-1-12-II", "RR04")


def tariff_lines(codes: tuple[str, ...] = CODES, base: int = 1_000_000) -> list[str]:
    """A complete, valid tariff CSV for `codes`: header + one row per region x hospital class."""
    rows = [",".join(TARIFF_COLUMNS)]
    for n, code in enumerate(codes):
        for region in TARIFF_REGIONS:
            for cls in CLASSES:
                class_3 = base + 1000 * n + 100 * region
                rows.append(f"{code},{region},{cls},{class_3 * 14 // 10},{class_3 * 12 // 10},{class_3}")
    return rows


def set_cell(line: str, column: int, value: str) -> str:
    cells = line.split(",")
    cells[column] = value
    return ",".join(cells)


def write(path: Path, lines: list[str]) -> Path:
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")
    return path


def test_three_bad_rows_are_all_reported_with_line_numbers_and_nothing_is_written(tmp_path: Path) -> None:
    lines = tariff_lines()
    lines[4] = set_cell(lines[4], 1, "6")  # line 5: region 6
    lines[9] = set_cell(lines[9], 2, "XX")  # line 10: unknown hospital class
    lines[19] = set_cell(lines[19], 5, "-5")  # line 20: negative tariff
    dest = tmp_path / "tariffs"
    report = import_tariff_csv(write(tmp_path / "in.csv", lines), "T1", date(2024, 1, 1), None, dest)
    assert not report.ok
    by_line = {(e.line, e.column, e.rule) for e in report.errors if e.line is not None}
    assert by_line == {
        (5, "regional", "region-range"),
        (10, "kelas_rs", "hospital-class"),
        (20, "tarif_kelas_3", "tariff-negative"),
    }
    # The corrupted keys also leave K-1-12-I without two region/class rows.
    assert [e.rule for e in report.errors if e.line is None] == ["missing-combination"]
    assert report.written == [] and not dest.exists()


@pytest.mark.parametrize(
    ("line", "replacement", "rule"),
    [
        (2, "K-1-12,1,AP,3,2,1", "code-format"),
        (2, "K-1-12-I,1,AP,1.5e6,2,1", "tariff-integer"),
        (2, "K-1-12-I,1,AP,3,2", "column-count"),
        (1, "code,region,kelas,t1,t2,t3", "header"),
    ],
)
def test_each_row_rule(tmp_path: Path, line: int, replacement: str, rule: str) -> None:
    lines = tariff_lines()
    lines[line - 1] = replacement
    report = import_tariff_csv(write(tmp_path / "in.csv", lines), "T1", date(2024, 1, 1), None, tmp_path / "out")
    assert (line, rule) in {(e.line, e.rule) for e in report.errors}
    assert not (tmp_path / "out").exists()


def test_duplicate_key_names_the_first_line(tmp_path: Path) -> None:
    lines = tariff_lines()
    lines.append(lines[1])
    report = import_tariff_csv(write(tmp_path / "in.csv", lines), "T1", date(2024, 1, 1), None, tmp_path / "out")
    [error] = report.errors
    assert (error.line, error.rule) == (len(lines), "duplicate-key") and "line 2" in error.message


def test_missing_combination_is_reported_per_code(tmp_path: Path) -> None:
    lines = [line for line in tariff_lines() if not line.startswith("RR04,5,")]
    report = import_tariff_csv(write(tmp_path / "in.csv", lines), "T1", date(2024, 1, 1), None, tmp_path / "out")
    [error] = report.errors
    assert error.rule == "missing-combination" and "RR04 lacks 8" in error.message


def test_a_good_csv_is_installed_and_selectable_by_date(tmp_path: Path) -> None:
    dest = tmp_path / "tariffs"
    first = import_tariff_csv(
        write(tmp_path / "a.csv", tariff_lines(base=1_000_000)), "PMK-A", date(2023, 1, 1), date(2024, 12, 31), dest
    )
    second = import_tariff_csv(
        write(tmp_path / "b.csv", tariff_lines(base=2_000_000)), "PMK B/2025", date(2025, 1, 1), None, dest
    )
    assert first.ok and second.ok, (first.errors, second.errors)
    assert sorted(p.name for p in dest.iterdir()) == ["PMK-A.csv", "PMK-A.json", "PMK-B-2025.csv", "PMK-B-2025.json"]
    catalogue = load_tariff_tables(dest)
    assert catalogue.select(date(2024, 12, 31)).version == "PMK-A"
    assert catalogue.select(date(2025, 1, 1)).version == "PMK B/2025"
    assert catalogue.select(date(2025, 1, 1)).rates_for("RR04", 3, "CS") == (
        2_002_300 * 14 // 10,
        2_002_300 * 12 // 10,
        2_002_300,
    )
    with pytest.raises(NoTariffTableError, match="2022-12-31"):
        catalogue.select(date(2022, 12, 31))


def test_import_reports_groupable_cbgs_the_table_lacks(tmp_path: Path) -> None:
    report = import_tariff_csv(
        write(tmp_path / "a.csv", tariff_lines()), "T1", date(2024, 1, 1), None, tmp_path / "out",
        expected_codes=TABLES.producible_cbgs(),
    )  # fmt: skip
    assert report.ok and "K-1-12-I" not in report.not_covered and "I-4-10-I" in report.not_covered


def test_catalogue_rules_version_dates_and_clashes(tmp_path: Path) -> None:
    dest = tmp_path / "tariffs"
    source = write(tmp_path / "a.csv", tariff_lines())
    assert import_tariff_csv(source, "T1", date(2024, 1, 1), None, dest).ok
    again = import_tariff_csv(source, "T1", date(2025, 1, 1), None, dest)
    same_day = import_tariff_csv(source, "T2", date(2024, 1, 1), None, dest)
    backwards = import_tariff_csv(source, "T3", date(2024, 6, 1), date(2024, 5, 31), dest)
    assert [e.rule for e in again.errors] == ["version-exists"]
    assert [e.rule for e in same_day.errors] == ["effective-from-clash"]
    assert [e.rule for e in backwards.errors] == ["effective-dates"]
    assert len(list(dest.iterdir())) == 2  # only T1


def test_a_tampered_table_is_refused_at_load(tmp_path: Path) -> None:
    dest = tmp_path / "tariffs"
    assert import_tariff_csv(write(tmp_path / "a.csv", tariff_lines()), "T1", date(2024, 1, 1), None, dest).ok
    csv_path = dest / "T1.csv"
    csv_path.write_text(csv_path.read_text().replace("1000100", "9000100"))
    with pytest.raises(ValueError, match="sha256"):
        load_tariff_tables(dest)


def test_comment_lines_are_allowed_and_counted(tmp_path: Path) -> None:
    lines = ["# official table, exported 2024-01-01", *tariff_lines()]
    lines[3] = set_cell(lines[3], 1, "0")
    report = import_tariff_csv(write(tmp_path / "a.csv", lines), "T1", date(2024, 1, 1), None, tmp_path / "out")
    assert (4, "region-range") in {(e.line, e.rule) for e in report.errors}
