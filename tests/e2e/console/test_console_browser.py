"""The operator console in a real browser (Debian's Chromium driven by Playwright), against a real console
process and the real verifier and payments services on the test stack.

One set of services per module: the verifier and payments run in-process on the module's lane, the console
as its own process (tests/e2e/console/console_process.py), with accounts as `claimsctl console accounts add`
makes them (the reviewer's through claimsctl itself). Each test signs in with its own browser context. The
pages are photographed into docs/screenshots/ on the way (README "Operator console").
"""

from __future__ import annotations

import asyncio
import json
import os
import signal
import subprocess
import sys
import uuid
from collections.abc import AsyncIterator, Iterator
from contextlib import AsyncExitStack
from dataclasses import dataclass
from datetime import UTC, date, datetime
from pathlib import Path

import asyncpg
import httpx
import pytest
from cryptography.fernet import Fernet
from playwright.async_api import Browser, Page, async_playwright, expect

from deploy.local import Stack, free_port
from services.console.adapters.passwords import hash_password
from services.console.adapters.repository import Account, SqlAccounts
from services.console.adapters.sealing import SecretBox
from services.console.service import SPEC as CONSOLE
from services.payments.service import SPEC as PAYMENTS
from services.verifier.service import SPEC as VERIFIER
from shared import db
from shared.events import ClaimVerified, Envelope, ReviewDecisionRequested, parse_event_obj
from tests.support.factories import example
from tests.support.kafka import eventually
from tests.support.operators import operators, sign
from tests.support.services import Lane, new_lane, running

pytestmark = pytest.mark.e2e
ROOT = Path(__file__).resolve().parents[3]
SHOTS = ROOT / "docs" / "screenshots"
CHROMIUM_ARGS = ["--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run", "--disable-background-networking",
                 "--disable-component-update", "--disable-sync"]  # fmt: skip
PASSWORD = "kata-sandi-uji-1"
ACCOUNTS = ("test.tkmkb", "test.maker", "test.approver", "test.maker2")  # and test.reviewer, through claimsctl
HOSTILE = '<script>alert("rs")</script> Diagnosis sekunder didukung lab'


@dataclass
class World:
    lane: Lane
    url: str
    verifier: asyncpg.Pool
    payments: asyncpg.Pool
    held_claim: str
    disputed_claim: str
    stale_claim: str
    browser: Browser
    env: dict[str, str]
    schema: str


def grouped(claim_id: str, card: str, sep: str) -> Envelope:
    """A grouped appendectomy admitted 17 days before discharge: outside K-1's 1-10 days, held for review."""
    doc = example("ClaimGrouped")
    doc.update(event_id=str(uuid.uuid4()), claim_id=claim_id, correlation_id=str(uuid.uuid4()))
    doc["payload"].update(submitted_on=date.today().isoformat())
    doc["payload"]["claim"].update(nomor_kartu=card, nomor_sep=sep, tgl_masuk="2026-10-20")
    return parse_event_obj(doc)


def member(card: str) -> Envelope:
    doc = example("ParticipantChanged")
    doc["event_id"] = str(uuid.uuid4())
    doc["payload"].update(nomor_kartu=card)
    return parse_event_obj(doc)


def disputed(claim_id: str, sep: str) -> Envelope:
    doc = example("ClaimDisputed")
    doc.update(event_id=str(uuid.uuid4()), claim_id=claim_id, correlation_id=str(uuid.uuid4()),
               occurred_at=datetime.now(UTC).isoformat())  # fmt: skip
    doc["payload"].update(nomor_sep=sep, disputed_on=date.today().isoformat(), reason=HOSTILE)
    return parse_event_obj(doc)


def verified(claim_id: str, sep: str) -> ClaimVerified:
    doc = example("ClaimVerified")
    doc.update(event_id=str(uuid.uuid4()), claim_id=claim_id, correlation_id=str(uuid.uuid4()))
    doc["payload"].update(nomor_sep=sep, verified_on=date.today().isoformat())
    event = parse_event_obj(doc)
    assert isinstance(event, ClaimVerified)
    return event


def rejection(claim_id: str) -> Envelope:
    """A reviewer's rejection, signed with the test reviewer's key (as claimsctl would publish it)."""
    doc = example("ReviewDecisionRequested")
    doc.update(event_id=str(uuid.uuid4()), claim_id=claim_id, occurred_at=datetime.now(UTC).isoformat())
    doc["payload"].update(outcome="reject", approved_amount=None, note="LOS tidak sesuai")
    decision = parse_event_obj(doc)
    assert isinstance(decision, ReviewDecisionRequested)
    return sign(decision)


