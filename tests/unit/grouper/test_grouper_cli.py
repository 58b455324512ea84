"""`claimsctl group` and `claimsctl tariffs import` through typer's test runner."""

from __future__ import annotations

import json
import uuid
from datetime import UTC, datetime
from pathlib import Path

import typer
from typer.testing import CliRunner

from services.grouper.cli import app, register
from shared.events import ClaimSubmitted, ClaimSubmittedPayload
from tests.unit.grouper.grouper_claim_factory import make_claim

runner = CliRunner()


def claim_file(tmp_path: Path, **changes: object) -> Path:
    path = tmp_path / "claim.json"
    path.write_text(make_claim(**changes).model_dump_json())
    return path


def test_group_prints_the_result_as_json_and_exits_0(tmp_path: Path) -> None:
    result = runner.invoke(app, ["group", str(claim_file(tmp_path, procedure=["47.09"])), "--json"])
    assert result.exit_code == 0, result.output
    body = json.loads(result.stdout)
    assert body["outcome"] == "grouped" and body["grouping"]["cbg_code"] == "K-1-13-I"


def test_group_reads_a_claim_submitted_event(tmp_path: Path) -> None:
    event = ClaimSubmitted(
        occurred_at=datetime(2023, 5, 5, tzinfo=UTC),
        claim_id="0301R0010523V000123",
        correlation_id=uuid.uuid4(),
        producer="test",
        payload=ClaimSubmittedPayload(revision=0, claim=make_claim()),
    )
    path = tmp_path / "event.json"
    path.write_text(event.model_dump_json())
    result = runner.invoke(app, ["group", str(path)])
    assert result.exit_code == 0, result.output
    assert "K-4-17-I" in result.stdout


def test_group_lists_every_rejection_reason_and_exits_1(tmp_path: Path) -> None:
    path = claim_file(tmp_path, nomor_kartu="12", diagnosa=["I21", "V01.0"])
    as_json = runner.invoke(app, ["group", str(path), "--json"])
    assert as_json.exit_code == 1
    assert [r["code"] for r in json.loads(as_json.stdout)["reasons"]] == ["G-CARD-FORMAT", "G-ICD10-CATEGORY"]
    as_table = runner.invoke(app, ["group", str(path)])
    assert as_table.exit_code == 1 and "G-CARD-FORMAT" in as_table.stdout and "G-ICD10-CATEGORY" in as_table.stdout


def test_group_names_the_error_group(tmp_path: Path) -> None:
    result = runner.invoke(app, ["group", str(claim_file(tmp_path, diagnosa=["N40"], gender=2)), "--json"])
    assert result.exit_code == 1 and json.loads(result.stdout)["error_group"] == "X-0-92-X"


def test_group_exits_2_on_an_unreadable_file(tmp_path: Path) -> None:
    not_json = tmp_path / "bad.json"
    not_json.write_text("{nope")
    wrong_shape = tmp_path / "shape.json"
    wrong_shape.write_text('{"nomor_sep": 1}')
    for path in (not_json, wrong_shape, tmp_path / "missing.json"):
        assert runner.invoke(app, ["group", str(path)]).exit_code == 2


def tariff_csv(tmp_path: Path, bad_region_line: bool) -> Path:
    rows = ["code,regional,kelas_rs,tarif_kelas_1,tarif_kelas_2,tarif_kelas_3"]
    rows += [
        f"K-1-12-I,{r},{c},300,200,100" for r in range(1, 6) for c in ("AP", "AS", "BP", "BS", "CP", "CS", "DP", "DS")
    ]
    if bad_region_line:
        rows[3] = "K-1-12-I,9,BP,300,200,100"
    path = tmp_path / "tariffs.csv"
    path.write_text("\n".join(rows) + "\n")
    return path


def test_tariffs_import_prints_bad_rows_and_writes_nothing(tmp_path: Path) -> None:
    dest = tmp_path / "dest"
    args = ["tariffs", "import", str(tariff_csv(tmp_path, True)), "--version", "V1", "--effective-from", "2024-01-01"]
    result = runner.invoke(app, [*args, "--dest", str(dest)])
    assert result.exit_code == 1
    assert "region-range" in result.stdout and "4" in result.stdout
    assert not dest.exists()


def test_tariffs_import_installs_a_good_table(tmp_path: Path) -> None:
    dest = tmp_path / "dest"
    args = ["tariffs", "import", str(tariff_csv(tmp_path, False)), "--version", "V1", "--effective-from", "2024-01-01"]
    result = runner.invoke(app, [*args, "--effective-to", "2024-12-31", "--dest", str(dest)])
    assert result.exit_code == 0, result.output
    manifest = json.loads((dest / "V1.json").read_text())
    assert (manifest["effective_from"], manifest["effective_to"]) == ("2024-01-01", "2024-12-31")
    assert "lack a tariff" in result.stdout  # the rest of the groupable CBGs


def test_register_mounts_group_and_tariffs_on_a_root_app() -> None:
    root = typer.Typer()

    @root.command("other")
    def other() -> None:
        """Another service's command."""

    register(root)
    assert runner.invoke(root, ["group", "--help"]).exit_code == 0
    assert runner.invoke(root, ["tariffs", "import", "--help"]).exit_code == 0
