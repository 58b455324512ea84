"""The queues: claims held for review, open disputes, payments awaiting approval, VEDIKA corrections.

Every page needs a role (the registry's); every action re-checks what it can up front (the rule next to the
field, what the operator typed kept), refuses a stale page (the claim moved on since it was rendered: the
version it showed travels in a hidden field), and otherwise signs the command, commits it to the outbox and
shows its action page, which polls the owning service until the command took effect.
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Annotated, Any

from fastapi import APIRouter, Depends, Form, Request
from pydantic import ValidationError
from starlette.responses import HTMLResponse, RedirectResponse, Response

from services.console.adapters.passwords import signer_from_pem
from services.console.adapters.queues import ClaimHeader, Readers
from services.console.adapters.unit_of_work import unit_of_work
from services.console.application.commands import Commands
from services.console.domain.formatting import age_days
from services.console.domain.rules import (
    Refusals,
    approval_refusals,
    correction_refusals,
    review_refusals,
    ruling_refusals,
    run_refusals,
)
from services.console.entrypoints.session import SignedIn, current_operator, render, require_role
from services.console.metrics import REFUSED, STALE
from shared.clock import get_clock
from shared.operators import OperatorSigner

router = APIRouter()
REVIEWER = require_role("reviewer", "dispute_panel")
DECIDER = require_role("reviewer")
PANEL = require_role("dispute_panel")
FINANCE = require_role("finance_maker", "finance_approver")
MAKER = require_role("finance_maker")
APPROVER = require_role("finance_approver")
VEDIKA = require_role("vedika")
HOMES = (("reviewer", "/review"), ("dispute_panel", "/disputes"), ("finance_approver", "/approvals"),
         ("finance_maker", "/approvals"), ("vedika", "/corrections"))  # fmt: skip
SUBJECT_KINDS = ("payment_run", "payment_correction", "capitation_run", "funds_allocation")


def home_of(operator: SignedIn) -> str:
    """The page an operator's first role works on."""
    return next((page for role, page in HOMES if role in operator.roles), "/review")


def readers(request: Request) -> Readers:
    value: Readers = request.app.state.readers
    return value


def commands() -> Commands:
    return Commands(get_clock())


async def signer_of(request: Request, operator: SignedIn) -> OperatorSigner:
    """The signed-in operator's own key, opened from its seal for this command."""
    async with request.app.state.pool().acquire() as conn:
        sealed = await conn.fetchval("SELECT sealed_key FROM accounts WHERE operator_id = $1", operator.operator_id)
    if sealed is None:
        raise RuntimeError(f"no account for {operator.operator_id}")
    return signer_from_pem(operator.operator_id, request.app.state.box.open(bytes(sealed)).encode())


def contract_refusals(exc: ValidationError, fields: dict[str, str]) -> Refusals:
    """The event contract's own refusal of a value, next to the form field it came from."""
    r = Refusals()
    for err in exc.errors(include_url=False):
        name = fields.get(str(err["loc"][0]) if err["loc"] else "", "")
        r.add(name, "C-CONTRACT", str(err["msg"]), str(err["msg"]))
    return r


def count_refusals(refusals: Refusals) -> None:
    for e in refusals.errors.values():
        REFUSED.labels(e.rule).inc()


async def action_page(request: Request, action_id: int) -> Response:
    return RedirectResponse(f"/actions/{action_id}", 303)


# ---------------------------------------------------------------------------------------------- review


