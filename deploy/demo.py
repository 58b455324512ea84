"""`make run`'s demo (DEMO=1): demo operators, members, hospitals and console accounts, then a hospital feed.

Everything is made with claimsctl's own commands (run in this process: one start-up instead of twenty) and
kept under `.local/demo/`, next to the durable database, so a restart of `make run` seeds nothing twice:

- `operators.toml`: the operator registry the services trust (OPERATORS_REGISTRY_FILE), one operator per
  role, their private keys in `keys/` (`claimsctl operators keygen`);
- `members.csv`: the generated members the feed claims for, imported with examples/participants.csv
  (`claimsctl participants import`);
- `state.json` (mode 0600): the demo hospitals' gateway secrets (`claimsctl hospitals add`), the console
  accounts' passwords (`claimsctl console accounts add`) and the feed's next SEP number. A demo keeps these
  secrets on disk so it can print them again on every start; a real deployment never does.

The feed (`python -m deploy.demo feed`) plays the demo hospitals' SIMRS: it signs `POST /v1/claims` as each
hospital does (VClaim-style HMAC), a few claims a second with the simulator's claim shapes
(services/simulator/scenario.py), in a mix that fills every queue: clean claims (verified, then paid by a
payment run), missing consent (pended; half resubmitted with it), unknown codes and inactive members
(rejected), unsupported severity (adjusted; some disputed), long stays (held for a reviewer). Every minute
it asks for a payment run as the demo finance maker; the run stays awaiting approval for a minute (the
console's approvals page shows it) before the feed's second approver approves it.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import io
import json
import os
import random
import secrets
import sys
import time
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta, timezone
from pathlib import Path
from typing import Any, Final

REPO = Path(__file__).resolve().parent.parent
EXAMPLE_MEMBERS = REPO / "examples" / "participants.csv"
DEMO_DIR = Path(".local/demo")
KEYS_DIR = DEMO_DIR / "keys"
REGISTRY_FILE = DEMO_DIR / "operators.toml"
MEMBERS_FILE = DEMO_DIR / "members.csv"
STATE_FILE = DEMO_DIR / "state.json"

WIB: Final = timezone(timedelta(hours=7))


@dataclass(frozen=True)
class DemoOperator:
    id: str
    name: str
    role: str


# One operator per role; two approvers, so a run the maker asks for can be approved by someone else while
# the feed's own approver (the second) keeps the demo's payments flowing.
OPERATORS: Final = (
    DemoOperator("demo.reviewer", "Sari Wulandari (verifikator, demo)", "reviewer"),
    DemoOperator("demo.tkmkb", "dr. Agus Pratama (TKMKB, demo)", "dispute_panel"),
    DemoOperator("demo.maker", "Budi Santoso (keuangan maker, demo)", "finance_maker"),
    DemoOperator("demo.approver", "Dewi Lestari (keuangan approver, demo)", "finance_approver"),
    DemoOperator("demo.approver2", "Rudi Hartono (keuangan approver 2, demo)", "finance_approver"),
    DemoOperator("demo.vedika", "Rina Kusuma (VEDIKA, demo)", "vedika"),
    DemoOperator("demo.ops", "Yusuf Hidayat (operasional, demo)", "operations"),  # redrives from /operations
)
FEED_MAKER, FEED_APPROVER = "demo.maker", "demo.approver2"


@dataclass(frozen=True)
class DemoHospital:
    cons_id: str
    kode_rs: str | None  # None: a BPJS operator credential (reads every claim)
    name: str
    kode_tarif: str | None = None
    regional: int | None = None


HOSPITALS: Final = (
    DemoHospital("demo-0301R001", "0301R001", "RSUD Demo Jakarta", "BP", 1),
    DemoHospital("demo-0302R002", "0302R002", "RS Demo Bandung", "BS", 1),
    DemoHospital("demo-0303R003", "0303R003", "RS Demo Surabaya", "CP", 2),
    DemoHospital("demo-bpjs", None, "BPJS demo monitor (operator credential)"),
)
OPERATOR_CREDENTIAL = "demo-bpjs"

# The generated members the feed claims for: each claim gets a member of its own (a second stay of the same
# member would overlap or count as a readmission and go to a reviewer), inactive ones for the rejections.
ACTIVE_MEMBERS, INACTIVE_MEMBERS = 1000, 50
MEMBER_COLUMNS = "nomor_kartu,nik,status,status_reason,kelas_hak,member_type,valid_from,valid_to,member_category"


def active_card(i: int) -> str:
    return f"0009{i % ACTIVE_MEMBERS:09d}"


def inactive_card(i: int) -> str:
    return f"0008{i % INACTIVE_MEMBERS:09d}"


def members_csv() -> str:
    """The feed's members: active class-3 PBI/PPU members, and inactive ones (arrears)."""
    rows = [MEMBER_COLUMNS]
    for i in range(ACTIVE_MEMBERS):
        rows.append(f"{active_card(i)},3171{900000000000 + i:012d},active,,3,{'PPU' if i % 3 else 'PBI'},2020-01-01,,")
    for i in range(INACTIVE_MEMBERS):
        rows.append(f"{inactive_card(i)},3171{800000000000 + i:012d},inactive,tunggakan iuran,3,PBPU,2020-01-01,,")
    return "\n".join(rows) + "\n"


