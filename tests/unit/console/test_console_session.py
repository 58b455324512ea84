"""The session layer every console page uses: sign-in redirect, CSRF on posts, 403 naming the role, escaping.

A tiny app with the console's `install`, a session table in memory and a registry file of two operators.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Annotated, Any

import pytest
from fastapi import Depends, FastAPI, Request
from fastapi.testclient import TestClient
from starlette.responses import HTMLResponse

from services.console.adapters.repository import SessionRow
from services.console.entrypoints.session import (
    COOKIE,
    ConsoleEnv,
    SignedIn,
    install,
    render,
    require_role,
    templates_environment,
    token_hash,
)
from shared.operators import Operator, render_registry

SESSIONS = {
    token_hash("reviewer-token"): SessionRow("ops.rina", "csrf-rina", "id", datetime.now(UTC) + timedelta(hours=1)),
    token_hash("finance-token"): SessionRow("ops.budi", "csrf-budi", "en", datetime.now(UTC) + timedelta(hours=1)),
    token_hash("old-token"): SessionRow("ops.budi", "csrf-old", "en", datetime.now(UTC) - timedelta(hours=1)),
}


@pytest.fixture
def client(tmp_path: Path) -> TestClient:
    registry = tmp_path / "operators.toml"
    registry.write_text(render_registry("t", "", [
        Operator(id="ops.rina", name="Rina", roles=("reviewer",)),
        Operator(id="ops.budi", name="Budi", roles=("finance_approver",)),
    ]))  # fmt: skip

    async def lookup(hashed: bytes, now: datetime) -> Any:
        row = SESSIONS.get(hashed)
        return row if row is not None and row.expires_at > now else None

    app = FastAPI()
    install(app, ConsoleEnv(templates_environment(), registry, {}, lookup))

    @app.get("/approvals")
    async def approvals(request: Request, op: Annotated[SignedIn, Depends(require_role("finance_approver"))]) -> str:
        return op.operator_id

    @app.post("/approve")
    async def approve(request: Request, op: Annotated[SignedIn, Depends(require_role("finance_approver"))]) -> str:
        return "approved by " + op.operator_id

    @app.get("/claim")
    async def claim(request: Request, op: Annotated[SignedIn, Depends(require_role("reviewer"))]) -> HTMLResponse:
        return render(request, "disputes.html", {"rows": [{
            "claim_id": "C-1", "nomor_sep": "S", "kode_rs": "0301R001", "disputed_on": "2026-12-01",
            "claimed_amount": 38_940_000, "approved_amount": 0, "requested_amount": None,
            "reason": '<script>alert("rs")</script>',
        }]})  # fmt: skip

    return TestClient(app, base_url="https://console.test", follow_redirects=False)


def test_no_session_goes_to_sign_in_and_comes_back(client: TestClient) -> None:
    response = client.get("/approvals?x=1")
    assert (response.status_code, response.headers["location"]) == (303, "/login?next=/approvals%3Fx%3D1")
    client.cookies.set(COOKIE, "old-token")
    assert client.get("/approvals").status_code == 303  # an expired session opens nothing


def test_a_page_without_the_role_is_403_naming_it(client: TestClient) -> None:
    client.cookies.set(COOKIE, "reviewer-token")
    response = client.get("/approvals")
    assert response.status_code == 403
    assert "Halaman ini memerlukan peran finance_approver. Peran Anda: reviewer." in response.text


def test_a_post_needs_the_sessions_csrf_token(client: TestClient) -> None:
    client.cookies.set(COOKIE, "finance-token")
    assert client.get("/approvals").text == '"ops.budi"'
    refused = client.post("/approve", data={"x": "1"})
    assert refused.status_code == 403
    assert "The form expired or did not come from this console" in refused.text
    assert client.post("/approve", data={"csrf_token": "csrf-rina"}).status_code == 403  # another session's
    assert client.post("/approve", data={"csrf_token": "csrf-budi"}).text == '"approved by ops.budi"'
    assert client.post("/approve", headers={"X-CSRF-Token": "csrf-budi"}).status_code == 200


def test_what_hospitals_wrote_is_escaped_and_no_script_may_run(client: TestClient) -> None:
    client.cookies.set(COOKIE, "reviewer-token")
    response = client.get("/claim")
    assert "&lt;script&gt;alert(&#34;rs&#34;)&lt;/script&gt;" in response.text
    assert '<script>alert("rs")' not in response.text
    assert "Rp 38.940.000" in response.text
    assert "script-src 'self'" in response.headers["content-security-policy"]
