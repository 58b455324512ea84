"""The operations page: deadlines at risk, overdue payables with their penalty accruing, outbox backlog,
consumer lag, dead letters with redrive, and failed notifications.

Any signed-in operator may look; only an operator with the `operations` role may redrive (others get the
403 page naming it). A redrive is recorded under the operator's id in `ops.dlq_redrives`, the
same audit `claimsctl dlq redrive --by` writes (shared/dlq.py), and each letter is redriven at most once.
"""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Depends, Form, Request
from starlette.responses import HTMLResponse

from services.console.application.operations import Where, operations_view, redrive
from services.console.domain import operations
from services.console.entrypoints.session import SignedIn, current_operator, render, require_role
from shared.calendar import get_calendar
from shared.clock import get_clock

router = APIRouter()
# The role that may act on the page (shared/operators.py ROLES; it signs no command).
OPERATIONS_ROLE = "operations"


def where(request: Request) -> Where:
    """The running console's broker, database and settings; the services whose data the page shows."""
    from shared.runtime import resolve_endpoints
    from shared.services import SERVICES
    from shared.settings import get_settings

    runtime = getattr(request.app.state, "runtime", None)
    if runtime is not None:
        settings, bootstrap, dsn = runtime.settings, runtime.bootstrap, runtime.dsn
        console = [runtime.spec]
    else:
        settings = get_settings()
        bootstrap, dsn = resolve_endpoints(settings)
        console = []
    # The running console's own spec (its schema and groups as it runs) in place of the one in the table.
    others = [s for s in SERVICES() if s.name not in {c.name for c in console}]
    return Where(settings, bootstrap, dsn, [*others, *console])


def no_break(text: str) -> str:
    """`Rp 38.940.000` kept on one line in a narrow column (a no-break space)."""
    return text.replace(" ", "\u00a0")


def _language(operator: SignedIn) -> str:
    return operator.language if operator.language in ("id", "en") else "id"


async def _page(request: Request, operator: SignedIn, days: int, extra: dict[str, Any]) -> HTMLResponse:
    language = _language(operator)
    async with request.app.state.pool().acquire() as conn:
        view = await operations_view(conn, where(request), get_calendar(), get_clock().today(), days)
    return render(request, "operations.html", {
        "view": view, "days": days, "language": language,
        "l": lambda key, **values: operations.label(key, language, **values), "nb": no_break,
        "may_redrive": operator.has(OPERATIONS_ROLE), **extra,
    })  # fmt: skip


@router.get("/operations")
async def operations_page(
    request: Request, operator: Annotated[SignedIn, Depends(current_operator)], days: str = ""
) -> HTMLResponse:
    horizon = int(days) if days.strip().isdigit() and int(days) <= 60 else operations.DEFAULT_HORIZON_WORKING_DAYS
    return await _page(request, operator, horizon, {})


@router.post("/operations/dlq/redrive")
async def redrive_letter(
    request: Request, operator: Annotated[SignedIn, Depends(require_role(OPERATIONS_ROLE))],
    letter_id: Annotated[str, Form()] = "",
) -> HTMLResponse:  # fmt: skip
    op = await redrive(where(request), [letter_id], operator.operator_id)
    outcomes = [(o.letter.id, o.outcome, o.detail) for o in op.outcomes] or [(letter_id, "skipped", "not found")]
    return await _page(request, operator, operations.DEFAULT_HORIZON_WORKING_DAYS, {"redrive": outcomes})
