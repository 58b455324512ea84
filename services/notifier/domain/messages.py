"""Render what happened into a message for one subscriber: language, zone, template."""

from __future__ import annotations

import json
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import date
from string import Template
from typing import Any

from services.notifier.domain.formatting import format_date, format_instant, format_rupiah
from services.notifier.domain.model import Language
from services.notifier.domain.notices import DeadLetterArrival, FailedDelivery, Notice, Source
from services.notifier.domain.templates import PHRASES, TEMPLATES
from shared.events import (
    ClaimDeadlineReminder,
    ClaimDisputeResolved,
    ClaimPaid,
    ClaimPended,
    ClaimRejected,
    ClaimVerified,
    ClaimVerifiedPayload,
    Envelope,
    PaymentDeadlineApproaching,
    PaymentOverdue,
    Reason,
)

Context = dict[str, str]


@dataclass(frozen=True)
class Message:
    subject: str
    text: str


def is_adjusted(payload: ClaimVerifiedPayload) -> bool:
    """A verification that changed what the hospital claimed (the hospital may dispute it)."""
    return bool(payload.adjustments) or payload.approved_amount < payload.claimed_amount


def template_key(source: Source) -> str:
    """The template a source is told with (a verification with adjustments has its own)."""
    if isinstance(source, ClaimVerified) and is_adjusted(source.payload):
        return "ClaimVerified.adjusted"
    if isinstance(source, ClaimRejected) and source.payload.refusal:
        return "ClaimRejected.refusal"
    if isinstance(source, DeadLetterArrival):
        return "DeadLetterArrived"
    if isinstance(source, FailedDelivery):
        return "DeliveryFailed"
    return str(getattr(source, "event_type", type(source).__name__))


def render(source: Source, lang: Language, zone: str) -> Message:
    """Subject and text of `source` for a reader of `lang` in time zone `zone`."""
    key = template_key(source)
    if key not in TEMPLATES:
        raise KeyError(f"no template for {key}")
    subject, body = TEMPLATES[key][lang]
    ctx = _context(source, lang, zone)
    return Message(Template(subject).substitute(ctx), Template(body).substitute(ctx))


def webhook_body(notice: Notice, message: Message, subscription_id: int, lang: Language) -> bytes:
    """The JSON a webhook receives: the message in the subscriber's language and the event's data."""
    doc = {
        "event_id": str(notice.event_id),
        "event_type": notice.event_type,
        "occurred_at": notice.occurred_at.isoformat(),
        "claim_id": notice.claim_id,
        "kode_rs": notice.kode_rs,
        "subscription_id": subscription_id,
        "language": lang,
        "subject": message.subject,
        "text": message.text,
        "data": notice.data,
    }
    return json.dumps(doc, ensure_ascii=False, separators=(",", ":")).encode()


# --------------------------------------------------------------------------- contexts


def _context(source: Source, lang: Language, zone: str) -> Context:
    if isinstance(source, DeadLetterArrival):
        return _dead_letter(source, lang, zone)
    if isinstance(source, FailedDelivery):
        return _failed_delivery(source, lang, zone)
    builder = _BUILDERS.get(type(source))
    if builder is None:
        raise KeyError(f"no message for {type(source).__name__}")
    return {**_common(source, lang, zone), **builder(source, lang)}


def _common(event: Envelope, lang: Language, zone: str) -> Context:
    payload: Any = getattr(event, "payload", None)
    return {
        "claim_id": event.claim_id or "-",
        "occurred_at": format_instant(event.occurred_at, lang, zone),
        "kode_rs": str(getattr(payload, "kode_rs", "-")),
        "nomor_sep": str(getattr(payload, "nomor_sep", "-")),
    }


def _phrase(lang: Language, key: str, **values: object) -> str:
    return PHRASES[lang][key].format(**values)


def _day(d: date, lang: Language) -> str:
    return format_date(d, lang)


def _deadline(d: date, lang: Language) -> str:
    return format_date(d, lang, weekday=True)


def _rp(amount: int, lang: Language) -> str:
    return format_rupiah(amount, lang)


def _reasons(reasons: Sequence[Reason], lang: Language) -> str:
    lines = []
    for r in reasons:
        text = r.message_id if lang == "id" else r.message_en
        where = f"{r.code}, {r.field}" if r.field else r.code
        lines.append(f"- {text} [{where}]")
    return "\n".join(lines) or _phrase(lang, "none")


def _verification(seq: int, lang: Language) -> str:
    return _phrase(lang, "verification.main") if seq == 0 else _phrase(lang, "verification.supplementary", seq=seq)


def _pended(ev: Any, lang: Language) -> Context:
    p = ev.payload
    return {
        "submission": str(p.revision + 1),
        "pended_on": _day(p.pended_on, lang),
        "resubmit_by": _deadline(p.resubmit_by, lang),
        "missing": _reasons(p.missing, lang),
    }


def _rejected(ev: Any, lang: Language) -> Context:
    p = ev.payload
    return {
        "submission": str(p.revision + 1),
        "stage": _phrase(lang, f"stage.{p.stage}"),
        "rejected_on": _day(p.rejected_on, lang),
        "reasons": _reasons(p.reasons, lang),
    }


