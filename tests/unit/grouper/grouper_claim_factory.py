"""Shared helpers for the grouper tests: the loaded tables and a valid base claim to vary."""

from __future__ import annotations

from datetime import date
from typing import Any

from services.grouper.domain import Grouped, GroupingOutcome, Rejected, load_grouper_tables
from shared.events import ClaimData, GroupingResult, ProcedureEntry, TarifRS

TABLES = load_grouper_tables()

BASE_CLAIM: dict[str, Any] = {
    "nomor_sep": "0301R0010523V000123",
    "nomor_kartu": "0001234567890",
    "kode_rs": "0301R001",
    "kelas_rs": "BP",
    "regional_tarif": 1,
    "tgl_lahir": date(1980, 6, 15),
    "gender": 1,
    "tgl_masuk": date(2023, 5, 1),
    "tgl_pulang": date(2023, 5, 4),
    "jenis_rawat": 1,
    "kelas_rawat": 2,
    "diagnosa": ["K35.9"],
    "procedure": [],
    "tarif_rs": TarifRS(prosedur_bedah=4_000_000, kamar=1_500_000, obat=500_000),
    "coder_nik": "3171234567890001",
}


def make_claim(**changes: Any) -> ClaimData:
    """The base claim with fields replaced; `procedure` may be given as a list of code strings."""
    fields = {**BASE_CLAIM, **changes}
    fields["procedure"] = [ProcedureEntry(code=p) if isinstance(p, str) else p for p in fields["procedure"]]
    return ClaimData(**fields)


def outpatient(**changes: Any) -> ClaimData:
    """An outpatient visit on one day."""
    return make_claim(jenis_rawat=2, tgl_pulang=changes.pop("tgl_pulang", BASE_CLAIM["tgl_masuk"]), **changes)


def grouped(outcome: GroupingOutcome) -> GroupingResult:
    """The result of a grouped outcome (fails the test with the reasons otherwise)."""
    assert isinstance(outcome, Grouped), outcome
    return outcome.result


def rejected(outcome: GroupingOutcome) -> Rejected:
    """A rejected outcome (fails the test with the result otherwise)."""
    assert isinstance(outcome, Rejected), outcome
    return outcome


def rates(cbg_or_special: str, regional: int = 1, tariff_class: str = "BP") -> tuple[int, int, int]:
    """Class 1-3 tariffs from the sample table (the table is the expected value's source)."""
    found = TABLES.tariffs.select(date(2023, 5, 4)).rates_for(cbg_or_special, regional, tariff_class)
    assert found is not None, cbg_or_special
    return found
