"""The scale phase's history rows: clones of one paid claim, consistent across tables, generated lazily."""

from __future__ import annotations

import uuid
from collections import Counter
from datetime import UTC, date, datetime, timedelta
from typing import Any

from bench.history import DAYS, DAYS_BACK, Cloner, Plan, Replacer, Templates, number_format, remap_uuid
from services.verifier.adapters.codec import dump_status, load_status
from services.verifier.domain import ClaimState, ClaimStatus

NOW = datetime(2026, 12, 1, 12, 0, tzinfo=UTC)
TODAY = NOW.date()
CLAIM, SEP, KODE, CARD = "BENCH-tput-0000004", "0305R0041126V000004", "0305R004", "2000000000004"


def _templates() -> Templates:
    """Rows shaped like the services' own for one verified and paid claim (see bench/history.py)."""
    grouped, verified, correlation, submitted, member = (uuid.uuid4() for _ in range(5))
    status = ClaimStatus(
        claim_id=CLAIM, state=ClaimState.VERIFIED, nomor_sep=SEP, kode_rs=KODE, revision=0,
        first_submitted_on=TODAY, submitted_on=TODAY, claimed_amount=8712000, decided_on=TODAY,
        approved_amount=8712000, verification_seq=0,
    )  # fmt: skip
    claim = {
        "claim_id": CLAIM, "state": "verified", "status": dump_status(status), "nomor_sep": SEP, "nomor_kartu": CARD,
        "kode_rs": KODE, "correlation_id": correlation, "cmg": "K", "jenis_rawat": 1, "tgl_pulang": date(2026, 11, 26),
        "has_verification": True, "review_reasons": None, "grouped_event_id": grouped, "updated_at": NOW,
        "tgl_masuk": date(2026, 11, 23),
    }  # fmt: skip
    history = [
        {"id": 1, "claim_id": CLAIM, "at": NOW, "kind": "in", "event_type": "ClaimGrouped", "event_id": grouped,
         "detail": '{"grouping": {"cmg": "K", "total_tarif": 8712000}, "revision": 0}'},
        {"id": 2, "claim_id": CLAIM, "at": NOW, "kind": "finding", "event_type": None, "event_id": None,
         "detail": '{"outcome": "verify", "findings": []}'},
        {"id": 3, "claim_id": CLAIM, "at": NOW, "kind": "out", "event_type": "ClaimVerified", "event_id": verified,
         "detail": f'{{"kode_rs": "{KODE}", "nomor_sep": "{SEP}", "verified_on": "{TODAY}"}}'},
    ]  # fmt: skip
    grouping = {"claim_id": CLAIM, "revision": 0, "content_hash": "ab" * 32, "outcome": "grouped",
                "reason_codes": [], "event_id": submitted, "answered_at": NOW}  # fmt: skip
    payable = {"id": 37, "claim_id": CLAIM, "verification_seq": 0, "nomor_sep": SEP, "kode_rs": KODE,
               "amount": 8712000, "verified_on": TODAY, "due_on": TODAY + timedelta(days=21),
               "correlation_id": correlation, "source_event_id": verified, "created_at": NOW,
               "payment_id": "PAY-000000037"}  # fmt: skip
    payment = {"payment_id": "PAY-000000037", "payable_id": 37, "run_id": "BENCH-tput-00003", "paid_on": TODAY,
               "amount": 8712000, "created_at": NOW}  # fmt: skip
    ledger = [
        {"id": 37, "entry_id": "LE-37-payable", "kind": "payable", "debit_account": "expense:claims:fkrtl",
         "credit_account": f"liability:payable:{KODE}", "amount": 8712000, "booked_on": TODAY, "claim_id": CLAIM,
         "payable_id": 37, "run_id": None, "memo": f"verified claim {CLAIM} seq 0"},
        {"id": 87, "entry_id": "LE-PAY-000000037-payment", "kind": "payment",
         "debit_account": f"liability:payable:{KODE}", "credit_account": "asset:cash:bpjs", "amount": 8712000,
         "booked_on": TODAY, "claim_id": CLAIM, "payable_id": 37, "run_id": "BENCH-tput-00003",
         "memo": f"PAY-000000037 for {CLAIM}"},
    ]  # fmt: skip
    run = {"run_id": "BENCH-tput-00003", "funds": 10**15, "run_on": TODAY, "created_at": NOW}
    participant = {"nomor_kartu": CARD, "valid_from": date(2020, 1, 1), "seq": 4, "nik": "3171000000000004",
                   "status": "active", "event_id": member}  # fmt: skip
    return Templates(
        claim, history, grouping, payable, payment, ledger, run, participant,
        claim_inbox={"verifier": [{"consumer": "verifier", "event_id": grouped, "topic": "claims.grouped",
                                   "received_at": NOW}]},
        member_inbox={"verifier": [{"consumer": "verifier", "event_id": member, "topic": "participants.changed",
                                    "received_at": NOW}]},
    )  # fmt: skip


