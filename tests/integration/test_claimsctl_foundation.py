"""claimsctl submit / tail against the real broker."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import uuid
from pathlib import Path

import pytest

from deploy.local import Stack
from tests.support.factories import example

pytestmark = pytest.mark.integration
ROOT = Path(__file__).resolve().parents[2]


def claimsctl(stack: Stack, *args: str) -> subprocess.CompletedProcess[str]:
    env = {**os.environ, "KAFKA_BOOTSTRAP_SERVERS": stack.bootstrap_servers, "DATABASE_URL": stack.database_url}
    return subprocess.run(
        [sys.executable, "-m", "shared.cli", *args], cwd=ROOT, env=env, capture_output=True, text=True, timeout=60
    )


def test_submit_refuses_an_invalid_claim_naming_the_field(stack: Stack, tmp_path: Path) -> None:
    doc = example("ClaimSubmitted")
    doc["payload"]["claim"]["tgl_pulang"] = "06-11-2026"
    del doc["payload"]["claim"]["nomor_kartu"]
    path = tmp_path / "claim.json"
    path.write_text(json.dumps(doc))
    result = claimsctl(stack, "submit", str(path))
    assert result.returncode == 1
    assert "payload.ClaimSubmitted.claim.tgl_pulang" in result.stderr or "claim.tgl_pulang" in result.stderr
    assert "nomor_kartu: Field required" in result.stderr


def test_submit_publishes_and_tail_prints_it(stack: Stack, tmp_path: Path) -> None:
    claim = example("ClaimSubmitted")["payload"]["claim"]
    claim_id = f"CLI-{uuid.uuid4().hex[:8]}"
    path = tmp_path / "bare-claim.json"
    path.write_text(json.dumps(claim))
    result = claimsctl(stack, "submit", str(path), "--claim-id", claim_id)
    assert result.returncode == 0, result.stderr
    assert json.loads(result.stdout)["published"] == "claims.submitted"

    tailed = claimsctl(stack, "tail", "claims.submitted", "--from-beginning", "--idle-timeout", "2")
    assert tailed.returncode == 0, tailed.stderr
    records = [json.loads(line) for line in tailed.stdout.splitlines()]
    mine = [r for r in records if r["key"] == claim_id]
    assert len(mine) == 1
    assert mine[0]["value"]["payload"]["claim"]["nomor_sep"] == claim["nomor_sep"]
    assert mine[0]["value"]["payload"]["revision"] == 0
