"""examples/participants.csv: the demo members a newcomer imports before submitting the README's example claim.

It must parse with the importer's own parser, carry the columns `claimsctl participants import --help`
documents, and hold the example claim's member so that claim is verified, not rejected for V-ELIG-UNKNOWN.
"""

from __future__ import annotations

import uuid
from datetime import UTC, datetime
from pathlib import Path

from typer.testing import CliRunner

from services.verifier.application import Verifier, verification_policy
from services.verifier.cli import parse_participants
from shared.cli import app
from shared.clock import FixedClock
from shared.events import ClaimGrouped, ClaimSubmitted, ClaimVerified, ParticipantChanged, parse_event_obj
from shared.settings import PolicySettings
from tests.support.factories import example
from tests.unit.verifier.fakes import FakeUnitOfWork

CSV = Path(__file__).resolve().parents[3] / "examples" / "participants.csv"
HEADER = "nomor_kartu,nik,status,status_reason,kelas_hak,member_type,valid_from,valid_to,member_category"
EXAMPLE_CARD = "0001234567890"  # nomor_kartu of examples/events/ClaimSubmitted.json
VERIFIER = Verifier(verification_policy(PolicySettings()), FixedClock(datetime(2026, 11, 9, 2, 0, tzinfo=UTC)))


def import_help() -> str:
    result = CliRunner().invoke(app, ["participants", "import", "--help"], env={"COLUMNS": "200"})
    assert result.exit_code == 0, result.output
    return result.output


def test_the_demo_csv_parses_with_the_importer_and_every_row_is_valid() -> None:
    rows, errors = parse_participants(CSV.read_text())
    assert errors == []
    assert len(rows) == 6


def test_the_demo_csv_header_is_the_one_the_help_documents() -> None:
    help_text = import_help()
    assert CSV.read_text().splitlines()[0] == HEADER
    assert HEADER in help_text  # the help's example line
    for column in HEADER.split(","):
        assert f"{column}: " in help_text, column


def test_the_help_lists_each_columns_allowed_values() -> None:
    help_text = import_help()
    assert "status: active | inactive | suspended (required)" in help_text
    assert "kelas_hak: care class entitlement, 1 | 2 | 3; 1 is the highest (required)" in help_text
    assert "member_type: PBI | PPU | PBPU | BP (required)" in help_text
    assert "member_category: optional column: pemda | ppu_phk, or empty for neither" in help_text


def test_the_example_claims_member_is_in_the_csv_as_an_active_class_3_member() -> None:
    rows, _ = parse_participants(CSV.read_text())
    member = [r for r in rows if r.nomor_kartu == EXAMPLE_CARD]
    assert [(m.status, m.kelas_hak, m.member_type, m.valid_to) for m in member] == [("active", 3, "PBI", None)]
    assert example("ClaimSubmitted")["payload"]["claim"]["nomor_kartu"] == EXAMPLE_CARD


async def test_after_importing_the_csv_the_example_claim_is_verified() -> None:
    rows, _ = parse_participants(CSV.read_text())
    uow = FakeUnitOfWork()
    changes = [
        ParticipantChanged(
            occurred_at=datetime(2026, 11, 1, tzinfo=UTC), correlation_id=uuid.uuid4(), producer="claimsctl", payload=p
        )
        for p in rows
    ]
    await VERIFIER.participant_changed(uow, changes)
    grouped = parse_event_obj(example("ClaimGrouped"))  # the README's example claim, as the grouper passes it on
    assert isinstance(grouped, ClaimGrouped)
    submitted = parse_event_obj(example("ClaimSubmitted"))
    assert isinstance(submitted, ClaimSubmitted)
    assert grouped.payload.claim == submitted.payload.claim
    await VERIFIER.grouped(uow, [grouped])
    assert [(type(e), e.claim_id) for e in uow.emitted] == [(ClaimVerified, "RS0301R001-2026-000123")]
