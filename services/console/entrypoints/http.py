"""The console's web app (FastAPI), served beside the runtime's /health/live, /health/ready and /metrics.

Sign-in, sign-out and the language switch are here; the queues are in `pages.py`; the analytics and
operations pages, when this checkout has them, are mounted from their own modules.
"""

from __future__ import annotations

import hmac
import importlib
import secrets
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Annotated, Any
from urllib.parse import quote

from fastapi import APIRouter, FastAPI, Form, Request
from fastapi.staticfiles import StaticFiles
from starlette.responses import RedirectResponse, Response

from services.console.adapters.queues import Readers
from services.console.adapters.repository import SqlSessions
from services.console.adapters.sealing import secret_box
from services.console.adapters.unit_of_work import unit_of_work
from services.console.application.signin import SignInPolicy, sign_in
from services.console.domain.formatting import local_time, parse_zones
from services.console.domain.i18n import DEFAULT_LANGUAGE, LANGUAGES, translate
from services.console.entrypoints import pages
from services.console.entrypoints.session import (
    COOKIE,
    ConsoleEnv,
    SignedIn,
    SignInRequired,
    csrf_page,
    current_operator,
    install,
    render,
    templates_environment,
    token_hash,
)
from services.console.metrics import FORBIDDEN, SIGN_INS
from services.console.settings import ConsoleSettings, get_console_settings
from shared.runtime import ServiceRuntime

STATIC = Path(__file__).resolve().parents[1] / "static"
OPTIONAL_ROUTERS = ("services.console.entrypoints.analytics_pages", "services.console.entrypoints.operations_pages")
LANG_COOKIE = "console_lang"
# Before a session exists the sign-in form is guarded by a double-submit token: a random value in a cookie
# only this origin can set (SameSite=Strict, HttpOnly, on /login only) and the same value in the form; a post
# from another site can send the cookie at most, never read it to fill the field.
LOGIN_CSRF_COOKIE = "console_login_csrf"


def login_csrf_ok(cookie: str | None, sent: str) -> bool:
    """The form's token is the cookie's (compared in constant time); neither may be empty."""
    return bool(cookie) and bool(sent) and hmac.compare_digest(cookie or "", sent)


def optional_routers() -> list[APIRouter]:
    """The analytics and operations pages' routers, where this checkout has them."""
    found = []
    for name in OPTIONAL_ROUTERS:
        try:
            module = importlib.import_module(name)
        except ModuleNotFoundError as exc:
            if exc.name != name:
                raise  # the module exists but a dependency is missing: say so, never skip it quietly
            continue
        found.append(module.router)
    return found


def local_path(target: str | None, default: str = "/") -> str:
    """Only a path on this console (never `//host` or a URL): a sign-in cannot send the browser elsewhere."""
    if not target or not target.startswith("/") or target.startswith("//") or "\\" in target:
        return default
    return target