@router.get("/review")
async def review_queue(
    request: Request, operator: Annotated[SignedIn, Depends(REVIEWER)],
    hospital: str = "", cbg: str = "", reason: str = "", age: str = "",
) -> HTMLResponse:  # fmt: skip
    rows = await readers(request).review_queue()
    today = get_clock().today()
    min_age = int(age) if age.strip().isdigit() else None
    shown = []
    for r in rows:
        r["age"] = age_days(r["submitted_on"], today)
        codes = [x.get("code", "") for x in r["review_reasons"]]
        if hospital and hospital.strip().upper() not in r["kode_rs"].upper():
            continue
        if cbg and not (r["cbg_code"] or r["cmg"] or "").upper().startswith(cbg.strip().upper()):
            continue
        if reason and reason not in codes:
            continue
        if min_age is not None and (r["age"] is None or r["age"] < min_age):
            continue
        shown.append(r)
    every_reason = sorted({x.get("code", "") for r in rows for x in r["review_reasons"]})
    filters = {"hospital": hospital, "cbg": cbg, "reason": reason, "age": age}
    return render(request, "review.html", {"rows": shown, "total": len(rows), "reasons": every_reason,
                                           "filters": filters})  # fmt: skip


@router.get("/claims/{claim_id}")
async def claim_page(request: Request, claim_id: str, operator: Annotated[SignedIn, Depends(REVIEWER)]) -> HTMLResponse:
    return await _claim(request, claim_id, {})


async def _claim(request: Request, claim_id: str, extra: dict[str, Any], status: int = 200) -> HTMLResponse:
    header, history = await readers(request).claim(claim_id)
    if header is None and not history:
        return render(request, "claim.html", {"claim_id": claim_id, "header": None, "history": [], "form": {},
                                              "errors": {}}, 404)  # fmt: skip
    context = {"claim_id": claim_id, "header": header, "history": history, "form": {}, "errors": {}, **extra}
    return render(request, "claim.html", context, status)


def _stale(header: ClaimHeader, version: str) -> dict[str, str] | None:
    """The states the page showed and the claim has now, when it moved on since the page was rendered."""
    if version and version != header.version:
        return {"was": version.split("@")[0], "now": header.state}
    return None


@router.post("/claims/{claim_id}/decide", response_model=None)
async def decide(
    request: Request, claim_id: str, operator: Annotated[SignedIn, Depends(DECIDER)],
    outcome: Annotated[str, Form()] = "", note: Annotated[str, Form()] = "", amount: Annotated[str, Form()] = "",
    missing: Annotated[str, Form()] = "", version: Annotated[str, Form()] = "",
) -> Response:  # fmt: skip
    form = {"outcome": outcome, "note": note, "amount": amount, "missing": missing}
    header, _ = await readers(request).claim(claim_id)
    if header is None:
        return await _claim(request, claim_id, {})  # no such claim: the 404 page
    stale = _stale(header, version)
    refusals, approved, documents = review_refusals(header.state, form)
    if stale is not None:
        STALE.labels("review").inc()
        return await _claim(request, claim_id, {"form": form, "errors": {}, "stale": stale}, 409)
    if not refusals:
        signer = await signer_of(request, operator)
        try:
            async with unit_of_work(request.app.state.pool(), request.app.state.schema) as uow:
                action_id = await commands().review(uow, signer, claim_id, outcome, note.strip(), approved, documents)
        except ValidationError as exc:
            refusals = contract_refusals(exc, {"note": "note", "approved_amount": "amount", "missing": "missing",
                                               "outcome": "outcome"})  # fmt: skip
        else:
            return await action_page(request, action_id)
    count_refusals(refusals)
    return await _claim(request, claim_id, {"form": form, "errors": refusals.errors}, 422)


# ---------------------------------------------------------------------------------------------- disputes


@router.get("/disputes")
async def disputes(request: Request, operator: Annotated[SignedIn, Depends(PANEL)]) -> HTMLResponse:
    return render(request, "disputes.html", {"rows": await readers(request).open_disputes()})


