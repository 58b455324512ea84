"""The gateway served over a real socket (uvicorn on a free port) on a test's lane, and signed HTTP clients."""

from __future__ import annotations

import asyncio
import json
import time
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass, replace
from typing import Any

import httpx
import uvicorn
from cryptography.fernet import Fernet
from pydantic import SecretStr

from deploy.local import free_port
from services.gateway.adapters import repository
from services.gateway.adapters.sealing import SecretBox
from services.gateway.domain.signature import sign
from services.gateway.entrypoints.http import create_app
from services.gateway.service import SPEC
from services.gateway.settings import GatewaySettings
from shared import db
from shared.runtime import ServiceSpec, build_app
from shared.settings import Settings
from tests.support.services import Lane


def gateway_settings(**overrides: Any) -> GatewaySettings:
    """Settings with a fresh sealing key (and generous rate limits unless a test wants its own)."""
    values: dict[str, Any] = {"secrets_key": SecretStr(Fernet.generate_key().decode()), "rate_per_s": 1000.0,
                              "rate_burst": 1000, "credential_cache_s": 0.0}  # fmt: skip
    return GatewaySettings(**(values | overrides))


def gateway_spec(lane: Lane, settings: GatewaySettings) -> ServiceSpec:
    """The gateway's spec on the lane, its HTTP app built with `settings`."""
    return replace(lane.isolate(SPEC), http_app=lambda runtime: create_app(runtime, settings))


@asynccontextmanager
async def served(spec: ServiceSpec, settings: Settings) -> AsyncIterator[str]:
    """The service as `python -m services.<name>.app` runs it (runtime, consumers, relay, HTTP), on a free port."""
    port = free_port()
    app = build_app(spec, settings)
    config = uvicorn.Config(app, host="127.0.0.1", port=port, log_config=None, lifespan="on", access_log=False)
    server = uvicorn.Server(config)
    task = asyncio.create_task(server.serve())
    deadline = time.monotonic() + 60
    while not server.started:
        if task.done():
            task.result()  # the start failed: say why
        if time.monotonic() > deadline:
            raise RuntimeError("the gateway did not start within 60 s")
        await asyncio.sleep(0.05)
    try:
        yield f"http://127.0.0.1:{port}"
    finally:
        server.should_exit = True
        await task


@dataclass(frozen=True)
class Hospital:
    """A registered credential and how to sign as it."""

    cons_id: str
    secret: str
    kode_rs: str | None

    def headers(self, body: bytes | None, *, timestamp: int | None = None, secret: str | None = None) -> dict[str, str]:
        ts = str(int(time.time()) if timestamp is None else timestamp)
        return {"X-cons-id": self.cons_id, "X-timestamp": ts,
                "X-signature": sign(secret or self.secret, self.cons_id, ts, body)}  # fmt: skip


async def register(
    dsn: str, schema: str, box: SecretBox, cons_id: str, kode_rs: str | None, *, secret: str | None = None,
    kode_tarif: str | None = "BP", regional: int | None = 1, rate_per_s: float | None = None, burst: int | None = None,
) -> Hospital:  # fmt: skip
    """Register a hospital (or, kode_rs None, an operator) in the gateway's schema."""
    secret = secret or f"secret-of-{cons_id}"
    pool = await db.create_pool(dsn, schema, max_size=1)
    try:
        async with pool.acquire() as conn:
            role = "hospital" if kode_rs else "operator"
            row = repository.HospitalRow(cons_id, role, kode_rs, cons_id, kode_tarif if kode_rs else None,
                                         regional if kode_rs else None, rate_per_s, burst)  # fmt: skip
            await repository.add_hospital(conn, row, box.seal(secret))
    finally:
        await pool.close()
    return Hospital(cons_id, secret, kode_rs)


@dataclass
class Client:
    """A signed HTTP client for one hospital."""

    http: httpx.AsyncClient
    who: Hospital

    async def post(self, path: str, doc: Any, **headers: str) -> httpx.Response:
        body = json.dumps(doc).encode()
        signed = self.who.headers(body) | {"Content-Type": "application/json"} | headers
        return await self.http.post(path, content=body, headers=signed)

    async def eklaim(self, method: str, data: dict[str, Any], nomor_sep: str | None = None) -> httpx.Response:
        metadata: dict[str, Any] = {"method": method}
        if nomor_sep is not None:
            metadata["nomor_sep"] = nomor_sep
        return await self.post("/v1/eklaim", {"metadata": metadata, "data": data})

    async def get(self, path: str, **params: Any) -> httpx.Response:
        return await self.http.get(path, params=params, headers=self.who.headers(None))