async def state(pool: asyncpg.Pool, claim_id: str) -> str | None:
    value: str | None = await pool.fetchval("SELECT state FROM claims WHERE claim_id = $1", claim_id)
    return value


async def reach(pool: asyncpg.Pool, claim_id: str, wanted: str) -> None:
    async def check() -> bool:
        return await state(pool, claim_id) == wanted

    await eventually(check, within=30)


async def projected(pool: asyncpg.Pool, cards: list[str]) -> bool:
    found = await pool.fetchval("SELECT count(*) FROM participants WHERE nomor_kartu = ANY($1::text[])", cards)
    return bool(found == len(cards))


async def ready(url: str) -> bool:
    try:
        async with httpx.AsyncClient() as http:
            return (await http.get(f"{url}/health/ready", timeout=2)).status_code == 200
    except httpx.HTTPError:
        return False


async def add_account_with_claimsctl(env: dict[str, str], schema: str, keys: Path, operator_id: str) -> None:
    """`claimsctl console accounts add ID --key FILE --password-stdin`, as an operator (or `make run`) does."""
    key_file = keys / f"{operator_id}.pem"
    key_file.write_bytes(operators().signer(operator_id).private_pem())
    proc = await asyncio.create_subprocess_exec(
        sys.executable, "-m", "shared.cli", "console", "accounts", "add", operator_id, "--key", str(key_file),
        "--password-stdin", "--schema", schema, env=env, stdin=subprocess.PIPE, stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
    )  # fmt: skip
    out, err = await proc.communicate(f"{PASSWORD}\n".encode())
    assert proc.returncode == 0, err.decode()
    assert json.loads(out) == {"account": operator_id, "roles": ["reviewer"],
                               "key_id": operators().signer(operator_id).key_id}  # fmt: skip


async def add_accounts_directly(dsn: str, schema: str, secrets_key: str, operator_ids: tuple[str, ...]) -> None:
    """The other accounts, written as the same command writes them (one claimsctl start-up is enough)."""
    await db.migrate(dsn, schema, CONSOLE.migrations)  # type: ignore[arg-type]
    box = SecretBox([secrets_key])
    conn: asyncpg.Connection = await asyncpg.connect(dsn, server_settings={"search_path": schema})
    try:
        for operator_id in operator_ids:
            signer = operators().signer(operator_id)
            sealed = box.seal(signer.private_pem().decode())
            await SqlAccounts(conn).put(Account(operator_id, hash_password(PASSWORD), sealed, signer.key_id))
    finally:
        await conn.close()


@pytest.fixture(scope="module")
def shots() -> Iterator[Path]:
    SHOTS.mkdir(parents=True, exist_ok=True)
    yield SHOTS


