"""The sign-in form's pre-session CSRF token: a forged sign-in (login CSRF) is refused before any account is read.

The console's real app on a runtime that was never started: the refusal must come before the database, and a
post with the form's own token gets past it (to the database, which is not there: "the console is not started").
"""

from __future__ import annotations

import re
from types import SimpleNamespace
from typing import Any

import pytest
from fastapi.testclient import TestClient
from pydantic import SecretStr

from services.console.entrypoints.http import LOGIN_CSRF_COOKIE, create_app
from services.console.settings import ConsoleSettings
from shared.sealing import new_key

REFUSED = "Formulir kedaluwarsa atau bukan dari konsol ini; muat ulang halaman."  # the default language
FORM = {"operator_id": "ops.rina", "password": "a-password", "next": "/review"}


@pytest.fixture
def client() -> TestClient:
    runtime: Any = SimpleNamespace(
        settings=SimpleNamespace(operators=SimpleNamespace(registry_file=None)),
        dsn="postgresql://console@localhost/jkn",
        spec=SimpleNamespace(schema="console"),
        ctx=None,  # never started: reaching the accounts would fail loudly
    )
    app = create_app(runtime, ConsoleSettings(secrets_key=SecretStr(new_key())))
    return TestClient(app, base_url="https://console")


def form_token(html: str) -> str:
    found = re.search(r'name="csrf_token" value="([^"]+)"', html)
    assert found is not None, html
    return found.group(1)


def test_the_sign_in_form_carries_the_token_its_cookie_holds(client: TestClient) -> None:
    page = client.get("/login")
    assert page.status_code == 200
    assert form_token(page.text) == page.cookies[LOGIN_CSRF_COOKIE]
    assert len(form_token(page.text)) == 43  # 32 random bytes
    assert form_token(client.get("/login").text) == page.cookies[LOGIN_CSRF_COOKIE]  # the same while it lasts


def test_a_sign_in_post_without_the_token_is_refused(client: TestClient) -> None:
    refused = client.post("/login", data=FORM)
    assert refused.status_code == 403
    assert REFUSED in refused.text
    assert "console_session" not in refused.cookies


def test_a_sign_in_post_with_a_token_other_than_its_cookies_is_refused(client: TestClient) -> None:
    client.get("/login")  # the cookie is set
    refused = client.post("/login", data={**FORM, "csrf_token": "forged-by-another-site"})
    assert (refused.status_code, REFUSED in refused.text) == (403, True)
    fresh = TestClient(client.app, base_url="https://console")  # a token, without the cookie it came with
    stolen = fresh.post("/login", data={**FORM, "csrf_token": form_token(client.get("/login").text)})
    assert (stolen.status_code, REFUSED in stolen.text) == (403, True)


def test_a_sign_in_post_with_the_forms_token_goes_on_to_the_accounts(client: TestClient) -> None:
    token = form_token(client.get("/login").text)
    with pytest.raises(AssertionError, match="the console is not started"):
        client.post("/login", data={**FORM, "csrf_token": token})
