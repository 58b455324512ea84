"""The analytics pages: each report as a table with its chart, and the table as CSV and the chart as PNG/SVG
to download. Read from the console's own read model (pre-aggregated: a page reads a few thousand rows).

Any signed-in operator may read them; the language is the operator's (a download may ask for the other with
`?lang=`), rupiah are written the Indonesian way.
"""

from __future__ import annotations

import asyncio
from datetime import date
from typing import Annotated, Any
from urllib.parse import urlencode

from fastapi import APIRouter, Depends, Request
from starlette.responses import HTMLResponse, Response

from services.console.adapters.analytics_queries import months
from services.console.application.analytics import build_report, render_chart, title, to_csv
from services.console.domain import analytics
from services.console.entrypoints.session import SignedIn, current_operator, render

router = APIRouter()
PAGE_ROWS = 200  # a page shows the first rows (the widest gaps, the lowest KBK); CSV and charts have all
NBSP = "\u00a0"
CONTENT_TYPES = {"csv": "text/csv; charset=utf-8", "png": "image/png", "svg": "image/svg+xml"}


def _pool(request: Request) -> Any:
    return request.app.state.pool()


def _month(text: str) -> date | None:
    try:
        return analytics.parse_month(text.strip() or None)
    except ValueError:
        return None  # a month that does not parse shows every month, and the selector says so


def _language(operator: SignedIn, asked: str) -> str:
    return asked if asked in ("id", "en") else operator.language if operator.language in ("id", "en") else "id"


def _known(kind: str) -> str:
    if kind not in analytics.REPORTS:
        from fastapi import HTTPException

        raise HTTPException(404, f"no report {kind}")
    return kind


@router.get("/analytics")
async def analytics_index(
    request: Request, operator: Annotated[SignedIn, Depends(current_operator)], month: str | None = None
) -> HTMLResponse:
    """Every report's chart for one month (without `month` the latest with claims; `month=` every month)."""
    async with _pool(request).acquire() as conn:
        available = await months(conn)
    at = _month(month) if month is not None else (available[0] if available else None)
    language = _language(operator, "")
    reports = [(kind, analytics.label(kind, language)) for kind in analytics.REPORTS]
    return render(request, "analytics.html", {
        "reports": reports, "months": available, "month": f"{at:%Y-%m}" if at else "", "language": language,
        "l": lambda key: analytics.label(key, language),
    })  # fmt: skip


async def _download(request: Request, kind: str, fmt: str, operator: SignedIn, month: str, hospital: str,
                    lang: str) -> Response:  # fmt: skip
    kind = _known(kind)
    language = _language(operator, lang)
    at = _month(month)
    async with _pool(request).acquire() as conn:
        report = await build_report(kind, conn, at, hospital.strip() or None, limit=None if fmt == "csv" else PAGE_ROWS)
    if fmt == "csv":
        body = to_csv(report, language).encode()
    else:  # drawn in a worker thread: the event loop keeps serving other pages meanwhile
        body = await asyncio.to_thread(render_chart, report, language, "png" if fmt == "png" else "svg")
    name = f"{kind}-{at:%Y-%m}" if at else kind
    return Response(body, media_type=CONTENT_TYPES[fmt], headers={
        "Content-Disposition": f'attachment; filename="{name}.{fmt}"' if fmt != "svg" else "inline",
        "X-Content-Type-Options": "nosniff", "Cache-Control": "no-store",
        "Content-Security-Policy": "default-src 'none'; style-src 'unsafe-inline'",  # an SVG runs nothing
    })  # fmt: skip


@router.get("/analytics/{kind}.csv")
async def analytics_csv(request: Request, kind: str, operator: Annotated[SignedIn, Depends(current_operator)],
                        month: str = "", hospital: str = "", lang: str = "") -> Response:  # fmt: skip
    return await _download(request, kind, "csv", operator, month, hospital, lang)


@router.get("/analytics/{kind}.png")
async def analytics_png(request: Request, kind: str, operator: Annotated[SignedIn, Depends(current_operator)],
                        month: str = "", hospital: str = "", lang: str = "") -> Response:  # fmt: skip
    return await _download(request, kind, "png", operator, month, hospital, lang)


@router.get("/analytics/{kind}.svg")
async def analytics_svg(request: Request, kind: str, operator: Annotated[SignedIn, Depends(current_operator)],
                        month: str = "", hospital: str = "", lang: str = "") -> Response:  # fmt: skip
    return await _download(request, kind, "svg", operator, month, hospital, lang)


# Last: a path ending .csv/.png/.svg is a download above, not a report named so.
@router.get("/analytics/{kind}")
async def analytics_report(
    request: Request, kind: str, operator: Annotated[SignedIn, Depends(current_operator)],
    month: str | None = None, hospital: str = "",
) -> HTMLResponse:  # fmt: skip
    """A report; without `month` the latest month with claims (`month=` empty: every month)."""
    kind = _known(kind)
    language = _language(operator, "")
    async with _pool(request).acquire() as conn:
        available = await months(conn)
        at = _month(month) if month is not None else (available[0] if available else None)
        report = await build_report(kind, conn, at, hospital.strip() or None, limit=PAGE_ROWS)
    query = urlencode({k: v for k, v in (("month", f"{at:%Y-%m}" if at else ""), ("hospital", hospital.strip()),
                                          ("lang", language)) if v})  # fmt: skip
    # A no-break space keeps `Rp 38.940.000` and `4,5 %` on one line in a narrow column.
    rows = [[analytics.cell(v, c.kind, language).replace(" ", NBSP) if c.kind in ("rupiah", "percent")
             else analytics.cell(v, c.kind, language) for v, c in zip(row, report.columns, strict=True)]
            for row in report.rows]  # fmt: skip
    return render(request, "analytics_report.html", {
        "kind": kind, "title": title(report, language), "report": report, "rows": rows,
        "headers": [(analytics.label(c.key, language), c.kind) for c in report.columns],
        "months": available, "month": f"{at:%Y-%m}" if at else "", "hospital": hospital.strip(), "query": query,
        "claims_report": kind in ("tariff-gap", "top-diagnoses", "pending-rate"), "language": language,
        "l": lambda key: analytics.label(key, language), "page_rows": PAGE_ROWS,
    })  # fmt: skip