@pytest.fixture(scope="module")
async def world(stack: Stack, tmp_path_factory: pytest.TempPathFactory) -> AsyncIterator[World]:
    lane = await new_lane(stack)
    verifier_spec, payments_spec = lane.isolate(VERIFIER), lane.isolate(PAYMENTS)
    port = free_port()
    url = f"http://127.0.0.1:{port}"
    secrets_key = Fernet.generate_key().decode()
    schema = f"{CONSOLE.schema}_{lane.suffix}"
    env = {**os.environ, "DATABASE_URL": stack.database_url, "KAFKA_BOOTSTRAP_SERVERS": stack.bootstrap_servers,
           "KAFKA_TOPIC_PREFIX": lane.prefix, "LANE_SUFFIX": lane.suffix, "SERVICE_HTTP_PORT": str(port),
           "CONSOLE_SECRETS_KEY": secrets_key, "SERVICE_LOG_LEVEL": "WARNING",
           "OPERATORS_REGISTRY_FILE": str(operators().registry_file), "KAFKA_SESSION_TIMEOUT_MS": "6000",
           "CONSOLE_VERIFIER_SCHEMA": verifier_spec.schema, "CONSOLE_PAYMENTS_SCHEMA": payments_spec.schema,
           "CONSOLE_HOSPITAL_ZONES": "0301R001=Asia/Jakarta",
           "LANE_SERVICES": "verifier,payments"}  # fmt: skip  # what this module runs beside the console
    async with AsyncExitStack() as stack_of:
        await stack_of.enter_async_context(running(verifier_spec, lane.settings()))
        await stack_of.enter_async_context(running(payments_spec, lane.settings()))
        verifier_pool = await db.create_pool(stack.database_url, verifier_spec.schema)
        stack_of.push_async_callback(verifier_pool.close)
        payments_pool = await db.create_pool(stack.database_url, payments_spec.schema)
        stack_of.push_async_callback(payments_pool.close)
        # The console starts while the accounts and the claims are being made (its start-up is the slow part).
        await add_accounts_directly(stack.database_url, schema, secrets_key, ACCOUNTS)
        console = start_console(env, tmp_path_factory.mktemp("console") / "console.log")
        stack_of.callback(stop, console)
        cli = asyncio.create_task(
            add_account_with_claimsctl(env, schema, tmp_path_factory.mktemp("keys"), "test.reviewer")
        )
        # The held claim (test a) and the disputed one, whose hospital wrote markup into its reason.
        tag = uuid.uuid4().int % 10**6
        held, held_card, held_sep = f"CON-{lane.suffix}-1", f"{tag:07d}000001", f"0301R0011126V{tag:06d}"
        other, other_card, other_sep = f"CON-{lane.suffix}-2", f"{tag:07d}000002", f"0301R0011126W{tag:06d}"
        late, late_card, late_sep = f"CON-{lane.suffix}-4", f"{tag:07d}000004", f"0301R0011126Y{tag:06d}"
        await lane.publish([member(held_card), member(other_card), member(late_card)])
        cards = [held_card, other_card, late_card]
        # The members first: a claim grouped before its member is projected would be refused as unknown.
        await eventually(lambda: projected(verifier_pool, cards), within=30)
        await lane.publish([grouped(held, held_card, held_sep), grouped(other, other_card, other_sep),
                            grouped(late, late_card, late_sep)])  # fmt: skip
        for claim_id in (held, other, late):
            await reach(verifier_pool, claim_id, "in_review")
        await lane.publish([rejection(other)])
        await reach(verifier_pool, other, "rejected")
        await lane.publish([disputed(other, other_sep)])
        await reach(verifier_pool, other, "disputed")
        # A payable for the run (test b), whatever test a leaves.
        await lane.publish([verified(f"CON-{lane.suffix}-3", f"0301R0011126X{tag:06d}")])
        await cli
        await eventually(lambda: ready(url), within=60)
        playwright = await stack_of.enter_async_context(async_playwright())
        browser = await playwright.chromium.launch(executable_path="/usr/bin/chromium", args=CHROMIUM_ARGS)
        stack_of.push_async_callback(browser.close)
        yield World(lane, url, verifier_pool, payments_pool, held, other, late, browser, env, schema)


def start_console(env: dict[str, str], log: Path) -> subprocess.Popen[bytes]:
    """The console process; its log is kept beside the test's temporary files for a failure's post-mortem."""
    with log.open("wb") as out:
        return subprocess.Popen([sys.executable, "-m", "tests.e2e.console.console_process"], env=env,
                                stdout=out, stderr=subprocess.STDOUT)  # fmt: skip


def stop(proc: subprocess.Popen[bytes]) -> None:
    if proc.poll() is None:
        proc.send_signal(signal.SIGTERM)
        try:
            proc.wait(20)
        except subprocess.TimeoutExpired:
            proc.kill()


async def signed_in(world: World, operator_id: str, password: str = PASSWORD) -> Page:
    context = await world.browser.new_context(locale="id-ID", viewport={"width": 1280, "height": 860})
    page = await context.new_page()
    await page.goto(f"{world.url}/login")
    await page.fill("input[name=operator_id]", operator_id)
    await page.fill("input[name=password]", password)
    await page.click("button[type=submit]")
    return page


