"""Who is signed in, what they may open, and how every page is rendered.

The session cookie holds a random token (HttpOnly, SameSite=Strict, Secure unless CONSOLE_SECURE_COOKIES is
off); the console's `sessions` table holds only its SHA-256, the operator, the language and the session's
CSRF token. Every request that is not GET/HEAD must carry that token (a form field `csrf_token` or the
header `X-CSRF-Token`), checked here before any page code runs. Roles come from the operator registry
(OPERATORS_REGISTRY_FILE), read when the session is used, so a role taken away takes effect at once.

For the console's pages (and the analytics and operations pages mounted beside them):
- `current_operator`: a FastAPI dependency giving the `SignedIn` operator (else a redirect to /login);
- `require_role(*roles)`: a dependency that also needs one of the roles (else a 403 page naming them);
- `render(request, template, context)`: the page, with `t` (texts in the operator's language), the filters
  `rupiah` and `local_time`, `csrf_token` and `operator` in its context.
"""

from __future__ import annotations

import hashlib
import hmac
import json
from collections.abc import Awaitable, Callable, Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any
from urllib.parse import quote

from fastapi import Depends, FastAPI, Request
from jinja2 import Environment, FileSystemLoader, pass_context, select_autoescape
from jinja2.runtime import Context
from starlette.responses import HTMLResponse, RedirectResponse, Response

from services.console.domain.formatting import local_time as format_local_time
from services.console.domain.formatting import rupiah, zone_of
from services.console.domain.i18n import DEFAULT_LANGUAGE, translate
from shared.operators import Registry, load_registry, registry_path

COOKIE = "console_session"
TEMPLATES = Path(__file__).resolve().parents[1] / "templates"
SAFE_METHODS = frozenset({"GET", "HEAD", "OPTIONS"})


@dataclass(frozen=True)
class SignedIn:
    """The operator behind a request: their registry roles and the session's language and CSRF token."""

    operator_id: str
    roles: tuple[str, ...]
    language: str = DEFAULT_LANGUAGE
    name: str = ""
    csrf_token: str = field(default="", repr=False)
    token_hash: bytes = field(default=b"", repr=False)

    def has(self, *roles: str) -> bool:
        return bool(set(roles) & set(self.roles))


class SignInRequired(Exception):
    """No valid session: the page sends the browser to /login."""


class Forbidden(Exception):
    """Signed in, without any of the roles a page needs."""

    def __init__(self, needed: tuple[str, ...], operator: SignedIn) -> None:
        super().__init__(f"needs {' or '.join(needed)}")
        self.needed = needed
        self.operator = operator


class CsrfRefused(Exception):
    """A form post without this session's CSRF token."""


def token_hash(token: str) -> bytes:
    return hashlib.sha256(token.encode()).digest()


@dataclass
class ConsoleEnv:
    """What the pages share, set on `app.state.console` by create_app."""

    templates: Environment
    registry_file: Path | None
    zones: Mapping[str, str]
    session_lookup: Callable[[bytes, datetime], Awaitable[Any]]

    def registry(self) -> Registry:
        return load_registry(registry_path(self.registry_file))


def templates_environment() -> Environment:
    """Jinja with autoescape on for every template: what hospitals wrote is text on the page, never markup."""
    env = Environment(
        loader=FileSystemLoader(TEMPLATES),
        autoescape=select_autoescape(default=True, default_for_string=True),
        trim_blocks=True,
        lstrip_blocks=True,
    )
    env.filters["rupiah"] = rupiah
    env.filters["local_time"] = _local_time
    env.filters["pretty_json"] = pretty_json
    return env


def pretty_json(value: Any) -> str:
    """A timeline entry's detail as readable JSON; the page escapes it like any other text."""
    return json.dumps(value, ensure_ascii=False, indent=1, sort_keys=True, default=str)


@pass_context
def _local_time(ctx: Context, value: Any, kode_rs: str | None = None) -> str:
    """`{{ at | local_time(kode_rs) }}`: in the hospital's zone (WIB when it has none), the page's language."""
    zones: Mapping[str, str] = ctx.get("zones", {})
    return format_local_time(value, zone_of(kode_rs, zones), ctx.get("language", DEFAULT_LANGUAGE))


def console_env(request: Request) -> ConsoleEnv:
    env: ConsoleEnv = request.app.state.console
    return env


def registry_roles(env: ConsoleEnv, operator_id: str) -> tuple[tuple[str, ...], str]:
    """(roles, name) of the operator in the registry; no roles when the registry no longer lists them."""
    try:
        registry = env.registry()
    except (OSError, ValueError):
        return (), operator_id
    op = next((o for o in registry.operators if o.id == operator_id), None)
    return (tuple(op.roles), op.name) if op is not None else ((), operator_id)


