"""`make run` as a newcomer runs it: `python -m deploy.run` as its own process, in a fresh directory.

DEMO=1: the demo world is seeded, the demo hospital feed moves claims (seen through the gateway's VClaim
monitor with the demo operator credential), the README's example claim is verified on the demo data, and
Ctrl-C (SIGINT) stops everything cleanly. DEMO=0: the same start with nothing seeded.

Each run works in its own temporary directory (`make run` keeps its data in `./.local`), never in the
checkout's, and on shifted ports (RUN_PORT_OFFSET), so a developer's `make run` can stay up meanwhile.
"""

from __future__ import annotations

import asyncio
import json
import os
import random
import re
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import datetime, timedelta, timezone
from pathlib import Path

import asyncpg
import httpx
import pytest

from services.gateway.domain.signature import sign
from shared.services import SERVICES

pytestmark = pytest.mark.e2e

REPO = Path(__file__).resolve().parents[2]
EXAMPLE_CLAIM = REPO / "examples" / "events" / "ClaimSubmitted.json"
EXAMPLE_CLAIM_ID = "RS0301R001-2026-000123"
CLAIMSCTL = Path(sys.executable).parent / "claimsctl"
WIB = timezone(timedelta(hours=7))
CONSOLE = any(spec.name == "console" for spec in SERVICES())  # services/console, when this checkout has it
# What the test's own environment may carry (the session's stack, a developer's settings): never inherited,
# so the run resolves its own embedded stack exactly as on a fresh machine.
FOREIGN = ("KAFKA_", "DATABASE_", "DB_", "NOTIFIER_", "GATEWAY_", "CONSOLE_", "OPERATORS_", "SERVICE_", "CLAIMSCTL_")


def _ports_free(offset: int) -> bool:
    for spec in SERVICES():
        with socket.socket() as s:
            try:
                s.bind(("127.0.0.1", spec.default_http_port + offset))
            except OSError:
                return False
    return True


@dataclass
class Run:
    proc: subprocess.Popen[bytes]
    cwd: Path
    log: Path
    offset: int
    env: dict[str, str]

    def output(self) -> str:
        return self.log.read_text(errors="replace")

    def url(self, port: int) -> str:
        return f"http://127.0.0.1:{port + self.offset}"

    def wait_for(self, text: str, within_s: float) -> float:
        """Seconds until `text` appears in the output (fails if the run exits or the deadline passes)."""
        started = time.monotonic()
        while text not in self.output():
            assert self.proc.poll() is None, f"deploy.run exited ({self.proc.returncode}):\n{self.output()[-4000:]}"
            assert time.monotonic() - started < within_s, f"no {text!r} in {within_s} s:\n{self.output()[-4000:]}"
            time.sleep(0.2)
        return time.monotonic() - started

    def interrupt(self) -> int:
        """Ctrl-C: SIGINT to deploy.run, which stops the services and the stack; its exit code."""
        self.proc.send_signal(signal.SIGINT)
        return self.proc.wait(60)


def start(tmp: Path, demo: str) -> Run:
    offset = next(o for o in (random.randrange(1000, 20000, 10) for _ in range(50)) if _ports_free(o))
    env = {k: v for k, v in os.environ.items() if not k.startswith(FOREIGN)}
    env |= {"DEMO": demo, "RUN_PORT_OFFSET": str(offset), "JKN_NO_DOCKER": "1", "SERVICE_LOG_LEVEL": "WARNING"}
    log = tmp / "run.log"
    with log.open("wb") as out:
        proc = subprocess.Popen([sys.executable, "-m", "deploy.run"], cwd=tmp, env=env, stdout=out,
                                stderr=subprocess.STDOUT)  # fmt: skip
    return Run(proc, tmp, log, offset, env)


@pytest.fixture
def run_dir() -> Iterator[Path]:
    """A fresh working directory PostgreSQL's own user can enter too (pytest's tmp_path is private to us)."""
    path = Path(tempfile.mkdtemp(prefix="jkn-make-run-"))
    path.chmod(0o755)
    try:
        yield path
    finally:
        shutil.rmtree(path, ignore_errors=True)


def _headers(cons_id: str, secret: str) -> dict[str, str]:
    ts = str(int(time.time()))
    return {"X-cons-id": cons_id, "X-timestamp": ts, "X-signature": sign(secret, cons_id, ts, None)}


def _monitor_totals(http: httpx.Client, cons_id: str, secret: str) -> dict[int, int]:
    """{VClaim status: claims} over the feed's discharge dates (yesterday and the two days before, WIB)."""
    today = datetime.now(WIB).date()
    totals = {1: 0, 2: 0, 3: 0}
    for back in range(1, 5):
        for status in totals:
            r = http.get("/v1/monitoring/klaim", headers=_headers(cons_id, secret),
                         params={"tgl_pulang": (today - timedelta(days=back)).isoformat(), "jenis_rawat": 1,
                                 "status": status, "limit": 1})  # fmt: skip
            assert r.status_code == 200, r.text
            totals[status] += r.json()["response"]["paging"]["total"]
    return totals