def create_app(runtime: ServiceRuntime, settings: ConsoleSettings | None = None) -> FastAPI:
    settings = settings or get_console_settings()
    box = secret_box(settings)  # no key, no console: it could not sign a single command

    async def session_lookup(hashed: bytes, now: datetime) -> Any:
        async with pool().acquire() as conn:
            return await SqlSessions(conn).get(hashed, now)

    def pool() -> Any:
        assert runtime.ctx is not None, "the console is not started"
        return runtime.ctx.pool

    app = FastAPI(title="JKN operator console", docs_url=None, redoc_url=None, openapi_url=None)
    env = ConsoleEnv(templates_environment(), runtime.settings.operators.registry_file,
                     parse_zones(settings.hospital_zones), session_lookup)  # fmt: skip
    install(app, env, on_forbidden=FORBIDDEN.inc)
    app.state.readers = Readers(runtime.dsn, settings.verifier_schema, settings.payments_schema)
    app.state.box = box
    app.state.settings = settings
    app.state.pool = pool
    app.state.schema = runtime.spec.schema
    app.state.runtime = runtime  # /operations reads this instance's broker and database, not the environment's
    app.mount("/static", StaticFiles(directory=STATIC), name="static")
    policy = SignInPolicy(settings.max_failed_sign_ins, timedelta(minutes=settings.lockout_minutes),
                          timedelta(hours=settings.session_hours))  # fmt: skip

    @app.get("/", response_model=None)
    async def home(request: Request) -> Response:
        try:
            operator = await current_operator(request)
        except SignInRequired:
            return RedirectResponse("/login", 303)
        return RedirectResponse(pages.home_of(operator), 303)

    @app.get("/login", response_model=None)
    async def login_page(request: Request, next: str = "/", lang: str | None = None) -> Response:
        if lang in LANGUAGES:
            response = RedirectResponse(f"/login?next={quote(local_path(next))}", 303)
            response.set_cookie(LANG_COOKIE, lang, httponly=True, samesite="strict", secure=settings.secure_cookies)
            return response
        return login_form(request, {"next": local_path(next), "operator_id": "", "message": ""})

    def login_form(request: Request, context: dict[str, Any], status_code: int = 200) -> Response:
        """The sign-in form with its pre-session CSRF token (the cookie's, or a new one set with it)."""
        token = request.cookies.get(LOGIN_CSRF_COOKIE) or secrets.token_urlsafe(32)
        response = render(request, "login.html", {**context, "login_csrf": token}, status_code)
        response.set_cookie(LOGIN_CSRF_COOKIE, token, httponly=True, samesite="strict",
                            secure=settings.secure_cookies, path="/login")  # fmt: skip
        return response

    @app.post("/login", response_model=None)
    async def login(
        request: Request,
        operator_id: Annotated[str, Form()] = "",
        password: Annotated[str, Form()] = "",
        next: Annotated[str, Form()] = "/",
        csrf_token: Annotated[str, Form()] = "",
    ) -> Response:
        if not login_csrf_ok(request.cookies.get(LOGIN_CSRF_COOKIE), csrf_token):
            return csrf_page(request)  # a forged sign-in (login CSRF) never reaches the accounts
        language = request.cookies.get(LANG_COOKIE, settings.default_language)
        language = language if language in LANGUAGES else DEFAULT_LANGUAGE
        now = datetime.now(UTC)
        async with unit_of_work(pool(), app.state.schema) as uow:
            result = await sign_in(uow, operator_id, password, language, now, policy, token_hash)
        SIGN_INS.labels(result.outcome).inc()
        if result.outcome == "signed_in" and result.token is not None:
            response = RedirectResponse(local_path(next), 303)
            response.delete_cookie(LOGIN_CSRF_COOKIE, path="/login")  # the session's own token takes over
            response.set_cookie(COOKIE, result.token, max_age=int(policy.session_length.total_seconds()),
                                httponly=True, samesite="strict", secure=settings.secure_cookies, path="/")  # fmt: skip
            return response
        if result.outcome == "locked":
            until = local_time(result.guard.locked_until, language=language) if result.guard.locked_until else "–"
            message = translate(language, "login.locked", attempts=policy.max_failures, until=until)
        else:
            message = translate(language, "login.failed")
        # Keep what was typed (the operator id, never the password) and say why, next to the form.
        context = {"next": local_path(next), "operator_id": operator_id[:64], "message": message}
        return login_form(request, context, 401)

    @app.post("/logout", response_model=None)
    async def logout(request: Request) -> Response:
        operator = await current_operator(request)  # a forged sign-out is refused by the CSRF check too
        async with unit_of_work(pool(), app.state.schema) as uow:
            await uow.sessions.delete(operator.token_hash)
        response = RedirectResponse("/login", 303)
        response.delete_cookie(COOKIE, path="/")
        return response

    @app.post("/language", response_model=None)
    async def language(
        request: Request, language: Annotated[str, Form()] = DEFAULT_LANGUAGE, next: Annotated[str, Form()] = "/"
    ) -> Response:
        operator: SignedIn = await current_operator(request)
        chosen = language if language in LANGUAGES else DEFAULT_LANGUAGE
        async with unit_of_work(pool(), app.state.schema) as uow:
            await uow.sessions.set_language(operator.token_hash, chosen)
        response = RedirectResponse(local_path(next), 303)
        response.set_cookie(LANG_COOKIE, chosen, httponly=True, samesite="strict", secure=settings.secure_cookies)
        return response

    app.include_router(pages.router)
    for router in optional_routers():
        app.include_router(router)
    return app