# ----------------------------------------------------------------------------- state kept in .local/demo


def load_state() -> dict[str, Any]:
    if not STATE_FILE.exists():
        # The feed's SEP numbers start somewhere new for each fresh state (and move on when one is taken).
        return {"hospitals": {}, "accounts": {}, "next_seq": 0, "sep_start": random.randrange(450_000)}
    state: dict[str, Any] = json.loads(STATE_FILE.read_text())
    return state


def save_state(state: Mapping[str, Any]) -> None:
    """Write atomically, readable by its owner only (it holds the demo's secrets)."""
    DEMO_DIR.mkdir(parents=True, exist_ok=True)
    tmp = STATE_FILE.with_suffix(".tmp")
    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "w") as f:
        f.write(json.dumps(state, indent=2) + "\n")
    tmp.replace(STATE_FILE)


# ----------------------------------------------------------------------------- claimsctl, in this process


class DemoError(RuntimeError):
    """A claimsctl step of the demo failed; the message has its output."""


def claimsctl(*args: str, stdin: str = "") -> str:
    """Run `claimsctl ARGS` in this process; its stdout (raises DemoError with stderr on a non-zero exit)."""
    import click

    from shared.cli import app
    from shared.settings import get_settings

    get_settings.cache_clear()  # read the environment as it is now (the stack's, the demo registry)
    command = _typer_command(app)
    out, err = io.StringIO(), io.StringIO()
    code: int | None = 0
    saved_stdin = sys.stdin
    try:
        sys.stdin = io.StringIO(stdin)
        with contextlib.redirect_stdout(out), contextlib.redirect_stderr(err):
            command.main(list(args), prog_name="claimsctl", standalone_mode=False)
    except click.exceptions.Exit as exc:
        code = exc.exit_code
    except click.ClickException as exc:
        code, _ = exc.exit_code, err.write(exc.format_message())
    except SystemExit as exc:
        code = exc.code if isinstance(exc.code, int) else 1
    finally:
        sys.stdin = saved_stdin
    if code:
        raise DemoError(f"claimsctl {' '.join(args[:3])} …: exit {code}: {err.getvalue().strip()[-500:]}")
    return out.getvalue()


def _typer_command(app: Any) -> Any:
    import typer.main

    return typer.main.get_command(app)


def claimsctl_has(group: str) -> bool:
    """True when `claimsctl GROUP` exists (a service's CLI mounted on the root)."""
    from shared.cli import app

    return bool(group in _typer_command(app).commands)


# ----------------------------------------------------------------------------- before the services start


