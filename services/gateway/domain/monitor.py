"""The read model of a claim's fate, folded from the pipeline's events (no I/O).

One consumer reads several topics, so a claim's events can arrive in another order than they were made
(a payment before the verification it settles). The fold does not depend on it: each event writes its own
part of the view, the stage before verification is the one of the highest (revision, rank), and once any
verification is known the claim is `verified`, or `paid` when every verification has its payment. The
inbox makes each event count once, so a redelivery changes nothing.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass, field
from datetime import date
from typing import Any, Final, Literal

from shared.events import (
    ClaimData,
    ClaimDisputedPayload,
    ClaimDisputeResolvedPayload,
    ClaimGroupedPayload,
    ClaimPaidPayload,
    ClaimPendedPayload,
    ClaimRejectedPayload,
    ClaimVerifiedPayload,
    Reason,
)

Stage = Literal["submitted", "grouped", "pended", "rejected"]
Status = Literal["submitted", "grouped", "pended", "rejected", "verified", "paid"]
RANK: Final[dict[str, int]] = {"submitted": 0, "grouped": 1, "pended": 2, "rejected": 3}
STATUS_TEXT: Final[dict[str, tuple[str, str]]] = {
    "submitted": ("Diterima, menunggu grouping", "Received, waiting for grouping"),
    "grouped": ("Proses verifikasi", "Being verified"),
    "pended": ("Pending verifikasi: lengkapi dan ajukan ulang", "Pended: complete it and resubmit"),
    "rejected": ("Tidak layak", "Rejected"),
    "verified": ("Klaim disetujui, menunggu pembayaran", "Approved, waiting for payment"),
    "paid": ("Klaim dibayar", "Paid"),
}
# VClaim's monitor (Monitoring/Klaim ... /Status/{1|2|3}): 1 Proses Verifikasi, 2 Pending Verifikasi, 3 Klaim.
VCLAIM_STATUS: Final[dict[int, tuple[str, tuple[Status, ...]]]] = {
    1: ("Proses Verifikasi", ("submitted", "grouped")),
    2: ("Pending Verifikasi", ("pended",)),
    3: ("Klaim", ("verified", "paid")),
}


@dataclass
class ClaimView:
    """What a hospital may learn about one of its claims."""

    claim_id: str
    kode_rs: str
    nomor_sep: str
    nomor_kartu: str = ""
    jenis_rawat: int | None = None
    kelas_rawat: int | None = None
    tgl_pulang: str | None = None
    revision: int = 0
    stage: Stage = "submitted"
    stage_revision: int = -1
    rejected_by: str | None = None
    reasons: list[dict[str, Any]] = field(default_factory=list)
    refusals: list[dict[str, Any]] = field(default_factory=list)  # refused events; the claim kept its state
    grouped_revision: int = -1
    cbg_code: str | None = None
    cbg_description: str | None = None
    tarif_grouper: int | None = None
    tarif_topup: int = 0
    tarif_rs: int | None = None
    claimed_amount: int | None = None
    resubmit_by: str | None = None
    dispute_by: str | None = None
    verifications: dict[str, dict[str, Any]] = field(default_factory=dict)  # by verification_seq
    payments: dict[str, dict[str, Any]] = field(default_factory=dict)  # by verification_seq
    dispute: dict[str, Any] | None = None  # the verifier's resolution (claims.dispute-resolved)
    dispute_filed: dict[str, Any] | None = None  # the dispute this gateway published (POST .../dispute)

    @property
    def status(self) -> Status:
        if not self.verifications:
            return self.stage
        return "paid" if set(self.verifications) <= set(self.payments) else "verified"

    def as_json(self) -> dict[str, Any]:
        return asdict(self)

    @classmethod
    def from_json(cls, data: dict[str, Any]) -> ClaimView:
        return cls(**data)


def _reasons(reasons: list[Reason]) -> list[dict[str, Any]]:
    return [r.model_dump(mode="json") for r in reasons]


def new_view(claim_id: str, kode_rs: str, nomor_sep: str) -> ClaimView:
    return ClaimView(claim_id, kode_rs, nomor_sep)


def _with_claim(view: ClaimView, claim: ClaimData) -> None:
    view.nomor_kartu = claim.nomor_kartu
    view.jenis_rawat = claim.jenis_rawat
    view.kelas_rawat = claim.kelas_rawat
    view.tgl_pulang = claim.tgl_pulang.isoformat()
    view.tarif_rs = claim.tarif_rs.total()


def _stage(view: ClaimView, revision: int, stage: Stage, reasons: list[dict[str, Any]]) -> None:
    view.revision = max(view.revision, revision)
    if (revision, RANK[stage]) >= (view.stage_revision, RANK[view.stage]):
        view.stage, view.stage_revision, view.reasons = stage, revision, reasons
        if stage != "pended":
            view.resubmit_by = None


def submitted(view: ClaimView, claim: ClaimData, revision: int) -> ClaimView:
    """The gateway committed a revision of the claim (before the grouper has seen it)."""
    _with_claim(view, claim)
    _stage(view, revision, "submitted", [])
    return view


def grouped(view: ClaimView, p: ClaimGroupedPayload) -> ClaimView:
    if p.revision >= view.grouped_revision:
        _with_claim(view, p.claim)
        g = p.grouping
        view.grouped_revision = p.revision
        view.cbg_code, view.cbg_description = g.cbg_code, g.cbg_description
        view.tarif_grouper, view.tarif_rs = g.total_tarif, g.tarif_rs_total
        view.tarif_topup = sum(s.tarif for s in g.special_cmg)
        if "0" not in view.verifications:
            view.claimed_amount = g.total_tarif
    _stage(view, p.revision, "grouped", [])
    return view


def rejected(view: ClaimView, p: ClaimRejectedPayload) -> ClaimView:
    if p.refusal:  # one event refused (a late dispute, a reused revision): the claim keeps its state
        refusal = {"revision": p.revision, "on": p.rejected_on.isoformat(), "reasons": _reasons(p.reasons)}
        view.refusals = [*view.refusals, refusal][-10:]
        return view
    _stage(view, p.revision, "rejected", _reasons(p.reasons))
    if view.stage == "rejected" and view.stage_revision == p.revision:
        view.rejected_by = p.stage
    return view


def pended(view: ClaimView, p: ClaimPendedPayload) -> ClaimView:
    _stage(view, p.revision, "pended", _reasons(p.missing))
    if view.stage == "pended" and view.stage_revision == p.revision:
        view.resubmit_by = p.resubmit_by.isoformat()
    return view


def verified(view: ClaimView, p: ClaimVerifiedPayload) -> ClaimView:
    view.revision = max(view.revision, p.revision)
    view.verifications[str(p.verification_seq)] = {
        "verified_on": p.verified_on.isoformat(),
        "approved_amount": p.approved_amount,
        "deemed_complete": p.deemed_complete,
        "adjustments": [{"amount": a.amount, **a.reason.model_dump(mode="json")} for a in p.adjustments],
    }
    if p.verification_seq == 0:
        view.claimed_amount = p.claimed_amount
    if p.dispute_by is not None:
        view.dispute_by = p.dispute_by.isoformat()
    return view


def dispute_resolved(view: ClaimView, p: ClaimDisputeResolvedPayload) -> ClaimView:
    view.dispute = {"outcome": p.outcome, "supplementary_amount": p.supplementary_amount,
                    "resolved_on": p.resolved_on.isoformat(), "note": p.note}  # fmt: skip
    return view


def paid(view: ClaimView, p: ClaimPaidPayload) -> ClaimView:
    view.payments[str(p.verification_seq)] = {
        "approved_amount": p.approved_amount, "penalty": p.penalty, "total_paid": p.total_paid,
        "recovered_amount": p.recovered_amount, "net_paid": p.net_paid, "due_on": p.due_on.isoformat(),
        "paid_on": p.paid_on.isoformat(), "days_late": p.days_late, "payment_id": p.payment_id,
    }  # fmt: skip
    return view


def may_resubmit(view: ClaimView | None) -> bool:
    """A new revision is accepted after a pend (or when the grouper refused the resubmitted one)."""
    if view is None or view.verifications:
        return False
    return view.stage == "pended" or (view.stage == "rejected" and view.rejected_by == "grouper" and view.revision > 0)


def dispute_refusal(view: ClaimView, today: date) -> tuple[str, str] | None:
    """(rule, why) when the verifier would refuse a dispute of the claim now, else None.

    The verifier's rules (services/verifier/domain/disputes.py), checked here so a hospital hears at once
    instead of finding a refusal in the claim's view later: one dispute per claim, of a verification with
    adjustments or a verifier's rejection, by `dispute_by`.
    """
    adjusted = any(v["adjustments"] for v in view.verifications.values())
    if view.dispute_filed is not None or view.dispute is not None:
        return "one-dispute", f"claim {view.claim_id} was disputed already"
    if not adjusted and not (view.status == "rejected" and view.rejected_by == "verifier"):
        return "disputable", (f"claim {view.claim_id} is {view.status}: only a verification with adjustments or "
                              "a verifier's rejection can be disputed")  # fmt: skip
    if view.dispute_by is not None and today.isoformat() > view.dispute_by:
        return "dispute-window", f"the window closed on {view.dispute_by}"
    return None


def disputed(view: ClaimView, p: ClaimDisputedPayload, event_id: str, body_hash: str) -> ClaimView:
    """The gateway published the hospital's dispute (the verifier's answer arrives as a resolution or refusal)."""
    view.dispute_filed = {"disputed_on": p.disputed_on.isoformat(), "requested_amount": p.requested_amount,
                          "reason": p.reason, "documents": [d.model_dump(mode="json") for d in p.documents],
                          "event_id": event_id, "body_hash": body_hash}  # fmt: skip
    return view


def amounts(view: ClaimView) -> dict[str, int | None]:
    """Claimed, approved, paid, penalty (rupiah) over every verification and payment of the claim."""
    pays = view.payments.values()
    return {
        "claimed": view.claimed_amount,
        "approved": sum(v["approved_amount"] for v in view.verifications.values()) if view.verifications else None,
        "paid": sum(p["total_paid"] for p in pays) if view.payments else None,
        "penalty": sum(p["penalty"] for p in pays) if view.payments else None,
        "recovered": sum(p["recovered_amount"] for p in pays) if view.payments else None,
        "net_paid": sum(p["net_paid"] or p["total_paid"] - p["recovered_amount"] for p in pays) if pays else None,
    }


def claim_response(view: ClaimView) -> dict[str, Any]:
    """GET /v1/claims/{claim_id}: the status with every reason, the deadlines and the amounts."""
    status = view.status
    text_id, text_en = STATUS_TEXT[status]
    paid_on = max((p["paid_on"] for p in view.payments.values()), default=None)
    reasons = view.reasons if status in ("pended", "rejected") else [
        a for v in view.verifications.values() for a in v["adjustments"]
    ]  # fmt: skip
    return {
        "claim_id": view.claim_id,
        "nomor_sep": view.nomor_sep,
        "kode_rs": view.kode_rs,
        "revision": view.revision,
        "status": status,
        "status_text": {"id": text_id, "en": text_en},
        "rejected_by": view.rejected_by if status == "rejected" else None,
        "reasons": reasons,
        "refusals": view.refusals,
        "deadlines": {"resubmit_by": view.resubmit_by, "dispute_by": view.dispute_by},
        "grouping": {
            "cbg_code": view.cbg_code,
            "cbg_description": view.cbg_description,
            "tarif_grouper": view.tarif_grouper,
            "tarif_topup": view.tarif_topup,
            "tarif_rs": view.tarif_rs,
        },
        "amounts": amounts(view),
        "payment_date": paid_on,
        "verifications": [{"verification_seq": int(s), **v} for s, v in sorted(view.verifications.items())],
        "payments": [{"verification_seq": int(s), **p} for s, p in sorted(view.payments.items())],
        "dispute": _dispute(view),
    }


def _dispute(view: ClaimView) -> dict[str, Any] | None:
    """The hospital's dispute as filed here and its resolution, once the verifier resolved it."""
    if view.dispute_filed is None and view.dispute is None:
        return None
    filed = {k: v for k, v in (view.dispute_filed or {}).items() if k != "body_hash"}
    return {"filed": filed or None, "resolution": view.dispute}


def vclaim_row(view: ClaimView, status_code: int) -> dict[str, Any]:
    """One entry of VClaim's Monitoring/Klaim `response.klaim[]`, numbers as strings as VClaim sends them."""
    a = amounts(view)
    return {
        "Inacbg": {"kode": view.cbg_code or "", "nama": view.cbg_description or ""},
        "biaya": {
            "byPengajuan": str(a["claimed"] or 0),
            "bySetujui": str(a["approved"] or 0),
            "byTarifGruper": str(view.tarif_grouper or 0),
            "byTarifRS": str(view.tarif_rs or 0),
            "byTopup": str(view.tarif_topup),
        },
        "kelasRawat": str(view.kelas_rawat or ""),
        "noFPK": "",
        "noSEP": view.nomor_sep,
        "peserta": {"nama": "", "noKartu": view.nomor_kartu, "noMR": ""},
        "poli": "",
        "status": VCLAIM_STATUS[status_code][0],
        "tglPulang": view.tgl_pulang or "",
        "tglSep": "",
    }
