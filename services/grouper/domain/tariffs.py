"""Versioned INA-CBG tariff tables with effective dates, selected by discharge date.

A table directory holds, per version, a CSV (`TARIFF_COLUMNS`) and a JSON manifest naming it.
Only manifests are read, so a CSV without one (an interrupted import) is ignored.
"""

from __future__ import annotations

import csv
import hashlib
import json
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import date
from pathlib import Path
from typing import Any

from services.grouper.domain.codes import DEFAULT_ICD9CM_EDITION, DEFAULT_ICD10_EDITION

TARIFF_COLUMNS = ("code", "regional", "kelas_rs", "tarif_kelas_1", "tarif_kelas_2", "tarif_kelas_3")
TARIFF_REGIONS = (1, 2, 3, 4, 5)
MANIFEST_SUFFIX = ".json"

TariffKey = tuple[str, int, str]
ClassRates = tuple[int, int, int]


class NoTariffTableError(LookupError):
    """No tariff table is effective on the requested date."""


@dataclass(frozen=True, slots=True)
class TariffManifest:
    """What a tariff table is and when it applies (`effective_to` inclusive; None = open)."""

    version: str
    effective_from: date
    effective_to: date | None
    label: str
    file: str
    sha256: str
    # The code-set editions claims are validated with while this table is in force.
    icd10_edition: str = DEFAULT_ICD10_EDITION
    icd9cm_edition: str = DEFAULT_ICD9CM_EDITION

    def covers(self, day: date) -> bool:
        """True when `day` is inside the effective period."""
        return self.effective_from <= day and (self.effective_to is None or day <= self.effective_to)

    def to_json(self) -> dict[str, Any]:
        """The manifest file's content."""
        return {
            "version": self.version,
            "effective_from": self.effective_from.isoformat(),
            "effective_to": self.effective_to.isoformat() if self.effective_to else None,
            "label": self.label,
            "file": self.file,
            "sha256": self.sha256,
            "icd10_edition": self.icd10_edition,
            "icd9cm_edition": self.icd9cm_edition,
        }


@dataclass(frozen=True, slots=True)
class TariffTable:
    """Rates for class 1, 2, 3 per (code, region, tariff class); code is a CBG or special CMG."""

    manifest: TariffManifest
    rates: Mapping[TariffKey, ClassRates]

    @property
    def version(self) -> str:
        return self.manifest.version

    def rates_for(self, code: str, regional: int, tariff_class: str) -> ClassRates | None:
        """Class 1, 2, 3 tariffs, or None when the table lacks the combination."""
        return self.rates.get((code, regional, tariff_class))

    def codes(self) -> frozenset[str]:
        """Every CBG / special CMG code priced by this table."""
        return frozenset(code for code, _, _ in self.rates)


@dataclass(frozen=True, slots=True)
class TariffCatalogue:
    """All known tariff tables, ordered by effective_from."""

    tables: tuple[TariffTable, ...]
    # Selections already made, per discharge date (a claim batch spans few dates).
    _selected: dict[date, TariffTable] = field(default_factory=dict, init=False, compare=False, repr=False)

    def select(self, discharge: date) -> TariffTable:
        """The table effective on the discharge date; the latest start wins an overlap (it supersedes)."""
        selected = self._selected.get(discharge)
        if selected is not None:
            return selected
        for table in reversed(self.tables):
            if table.manifest.covers(discharge):
                self._selected[discharge] = table
                return table
        periods = ", ".join(
            f"{t.version} {t.manifest.effective_from}..{t.manifest.effective_to or ''}" for t in self.tables
        )
        raise NoTariffTableError(f"no tariff table effective on {discharge.isoformat()} (known: {periods or 'none'})")


def parse_manifest(data: Mapping[str, Any]) -> TariffManifest:
    """A manifest from its JSON form."""
    to = data.get("effective_to")
    return TariffManifest(
        version=str(data["version"]),
        effective_from=date.fromisoformat(str(data["effective_from"])),
        effective_to=date.fromisoformat(str(to)) if to else None,
        label=str(data.get("label", "")),
        file=str(data["file"]),
        sha256=str(data["sha256"]),
        icd10_edition=str(data.get("icd10_edition", DEFAULT_ICD10_EDITION)),
        icd9cm_edition=str(data.get("icd9cm_edition", DEFAULT_ICD9CM_EDITION)),
    )


def read_rates(path: Path) -> dict[TariffKey, ClassRates]:
    """Rates of a CSV the importer (or the sample generator) wrote; `#` lines are comments."""
    with path.open(encoding="utf-8", newline="") as handle:
        rows = csv.DictReader(line for line in handle if not line.startswith("#"))
        return {
            (r["code"], int(r["regional"]), r["kelas_rs"]): (
                int(r["tarif_kelas_1"]),
                int(r["tarif_kelas_2"]),
                int(r["tarif_kelas_3"]),
            )
            for r in rows
        }


def load_tariff_table(manifest_path: Path) -> TariffTable:
    """One table from its manifest; the CSV must match the manifest's sha256."""
    manifest = parse_manifest(json.loads(manifest_path.read_text(encoding="utf-8")))
    csv_path = manifest_path.parent / manifest.file
    digest = hashlib.sha256(csv_path.read_bytes()).hexdigest()
    if digest != manifest.sha256:
        raise ValueError(f"{csv_path}: sha256 {digest} does not match manifest {manifest_path.name}")
    return TariffTable(manifest=manifest, rates=read_rates(csv_path))


def load_tariff_tables(directory: Path) -> TariffCatalogue:
    """Every table in a directory; two tables starting on the same day are ambiguous and refused."""
    tables = sorted((load_tariff_table(p) for p in sorted(directory.glob(f"*{MANIFEST_SUFFIX}"))), key=_start)
    starts = [t.manifest.effective_from for t in tables]
    clashes = sorted({s.isoformat() for s in starts if starts.count(s) > 1})
    if clashes:
        raise ValueError(f"{directory}: several tariff tables start on {clashes}")
    return TariffCatalogue(tables=tuple(tables))


def _start(table: TariffTable) -> date:
    return table.manifest.effective_from