@router.post("/claims/{claim_id}/rule", response_model=None)
async def rule(
    request: Request, claim_id: str, operator: Annotated[SignedIn, Depends(PANEL)],
    outcome: Annotated[str, Form()] = "", note: Annotated[str, Form()] = "", amount: Annotated[str, Form()] = "",
    version: Annotated[str, Form()] = "",
) -> Response:  # fmt: skip
    form = {"outcome": outcome, "note": note, "amount": amount}
    header, _ = await readers(request).claim(claim_id)
    if header is None:
        return await _claim(request, claim_id, {})  # no such claim: the 404 page
    stale = _stale(header, version)
    refusals, supplementary = ruling_refusals(header.state, form)
    if stale is not None:
        STALE.labels("ruling").inc()
        return await _claim(request, claim_id, {"form": form, "errors": {}, "stale": stale}, 409)
    if not refusals:
        signer = await signer_of(request, operator)
        try:
            async with unit_of_work(request.app.state.pool(), request.app.state.schema) as uow:
                action_id = await commands().ruling(uow, signer, claim_id, outcome, note.strip(), supplementary)
        except ValidationError as exc:
            refusals = contract_refusals(exc, {"note": "note", "amount": "amount", "outcome": "outcome"})
        else:
            return await action_page(request, action_id)
    count_refusals(refusals)
    return await _claim(request, claim_id, {"form": form, "errors": refusals.errors}, 422)


# ---------------------------------------------------------------------------------------------- approvals


async def _approvals(request: Request, extra: dict[str, Any], status: int = 200) -> HTMLResponse:
    r = readers(request)
    context = {"rows": await r.pending_approvals(), "runs": await r.recent_runs(), "form": {}, "errors": {},
               "run_errors": {}, **extra}  # fmt: skip
    return render(request, "approvals.html", context, status)


@router.get("/approvals")
async def approvals(request: Request, operator: Annotated[SignedIn, Depends(FINANCE)]) -> HTMLResponse:
    return await _approvals(request, {})


@router.post("/approvals/run", response_model=None)
async def request_run(
    request: Request, operator: Annotated[SignedIn, Depends(MAKER)],
    funds: Annotated[str, Form()] = "", run_id: Annotated[str, Form()] = "",
) -> Response:  # fmt: skip
    form = {"funds": funds, "run_id": run_id}
    refusals, amount = run_refusals(form)
    if not refusals and amount is not None:
        chosen = run_id.strip() or f"RUN-{datetime.now(UTC):%Y%m%dT%H%M%S}"
        signer = await signer_of(request, operator)
        try:
            async with unit_of_work(request.app.state.pool(), request.app.state.schema) as uow:
                action_id = await commands().run(uow, signer, chosen, amount)
        except ValidationError as exc:
            refusals = contract_refusals(exc, {"run_id": "run_id", "funds": "funds"})
        else:
            return await action_page(request, action_id)
    count_refusals(refusals)
    return await _approvals(request, {"form": form, "run_errors": refusals.errors}, 422)


@router.post("/approvals/{subject_kind}/{subject_id}/approve", response_model=None)
async def approve(
    request: Request, subject_kind: str, subject_id: str, operator: Annotated[SignedIn, Depends(APPROVER)]
) -> Response:
    held = await readers(request).held(subject_kind, subject_id) if subject_kind in SUBJECT_KINDS else None
    pending = held if held is not None and held.approved_by is None else None
    refusals = approval_refusals(pending.requested_by if pending else None, operator.operator_id)
    if not refusals and pending is not None:
        signer = await signer_of(request, operator)
        async with unit_of_work(request.app.state.pool(), request.app.state.schema) as uow:
            action_id = await commands().approval(uow, signer, pending.command, subject_kind, subject_id)
        return await action_page(request, action_id)
    count_refusals(refusals)
    errors = {f"{subject_kind}/{subject_id}": refusals.errors[""]}
    return await _approvals(request, {"errors": errors}, 422)


# ---------------------------------------------------------------------------------------------- corrections


async def _corrections(request: Request, extra: dict[str, Any], status: int = 200) -> HTMLResponse:
    held = [r for r in await readers(request).pending_approvals() if r["subject_kind"] == "payment_correction"]
    return render(request, "corrections.html", {"rows": held, "form": {"seq": "0"}, "errors": {}, **extra}, status)


