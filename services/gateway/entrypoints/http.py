"""The gateway's HTTP API (FastAPI), served beside the runtime's /health/live, /health/ready and /metrics.

Thin: read the body within its limit, authenticate, parse, run the use case in one transaction, answer in
the endpoint's convention (E-Klaim on /v1/eklaim, VClaim on the monitor, RFC 9457 problems elsewhere).
"""

from __future__ import annotations

import hashlib
import json
import time
from datetime import date
from typing import Annotated, Any

from fastapi import FastAPI, Query
from fastapi.exceptions import RequestValidationError
from pydantic import BaseModel, ValidationError
from starlette.requests import Request
from starlette.responses import HTMLResponse, JSONResponse, Response

from services.gateway.adapters import repository
from services.gateway.adapters.sealing import secret_box
from services.gateway.application.actions import Actions, DisputeRequest
from services.gateway.application.intake import Intake
from services.gateway.domain import fhir, monitor
from services.gateway.domain.errors import EklaimError
from services.gateway.domain.principal import Caller
from services.gateway.domain.ratelimit import RateLimiter, retry_after
from services.gateway.domain.replies import (
    Problem,
    Reply,
    eklaim_refusal,
    field_errors,
    vclaim_error,
    vclaim_ok,
)
from services.gateway.entrypoints.auth import (
    Authenticator,
    Credentials,
    NotAuthenticated,
    RateLimited,
    TooLarge,
    read_body,
)
from services.gateway.entrypoints.docs_page import PAGE
from services.gateway.entrypoints.transactions import in_transaction, request_hash
from services.gateway.metrics import LATENCY, REQUESTS
from services.gateway.settings import GatewaySettings, get_gateway_settings
from shared.clock import get_clock
from shared.events import ClaimData
from shared.runtime import ServiceContext, ServiceRuntime
from shared.tracing import ServerSpans

EKLAIM_PATHS = ("/v1/eklaim", "/E-Klaim/ws.php")
FHIR_JSON = "application/fhir+json"
VCLAIM_PREFIXES = ("/v1/monitoring", "/vclaim")
EKLAIM_EXAMPLE = {"metadata": {"method": "claim_final"}, "data": {"nomor_sep": "0301R0011126V000123",
                                                                  "coder_nik": "3171234567890001"}}  # fmt: skip

JenisRawat = Annotated[int, Query(ge=1, le=2, description="1 rawat inap, 2 rawat jalan")]
StatusKlaim = Annotated[int, Query(ge=1, le=3, description="1 proses verifikasi, 2 pending, 3 klaim")]
Page = Annotated[int, Query(ge=1, le=100_000)]
Limit = Annotated[int | None, Query(ge=1, le=1000)]


def convention(path: str) -> str:
    """Which reply convention a path speaks: eklaim, vclaim or problem."""
    if path in EKLAIM_PATHS:
        return "eklaim"
    return "vclaim" if path.startswith(VCLAIM_PREFIXES) else "problem"


def refusal(path: str, status: int, error_no: str, title: str, detail: str, field: str | None = None) -> Reply:
    """A gateway-level refusal (401, 413, 429, a bad query) in the path's convention."""
    kind = convention(path)
    if kind == "eklaim":
        return eklaim_refusal(EklaimError(error_no, field, detail, http_status=status))
    if kind == "vclaim":
        return vclaim_error(status, f"{title}: {detail}")
    errors = ({"field": field, "rule": title.lower().replace(" ", "-"), "message": detail},) if field else ()
    return Problem(status, title.lower().replace(" ", "-"), title, detail, errors).reply()


def respond(reply: Reply, endpoint: str, started: float) -> Response:
    REQUESTS.labels(endpoint, str(reply.status)).inc()
    LATENCY.labels(endpoint).observe(time.perf_counter() - started)
    return JSONResponse(reply.body, reply.status, headers=reply.headers or None, media_type=reply.content_type)