async def current_operator(request: Request) -> SignedIn:
    """The signed-in operator; a form post must also carry the session's CSRF token."""
    cached = getattr(request.state, "operator", None)
    if isinstance(cached, SignedIn) and getattr(request.state, "csrf_checked", False):
        return cached
    token = request.cookies.get(COOKIE)
    if not token:
        raise SignInRequired
    env = console_env(request)
    hashed = token_hash(token)
    row = await env.session_lookup(hashed, datetime.now(UTC))
    if row is None:
        raise SignInRequired
    roles, name = registry_roles(env, row.operator_id)
    operator = SignedIn(row.operator_id, roles, row.language, name, row.csrf_token, hashed)
    request.state.operator = operator  # pages (the CSRF refusal too) speak the operator's language
    if request.method not in SAFE_METHODS:
        sent = request.headers.get("x-csrf-token")
        if sent is None:
            form = await request.form()  # Starlette keeps the parsed form: the endpoint's Form(...) still sees it
            value = form.get("csrf_token")
            sent = value if isinstance(value, str) else None
        if not sent or not hmac.compare_digest(sent, operator.csrf_token):
            raise CsrfRefused
    request.state.csrf_checked = True
    return operator


def require_role(*roles: str) -> Callable[..., Awaitable[SignedIn]]:
    """A dependency: the signed-in operator, who must hold one of `roles` (else a 403 page naming them)."""

    async def dependency(operator: SignedIn = Depends(current_operator)) -> SignedIn:  # noqa: B008
        if not operator.has(*roles):
            raise Forbidden(roles, operator)
        return operator

    return dependency


def render(request: Request, template_name: str, context: Mapping[str, Any], status_code: int = 200) -> HTMLResponse:
    """The page: `context` plus `t`, `language`, `csrf_token`, `operator`, `zones` and `request`."""
    env = console_env(request)
    operator: SignedIn | None = getattr(request.state, "operator", None)
    language = operator.language if operator else request.cookies.get("console_lang", DEFAULT_LANGUAGE)
    if language not in ("id", "en"):
        language = DEFAULT_LANGUAGE

    def t(key: str, **values: object) -> str:
        return translate(language, key, **values)

    full = {"request": request, "t": t, "language": language, "operator": operator, "zones": env.zones,
            "csrf_token": operator.csrf_token if operator else "", "path": request.url.path, **context}  # fmt: skip
    html = env.templates.get_template(template_name).render(full)
    return HTMLResponse(html, status_code, headers=SECURITY_HEADERS)


# No script or style from anywhere but the console itself (htmx is served from /static), no framing.
SECURITY_HEADERS = {
    "Content-Security-Policy": "default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self' data:; "
    "frame-ancestors 'none'; form-action 'self'; base-uri 'none'",
    "X-Content-Type-Options": "nosniff",
    "Referrer-Policy": "same-origin",
    "Cache-Control": "no-store",
}


def sign_in_redirect(request: Request) -> Response:
    """To /login, coming back here afterwards (htmx follows HX-Redirect instead of swapping the login page in)."""
    target = "/login?next=" + quote(request.url.path + (f"?{request.url.query}" if request.url.query else ""))
    if request.headers.get("hx-request"):
        return Response(status_code=204, headers={"HX-Redirect": target})
    return RedirectResponse(target, status_code=303)


def forbidden_page(request: Request, exc: Forbidden) -> HTMLResponse:
    request.state.operator = exc.operator
    return render(request, "forbidden.html", {"needed": exc.needed, "held": exc.operator.roles}, 403)


def csrf_page(request: Request) -> HTMLResponse:
    return render(request, "forbidden.html", {"csrf": True, "needed": (), "held": ()}, 403)


def install(app: FastAPI, env: ConsoleEnv, on_forbidden: Callable[[], None] = lambda: None) -> None:
    """Give `app` the console's environment and its answers: to /login, the 403 page, the CSRF refusal."""
    app.state.console = env

    async def to_sign_in(request: Request, exc: Exception) -> Response:
        return sign_in_redirect(request)

    async def forbidden(request: Request, exc: Exception) -> Response:
        assert isinstance(exc, Forbidden)
        on_forbidden()
        return forbidden_page(request, exc)

    async def csrf(request: Request, exc: Exception) -> Response:
        return csrf_page(request)

    app.add_exception_handler(SignInRequired, to_sign_in)
    app.add_exception_handler(Forbidden, forbidden)
    app.add_exception_handler(CsrfRefused, csrf)