async def test_a_reviewer_decides_a_held_claim_and_sees_it_verified(world: World, shots: Path) -> None:
    context = await world.browser.new_context(locale="id-ID", viewport={"width": 1280, "height": 860})
    page = await context.new_page()
    await page.goto(f"{world.url}/review")
    await expect(page).to_have_url(f"{world.url}/login?next=/review")
    await page.screenshot(path=str(shots / "sign-in.png"))
    await page.fill("input[name=operator_id]", "test.reviewer")
    await page.fill("input[name=password]", PASSWORD)
    await page.click("button[type=submit]")
    await expect(page).to_have_url(f"{world.url}/review")
    row = page.locator(f"tr[data-claim='{world.held_claim}']")
    await expect(row).to_contain_text("V-LOS-RANGE")
    await expect(row).to_contain_text("Rp ")
    await page.screenshot(path=str(shots / "review-queue.png"), full_page=True)
    # The filters: by INA-CBG prefix and reason it stays, by another hospital it goes.
    await page.fill("input[name=cbg]", "K-1-13")
    await page.select_option("select[name=reason]", "V-LOS-RANGE")
    await page.click("form[role=search] button")
    await expect(row).to_contain_text("K-1-13-I")
    await page.fill("input[name=hospital]", "1701R")
    await page.click("form[role=search] button")
    await expect(page.locator("#review-empty")).to_be_visible()
    await page.goto(f"{world.url}/review")
    await row.locator("a").click()
    await expect(page.locator("#claim-state")).to_have_attribute("data-state", "in_review")
    await expect(page.locator("#timeline")).to_contain_text("ClaimGrouped")
    await expect(page.locator("#claim-cbg")).to_have_text("K-1-13-I")  # the INA-CBG code, not only its CMG
    # A refused form keeps what was typed and names the rule next to the field.
    await page.select_option("select[name=outcome]", "adjust")
    await page.fill("textarea[name=note]", "LOS diperiksa")
    await page.click("#decide button[type=submit]")
    await expect(page.locator("[data-rule=C-AMOUNT-REQUIRED]")).to_be_visible()
    await expect(page.locator("textarea[name=note]")).to_have_value("LOS diperiksa")
    await page.screenshot(path=str(shots / "claim-timeline.png"), full_page=True)
    await page.select_option("select[name=outcome]", "verify")
    await page.click("#decide button[type=submit]")
    status = page.locator("#action-status")
    await expect(status).to_have_attribute("data-status", "done", timeout=30_000)
    await expect(status).to_contain_text("layak")
    assert await state(world.verifier, world.held_claim) == "verified"
    await context.close()


async def test_a_stale_page_says_so_instead_of_acting(world: World) -> None:
    page = await signed_in(world, "test.reviewer")
    await page.goto(f"{world.url}/claims/{world.stale_claim}")
    await expect(page.locator("#claim-state")).to_have_attribute("data-state", "in_review")
    # Another reviewer rejects the claim (through claimsctl, say) while this page is open.
    await world.lane.publish([rejection(world.stale_claim)])
    await reach(world.verifier, world.stale_claim, "rejected")
    await page.select_option("select[name=outcome]", "verify")
    await page.fill("textarea[name=note]", "dokumen lengkap")
    await page.click("#decide button[type=submit]")
    await expect(page.locator("#stale")).to_contain_text("Halaman ini sudah usang")
    await expect(page.locator("#stale")).to_contain_text("dalam verifikasi → tidak layak")
    await expect(page.locator("textarea[name=note]")).to_have_value("dokumen lengkap")
    assert await state(world.verifier, world.stale_claim) == "rejected"
    await page.context.close()


async def test_the_dispute_panel_sees_what_the_hospital_wrote_as_text_and_rules_on_it(
    world: World, shots: Path
) -> None:
    page = await signed_in(world, "test.tkmkb")
    dialogs: list[str] = []
    page.on("dialog", lambda d: dialogs.append(d.message))
    await page.goto(f"{world.url}/disputes")
    cell = page.locator(f"tr[data-claim='{world.disputed_claim}'] td.hospital-text")
    await expect(cell).to_have_text(HOSTILE)
    assert await page.locator("td.hospital-text script").count() == 0
    await page.screenshot(path=str(shots / "disputes.png"), full_page=True)
    await page.goto(f"{world.url}/claims/{world.disputed_claim}")
    await expect(page.locator("#timeline")).to_contain_text('"reason": "<script>alert(\\"rs\\")</script>')
    assert dialogs == []
    # The panel rules: a partial ruling without its amount is refused next to the field, then denied.
    await page.select_option("#rule select[name=outcome]", "partial")
    await page.fill("#rule textarea[name=note]", "Lab tidak mendukung E11.9")
    await page.click("#rule button[type=submit]")
    await expect(page.locator("#rule [data-rule=C-AMOUNT-REQUIRED]")).to_be_visible()
    await expect(page.locator("#rule textarea[name=note]")).to_have_value("Lab tidak mendukung E11.9")
    await page.select_option("#rule select[name=outcome]", "denied")
    await page.click("#rule button[type=submit]")
    status = page.locator("#action-status")
    await expect(status).to_have_attribute("data-status", "done", timeout=30_000)
    await expect(status).to_contain_text("sengketa diputus")
    assert await state(world.verifier, world.disputed_claim) == "dispute_resolved"
    await page.context.close()