def _table(cloner: Cloner, name: str) -> list[dict[str, Any]]:
    for lane in cloner.lanes():
        for schema, table, make in lane:
            if f"{schema}.{table}" == name:
                columns, rows = make()
                return [dict(zip(columns, row, strict=True)) for row in rows]
    raise KeyError(name)


def test_remapped_ids_are_distinct_per_clone_and_the_same_for_one_clone() -> None:
    a, b = uuid.uuid4().int, uuid.uuid4().int
    ids = {remap_uuid(t, n) for t in (a, b) for n in range(1000)}
    assert len(ids) == 2000
    assert remap_uuid(a, 7) == remap_uuid(a, 7)
    assert all(len(i) == 32 and int(i, 16) >= 0 for i in ids)


def test_numbers_keep_the_template_prefix_and_width() -> None:
    assert number_format("PAY-000000037").format(1234) == "PAY-000001234"
    assert number_format("RUN").format(5) == "RUN-5"


def test_the_replacer_swaps_every_template_value_at_once_and_leaves_braces_alone() -> None:
    replacer = Replacer({"sep": SEP, "kode_rs": KODE, "d0": "2026-12-01"})
    fmt = replacer.compile(f'{{"kode_rs": "{KODE}", "nomor_sep": "{SEP}", "on": "2026-12-01"}}')
    assert fmt is not None
    text = fmt.format_map({"sep": "0301R0001026H000000", "kode_rs": "0301R000", "d0": "2026-10-17"})
    assert text == '{"kode_rs": "0301R000", "nomor_sep": "0301R0001026H000000", "on": "2026-10-17"}'
    assert replacer.compile("nothing of the template") is None


def test_clones_are_consistent_across_tables_and_old_enough_for_no_rule_to_see_them() -> None:
    plan = Plan(claims=300, seeded=40, hospitals=20)
    cloner = Cloner(_templates(), plan, first_payable=1000, first_payment=500, first_ledger=2000)
    claims = _table(cloner, "verifier.claims")
    assert len(claims) == 300 and len({c["claim_id"] for c in claims}) == 300
    seps = [c["nomor_sep"] for c in claims]
    assert len(set(seps)) == 300 and all(len(s) == 19 for s in seps)
    assert set(Counter(c["nomor_kartu"] for c in claims).values()) == {3}  # three claims per member
    for c in claims:
        status = load_status(c["status"])  # the verifier's own codec reads it back
        assert (status.claim_id, status.nomor_sep, status.kode_rs) == (c["claim_id"], c["nomor_sep"], c["kode_rs"])
        assert status.state is ClaimState.VERIFIED and status.decided_on is not None
        assert DAYS_BACK <= (TODAY - status.decided_on).days < DAYS_BACK + DAYS
        assert c["tgl_pulang"] == date(2026, 11, 26) - (TODAY - status.decided_on)
        assert c["nomor_sep"].startswith(c["kode_rs"])

    history = _table(cloner, "verifier.claim_history")
    assert len(history) == 900 and "id" not in history[0]
    grouped_in = {h["claim_id"]: h["event_id"] for h in history if h["kind"] == "in"}
    assert all(grouped_in[c["claim_id"]] == c["grouped_event_id"] for c in claims)
    inbox = _table(cloner, "verifier.inbox")
    assert {i["event_id"] for i in inbox if i["topic"] == "claims.grouped"} == {c["grouped_event_id"] for c in claims}

    payables = _table(cloner, "payments.payables")
    payments = _table(cloner, "payments.payments")
    ledger = _table(cloner, "payments.ledger_entries")
    assert [p["id"] for p in payables] == list(range(1000, 1300))
    assert [p["payment_id"] for p in payables] == [p["payment_id"] for p in payments]
    assert payments[0]["payment_id"] == "PAY-000000500" and payments[0]["run_id"] == "HIST-RUN-000"
    assert len({e["entry_id"] for e in ledger}) == 600 and [e["id"] for e in ledger] == list(range(2000, 2600))
    assert ledger[0]["entry_id"] == "LE-1000-payable" and ledger[1]["entry_id"] == "LE-PAY-000000500-payment"
    assert ledger[1]["debit_account"] == f"liability:payable:{claims[0]['kode_rs']}"
    by_claim = {c["claim_id"]: c for c in claims}
    assert all(p["correlation_id"] == by_claim[p["claim_id"]]["correlation_id"] for p in payables)
    assert {r["run_id"] for r in _table(cloner, "payments.payment_runs")} == {p["run_id"] for p in payments}

    members = _table(cloner, "verifier.participants")
    assert [m["nomor_kartu"] for m in members] == [f"{2000000000000 + j:013d}" for j in range(40, 100)]
    assert "seq" not in members[0]
    member_ids = {i["event_id"] for i in inbox if i["topic"] == "participants.changed"}
    assert member_ids == {m["event_id"] for m in members}
