"""Importing a tariff table (e.g. the official Permenkes table) as a new version.

Every row is checked and every problem reported with its line and column; nothing is written
unless all rows are valid. Files are written to a temp name and renamed (atomic), the CSV first
and the manifest last, so a reader never sees a half-written version. This is the one module
of the domain that writes files.
"""

from __future__ import annotations

import csv
import hashlib
import io
import json
import os
import re
import tempfile
from collections.abc import Collection, Iterable, Iterator
from dataclasses import dataclass, field, replace
from datetime import date
from pathlib import Path
from typing import Final

from services.grouper.domain.tariffs import (
    MANIFEST_SUFFIX,
    TARIFF_COLUMNS,
    TARIFF_REGIONS,
    ClassRates,
    TariffKey,
    TariffManifest,
    load_tariff_tables,
)

CBG_CODE: Final = re.compile(r"^[A-Z]-[0-9]-[0-9]{2}-(0|I|II|III)$")
SPECIAL_CMG_CODE: Final = re.compile(r"^[A-Z]{2}[0-9]{2}$")
RUPIAH: Final = re.compile(r"^-?[0-9]+$")


@dataclass(frozen=True, slots=True)
class RowError:
    """One problem: line (1-based, None for whole-file problems), column and the rule broken."""

    line: int | None
    column: str | None
    rule: str
    message: str


@dataclass(frozen=True, slots=True)
class ImportReport:
    """What an import found and wrote; `not_covered` lists expected codes the table lacks (a warning)."""

    version: str
    source: Path
    rows: int
    codes: int
    errors: list[RowError] = field(default_factory=list)
    written: list[Path] = field(default_factory=list)
    not_covered: list[str] = field(default_factory=list)

    @property
    def ok(self) -> bool:
        return not self.errors


def _rupiah(line: int, column: str, text: str) -> Iterator[RowError]:
    if RUPIAH.match(text) is None:
        yield RowError(line, column, "tariff-integer", f"'{text}' is not a whole number of rupiah")
    elif int(text) < 0:
        yield RowError(line, column, "tariff-negative", f"{text} is negative")


def row_errors(line: int, row: dict[str, str], tariff_classes: Collection[str]) -> list[RowError]:
    """Problems of one data row (already split into the expected columns)."""
    errors: list[RowError] = []
    code = row["code"]
    if CBG_CODE.match(code) is None and SPECIAL_CMG_CODE.match(code) is None:
        errors.append(
            RowError(line, "code", "code-format", f"'{code}' is neither a CBG (X-Y-ZZ-S) nor a special CMG code")
        )
    region = row["regional"]
    if not region.isdigit() or int(region) not in TARIFF_REGIONS:
        errors.append(RowError(line, "regional", "region-range", f"'{region}' is not a tariff region 1-5"))
    if row["kelas_rs"] not in tariff_classes:
        errors.append(
            RowError(line, "kelas_rs", "hospital-class", f"'{row['kelas_rs']}' is not one of {sorted(tariff_classes)}")
        )
    for column in TARIFF_COLUMNS[3:]:
        errors.extend(_rupiah(line, column, row[column]))
    return errors


def _data_rows(text: str) -> Iterator[tuple[int, list[str]]]:
    """(line number, cells) of each non-comment, non-blank row."""
    reader = csv.reader(io.StringIO(text))
    for cells in reader:
        if cells and not cells[0].lstrip().startswith("#") and any(c.strip() for c in cells):
            yield reader.line_num, [c.strip() for c in cells]


def parse_tariff_csv(text: str, tariff_classes: Collection[str]) -> tuple[dict[TariffKey, ClassRates], list[RowError]]:
    """Rates of a tariff CSV and every problem in it."""
    rows = _data_rows(text)
    header = next(rows, None)
    if header is None or tuple(c.lower() for c in header[1]) != TARIFF_COLUMNS:
        return {}, [RowError(header[0] if header else 1, None, "header", f"header must be {','.join(TARIFF_COLUMNS)}")]
    rates: dict[TariffKey, ClassRates] = {}
    first_line: dict[TariffKey, int] = {}
    errors: list[RowError] = []
    for line, cells in rows:
        if len(cells) != len(TARIFF_COLUMNS):
            errors.append(RowError(line, None, "column-count", f"{len(cells)} columns, expected {len(TARIFF_COLUMNS)}"))
            continue
        row = dict(zip(TARIFF_COLUMNS, cells, strict=True))
        problems = row_errors(line, row, tariff_classes)
        errors.extend(problems)
        key = (row["code"], int(row["regional"]) if row["regional"].isdigit() else -1, row["kelas_rs"])
        if key in first_line:
            errors.append(RowError(line, None, "duplicate-key", f"{key} already on line {first_line[key]}"))
            continue
        first_line[key] = line
        if not problems:
            rates[key] = (int(row["tarif_kelas_1"]), int(row["tarif_kelas_2"]), int(row["tarif_kelas_3"]))
    if not first_line:
        errors.append(RowError(None, None, "empty", "the file has no tariff rows"))
    return rates, errors + missing_combinations(first_line, tariff_classes)