def canonical_hash(obj: Any) -> str:
    """The content of a JSON document, whatever its key order and spacing."""
    return hashlib.sha256(json.dumps(obj, sort_keys=True, separators=(",", ":")).encode()).hexdigest()


class Gateway:
    """The HTTP side of one running gateway: its runtime's pool and clock, credentials, rate limits."""

    def __init__(self, runtime: ServiceRuntime, settings: GatewaySettings) -> None:
        self.runtime = runtime
        self.settings = settings
        self.box = secret_box(settings)  # no key, no start: a gateway that cannot open a secret serves nobody
        self.limiter = RateLimiter(settings.rate_per_s, settings.rate_burst)
        self._auth: Authenticator | None = None

    @property
    def ctx(self) -> ServiceContext:
        if self.runtime.ctx is None:
            raise RuntimeError("the gateway has not started")
        return self.runtime.ctx

    @property
    def auth(self) -> Authenticator:
        if self._auth is None:
            credentials = Credentials(self.ctx.pool, self.box, self.settings.credential_cache_s)
            self._auth = Authenticator(credentials, self.settings, self.limiter)
        return self._auth

    async def admit(self, request: Request, *, with_body: bool) -> tuple[Caller, bytes]:
        body = await read_body(request, self.settings.max_body_bytes)
        caller = await self.auth.caller(request, body if with_body else None)
        return caller, body

    async def run(self, request: Request, caller: Caller, body: bytes, work: Any, refuse: Any) -> Reply:
        key = request.headers.get("idempotency-key")
        path = request.url.path
        if key is not None and (not key or len(key) > 64 or not key.isascii() or not key.isprintable()):
            return refusal(path, 400, "E2030", "Bad Idempotency-Key", "1-64 printable ASCII characters",
                           "Idempotency-Key")  # fmt: skip
        reused = refusal(path, 422, "E2030", "Idempotency-Key reused",
                         "this key was sent before with another request", "Idempotency-Key")  # fmt: skip
        return await in_transaction(
            self.ctx.pool, self.ctx.schema, self.ctx.settings.broker.max_output_bytes, work, refuse,
            cons_id=caller.cons_id, idempotency_key=key, request=request_hash(request.method, path, body),
            reused=reused,
        )  # fmt: skip


def parse_eklaim(body: bytes) -> tuple[str, dict[str, Any], dict[str, Any]]:
    """(method, metadata, data) of an E-Klaim envelope, or the E-Klaim refusal of a body that is not one."""
    try:
        doc = json.loads(body.decode("utf-8"))
    except UnicodeDecodeError:
        raise EklaimError("E2025", None, "the body is not UTF-8") from None
    except RecursionError:
        raise EklaimError("E2021", None, "the JSON nests too deeply") from None
    except json.JSONDecodeError as exc:
        raise EklaimError("E2024", None, f"{exc.msg} at line {exc.lineno} column {exc.colno}") from None
    if not isinstance(doc, dict) or not isinstance(doc.get("metadata"), dict):
        raise EklaimError("E2030", "metadata", 'the body must be {"metadata": {"method": ...}, "data": {...}}')
    data = doc.get("data", {})
    if not isinstance(data, dict):
        raise EklaimError("E2030", "data", "must be an object")
    method = doc["metadata"].get("method")
    if not isinstance(method, str) or not method:
        raise EklaimError("E2030", "metadata.method", "is required")
    return method, doc["metadata"], data


def body_doc(model: type[BaseModel], components: dict[str, Any]) -> dict[str, Any]:
    """The OpenAPI requestBody of a body the endpoint parses itself; its nested models go to `components`."""
    schema = model.model_json_schema(ref_template="#/components/schemas/{model}")
    components.update(schema.pop("$defs", {}))
    return {"requestBody": {"required": True, "content": {"application/json": {"schema": schema}}}}


