"""Analytics use cases: the projection (one batch handler per event type, folding claim facts, payables,
payments and capitation into the read model) and the reports built from it (table, CSV, chart).

The handlers read what a run needs with one query (the unit of work's identity map) and leave every write to
the unit of work's flush, so a batch costs a constant number of statements whatever its size.
"""

from __future__ import annotations

import csv
import io
from collections.abc import Awaitable, Callable, Sequence
from datetime import date, timedelta
from functools import lru_cache
from typing import Any, Literal

from services.console.adapters import analytics_queries as queries
from services.console.adapters.analytics_read_model import (
    AnalyticsUnitOfWork,
    Capitation,
    OverduePayable,
    Payment,
    VerifiedPayable,
)
from services.console.domain import analytics
from services.console.domain.analytics import ClaimFacts, Report, label
from shared.application import Application, BatchHandler
from shared.calendar import WorkingCalendar
from shared.db import Conn
from shared.events import (
    CapitationPaid,
    ClaimDisputeResolved,
    ClaimGrouped,
    ClaimPaid,
    ClaimPended,
    ClaimRejected,
    ClaimSubmitted,
    ClaimVerified,
    Envelope,
    PaymentOverdue,
)
from shared.outbox import Tx
from shared.settings import PolicySettings

Fold = Callable[[ClaimFacts, Any], ClaimFacts]


def _folding(fold: Fold) -> Callable[[AnalyticsUnitOfWork, Sequence[Any]], Awaitable[None]]:
    """A batch handler applying `fold` to each event's claim facts, in order."""

    async def handle(uow: AnalyticsUnitOfWork, events: Sequence[Any]) -> None:
        facts = await uow.claims.load(e.claim_id for e in events)
        for event in events:
            facts[event.claim_id] = fold(facts[event.claim_id], event)
            uow.claims.put(facts[event.claim_id])

    return handle


