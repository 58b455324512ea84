"""The hospital gateway through a real socket: E-Klaim intake to the real grouper, signatures, authorization.

One gateway and one grouper run for the module on their own lane (real PostgreSQL and broker); each test
uses its own SEPs.
"""

from __future__ import annotations

import time
import uuid
from collections.abc import AsyncIterator
from dataclasses import dataclass
from typing import Any

import httpx
import pytest

from deploy.local import Stack
from services.gateway.adapters.sealing import SecretBox
from services.grouper.service import SPEC as GROUPER
from shared import db
from shared.db import Pool
from shared.events import ClaimGrouped, ClaimSubmitted, Envelope
from tests.support.gateway import Client, gateway_settings, gateway_spec, register, served
from tests.support.kafka import eventually
from tests.support.services import Lane, new_lane, running

pytestmark = pytest.mark.integration

A, B = "0301R001", "0302R002"


def new_sep(kode_rs: str = A) -> str:
    """A fresh SEP of `kode_rs` (19 characters, as VClaim issues them)."""
    return f"{kode_rs}1126V{uuid.uuid4().int % 10**6:06d}"


def new_claim(sep: str) -> dict[str, Any]:
    return {"nomor_kartu": "0001234567890", "nomor_sep": sep, "nomor_rm": "123-45-67", "nama_pasien": "NAMA TEST",
            "tgl_lahir": "1968-04-02 02:00:00", "gender": 1}  # fmt: skip


def set_claim_data(sep: str) -> dict[str, Any]:
    """The E-Klaim manual's set_claim_data body (5.10.x, "Untuk mengisi/update data klaim"), on our SEP and codes.

    String numbers, `#`-lists for diagnoses and procedures, a VIP upgrade paid by the member at 35 %,
    kode_tarif, date-times, and fields the contract does not carry (sistole, payor_cd ...).
    """
    return {
        "nomor_sep": sep, "nomor_kartu": "0001234567890",
        "tgl_masuk": "2026-11-02 12:55:00", "tgl_pulang": "2026-11-08 09:55:00", "cara_masuk": "gp",
        "jenis_rawat": "1", "kelas_rawat": "1", "adl_sub_acute": "15", "adl_chronic": "12",
        "icu_indikator": "1", "icu_los": "2", "ventilator_hour": "5",
        "ventilator": {"use_ind": "1", "start_dttm": "2026-11-03 12:55:00", "stop_dttm": "2026-11-03 17:50:00"},
        "upgrade_class_ind": "1", "upgrade_class_class": "vip", "upgrade_class_los": "5",
        "upgrade_class_payor": "peserta", "add_payment_pct": "35", "birth_weight": "0", "sistole": 120,
        "diastole": 70, "discharge_status": "1", "diagnosa": "S73.0#E11.9", "procedure": "81.53#86.28#91.79",
        "tarif_rs": {"prosedur_non_bedah": "300000", "prosedur_bedah": "20000000", "konsultasi": "300000",
                     "tenaga_ahli": "200000", "keperawatan": "80000", "penunjang": "1000000", "radiologi": "500000",
                     "laboratorium": "600000", "pelayanan_darah": "150000", "rehabilitasi": "100000",
                     "kamar": "6000000", "rawat_intensif": "2500000", "obat": "100000", "obat_kronis": "1000000",
                     "obat_kemoterapi": "5000000", "alkes": "500000", "bmhp": "400000", "sewa_alat": "210000"},
        "nomor_kartu_t": "nik", "tarif_poli_eks": "100000", "nama_dokter": "RUDY, DR", "kode_tarif": "BP",
        "payor_id": "3", "payor_cd": "JKN", "cob_cd": "0001", "coder_nik": "123123123123",
    }  # fmt: skip


@dataclass
class World:
    lane: Lane
    pool: Pool
    http: httpx.AsyncClient
    a: Client
    b: Client
    operator: Client
    box: SecretBox
    schema: str

    async def events(self, topic: str, claim_id: str) -> list[Envelope]:
        return [e for e in await self.lane.events(topic) if e.claim_id == claim_id]

    async def drained(self) -> bool:
        """Every outbox row of the gateway published."""
        return int(await self.pool.fetchval("SELECT count(*) FROM outbox WHERE sent_at IS NULL")) == 0


@pytest.fixture(scope="module")
async def world(stack: Stack) -> AsyncIterator[World]:
    lane = await new_lane(stack)
    settings = lane.settings()
    gw = gateway_settings()
    spec = gateway_spec(lane, gw)
    box = SecretBox([gw.secrets_key.get_secret_value()])
    async with running(lane.isolate(GROUPER), settings), served(spec, settings) as url:
        dsn = stack.database_url
        hospital_a = await register(dsn, spec.schema, box, "cons-a", A)
        hospital_b = await register(dsn, spec.schema, box, "cons-b", B)
        operator = await register(dsn, spec.schema, box, "bpjs-ops", None)
        pool = await db.create_pool(dsn, spec.schema, max_size=2)
        async with httpx.AsyncClient(base_url=url, timeout=30) as http:
            yield World(lane, pool, http, Client(http, hospital_a), Client(http, hospital_b), Client(http, operator),
                        box, spec.schema)  # fmt: skip
        await pool.close()