def ensure_operators() -> Path:
    """The demo registry with one key per operator (`claimsctl operators keygen`); made once, then reused."""
    keys = {op.id: sorted(KEYS_DIR.glob(f"{op.id}.*.pem")) for op in OPERATORS}
    if REGISTRY_FILE.exists() and all(keys.values()):
        return REGISTRY_FILE.resolve()
    for stale in KEYS_DIR.glob("*.pem"):  # a half-made registry: start it again
        stale.unlink()
    entries = []
    for op in OPERATORS:
        args = ["--operator", op.id, "--name", op.name, "--role", op.role, "--out", str(KEYS_DIR)]
        entries.append(claimsctl("operators", "keygen", *args))
    head = 'version = "demo-local"\ndescription = "make run demo operators (keys in .local/demo/keys)"\n'
    REGISTRY_FILE.write_text(head + "".join("\n" + e for e in entries))
    return REGISTRY_FILE.resolve()


def key_file(operator_id: str) -> Path:
    return sorted(KEYS_DIR.glob(f"{operator_id}.*.pem"))[-1].resolve()


# ----------------------------------------------------------------------------- once the services are ready


def seed(dsn: str, *, console: bool) -> dict[str, Any]:
    """Members, gateway credentials and console accounts the database lacks; the state with every secret.

    What exists is judged on the database (claimsctl's own listings), so a restart seeds nothing and a
    database wiped without `.local/demo` (or the reverse) is seeded again rather than half-trusted.
    """
    state = load_state()
    checked = [EXAMPLE_CARD, active_card(ACTIVE_MEMBERS - 1), inactive_card(INACTIVE_MEMBERS - 1)]
    if asyncio.run(_members_found(dsn, checked)) < len(checked):
        MEMBERS_FILE.parent.mkdir(parents=True, exist_ok=True)
        MEMBERS_FILE.write_text(members_csv())
        for csv in (EXAMPLE_MEMBERS, MEMBERS_FILE):
            claimsctl("participants", "import", str(csv))
    registered = {json.loads(line)["cons_id"] for line in claimsctl("hospitals", "list", "--json").splitlines()}
    for h in HOSPITALS:
        if h.cons_id not in state["hospitals"] or h.cons_id not in registered:
            secret = _credential(h, registered=h.cons_id in registered)
            state["hospitals"][h.cons_id] = {"kode_rs": h.kode_rs, "name": h.name, "secret": secret}
            save_state(state)
    if console:
        accounts = {a["operator_id"]: a["key_id"] for a in json.loads(claimsctl("console", "accounts", "list"))}
        for op in OPERATORS:
            key = key_file(op.id)
            if op.id in state["accounts"] and accounts.get(op.id) == "ed25519:" + key.stem.rsplit(".", 1)[1]:
                continue
            password = secrets.token_urlsafe(12)
            claimsctl("console", "accounts", "add", op.id, "--key", str(key), "--password-stdin",
                      stdin=password + "\n")  # fmt: skip
            state["accounts"][op.id] = {"role": op.role, "password": password}
            save_state(state)
    asyncio.run(_wait_members(dsn, checked))
    return state


EXAMPLE_CARD: Final = "0001234567890"  # the README example claim's member (examples/participants.csv)


def _credential(h: DemoHospital, *, registered: bool) -> str:
    """`claimsctl hospitals add`; a credential registered before whose secret this demo lost gets a new one."""
    if registered:
        out = claimsctl("hospitals", "rotate-secret", h.cons_id, "--overlap-hours", "0", "--json")
    else:
        args = ["hospitals", "add", "--cons-id", h.cons_id, "--name", h.name, "--json"]
        if h.kode_rs is None:
            args.append("--operator")
        else:
            args += ["--kode-rs", h.kode_rs, "--kode-tarif", str(h.kode_tarif), "--regional", str(h.regional)]
        out = claimsctl(*args)
    secret: str = json.loads(out.strip().splitlines()[-1])["secret"]
    return secret