class Projection:
    """The folds, with the deadlines the read model computes (completeness window, payment due date)."""

    def __init__(self, calendar: WorkingCalendar, policy: PolicySettings) -> None:
        self.calendar = calendar
        self.policy = policy

    def deemed_complete_on(self, submitted_on: date) -> date:
        # Peraturan BPJS 7/2018 Art. 30, as the verifier counts it (POLICY_COMPLETENESS_DAYS and its unit).
        return self.calendar.add_days(submitted_on, self.policy.completeness_days, self.policy.completeness_day_unit)

    def due_on(self, verified_on: date) -> date:
        # Perpres 19/2016 Art. 38: POLICY_PAYMENT_DAYS after the file is complete; the payments service's own
        # date (on PaymentOverdue, ClaimPaid) replaces it, e.g. a supplementary amount due on the original date.
        return self.calendar.add_days(verified_on, self.policy.payment_days, self.policy.payment_day_unit)

    def submitted(self, f: ClaimFacts, e: ClaimSubmitted) -> ClaimFacts:
        c = e.payload.claim
        return analytics.submitted(f, e.payload.revision, c.kode_rs, c.tgl_pulang)

    def grouped(self, f: ClaimFacts, e: ClaimGrouped) -> ClaimFacts:
        p, c, g = e.payload, e.payload.claim, e.payload.grouping
        return analytics.grouped(
            f, p.revision, c.kode_rs, c.tgl_pulang, cbg_code=g.cbg_code, diagnoses=c.diagnosa,
            tarif_rs=g.tarif_rs_total, grouped_tarif=g.total_tarif, submitted_on=p.submitted_on,
            deemed_complete_on=self.deemed_complete_on(p.submitted_on),
        )  # fmt: skip

    @staticmethod
    def pended(f: ClaimFacts, e: ClaimPended) -> ClaimFacts:
        return analytics.pended(f, e.payload.revision, e.payload.kode_rs, e.payload.resubmit_by)

    @staticmethod
    def rejected(f: ClaimFacts, e: ClaimRejected) -> ClaimFacts:
        p = e.payload
        return analytics.rejected(f, p.revision, p.kode_rs, refusal=p.refusal, stage=p.stage)

    @staticmethod
    def verified(f: ClaimFacts, e: ClaimVerified) -> ClaimFacts:
        p = e.payload
        return analytics.verified(f, p.revision, p.kode_rs, p.verification_seq, p.verified_on, p.approved_amount)

    @staticmethod
    def dispute_resolved(f: ClaimFacts, e: ClaimDisputeResolved) -> ClaimFacts:
        return analytics.dispute_resolved(f, e.payload.kode_rs)

    @staticmethod
    def paid(f: ClaimFacts, e: ClaimPaid) -> ClaimFacts:
        return analytics.paid(f, e.payload.kode_rs)

    async def on_verified(self, uow: AnalyticsUnitOfWork, events: Sequence[ClaimVerified]) -> None:
        await _folding(self.verified)(uow, events)
        for e in events:
            p = e.payload
            uow.payables.add_verified(VerifiedPayable(
                e.claim_id, p.verification_seq, p.kode_rs, p.approved_amount, p.verified_on, self.due_on(p.verified_on)
            ))  # fmt: skip

    async def on_paid(self, uow: AnalyticsUnitOfWork, events: Sequence[ClaimPaid]) -> None:
        await _folding(self.paid)(uow, events)
        for e in events:
            p = e.payload
            uow.payables.add_paid(Payment(
                e.claim_id, p.verification_seq, p.kode_rs, p.approved_amount, p.penalty, p.total_paid, p.due_on,
                p.paid_on, p.days_late, p.payment_id,
            ))  # fmt: skip

    @staticmethod
    async def on_overdue(uow: AnalyticsUnitOfWork, events: Sequence[PaymentOverdue]) -> None:
        for e in events:
            p = e.payload
            uow.payables.add_overdue(OverduePayable(
                e.claim_id, p.verification_seq, p.kode_rs, p.amount, p.due_on, p.as_of, p.days_late,
                p.accrued_penalty,
            ))  # fmt: skip

    @staticmethod
    async def on_capitation(uow: AnalyticsUnitOfWork, events: Sequence[CapitationPaid]) -> None:
        for e in events:
            p = e.payload
            uow.capitation.add(Capitation(
                analytics.parse_month(p.month) or date.min, p.kode_faskes, p.facility_type, p.ownership,
                p.registered_members, p.rate, p.base_amount, p.kbk_score, p.kbk_percentage, p.amount, p.due_on,
                p.run_id,
            ))  # fmt: skip


async def take_claim_locks(tx: Tx, events: Sequence[Envelope]) -> None:
    """The batch's claim locks, in key order, before any handler runs (capitation events have no claim)."""
    await AnalyticsUnitOfWork(tx).lock_claims(
        e.claim_id for e in events if e.claim_id is not None and not isinstance(e, CapitationPaid)
    )


def application(calendar: WorkingCalendar, policy: PolicySettings) -> Application[AnalyticsUnitOfWork]:
    """The analytics consumer's use cases, one per event type it consumes."""
    p = Projection(calendar, policy)
    handlers: dict[type[Envelope], BatchHandler[AnalyticsUnitOfWork]] = {
        ClaimSubmitted: _folding(p.submitted),
        ClaimGrouped: _folding(p.grouped),
        ClaimPended: _folding(p.pended),
        ClaimRejected: _folding(p.rejected),
        ClaimVerified: p.on_verified,
        ClaimDisputeResolved: _folding(p.dispute_resolved),
        ClaimPaid: p.on_paid,
        PaymentOverdue: p.on_overdue,
        CapitationPaid: p.on_capitation,
    }
    return Application("console-analytics", handlers, AnalyticsUnitOfWork, prepare=take_claim_locks)


# --------------------------------------------------------------------------- reports


async def build_report(
    kind: str, conn: Conn, month: date | None, hospital: str | None = None, limit: int | None = None
) -> Report:
    """One report from the read model (`kind` one of analytics.REPORTS); `hospital` narrows the claim reports;
    `limit` keeps the first rows of the long ones (tariff gap, capitation) for a page, the files get all."""
    if kind == "tariff-gap":
        return analytics.tariff_gap_report(await queries.tariff_gap(conn, month, hospital, limit), month)
    if kind == "top-diagnoses":
        return analytics.top_diagnoses_report(await queries.top_diagnoses(conn, month, hospital), month)
    if kind == "pending-rate":
        return analytics.pending_rate_report(await queries.pending_rate(conn, month, hospital), month)
    if kind == "payments-timeliness":
        return analytics.payments_report(await queries.payment_months(conn, month), month)
    if kind == "capitation":
        return analytics.capitation_report(await queries.capitation(conn, month, limit), month)
    raise ValueError(f"no report {kind!r} (known: {', '.join(analytics.REPORTS)})")


