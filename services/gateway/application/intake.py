"""The intake use cases: E-Klaim's methods and POST /v1/claims, each on one unit of work.

A use case reads what it needs (the claim's draft and view, under the claim's lock), decides with the
domain, and leaves its writes to the unit of work; it raises `EklaimError` or `Problem` to refuse, and then
nothing it did is written or published (services/gateway/entrypoints/transactions.py). `claim_final` and
POST /v1/claims emit the ClaimSubmitted into the outbox of the same transaction: the 2xx goes out only after
the commit, and the relay publishes it.

Retries: a claim_final (or POST /v1/claims) sent again with the same body for the revision it submitted gets
the first answer again (kept with the draft), never a second event; with an Idempotency-Key header any
request gets its first answer (entrypoints).
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, replace
from typing import Any, Protocol

from services.gateway.adapters.repository import DraftRow, Drafts, Views
from services.gateway.domain import claim as claims
from services.gateway.domain import eklaim, monitor
from services.gateway.domain.errors import EklaimError
from services.gateway.domain.principal import Caller, owns_sep
from services.gateway.domain.replies import Problem, Reply, eklaim_ok
from services.gateway.metrics import RETRIES, SUBMISSIONS
from shared.clock import Clock
from shared.envelopes import originate
from shared.events import ClaimData, ClaimSubmitted, ClaimSubmittedPayload, Envelope

READS = frozenset({"get_claim_data", "get_claim_status"})
WRITES = frozenset({"new_claim", "set_claim_data", "inacbg_diagnosa_set", "inacbg_procedure_set", "claim_final",
                    "reedit_claim", "delete_claim"})  # fmt: skip
METHODS = READS | WRITES


class UnitOfWorkLike(Protocol):
    """What the use cases need of a unit of work (GatewayUnitOfWork, or a fake in unit tests)."""

    @property
    def drafts(self) -> Drafts: ...
    @property
    def views(self) -> Views: ...
    def emit(self, event: Envelope) -> None: ...
    async def lock_claims(self, claim_ids: list[str]) -> None: ...


def claim_id_of(nomor_sep: str) -> str:
    """A claim is its SEP: one SEP, one episode, one claim with its revisions."""
    return nomor_sep


@dataclass(frozen=True)
class Intake:
    clock: Clock

    # ------------------------------------------------------------------------------------------ E-Klaim

    async def eklaim(
        self, uow: UnitOfWorkLike, caller: Caller, method: str, metadata: Mapping[str, Any],
        data: Mapping[str, Any], body_hash: str,
    ) -> Reply:  # fmt: skip
        """One E-Klaim request (`metadata.method`), refused with E-Klaim's error numbers."""
        if method not in METHODS:
            raise EklaimError("E2001", "metadata.method", f"{method[:40]!r} is not one of {', '.join(sorted(METHODS))}")
        if method in WRITES and caller.role != "hospital":
            raise EklaimError("E2030", "X-cons-id", "an operator credential may only read", http_status=403)
        nomor_sep = str(metadata.get("nomor_sep") or data.get("nomor_sep") or "").strip()
        if not nomor_sep or len(nomor_sep) > 40 or not nomor_sep.isalnum():
            raise EklaimError("E2030", "nomor_sep", "is required: the SEP number (letters and digits, at most 40)")
        if caller.role == "hospital" and not owns_sep(caller, nomor_sep):
            if method == "new_claim":
                raise EklaimError("E2030", "nomor_sep", f"a SEP of hospital {caller.kode_rs} starts with "
                                  f"{caller.kode_rs}", http_status=403)  # fmt: skip
            raise EklaimError("E2004", "nomor_sep", f"{nomor_sep} is not a claim of this hospital")
        claim_id = claim_id_of(nomor_sep)
        await uow.lock_claims([claim_id])
        draft = await uow.drafts.get(nomor_sep)
        if draft is not None and not caller.may_see(draft.kode_rs, nomor_sep):
            draft = None  # another hospital's: as if it did not exist
        if method == "new_claim":
            return await self._new_claim(uow, caller, nomor_sep, draft, data, body_hash)
        if draft is None:
            raise EklaimError("E2004", "nomor_sep", f"no claim {nomor_sep} (new_claim first)")
        if method in ("set_claim_data", "inacbg_diagnosa_set", "inacbg_procedure_set"):
            return self._set(uow, draft, method, data)
        if method == "claim_final":
            return await self._final(uow, caller, draft, data, body_hash)
        if method == "reedit_claim":
            return await self._reedit(uow, draft)
        if method == "delete_claim":
            return self._delete(uow, draft, data)
        view = (await uow.views.load([claim_id]))[claim_id]
        if method == "get_claim_data":
            return eklaim_ok(claims.get_claim_data(draft.fields, nomor_sep, final=draft.state == "final", view=view))
        return eklaim_ok(self._status(draft, view))

    async def _new_claim(
        self, uow: UnitOfWorkLike, caller: Caller, nomor_sep: str, draft: DraftRow | None,
        data: Mapping[str, Any], body_hash: str,
    ) -> Reply:  # fmt: skip
        answer = eklaim_ok({"claim_id": claim_id_of(nomor_sep), "nomor_sep": nomor_sep, "admission_id": 1})
        if draft is not None and draft.new_claim_hash == body_hash:
            RETRIES.labels("new_claim").inc()
            return answer
        existing = (await uow.views.load([claim_id_of(nomor_sep)]))[claim_id_of(nomor_sep)]
        if draft is not None or existing is not None:
            raise EklaimError("E2007", "nomor_sep", f"claim {nomor_sep} exists already")
        assert caller.kode_rs is not None
        fields = eklaim.new_claim(data)
        uow.drafts.save(DraftRow(nomor_sep, claim_id_of(nomor_sep), caller.kode_rs, fields=fields,
                                 new_claim_hash=body_hash))  # fmt: skip
        return answer

    def _set(self, uow: UnitOfWorkLike, draft: DraftRow, method: str, data: Mapping[str, Any]) -> Reply:
        if draft.state == "final":
            raise EklaimError("E2009", "nomor_sep", f"claim {draft.nomor_sep} is final: reedit_claim it first")
        if method == "set_claim_data":
            fields, ignored = eklaim.set_claim_data(draft.fields, data)
        else:  # inacbg_diagnosa_set / inacbg_procedure_set: one list, no coder_nik (manual 5.10.x)
            name = "diagnosa" if method == "inacbg_diagnosa_set" else "procedure"
            if name not in data:
                raise EklaimError("E2030", name, f"is required for {method}")
            fields, ignored = eklaim.set_list(draft.fields, name, data[name]), []
        uow.drafts.save(_with(draft, fields=fields))
        if method != "set_claim_data":
            joined = "#".join(c if isinstance(c, str) else c["code"] for c in fields.get(name, []))
            expanded = [{"code": c if isinstance(c, str) else c["code"], "no": str(i)}
                        for i, c in enumerate(fields.get(name, []), 1)]  # fmt: skip
            return eklaim_ok({"string": joined, "expanded": expanded}, method=method)
        return eklaim_ok({"ignored": ignored} if ignored else None)

    async def _final(
        self, uow: UnitOfWorkLike, caller: Caller, draft: DraftRow, data: Mapping[str, Any], body_hash: str
    ) -> Reply:
        if draft.state == "final":
            if draft.final_hash == body_hash and draft.final_answer is not None:
                RETRIES.labels("claim_final").inc()
                return Reply(200, draft.final_answer)  # the same claim_final again: its first answer
            raise EklaimError("E2009", "nomor_sep", f"claim {draft.nomor_sep} revision {draft.revision} is final")
        if not str(data.get("coder_nik", "")).strip():
            raise EklaimError("E2005", "coder_nik", "is mandatory for claim_final")
        fields = {"coder_nik": str(data["coder_nik"]).strip(), **draft.fields}
        claim = claims.claim_data(fields, draft.nomor_sep, caller)
        event = await self._submit(uow, caller, draft, claim, source="eklaim")
        answer = eklaim_ok({"claim_id": draft.claim_id, "nomor_sep": draft.nomor_sep, "revision": draft.revision,
                            "event_id": str(event.event_id)})  # fmt: skip
        uow.drafts.save(_with(draft, state="final", submitted=True, final_hash=body_hash, final_answer=answer.body))
        return answer

    async def _reedit(self, uow: UnitOfWorkLike, draft: DraftRow) -> Reply:
        if draft.state == "draft":
            return eklaim_ok({"revision": draft.revision})  # editable already
        view = (await uow.views.load([draft.claim_id]))[draft.claim_id]
        if not monitor.may_resubmit(view):
            status = view.status if view else "submitted"
            raise EklaimError("E2039", "nomor_sep", f"claim {draft.nomor_sep} is {status}; it can be edited again "
                              "only after it was pended")  # fmt: skip
        revision = max(draft.revision, view.revision if view else 0) + 1
        uow.drafts.save(_with(draft, state="draft", revision=revision, final_hash=None, final_answer=None))
        return eklaim_ok({"revision": revision})

    def _delete(self, uow: UnitOfWorkLike, draft: DraftRow, data: Mapping[str, Any]) -> Reply:
        if not str(data.get("coder_nik", "")).strip():
            raise EklaimError("E2005", "coder_nik", "is mandatory for delete_claim")
        if draft.submitted:
            raise EklaimError(
                "E2038", "nomor_sep", f"claim {draft.nomor_sep} was submitted (revision {draft.revision})"
            )
        uow.drafts.delete(draft.nomor_sep)
        return eklaim_ok()

    @staticmethod
    def _status(draft: DraftRow, view: monitor.ClaimView | None) -> dict[str, Any]:
        """get_claim_status: E-Klaim's status_kirim/tgl_kirim, and where the claim is in the pipeline."""
        sent = draft.final_answer is not None or draft.submitted
        return {
            "status_kirim": "1" if sent else "0",
            "tgl_kirim": draft.finalized_at.strftime("%Y-%m-%d %H:%M:%S") if draft.finalized_at and sent else "",
            "revision": draft.revision,
            "status_klaim": view.status if view else ("submitted" if sent else "draft"),
        }

    # ------------------------------------------------------------------------------------------ contract

    async def submit(self, uow: UnitOfWorkLike, caller: Caller, claim: ClaimData, body_hash: str) -> Reply:
        """POST /v1/claims: the next revision of the claim (0 first, n+1 after a pend), or a problem."""
        if caller.role != "hospital":
            raise Problem(
                403,
                "forbidden",
                "Operators do not submit claims",
                "An operator credential may only read; claims come from a hospital's credential.",
            )
        if claim.kode_rs != caller.kode_rs:
            raise Problem(
                403,
                "other-hospital",
                "Not this hospital's claim",
                f"kode_rs {claim.kode_rs} is not the authenticated hospital's ({caller.kode_rs})",
                ({"field": "kode_rs", "rule": "own-hospital", "message": "must be the caller's kode_rs"},),
            )
        if not owns_sep(caller, claim.nomor_sep):
            raise Problem(
                403,
                "other-hospital",
                "Not this hospital's SEP",
                f"SEP {claim.nomor_sep} was not issued by {caller.kode_rs}",
                ({"field": "nomor_sep", "rule": "own-sep", "message": f"must start with {caller.kode_rs}"},),
            )
        claim_id = claim_id_of(claim.nomor_sep)
        await uow.lock_claims([claim_id])
        draft = await uow.drafts.get(claim.nomor_sep)
        if draft is not None and draft.state == "final" and draft.final_hash == body_hash and draft.final_answer:
            RETRIES.labels("claims").inc()
            return Reply(202, draft.final_answer)
        view = (await uow.views.load([claim_id]))[claim_id]
        if draft is None and view is None:
            draft = DraftRow(claim.nomor_sep, claim_id, claim.kode_rs)
        elif draft is not None and draft.state == "draft":
            pass  # drafted through E-Klaim (or re-edited after a pend): this body submits it
        elif monitor.may_resubmit(view):
            last = max(draft.revision if draft else 0, view.revision if view else 0)
            draft = _with(draft, state="draft", revision=last + 1) if draft else DraftRow(
                claim.nomor_sep, claim_id, claim.kode_rs, revision=last + 1, submitted=True)  # fmt: skip
        else:
            status = view.status if view else "submitted"
            raise Problem(
                409,
                "already-submitted",
                "Claim already submitted",
                f"claim {claim_id} is {status}: a new revision is accepted only after it was pended",
                ({"field": "nomor_sep", "rule": "resubmit-after-pend", "message": f"claim is {status}"},),
            )
        event = await self._submit(uow, caller, draft, claim, source="contract")
        answer = {"claim_id": claim_id, "nomor_sep": claim.nomor_sep, "revision": draft.revision,
                  "event_id": str(event.event_id), "status": "submitted", "href": f"/v1/claims/{claim_id}"}  # fmt: skip
        uow.drafts.save(_with(draft, state="final", submitted=True, fields=claims.draft_from_contract(claim),
                              final_hash=body_hash, final_answer=answer))  # fmt: skip
        return Reply(202, answer)

    async def _submit(
        self, uow: UnitOfWorkLike, caller: Caller, draft: DraftRow, claim: ClaimData, *, source: str
    ) -> ClaimSubmitted:
        """Emit the revision (published if, and only if, the transaction commits) and show it as submitted."""
        event = originate(
            ClaimSubmitted, ClaimSubmittedPayload(revision=draft.revision, claim=claim), producer=caller.producer,
            clock=self.clock, claim_id=draft.claim_id, correlation_id=draft.correlation_id,
        )  # fmt: skip
        uow.emit(event)
        view = (await uow.views.load([draft.claim_id]))[draft.claim_id]
        view = view or monitor.new_view(draft.claim_id, claim.kode_rs, claim.nomor_sep)
        uow.views.put(monitor.submitted(view, claim, draft.revision))
        SUBMISSIONS.labels(source).inc()
        return event


def _with(draft: DraftRow, **changes: Any) -> DraftRow:
    return replace(draft, **changes)