async def _members_found(dsn: str, cards: list[str]) -> int:
    """How many of `cards` the verifier's eligibility projection holds."""
    import asyncpg

    conn = await asyncpg.connect(dsn)
    try:
        found: int = await conn.fetchval(
            "SELECT count(DISTINCT nomor_kartu) FROM verifier.participants WHERE nomor_kartu = ANY($1)", cards
        )
        return found
    finally:
        await conn.close()


async def _wait_members(dsn: str, cards: list[str], within_s: float = 60) -> None:
    """Until the verifier has applied the imported members (the feed's first claims must find them)."""
    deadline = time.monotonic() + within_s
    while (found := await _members_found(dsn, cards)) < len(cards):
        if time.monotonic() > deadline:
            raise DemoError(f"the verifier has {found} of {len(cards)} demo members after {within_s:g} s")
        await asyncio.sleep(0.2)


def summary(state: Mapping[str, Any], urls: Mapping[str, str], *, console: bool) -> str:
    """What a newcomer needs, printed once per start: where to look and how to sign in."""
    bar = "=" * 100
    lines = [bar, "make run demo (DEMO=1): the system is up, seeded, and a demo hospital feed is running", ""]
    if console:
        lines.append(f"  console:       {urls['console']}/   (sign in with an account below)")
    else:
        lines.append("  console:       not in this checkout yet (services/console)")
    if "gateway" in urls:
        lines.append(f"  gateway docs:  {urls['gateway']}/docs   (OpenAPI {urls['gateway']}/openapi.json)")
    lines.append("  health:")
    for name, url in urls.items():
        lines.append(f"    {name:<16} {url}/health/ready")
    if console:
        lines += ["", "  console accounts (operator / role / password):"]
        for op_id, acc in state["accounts"].items():
            lines.append(f"    {op_id:<16} {acc['role']:<17} {acc['password']}")
    lines += ["", "  operator keys (claimsctl --operator ID --key FILE):"]
    for op in OPERATORS:
        lines.append(f"    {op.id:<16} {op.role:<17} {key_file(op.id)}")
    lines += ["", "  gateway credentials (X-cons-id / kode_rs / secret; signing: docs/hospital-integration.md):"]
    for cons_id, h in state["hospitals"].items():
        lines.append(f"    {cons_id:<16} {h['kode_rs'] or 'operator':<9} {h['secret']}")
    lines += [
        "",
        f"  These secrets are kept in {STATE_FILE} (and the registry in {REGISTRY_FILE}) so each start can show",
        "  them again: a demo only. `rm -rf .local` starts afresh; `make run DEMO=0` starts empty, with no feed.",
        "  First claim: .venv/bin/claimsctl submit examples/events/ClaimSubmitted.json (README, 'First claim').",
        bar,
    ]
    return "\n".join(lines)


# ----------------------------------------------------------------------------- the demo hospital feed

# (kind, weight): what a demo claim is made to become (services/simulator/scenario.py's kinds).
FEED_MIX: Final = (
    ("clean", 56),
    ("pend_resubmit", 10),
    ("pend_expire", 4),
    ("invalid_code", 5),
    ("ineligible", 5),
    ("adjust_accepted", 8),
    ("adjust_upheld", 4),
    ("held_reviewed", 8),
)
RESUBMIT_AFTER_S, DISPUTE_AFTER_S, RUN_EVERY_S = 20.0, 20.0, 60.0


@dataclass
class FollowUp:
    """A claim the feed comes back to: resubmit it after its pend, or dispute its adjustment."""

    due: float
    action: str  # "resubmit" | "dispute"
    cons_id: str
    claim: Any  # ClaimData