def _verified(ev: Any, lang: Language) -> Context:
    p: ClaimVerifiedPayload = ev.payload
    adjustments = [
        f"- {(a.reason.message_id if lang == 'id' else a.reason.message_en)}: -{_rp(a.amount, lang)} [{a.reason.code}]"
        for a in p.adjustments
    ]
    dispute = (
        _phrase(lang, "dispute.open", dispute_by=_deadline(p.dispute_by, lang))
        if p.dispute_by is not None
        else _phrase(lang, "dispute.closed")
    )
    return {
        "verification": _verification(p.verification_seq, lang),
        "verified_on": _day(p.verified_on, lang),
        "deemed": _phrase(lang, "deemed") if p.deemed_complete else "",
        "approved_amount": _rp(p.approved_amount, lang),
        "claimed_amount": _rp(p.claimed_amount, lang),
        "difference": _rp(p.claimed_amount - p.approved_amount, lang),
        "adjustments": "\n".join(adjustments) or _phrase(lang, "none"),
        "dispute": dispute,
    }


def _dispute_resolved(ev: Any, lang: Language) -> Context:
    p = ev.payload
    return {
        "outcome": _phrase(lang, f"outcome.{p.outcome}"),
        "resolved_on": _day(p.resolved_on, lang),
        "supplementary_amount": _rp(p.supplementary_amount, lang),
        "reviewer": p.reviewer,
        "note": p.note,
        "next_step": _phrase(lang, "next.paid" if p.supplementary_amount > 0 else "next.none"),
    }


def _paid(ev: Any, lang: Language) -> Context:
    p = ev.payload
    method = _phrase(lang, f"method.{p.penalty_method}")
    return {
        "approved_amount": _rp(p.approved_amount, lang),
        "penalty": _rp(p.penalty, lang),
        "total_paid": _rp(p.total_paid, lang),
        "paid_on": _day(p.paid_on, lang),
        "due_on": _day(p.due_on, lang),
        "lateness": _phrase(lang, "late", days=p.days_late, method=method) if p.days_late else _phrase(lang, "on_time"),
        "payment_id": p.payment_id,
        "payment_run_id": p.payment_run_id,
    }


def _reminder(ev: Any, lang: Language) -> Context:
    p = ev.payload
    return {
        "deadline_name": _phrase(lang, f"deadline.{p.deadline_kind}"),
        "deadline": _deadline(p.deadline, lang),
        "as_of": _day(p.as_of, lang),
        "working_days_left": str(p.working_days_left),
        "action": _phrase(lang, f"action.{p.deadline_kind}"),
    }


def _payment_due(ev: Any, lang: Language) -> Context:
    p = ev.payload
    return {
        "amount": _rp(p.amount, lang),
        "due_on": _deadline(p.due_on, lang),
        "as_of": _day(p.as_of, lang),
        "working_days_left": str(p.working_days_left),
        "verification": _verification(p.verification_seq, lang),
    }


def _overdue(ev: Any, lang: Language) -> Context:
    p = ev.payload
    return {
        "amount": _rp(p.amount, lang),
        "due_on": _day(p.due_on, lang),
        "as_of": _day(p.as_of, lang),
        "days_late": str(p.days_late),
        "accrued_penalty": _rp(p.accrued_penalty, lang),
        "penalty_method": _phrase(lang, f"method.{p.penalty_method}"),
        "verification": _verification(p.verification_seq, lang),
    }


_BUILDERS: dict[type[Envelope], Callable[[Any, Language], Context]] = {
    ClaimPended: _pended,
    ClaimRejected: _rejected,
    ClaimVerified: _verified,
    ClaimDisputeResolved: _dispute_resolved,
    ClaimPaid: _paid,
    ClaimDeadlineReminder: _reminder,
    PaymentDeadlineApproaching: _payment_due,
    PaymentOverdue: _overdue,
}

# The contract events the notifier tells people about.
HANDLED_EVENTS: tuple[type[Envelope], ...] = tuple(_BUILDERS)


def _one_line(text: str, limit: int = 300) -> str:
    flat = " ".join(text.split())
    return flat if len(flat) <= limit else flat[: limit - 1] + "…"


def _dead_letter(a: DeadLetterArrival, lang: Language, zone: str) -> Context:
    return {
        "claim_id": a.key or "-",
        "kode_rs": "-",
        "occurred_at": format_instant(a.received_at, lang, zone),
        "topic": a.topic,
        "partition": str(a.partition),
        "offset": str(a.offset),
        "error": a.header("dlq.error"),
        "reason": _one_line(a.header("dlq.reason"), 1000),
        "consumer": a.header("dlq.consumer"),
        "source_topic": a.header("dlq.source.topic"),
        "source_partition": a.header("dlq.source.partition"),
        "source_offset": a.header("dlq.source.offset"),
        "key": a.key or "-",
        "preview": _one_line(a.value_preview) or _phrase(lang, "none"),
    }


def _failed_delivery(f: FailedDelivery, lang: Language, zone: str) -> Context:
    return {
        "claim_id": f.claim_id or "-",
        "kode_rs": f.kode_rs or "-",
        "occurred_at": format_instant(f.failed_at, lang, zone) if f.failed_at else "-",
        "event_type": f.event_type,
        "receiver": f.receiver,
        "delivery_id": str(f.delivery_id),
        "channel": f.channel,
        "subscription_id": str(f.subscription_id),
        "attempts": str(f.attempts),
        "last_error": _one_line(f.last_error, 500) or "-",
    }