@router.get("/corrections")
async def corrections(request: Request, operator: Annotated[SignedIn, Depends(VEDIKA)]) -> HTMLResponse:
    return await _corrections(request, {})


@router.post("/corrections", response_model=None)
async def request_correction(
    request: Request, operator: Annotated[SignedIn, Depends(VEDIKA)],
    claim_id: Annotated[str, Form()] = "", recover: Annotated[str, Form()] = "",
    reason: Annotated[str, Form()] = "", correction_id: Annotated[str, Form()] = "", seq: Annotated[str, Form()] = "0",
) -> Response:  # fmt: skip
    form = {"claim_id": claim_id, "recover": recover, "reason": reason, "correction_id": correction_id, "seq": seq}
    refusals, amount, sequence = correction_refusals(form)
    if not refusals and amount is not None:
        signer = await signer_of(request, operator)
        try:
            async with unit_of_work(request.app.state.pool(), request.app.state.schema) as uow:
                action_id = await commands().correction(uow, signer, claim_id.strip(), correction_id.strip(),
                                                        sequence, amount, reason.strip())  # fmt: skip
        except ValidationError as exc:
            refusals = contract_refusals(exc, {"correction_id": "correction_id", "reason": "reason",
                                               "recover_amount": "recover", "verification_seq": "seq"})  # fmt: skip
        else:
            return await action_page(request, action_id)
    count_refusals(refusals)
    return await _corrections(request, {"form": form, "errors": refusals.errors}, 422)


# ---------------------------------------------------------------------------------------------- actions


@router.get("/actions/{action_id}")
async def action(
    request: Request, action_id: int, operator: Annotated[SignedIn, Depends(current_operator)]
) -> HTMLResponse:
    found = await _own_action(request, action_id, operator)
    if found is None:
        return render(request, "action.html", {"action": None, "status": None}, 404)
    return render(request, "action.html", {"action": found, "status": await effect(request, found)})


@router.get("/actions/{action_id}/status")
async def action_status(
    request: Request, action_id: int, operator: Annotated[SignedIn, Depends(current_operator)]
) -> HTMLResponse:
    found = await _own_action(request, action_id, operator)
    if found is None:
        return HTMLResponse("", 404)
    return render(request, "_status.html", {"action": found, "status": await effect(request, found)})


async def _own_action(request: Request, action_id: int, operator: SignedIn) -> Any:
    async with unit_of_work(request.app.state.pool(), request.app.state.schema) as uow:
        found = await uow.actions.get(action_id)
    return found if found is not None and found.operator_id == operator.operator_id else None


SLOW_AFTER_S = 30  # a command not applied by then: say where to look (a refusal is dead-lettered, never lost)


async def effect(request: Request, action: Any) -> dict[str, Any]:
    """Where the command stands in the owning service: waiting, held for a second operator, or took effect."""
    found = await _effect(request, action)
    if not found["done"]:
        found["slow"] = (datetime.now(UTC) - action.issued_at).total_seconds() > SLOW_AFTER_S
    return found


async def _effect(request: Request, action: Any) -> dict[str, Any]:
    r = readers(request)
    if action.kind in ("review", "ruling"):
        state = await r.effect_of(action.subject, str(action.event_id))
        return {"done": state is not None, "state": state}
    if action.kind == "approval":
        kind = action.detail.get("subject_kind", "")
        if kind == "payment_run":
            summary = await r.run_summary(action.subject)
            return {"done": summary is not None, "run": summary}
        held = await r.held(kind, action.subject)
        return {"done": held is not None and held.approved_by is not None, "approved": True}
    kind = "payment_run" if action.kind == "run" else "payment_correction"
    summary = await r.run_summary(action.subject) if action.kind == "run" else None
    if summary is not None:
        return {"done": True, "run": summary}
    held = await r.held(kind, action.subject)
    return {"done": held is not None, "held": held is not None and held.approved_by is None, "approved":
            held is not None and held.approved_by is not None}  # fmt: skip