async def test_a_maker_requests_a_run_and_an_approver_approves_it_and_the_run_is_paid(
    world: World, shots: Path
) -> None:
    run_id = f"RUN-CON-{world.lane.suffix}"
    maker = await signed_in(world, "test.maker")
    await expect(maker).to_have_url(f"{world.url}/approvals")
    await maker.fill("input[name=funds]", "Rp 100.000.000")
    await maker.fill("input[name=run_id]", run_id)
    await maker.click("#request-run button[type=submit]")
    status = maker.locator("#action-status")
    await expect(status).to_have_attribute("data-status", "done", timeout=30_000)
    await expect(status).to_contain_text("menunggu persetujuan operator kedua")
    await maker.context.close()

    approver = await signed_in(world, "test.approver")
    await expect(approver).to_have_url(f"{world.url}/approvals")
    row = approver.locator(f"tr[data-subject='payment_run/{run_id}']")
    await expect(row).to_contain_text("test.maker")
    await approver.screenshot(path=str(shots / "approvals.png"), full_page=True)
    await row.locator("button[type=submit]").click()
    status = approver.locator("#action-status")
    await expect(status).to_have_attribute("data-status", "done", timeout=30_000)
    await expect(status).to_contain_text("klaim dibayar")
    summary = await world.payments.fetchrow(
        "SELECT paid_count, requested_by FROM payment_runs WHERE run_id = $1", run_id
    )
    assert summary is not None and summary["requested_by"] == "test.maker" and summary["paid_count"] >= 1
    await approver.context.close()


async def test_three_wrong_passwords_lock_the_account_until_an_admin_unlocks_it(world: World) -> None:
    page = await signed_in(world, "test.maker2", "salah-1")
    await expect(page.locator("#login-message")).to_have_text("ID operator atau kata sandi salah.")
    for attempt in ("salah-2", "salah-3"):
        await page.fill("input[name=password]", attempt)
        await page.click("button[type=submit]")
    await expect(page.locator("#login-message")).to_contain_text("Akun terkunci setelah 3 kali salah kata sandi")
    await page.fill("input[name=password]", PASSWORD)  # the right one, now refused too
    await page.click("button[type=submit]")
    await expect(page.locator("#login-message")).to_contain_text("Akun terkunci")
    await expect(page).to_have_url(f"{world.url}/login")
    assert "console_session" not in {c["name"] for c in await page.context.cookies()}
    # An admin lifts the lock; then the right password signs in.
    assert json.loads(await claimsctl(world, "unlock", "test.maker2")) == {"account": "test.maker2", "unlocked": True}
    await page.fill("input[name=password]", PASSWORD)
    await page.click("button[type=submit]")
    await expect(page).to_have_url(f"{world.url}/approvals")
    await page.context.close()


async def claimsctl(world: World, *args: str) -> str:
    """`claimsctl console accounts ARGS` on the module's console schema; its stdout."""
    proc = await asyncio.create_subprocess_exec(
        sys.executable, "-m", "shared.cli", "console", "accounts", *args, "--schema", world.schema, env=world.env,
        stdout=subprocess.PIPE, stderr=subprocess.PIPE,
    )  # fmt: skip
    out, err = await proc.communicate()
    assert proc.returncode == 0, err.decode()
    return out.decode()


async def test_a_reviewer_cannot_open_the_approvals_page_in_either_language(world: World) -> None:
    page = await signed_in(world, "test.reviewer")
    await expect(page).to_have_url(f"{world.url}/review")
    response = await page.goto(f"{world.url}/approvals")
    assert response is not None and response.status == 403
    await expect(page.locator("#forbidden")).to_have_text(
        "Halaman ini memerlukan peran finance_maker / finance_approver. Peran Anda: reviewer."
    )
    await page.click("header button:has-text('English')")  # the language switch, back to the same page
    await expect(page.locator("#forbidden")).to_have_text(
        "This page needs the role finance_maker / finance_approver. Your roles: reviewer."
    )
    await page.context.close()


async def test_other_pages_where_this_checkout_has_them(world: World, shots: Path) -> None:
    """Analytics and operations pages are photographed when they exist (another part of the console): for
    analytics, the tariff gap report of the seeded month (its default, the latest with claims) with its chart."""
    page = await signed_in(world, "test.approver")
    for name, path in (("analytics", "/analytics/tariff-gap"), ("operations", "/operations")):
        response = await page.goto(f"{world.url}{path}")
        if response is not None and response.status == 200:
            if name == "analytics":  # the chart drawn, not a broken image, before the photograph
                chart = page.locator("figure.chart img")
                await expect(chart).to_be_visible()
                await page.wait_for_function("() => document.querySelector('figure.chart img').complete")
                assert await chart.evaluate("img => img.naturalWidth") > 0
            await page.screenshot(path=str(shots / f"{name}.png"), full_page=True)
    await page.context.close()