def title(report: Report, language: str) -> str:
    when = f"{report.month:%Y-%m}" if report.month else label("all_months", language)
    return f"{label(report.kind, language)} · {when}"


def to_csv(report: Report, language: str) -> str:
    """The table with headers in `language`; values raw (rupiah as integers, shares as fractions)."""
    out = io.StringIO()
    writer = csv.writer(out, lineterminator="\n")
    writer.writerow([label(c.key, language) for c in report.columns])
    for row in report.rows:
        writer.writerow([_raw(v, c.kind) for v, c in zip(row, report.columns, strict=True)])
    return out.getvalue()


def _raw(value: object, kind: str) -> str:
    if value is None:
        return ""
    if kind == "month" and isinstance(value, date):
        return f"{value:%Y-%m}"
    if kind == "percent" and isinstance(value, float):
        return f"{value:.4f}"
    if kind == "bool":
        return "1" if value else "0"
    return str(value)


def render_chart(report: Report, language: str, fmt: Literal["png", "svg"]) -> bytes:
    """The report's chart, server-side with matplotlib's Agg backend (no display, no browser).

    A Figure of its own (no pyplot state), so pages may draw in worker threads; the same figures again (a
    report is a frozen value) are served from the cache instead of drawn twice.
    """
    return _draw(report, language, fmt)


@lru_cache(maxsize=64)
def _draw(report: Report, language: str, fmt: str) -> bytes:
    import matplotlib

    # SVG text as text, not glyph outlines: a tenth of the size and time, and readable by screen readers.
    matplotlib.rcParams["svg.fonttype"] = "none"
    from matplotlib.figure import Figure
    from matplotlib.ticker import FuncFormatter

    chart = report.chart
    fig = Figure(figsize=(9, 5), dpi=100)
    ax = fig.subplots()
    if not chart.categories:
        ax.text(0.5, 0.5, label("no_data", language), ha="center", va="center", transform=ax.transAxes)
        ax.set_axis_off()
    else:
        positions = list(range(len(chart.categories)))
        width = 0.8 / max(len(chart.series), 1)
        for i, (key, values) in enumerate(chart.series):
            at = [p + (i - (len(chart.series) - 1) / 2) * width for p in positions]
            if chart.horizontal:
                ax.barh(at, values, height=width, label=label(key, language), color="#1f6f8b")
            else:
                ax.bar(at, values, width=width, label=label(key, language), color="#1f6f8b")
        value_axis = ax.xaxis if chart.horizontal else ax.yaxis
        if chart.y_label == "rupiah":
            value_axis.set_major_formatter(FuncFormatter(lambda v, _: analytics.compact_rupiah(v, language)))
        else:
            value_axis.set_major_formatter(FuncFormatter(lambda v, _: analytics.percent(v / 100, language)))
        if chart.horizontal:
            ax.set_yticks(positions, chart.categories, fontsize=8)
            ax.invert_yaxis()
        else:
            ax.set_xticks(positions, chart.categories, rotation=45, ha="right", fontsize=8)
        if chart.target is not None:
            ax.axhline(chart.target, color="#c0392b", linestyle="--", label=label("target", language))
            ax.legend(loc="upper right")
        ax.grid(axis="x" if chart.horizontal else "y", alpha=0.3)
    ax.set_title(title(report, language), fontsize=11)
    fig.tight_layout()
    buffer = io.BytesIO()
    fig.savefig(buffer, format=fmt, metadata={"Date": None} if fmt == "svg" else None)
    return buffer.getvalue()


def default_month(today: date) -> date:
    """The month a report opens on: the previous one (the last month hospitals have finished submitting)."""
    return (today.replace(day=1) - timedelta(days=1)).replace(day=1)