class Feed:
    """Signed hospital traffic through the gateway, at a real-time rate."""

    def __init__(self, gateway: str, state: dict[str, Any], per_s: float, seed: int) -> None:
        self.gateway, self.state, self.per_s = gateway, state, per_s
        self.rng = random.Random(seed)
        self.hospitals = [(c, h) for c, h in state["hospitals"].items() if h["kode_rs"]]
        self.follow_ups: list[FollowUp] = []
        self.sent: dict[str, int] = {}
        self.runs = 0

    def headers(self, cons_id: str, body: bytes | None) -> dict[str, str]:
        from services.gateway.domain.signature import sign

        ts = str(int(time.time()))
        secret = self.state["hospitals"][cons_id]["secret"]
        return {"X-cons-id": cons_id, "X-timestamp": ts, "X-signature": sign(secret, cons_id, ts, body),
                "Content-Type": "application/json"}  # fmt: skip

    def next_claim(self) -> tuple[str, str, Any]:
        """(kind, cons_id, ClaimData) of the next new claim; its SEP number is never used twice."""
        from services.simulator.scenario import Kind, claim_for

        seq = int(self.state["next_seq"])
        self.state["next_seq"] = seq + 1
        save_state(self.state)
        kinds, weights = zip(*FEED_MIX, strict=True)
        kind = self.rng.choices(kinds, weights)[0]
        cons_id, hospital = self.hospitals[seq % len(self.hospitals)]
        kode_rs = hospital["kode_rs"]
        card = inactive_card(seq) if kind == "ineligible" else active_card(seq)
        # Past the member pool, the stays move a month back per round so a member's stays do not overlap; after
        # five rounds (inside the 6-month claim window) they come round again, and reviewers see readmissions.
        back = 1 + seq % 3 + 30 * ((seq // ACTIVE_MEMBERS) % 5)
        discharged = datetime.now(WIB).date() - timedelta(days=back)
        # A SEP is kode RS + MMYY + 'V' + 6 digits; the feed's start at 500000, clear of the examples' numbers.
        sep = f"{kode_rs}{discharged:%m%y}V{500_000 + (seq + self.state.get('sep_start', 0)) % 500_000:06d}"
        claim = claim_for(self.rng, kode_rs, card, sep, discharged, Kind(kind))
        return kind, cons_id, claim

    async def run(self, http: Any, duration: float | None) -> None:
        started = time.monotonic()
        next_at, next_report, next_run = started, started + 30, started + 5
        held_run: str | None = None
        while duration is None or time.monotonic() - started < duration:
            now = time.monotonic()
            if now >= next_at:
                next_at += 1 / self.per_s
                kind, cons_id, claim = self.next_claim()
                if await self.post(http, cons_id, "/v1/claims", claim.model_dump(mode="json")):
                    self.sent[kind] = self.sent.get(kind, 0) + 1
                    if kind == "pend_resubmit":
                        self.follow_ups.append(FollowUp(now + RESUBMIT_AFTER_S, "resubmit", cons_id, claim))
                    elif kind == "adjust_upheld":
                        self.follow_ups.append(FollowUp(now + DISPUTE_AFTER_S, "dispute", cons_id, claim))
            for item in [f for f in self.follow_ups if f.due <= now]:
                self.follow_ups.remove(item)
                await self.follow_up(http, item)
            if now >= next_run:
                next_run = now + RUN_EVERY_S
                held_run = await asyncio.to_thread(self.payment_run, held_run)
            if now >= next_report:
                next_report = now + 30
                total = sum(self.sent.values())
                print(f"demo feed: {total} claims sent ({json.dumps(self.sent)}), {self.runs} payment run(s)",
                      flush=True)  # fmt: skip
            await asyncio.sleep(max(0.0, min(next_at, next_run) - time.monotonic()))

    async def post(self, http: Any, cons_id: str, path: str, doc: Any, *, resubmission: bool = False) -> bool:
        body = json.dumps(doc).encode()
        try:
            r = await http.post(path, content=body, headers=self.headers(cons_id, body))
        except Exception as exc:  # the gateway restarting: the next claim tries again
            print(f"demo feed: {path}: {exc!r}", flush=True)
            return False
        if r.status_code == 409 and "already-submitted" in r.text and path == "/v1/claims" and not resubmission:
            # SEPs an earlier demo on this database used (its .local/demo/state.json was removed): move on.
            self.state["sep_start"] = int(self.state.get("sep_start", 0)) + 1000
        elif r.status_code != 202:
            print(f"demo feed: {path}: {r.status_code} {r.text[:300]}", flush=True)
        return bool(r.status_code == 202)

    async def follow_up(self, http: Any, item: FollowUp) -> None:
        """Resubmit a pended claim with its consent, or dispute an adjusted one; later if not there yet."""
        from services.gateway.application.intake import claim_id_of
        from shared.events import DocumentRef

        claim_id = claim_id_of(item.claim.nomor_sep)
        try:
            r = await http.get(f"/v1/claims/{claim_id}", headers=self.headers(item.cons_id, None))
            status = r.json().get("status") if r.status_code == 200 else None
        except Exception:
            status = None
        if item.action == "resubmit" and status == "pended":
            consent = DocumentRef(doc_type="informed_consent", ref=f"IC/{item.claim.nomor_sep}")
            fixed = item.claim.model_copy(update={"documents": [*item.claim.documents, consent]})
            await self.post(http, item.cons_id, "/v1/claims", fixed.model_dump(mode="json"), resubmission=True)
        elif item.action == "dispute" and status in ("verified", "paid"):
            claimed = int(item.claim.tarif_rs.total())
            doc = {"requested_amount": claimed, "reason": "Hasil lab kreatinin terlampir: AKI terdokumentasi",
                   "documents": [{"doc_type": "lab_result", "ref": f"LAB/{item.claim.nomor_sep}",
                                  "supports": ["N17.9"]}]}  # fmt: skip
            await self.post(http, item.cons_id, f"/v1/claims/{claim_id}/dispute", doc)
        elif status in (None, "submitted", "grouped"):  # not decided yet: look again soon
            item.due = time.monotonic() + 5
            self.follow_ups.append(item)

    def payment_run(self, held: str | None) -> str | None:
        """Approve the run asked for a minute ago (unless someone did in the console), then ask for the next."""
        if held is not None:
            with contextlib.suppress(DemoError):  # approved already, or not applied yet: the next round's run
                claimsctl("payments", "approve", "payment_run", held, "--operator", FEED_APPROVER,
                          "--key", str(key_file(FEED_APPROVER)), "--wait", "0")  # fmt: skip
                self.runs += 1
        run_id = f"DEMO-RUN-{datetime.now(UTC):%Y%m%dT%H%M%S}"
        try:
            claimsctl("payments", "run", "--funds", str(10**12), "--run-id", run_id, "--operator", FEED_MAKER,
                      "--key", str(key_file(FEED_MAKER)))  # fmt: skip
        except DemoError as exc:
            print(f"demo feed: payment run: {exc}", flush=True)
            return None
        return run_id


async def _feed(gateway: str, per_s: float, duration: float | None) -> None:
    import httpx

    feed = Feed(gateway, load_state(), per_s, seed=int(time.time()))
    async with httpx.AsyncClient(base_url=gateway, timeout=30) as http:
        await feed.run(http, duration)


def main(argv: Sequence[str] | None = None) -> int:
    """`python -m deploy.demo feed --gateway URL [--per-s N]`: the demo hospital feed, until stopped."""
    parser = argparse.ArgumentParser(description="make run's demo hospital feed")
    parser.add_argument("what", choices=["feed"])
    parser.add_argument("--gateway", required=True, help="The gateway's base URL")
    parser.add_argument("--per-s", type=float, default=float(os.environ.get("DEMO_FEED_PER_S", "2")))
    parser.add_argument("--duration", type=float, default=None, help="Seconds (default: until stopped)")
    args = parser.parse_args(argv)
    if args.per_s <= 0:
        print("demo feed: off (DEMO_FEED_PER_S=0)", flush=True)
        return 0
    import signal

    def _stop(*_: object) -> None:
        raise KeyboardInterrupt

    signal.signal(signal.SIGTERM, _stop)
    with contextlib.suppress(KeyboardInterrupt):
        asyncio.run(_feed(args.gateway, args.per_s, args.duration))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