def _sign_in_and_see_held_claims(console: str, password: str, within_s: float = 60) -> None:
    """Sign in as the demo reviewer; the review queue lists a claim the feed sent (held for a long stay)."""
    with httpx.Client(base_url=console, timeout=30) as http:
        # The sign-in form carries a pre-session CSRF token (a cookie and the same value in the form).
        token = re.search(r'name="csrf_token" value="([^"]+)"', http.get("/login").text)
        assert token, "the sign-in form has no csrf_token"
        form = {"operator_id": "demo.reviewer", "password": password, "next": "/review", "csrf_token": token[1]}
        r = http.post("/login", data=form)
        assert r.status_code == 303, r.text[:500]
        started = time.monotonic()
        while "/claims/" not in (page := http.get("/review").text):
            assert time.monotonic() - started < within_s, f"no held claim on /review in {within_s} s:\n{page[:2000]}"
            time.sleep(1)


def test_make_run_demo_seeds_feeds_and_verifies_the_readme_claim(run_dir: Path) -> None:
    run = start(run_dir, "1")
    try:
        ready_s = run.wait_for("make run demo (DEMO=1)", within_s=300)
        out = run.output()
        gateway = run.url(8085)
        for spec in SERVICES():
            assert f"{run.url(spec.default_http_port)}/health/ready" in out
        assert f"{gateway}/docs" in out
        state = json.loads((run_dir / ".local" / "demo" / "state.json").read_text())
        for cons_id, hospital in state["hospitals"].items():
            assert f"{cons_id}" in out and hospital["secret"] in out  # each credential printed
        assert set(state["hospitals"]) == {"demo-0301R001", "demo-0302R002", "demo-0303R003", "demo-bpjs"}
        registry = (run_dir / ".local" / "demo" / "operators.toml").read_text()
        for role in ("reviewer", "dispute_panel", "finance_maker", "finance_approver", "vedika", "operations"):
            assert f'roles = ["{role}"]' in registry
        assert registry.count('roles = ["finance_approver"]') == 2
        if CONSOLE:  # the console's accounts, printed with their passwords
            assert f"{run.url(8086)}/" in out
            assert set(state["accounts"]) == {"demo.reviewer", "demo.tkmkb", "demo.maker", "demo.approver",
                                              "demo.approver2", "demo.vedika", "demo.ops"}  # fmt: skip
            for account in state["accounts"].values():
                assert account["password"] in out

        secret = state["hospitals"]["demo-bpjs"]["secret"]
        with httpx.Client(base_url=gateway, timeout=10) as http:
            # Claims move within 60 s of the services being ready: verified and pended both grow.
            started, first = time.monotonic(), None
            while True:
                totals = _monitor_totals(http, "demo-bpjs", secret)
                first = first or (totals if totals[3] > 0 else None)
                if first and totals[3] >= first[3] + 5 and totals[2] >= 1:
                    break
                assert time.monotonic() - started < 60, f"not moving in 60 s: {totals}\n{run.output()[-3000:]}"
                time.sleep(1)
            moving_s = time.monotonic() - started

            if CONSOLE:  # the reviewer's queue on the console fills too
                _sign_in_and_see_held_claims(run.url(8086), state["accounts"]["demo.reviewer"]["password"])

            # The README's first claim, as a newcomer sends it beside `make run`.
            submit = subprocess.run([str(CLAIMSCTL), "submit", str(EXAMPLE_CLAIM)], cwd=run_dir, env=run.env,
                                    capture_output=True, text=True, timeout=180)  # fmt: skip
            assert submit.returncode == 0, submit.stderr
            started, status = time.monotonic(), None
            while status != "verified":
                assert time.monotonic() - started < 60, f"example claim still {status} after 60 s"
                time.sleep(0.5)
                r = http.get(f"/v1/claims/{EXAMPLE_CLAIM_ID}", headers=_headers("demo-bpjs", secret))
                status = r.json().get("status") if r.status_code == 200 else None
        seeded = next(line for line in run.output().splitlines() if line.startswith("demo: seeded in"))
        print(f"\nstart to demo summary {ready_s:.1f} s ({seeded}), claims moving {moving_s:.1f} s, {totals}")
    finally:
        code = run.interrupt() if run.proc.poll() is None else run.proc.returncode
    assert code == 0, run.output()[-4000:]
    assert run.output().rstrip().endswith("stopped")


def test_make_run_demo_0_starts_empty(run_dir: Path) -> None:
    run = start(run_dir, "0")
    try:
        run.wait_for("DEMO=0: no demo data and no demo feed", within_s=300)
        assert not (run_dir / ".local" / "demo").exists()
        stack_env = dict(line.split("=", 1) for line in (run_dir / ".local" / "stack.env").read_text().splitlines())
        assert asyncio.run(_seeded(stack_env["DATABASE_URL"])) == {"participants": 0, "hospitals": 0}
        assert "demo-feed" not in run.output()
    finally:
        code = run.interrupt() if run.proc.poll() is None else run.proc.returncode
    assert code == 0, run.output()[-4000:]


async def _seeded(dsn: str) -> dict[str, int]:
    """Rows seeding would have written: members in the verifier's projection, credentials in the gateway."""
    conn = await asyncpg.connect(dsn)
    try:
        return {"participants": await conn.fetchval("SELECT count(*) FROM verifier.participants"),
                "hospitals": await conn.fetchval("SELECT count(*) FROM gateway.hospitals")}  # fmt: skip
    finally:
        await conn.close()
