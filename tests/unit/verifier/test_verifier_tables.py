"""The shipped data tables load, validate, and answer lookups by the documented precedence."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from services.verifier.domain import tables


@pytest.fixture
def data_dir(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[Path]:
    """A scratch data directory; the caches are cleared before and after."""
    loaders = (tables.invasive_ranges, tables.support_requirements, tables.los_ranges)
    for loader in loaders:
        loader.cache_clear()
    monkeypatch.setattr(tables, "DATA_DIR", tmp_path)
    yield tmp_path
    for loader in loaders:
        loader.cache_clear()


def test_every_shipped_table_loads() -> None:
    assert tables.invasive_ranges() and tables.support_requirements() and tables.los_ranges()


@pytest.mark.parametrize(("code", "normal"), [("k35.8", "K358"), (" 47.09 ", "4709"), ("E11", "E11")])
def test_codes_are_normalised(code: str, normal: str) -> None:
    assert tables.normalize_code(code) == normal


@pytest.mark.parametrize(
    ("code", "invasive"),
    [
        ("01.24", True),  # first operation chapter
        ("86.99", True),  # last operation chapter
        ("38.93", False),  # excluded inside chapters 01-86
        ("38.91", True),  # arterial catheterization: not excluded
        ("00.66", True),
        ("00.11", False),
        ("87.03", False),  # diagnostic radiology
        ("88.44", True),  # contrast arteriography included back
        ("99.21", False),
        ("99.04", True),
    ],
)
def test_the_most_specific_invasive_row_decides(code: str, invasive: bool) -> None:
    assert tables.is_invasive(code) is invasive


def test_longest_support_prefix_wins() -> None:
    uti = tables.support_requirement("N39.0")
    assert uti is not None and uti.required == "lab"
    assert tables.support_requirement("N39.1") is None


@pytest.mark.parametrize(
    ("cmg", "case_type", "expected"),
    [("J", 4, (2, 10)), ("K", 1, (1, 10)), ("J", 1, (1, 20)), ("Z", 8, (1, 20)), ("O", 6, (1, 5))],
)
def test_los_range_falls_back_to_the_default(cmg: str, case_type: int, expected: tuple[int, int]) -> None:
    found = tables.los_range(cmg, case_type)
    assert (found.min_days, found.max_days) == expected


def test_cmg_wildcard_row_applies_to_any_case_type(data_dir: Path) -> None:
    (data_dir / "los_ranges.csv").write_text(
        "cmg,case_type,min_days,max_days,description\n*,*,1,20,d\nJ,*,3,7,j any\n*,4,2,9,any 4\n"
    )
    assert tables.los_range("J", 1).max_days == 7
    assert tables.los_range("K", 4).max_days == 9


def test_los_table_without_default_is_refused(data_dir: Path) -> None:
    (data_dir / "los_ranges.csv").write_text("cmg,case_type,min_days,max_days,description\nJ,4,2,10,x\n")
    with pytest.raises(ValueError, match="default"):
        tables.los_ranges()


def test_invasive_range_with_uneven_bounds_is_refused(data_dir: Path) -> None:
    (data_dir / "invasive_procedures.csv").write_text("code_from,code_to,invasive,description\n01,860,yes,x\n")
    with pytest.raises(ValueError, match="bad range"):
        tables.invasive_ranges()


def test_unknown_support_kind_is_refused(data_dir: Path) -> None:
    (data_dir / "supporting_results.csv").write_text("icd10_prefix,required,description\nE11,blood,x\n")
    with pytest.raises(ValueError, match="bad kind"):
        tables.support_requirements()