def with_components(app: FastAPI, components: dict[str, Any]) -> None:
    """Serve `components` under the document's components.schemas, where the bodies' $refs point."""
    build = app.openapi

    def openapi() -> dict[str, Any]:
        if app.openapi_schema is None:
            document = build()
            document.setdefault("components", {}).setdefault("schemas", {}).update(components)
            app.openapi_schema = document
        return app.openapi_schema

    app.openapi = openapi  # type: ignore[method-assign]


def invalid(exc: ValidationError, title: str) -> Reply:
    """A body the contract refuses: 400 if it is not JSON, else 422 naming each field and rule."""
    errors = field_errors([dict(e) for e in exc.errors(include_url=False)])
    malformed = any(e["rule"] == "json_invalid" for e in errors)
    return Problem(400 if malformed else 422, "malformed" if malformed else "validation",
                   "Malformed JSON" if malformed else title,
                   f"{len(errors)} problem(s); the first: {errors[0]['field']}: {errors[0]['message']}",
                   errors).reply()  # fmt: skip


def create_app(runtime: ServiceRuntime, settings: GatewaySettings | None = None) -> FastAPI:
    """The FastAPI app of a gateway run by `runtime` (ServiceSpec.http_app)."""
    gw = Gateway(runtime, settings or get_gateway_settings())
    app = FastAPI(
        title="JKN claims gateway",
        version="1",
        description="E-Klaim-compatible intake, VClaim-style signed requests, claim monitoring. "
        "Every request is signed: X-cons-id, X-timestamp, X-signature (docs/hospital-integration.md).",
        docs_url=None,  # Swagger UI would load from a CDN: /docs is our own page (docs_page.py) instead
        redoc_url=None,
    )
    if runtime.tracing is not None:  # a SERVER span per request; its ClaimSubmitted continues it
        app.add_middleware(ServerSpans, tracer=runtime.tracing.tracer)
    intake = Intake(get_clock())  # the clock the runtime gives its context
    components: dict[str, Any] = {}  # the request bodies' nested models, for the OpenAPI document
    with_components(app, components)
    actions = Actions(get_clock())

    @app.get("/docs", include_in_schema=False)
    async def docs() -> Response:
        return HTMLResponse(PAGE)  # the reference page, served offline (entrypoints/docs_page.py)

    @app.exception_handler(RequestValidationError)
    async def bad_query(request: Request, exc: RequestValidationError) -> Response:
        errors = field_errors(list(exc.errors()))
        first = errors[0] if errors else {"field": "request", "message": "invalid"}
        reply = refusal(request.url.path, 400, "E2030", "Invalid request", first["message"], first["field"])
        return respond(reply, "invalid", time.perf_counter())

    async def guarded(request: Request, endpoint: str, handler: Any) -> Response:
        started = time.perf_counter()
        path = request.url.path
        try:
            reply = await handler()
        except TooLarge:
            reply = refusal(path, 413, "E2045", "Body too large",
                            f"the body is over {gw.settings.max_body_bytes} bytes")  # fmt: skip
        except NotAuthenticated:
            reply = refusal(path, 401, "E2031", "Not authenticated",
                            "X-cons-id, X-timestamp and X-signature do not authenticate this request")  # fmt: skip
        except RateLimited as limited:
            wait = retry_after(limited.wait_s)
            reply = refusal(path, 429, "E2099", "Too many requests", f"retry after {wait} s")
            reply = Reply(reply.status, reply.body, reply.content_type, {"Retry-After": wait})
        return respond(reply, endpoint, started)

    # ------------------------------------------------------------------------------------------ E-Klaim

    eklaim_doc = {"requestBody": {"required": True, "content": {"application/json": {"example": EKLAIM_EXAMPLE}}}}

    async def eklaim(request: Request) -> Response:
        async def handle() -> Reply:
            caller, body = await gw.admit(request, with_body=True)
            try:
                method, metadata, data = parse_eklaim(body)
            except EklaimError as exc:
                return eklaim_refusal(exc)
            content = canonical_hash({"method": method, "nomor_sep": metadata.get("nomor_sep"), "data": data})

            async def work(uow: Any) -> Reply:
                return await intake.eklaim(uow, caller, method, metadata, data, content)

            def refuse(exc: Exception) -> Reply:
                assert isinstance(exc, EklaimError)
                return eklaim_refusal(exc, method=method)

            return await gw.run(request, caller, body, work, refuse)

        return await guarded(request, "eklaim", handle)

    for path in EKLAIM_PATHS:
        app.add_api_route(path, eklaim, methods=["POST"], openapi_extra=eklaim_doc,
                          include_in_schema=path == EKLAIM_PATHS[0],
                          summary="E-Klaim methods: new_claim, set_claim_data, claim_final ...")  # fmt: skip

    # ------------------------------------------------------------------------------------------ our contract

    claim_doc = body_doc(ClaimData, components)

    @app.post("/v1/claims", status_code=202, openapi_extra=claim_doc, summary="Submit a claim (contract ClaimData)")
    async def submit_claim(request: Request) -> Response:
        async def handle() -> Reply:
            caller, body = await gw.admit(request, with_body=True)
            try:
                claim = ClaimData.model_validate_json(body)
            except ValidationError as exc:
                return invalid(exc, "Invalid claim")

            async def work(uow: Any) -> Reply:
                return await intake.submit(uow, caller, claim, canonical_hash(claim.model_dump(mode="json")))

            def refuse(exc: Exception) -> Reply:
                assert isinstance(exc, Problem)
                return exc.reply(request.url.path)

            return await gw.run(request, caller, body, work, refuse)

        return await guarded(request, "claims", handle)

    dispute_doc = body_doc(DisputeRequest, components)

    @app.post("/v1/claims/{claim_id}/dispute", status_code=202, openapi_extra=dispute_doc,
              summary="Dispute a verification's adjustments or a verifier's rejection (ClaimDisputed)")  # fmt: skip
    async def dispute_claim(request: Request, claim_id: str) -> Response:
        async def handle() -> Reply:
            caller, body = await gw.admit(request, with_body=True)
            try:
                dispute = DisputeRequest.model_validate_json(body)
            except ValidationError as exc:
                return invalid(exc, "Invalid dispute")

            async def work(uow: Any) -> Reply:
                content = canonical_hash(dispute.model_dump(mode="json"))
                return await actions.dispute(uow, caller, claim_id, dispute, content)

            def refuse(exc: Exception) -> Reply:
                assert isinstance(exc, Problem)
                return exc.reply(request.url.path)

            return await gw.run(request, caller, body, work, refuse)

        return await guarded(request, "dispute", handle)

    @app.get("/v1/claims/{claim_id}", summary="A claim's status, reasons, deadlines and amounts")
    async def claim_status(request: Request, claim_id: str) -> Response:
        async def handle() -> Reply:
            caller, _ = await gw.admit(request, with_body=False)
            async with gw.ctx.pool.acquire() as conn:
                view = await repository.view_of(conn, claim_id)
            if view is None or not caller.may_see(view.kode_rs, view.nomor_sep):
                return Problem(404, "not-found", "No such claim", f"no claim {claim_id[:64]} for this credential",
                               ).reply(request.url.path)  # fmt: skip
            return Reply(200, monitor.claim_response(view))

        return await guarded(request, "claim", handle)

    @app.get("/fhir/ClaimResponse/{claim_id}", summary="FHIR R4 ClaimResponse of a claim (read-only)")
    async def fhir_claim_response(request: Request, claim_id: str) -> Response:
        async def handle() -> Reply:
            caller, _ = await gw.admit(request, with_body=False)
            async with gw.ctx.pool.acquire() as conn:
                found = await repository.view_and_time(conn, claim_id)
            if found is None or not caller.may_see(found[0].kode_rs, found[0].nomor_sep):
                return Problem(404, "not-found", "No such claim", f"no claim {claim_id[:64]} for this credential",
                               ).reply(request.url.path)  # fmt: skip
            return Reply(200, fhir.claim_response(*found), FHIR_JSON)

        return await guarded(request, "fhir", handle)

    @app.get("/fhir/PaymentReconciliation", summary="FHIR R4 PaymentReconciliation of paid claims (searchset)")
    async def fhir_payment_reconciliation(
        request: Request,
        claim: Annotated[str | None, Query(max_length=40, description="the claim (its SEP)")] = None,
        payment_date: Annotated[date | None, Query(alias="payment-date", description="paid on, YYYY-MM-DD")] = None,
        count: Annotated[int | None, Query(alias="_count", ge=1, le=1000, description="claims a page")] = None,
        page: Page = 1,
    ) -> Response:
        async def handle() -> Reply:
            caller, _ = await gw.admit(request, with_body=False)
            size = count or gw.settings.page_size
            async with gw.ctx.pool.acquire() as conn:
                _, views = await repository.paid_views(conn, caller.kode_rs, claim, payment_date, size + 1,
                                                       (page - 1) * size)  # fmt: skip
            more, views = len(views) > size, views[:size]
            day = payment_date.isoformat() if payment_date else None
            resources = [r for v in views if caller.may_see(v.kode_rs, v.nomor_sep)
                         for r in fhir.payment_reconciliations(v, day)]  # fmt: skip
            base = str(request.base_url).rstrip("/")
            next_url = str(request.url.include_query_params(page=page + 1)) if more else None
            return Reply(200, fhir.search_bundle(resources, base, str(request.url), next_url), FHIR_JSON)

        return await guarded(request, "fhir", handle)

    # ------------------------------------------------------------------------------------------ VClaim monitor

    async def monitor_page(request: Request, tgl_pulang: date, jenis_rawat: int, status: int, page: int,
                           limit: int | None, kode_rs: str | None) -> Response:  # fmt: skip
        async def handle() -> Reply:
            caller, _ = await gw.admit(request, with_body=False)
            size = limit or gw.settings.page_size
            scope = kode_rs if caller.role == "operator" else caller.kode_rs
            statuses = monitor.VCLAIM_STATUS[status][1]
            async with gw.ctx.pool.acquire() as conn:
                total, views = await repository.monitor_page(conn, scope, tgl_pulang, jenis_rawat, statuses, size,
                                                             (page - 1) * size)  # fmt: skip
            rows = [monitor.vclaim_row(v, status) for v in views if caller.may_see(v.kode_rs, v.nomor_sep)]
            paging = {"page": page, "limit": size, "total": total, "pages": -(-total // size)}
            return vclaim_ok({"klaim": rows, "paging": paging})

        return await guarded(request, "monitoring", handle)

    @app.get("/v1/monitoring/klaim", summary="VClaim Monitoring/Klaim: claims by discharge date, care type, status")
    async def monitoring(request: Request, tgl_pulang: date, jenis_rawat: JenisRawat, status: StatusKlaim,
                         page: Page = 1, limit: Limit = None, kode_rs: str | None = None) -> Response:  # fmt: skip
        return await monitor_page(request, tgl_pulang, jenis_rawat, status, page, limit, kode_rs)

    @app.get("/vclaim/Monitoring/Klaim/Tanggal/{tgl_pulang}/JnsPelayanan/{jenis_rawat}/Status/{status}",
             include_in_schema=False)  # fmt: skip
    async def monitoring_vclaim_path(request: Request, tgl_pulang: date, jenis_rawat: int, status: int,
                                     page: Page = 1, limit: Limit = None) -> Response:  # fmt: skip
        if jenis_rawat not in (1, 2) or status not in (1, 2, 3):
            return respond(vclaim_error(400, "JnsPelayanan must be 1 or 2, Status 1, 2 or 3"), "monitoring",
                           time.perf_counter())  # fmt: skip
        return await monitor_page(request, tgl_pulang, jenis_rawat, status, page, limit, None)

    return app