async def test_the_manuals_set_claim_data_and_claim_final_give_one_claim_the_grouper_groups(world: World) -> None:
    sep = new_sep()
    created = await world.a.eklaim("new_claim", new_claim(sep))
    assert created.status_code == 200, created.text
    assert created.json()["metadata"] == {"code": 200, "message": "Ok"}
    updated = await world.a.eklaim("set_claim_data", set_claim_data(sep), nomor_sep=sep)
    assert updated.status_code == 200, updated.text
    assert updated.json()["response"]["ignored"] == ["cob_cd", "diastole", "nomor_kartu_t", "payor_cd", "payor_id",
                                                     "sistole", "ventilator"]  # fmt: skip
    final = {"nomor_sep": sep, "coder_nik": "123123123123"}
    first = await world.a.eklaim("claim_final", final)
    assert first.status_code == 200, first.text
    assert first.json()["response"]["revision"] == 0

    async def grouped() -> list[Envelope]:
        return await world.events("claims.grouped", sep)

    await eventually(grouped, within=30)
    (event,) = await grouped()
    assert isinstance(event, ClaimGrouped)
    assert event.payload.grouping.cbg_code == "M-1-04-I"
    claim = event.payload.claim
    assert (claim.kode_rs, claim.kelas_rs, claim.regional_tarif) == (A, "BP", 1)
    assert (claim.diagnosa, [p.code for p in claim.procedure]) == (["S73.0", "E11.9"], ["81.53", "86.28", "91.79"])
    assert (claim.upgrade_class_class, claim.upgrade_class_los, claim.add_payment_pct) == ("vip", 5, 35.0)
    assert (str(claim.tgl_masuk), str(claim.tgl_pulang), claim.icu_days, claim.ventilator_hours) == (
        "2026-11-02", "2026-11-08", 2, 5)  # fmt: skip
    assert claim.tarif_rs.total() == 38_940_000

    again = await world.a.eklaim("claim_final", final)
    assert (again.status_code, again.json()) == (200, first.json())
    await eventually(world.drained)
    submitted = await world.events("claims.submitted", sep)
    assert [type(e) for e in submitted] == [ClaimSubmitted]
    assert submitted[0].producer == f"hospital:{A}"


# ---------------------------------------------------------------------------------------------- authentication


async def test_unsigned_stale_wrong_secret_and_replayed_writes_are_refused_401_alike(world: World) -> None:
    sep = new_sep()
    body = b'{"metadata": {"method": "new_claim"}, "data": {"nomor_sep": "%s"}}' % sep.encode()
    other = body.replace(b"new_claim", b"delete_claim")
    a = world.a.who
    attempts = {
        "unsigned": {},
        "stale": a.headers(body, timestamp=int(time.time()) - 301),
        "future": a.headers(body, timestamp=int(time.time()) + 301),
        "wrong secret": a.headers(body, secret="not-the-secret"),
        "replayed with another body": a.headers(body),
        "unknown cons_id": {**a.headers(body), "X-cons-id": "nobody"},
        "read signature on a write": a.headers(None),
    }
    answers = {}
    for name, headers in attempts.items():
        sent = other if name == "replayed with another body" else body
        r = await world.http.post("/v1/eklaim", content=sent, headers=headers)
        answers[name] = (r.status_code, r.json())
    expected = (401, {"metadata": {"code": 401, "error_no": "E2031", "message": "Key Mismatch: X-cons-id, "
                                   "X-timestamp and X-signature do not authenticate this request"}})  # fmt: skip
    assert answers == dict.fromkeys(attempts, expected)
    problem = await world.http.get(f"/v1/claims/{sep}")
    assert problem.status_code == 401 and problem.headers["content-type"] == "application/problem+json"
    monitor = await world.http.get("/v1/monitoring/klaim", params={"tgl_pulang": "2026-11-08", "jenis_rawat": 1,
                                                                   "status": 1})  # fmt: skip
    assert (monitor.status_code, monitor.json()["metaData"]["code"]) == (401, "401")
    assert int(await world.pool.fetchval("SELECT count(*) FROM drafts WHERE nomor_sep = $1", sep)) == 0


async def test_a_hospital_over_its_rate_is_told_when_to_come_back(world: World, stack: Stack) -> None:
    slow = Client(world.http, await register(stack.database_url, world.schema, world.box, "cons-slow", "0303R003",
                                              rate_per_s=0.01, burst=2))  # fmt: skip
    answers = [await slow.get("/v1/claims/none") for _ in range(3)]
    assert [r.status_code for r in answers] == [404, 404, 429]
    assert int(answers[2].headers["Retry-After"]) >= 90
    assert answers[2].json()["title"] == "Too many requests"