def missing_combinations(keys: Iterable[TariffKey], tariff_classes: Collection[str]) -> list[RowError]:
    """Each code needs a row for every region x hospital class."""
    present: dict[str, set[tuple[int, str]]] = {}
    for code, region, tariff_class in keys:
        present.setdefault(code, set()).add((region, tariff_class))
    wanted = {(r, c) for r in TARIFF_REGIONS for c in tariff_classes}
    errors = []
    for code in sorted(present):
        missing = sorted(wanted - present[code])
        if missing:
            shown = ", ".join(f"{r}/{c}" for r, c in missing[:8]) + (", ..." if len(missing) > 8 else "")
            errors.append(
                RowError(None, "code", "missing-combination", f"{code} lacks {len(missing)} region/class rows: {shown}")
            )
    return errors


def catalogue_errors(dest_dir: Path, version: str, effective_from: date, effective_to: date | None) -> list[RowError]:
    """Dates in order, version new, and no existing table starting the same day."""
    errors = []
    if effective_to is not None and effective_to < effective_from:
        errors.append(
            RowError(None, None, "effective-dates", f"effective_to {effective_to} is before {effective_from}")
        )
    if dest_dir.is_dir():
        for table in load_tariff_tables(dest_dir).tables:
            if table.version == version:
                errors.append(RowError(None, None, "version-exists", f"version {version} is already installed"))
            elif table.manifest.effective_from == effective_from:
                errors.append(
                    RowError(None, None, "effective-from-clash", f"{table.version} also starts {effective_from}")
                )
        stem = file_stem(version)
        if not errors and ((dest_dir / f"{stem}.csv").exists() or (dest_dir / f"{stem}{MANIFEST_SUFFIX}").exists()):
            errors.append(RowError(None, None, "file-exists", f"{stem}.csv or {stem}{MANIFEST_SUFFIX} already exists"))
    return errors


def file_stem(version: str) -> str:
    """A file name for a version: unsafe characters become '-'."""
    return re.sub(r"[^A-Za-z0-9._-]+", "-", version).strip("-.") or "tariffs"


def render_csv(rates: dict[TariffKey, ClassRates], comment: str | None = None) -> bytes:
    """The normalised CSV: optional `#` comment, header, rows sorted by key."""
    out = io.StringIO(newline="")
    if comment:
        out.write("".join(f"# {line}\n" for line in comment.splitlines()))
    writer = csv.writer(out, lineterminator="\n")
    writer.writerow(TARIFF_COLUMNS)
    writer.writerows([*key, *rates[key]] for key in sorted(rates))
    return out.getvalue().encode("utf-8")


def _atomic_write(path: Path, data: bytes) -> None:
    with tempfile.NamedTemporaryFile(dir=path.parent, prefix=f".{path.name}.", delete=False) as tmp:
        tmp.write(data)
        tmp.flush()
        os.fsync(tmp.fileno())
    os.chmod(tmp.name, 0o644)  # temp files are created private; tables are meant to be read by all
    os.replace(tmp.name, path)


def write_tariff_table(
    dest_dir: Path, stem: str, manifest: TariffManifest, rates: dict[TariffKey, ClassRates], comment: str | None = None
) -> list[Path]:
    """Write `stem`.csv then `stem`.json (each atomically); the manifest's file and sha256 are filled in."""
    dest_dir.mkdir(parents=True, exist_ok=True)
    data = render_csv(rates, comment)
    csv_path, manifest_path = dest_dir / f"{stem}.csv", dest_dir / f"{stem}{MANIFEST_SUFFIX}"
    final = replace(manifest, file=csv_path.name, sha256=hashlib.sha256(data).hexdigest())
    _atomic_write(csv_path, data)
    _atomic_write(manifest_path, (json.dumps(final.to_json(), indent=2, ensure_ascii=False) + "\n").encode("utf-8"))
    return [csv_path, manifest_path]


def import_tariff_csv(
    path: Path,
    version: str,
    effective_from: date,
    effective_to: date | None,
    dest_dir: Path,
    *,
    label: str = "",
    tariff_classes: Collection[str] = ("AP", "AS", "BP", "BS", "CP", "CS", "DP", "DS"),
    expected_codes: Collection[str] = (),
) -> ImportReport:
    """Validate every row of `path`; when all are valid, install it in `dest_dir` as `version`."""
    rates, errors = parse_tariff_csv(path.read_text(encoding="utf-8-sig"), tariff_classes)
    errors += catalogue_errors(dest_dir, version, effective_from, effective_to)
    codes = {code for code, _, _ in rates}
    report = ImportReport(
        version, path, len(rates), len(codes), errors, not_covered=sorted(set(expected_codes) - codes)
    )
    if errors:
        return report
    manifest = TariffManifest(version, effective_from, effective_to, label or f"imported from {path.name}", "", "")
    written = write_tariff_table(dest_dir, file_stem(version), manifest, rates)
    return replace(report, written=written)
