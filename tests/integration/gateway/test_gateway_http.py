"""The hospital gateway through a real socket: E-Klaim intake to the real grouper, signatures, authorization.

One gateway and one grouper run for the module on their own lane (real PostgreSQL and broker); each test
uses its own SEPs.
"""

from __future__ import annotations

import asyncio
import json
import re
import time
import uuid
from collections.abc import AsyncIterator
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta
from decimal import Decimal
from typing import Any

import asyncpg
import httpx
import pytest
import typer
from fhir.resources.R4B.bundle import Bundle
from fhir.resources.R4B.claimresponse import ClaimResponse
from fhir.resources.R4B.paymentreconciliation import PaymentReconciliation
from typer.testing import CliRunner

from deploy.local import Stack
from services.gateway.adapters.sealing import SecretBox
from services.gateway.cli import register as register_cli
from services.grouper.service import SPEC as GROUPER
from shared import db
from shared.clock import get_clock
from shared.db import Pool
from shared.events import (
    Adjustment,
    ClaimDisputed,
    ClaimDisputeResolved,
    ClaimDisputeResolvedPayload,
    ClaimGrouped,
    ClaimPaid,
    ClaimPaidPayload,
    ClaimPended,
    ClaimPendedPayload,
    ClaimSubmitted,
    ClaimVerified,
    ClaimVerifiedPayload,
    Envelope,
    Reason,
)
from shared.settings import get_settings
from tests.support.factories import example
from tests.support.gateway import Client, Hospital, gateway_settings, gateway_spec, register, served
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
    key: str

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
                        box, spec.schema, gw.secrets_key.get_secret_value())  # fmt: skip
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


# ---------------------------------------------------------------------------------------------- our contract


def contract_claim(sep: str, kode_rs: str = A, **changes: Any) -> dict[str, Any]:
    claim: dict[str, Any] = example("ClaimSubmitted")["payload"]["claim"]
    claim.update(nomor_sep=sep, kode_rs=kode_rs, **changes)
    return claim


async def test_a_claim_refused_by_the_contract_is_a_problem_naming_each_field_and_nothing_is_kept(world: World) -> None:
    sep = new_sep()
    bad = contract_claim(sep, gender=3, surprise=True)
    bad["tarif_rs"]["obat"] = "banyak"
    r = await world.a.post("/v1/claims", bad)
    assert (r.status_code, r.headers["content-type"]) == (422, "application/problem+json")
    problem = r.json()
    assert (problem["type"], problem["title"], problem["status"]) == (
        "urn:jkn-claims:gateway:problem:validation", "Invalid claim", 422)  # fmt: skip
    assert sorted((e["field"], e["rule"]) for e in problem["errors"]) == [
        ("gender", "literal_error"), ("surprise", "extra_forbidden"), ("tarif_rs.obat", "int_parsing")]  # fmt: skip
    malformed = await world.http.post("/v1/claims", content=b"{nope", headers=world.a.who.headers(b"{nope"))
    assert (malformed.status_code, malformed.json()["title"]) == (400, "Malformed JSON")
    other = await world.a.post("/v1/claims", contract_claim(new_sep(B), kode_rs=B))
    assert (other.status_code, other.json()["errors"][0]["field"]) == (403, "kode_rs")
    huge = b"x" * (256 * 1024 + 1)
    too_large = await world.http.post("/v1/claims", content=huge, headers=world.a.who.headers(huge))
    assert (too_large.status_code, too_large.json()["title"]) == (413, "Body too large")
    assert int(await world.pool.fetchval("SELECT count(*) FROM drafts WHERE nomor_sep = $1", sep)) == 0
    await eventually(world.drained)
    assert await world.events("claims.submitted", sep) == []


async def test_an_idempotency_key_answers_a_retry_with_the_first_answer_and_refuses_another_body(world: World) -> None:
    sep = new_sep()
    claim = contract_claim(sep)
    first = await world.a.post("/v1/claims", claim, **{"Idempotency-Key": f"k-{sep}"})
    assert first.status_code == 202, first.text
    assert first.json()["revision"] == 0 and first.json()["href"] == f"/v1/claims/{sep}"
    again = await world.a.post("/v1/claims", claim, **{"Idempotency-Key": f"k-{sep}"})
    assert (again.status_code, again.json()) == (202, first.json())
    plain_retry = await world.a.post("/v1/claims", claim)  # no key: the same content for the same revision
    assert (plain_retry.status_code, plain_retry.json()) == (202, first.json())
    changed = await world.a.post("/v1/claims", contract_claim(sep, icu_days=1), **{"Idempotency-Key": f"k-{sep}"})
    assert (changed.status_code, changed.json()["errors"][0]["field"]) == (422, "Idempotency-Key")
    resent = await world.a.post("/v1/claims", contract_claim(sep, icu_days=1))
    assert (resent.status_code, resent.json()["errors"][0]["rule"]) == (409, "resubmit-after-pend")
    await eventually(world.drained)
    assert len(await world.events("claims.submitted", sep)) == 1


# ---------------------------------------------------------------------------------------------- authorization


async def test_a_hospital_sees_only_its_own_claims_and_an_operator_sees_all(world: World) -> None:
    sep_a, sep_b = new_sep(A), new_sep(B)
    assert (
        await world.a.post("/v1/claims", contract_claim(sep_a, tgl_masuk="2026-10-27", tgl_pulang="2026-10-30"))
    ).status_code == 202
    assert (
        await world.b.post(
            "/v1/claims", contract_claim(sep_b, kode_rs=B, tgl_masuk="2026-10-27", tgl_pulang="2026-10-30")
        )
    ).status_code == 202
    assert (await world.a.get(f"/v1/claims/{sep_a}")).status_code == 200
    assert (await world.b.get(f"/v1/claims/{sep_a}")).status_code == 404
    assert (await world.b.get(f"/v1/claims/{sep_a}")).json() == (await world.b.get("/v1/claims/NOSUCHCLAIM")).json() | {
        "detail": f"no claim {sep_a} for this credential", "instance": f"/v1/claims/{sep_a}"}  # fmt: skip
    assert (await world.operator.get(f"/v1/claims/{sep_b}")).status_code == 200
    by_b = await world.b.eklaim("get_claim_data", {"nomor_sep": sep_a})
    assert (by_b.status_code, by_b.json()["metadata"]["error_no"]) == (404, "E2004")
    query = {"tgl_pulang": "2026-10-30", "jenis_rawat": 1, "status": 1}

    async def seps(client: Client) -> set[str]:
        r = await client.get("/v1/monitoring/klaim", **query)
        assert r.status_code == 200, r.text
        return {k["noSEP"] for k in r.json()["response"]["klaim"]}

    assert sep_a in await seps(world.a) and sep_b not in await seps(world.a)
    assert sep_b in await seps(world.b) and sep_a not in await seps(world.b)
    assert {sep_a, sep_b} <= await seps(world.operator)
    refused = await world.operator.post("/v1/claims", contract_claim(new_sep(A)))
    assert refused.status_code == 403


# ---------------------------------------------------------------------------------------------- monitoring


def _envelope(claim_id: str, producer: str) -> dict[str, Any]:
    return {
        "occurred_at": datetime.now(UTC),
        "claim_id": claim_id,
        "correlation_id": uuid.uuid4(),
        "producer": producer,
    }


def pended(sep: str) -> ClaimPended:
    missing = Reason(code="V-DOC-CONSENT", field="documents", message_id="Informed consent belum dilampirkan",
                     message_en="Informed consent is missing")  # fmt: skip
    payload = ClaimPendedPayload(revision=0, nomor_sep=sep, kode_rs=A, pended_on=date(2026, 11, 10),
                                 resubmit_by=date(2026, 11, 19), missing=[missing])  # fmt: skip
    return ClaimPended(**_envelope(sep, "verifier"), payload=payload)


def verified(sep: str, claimed: int) -> ClaimVerified:
    payload = ClaimVerifiedPayload(revision=1, nomor_sep=sep, kode_rs=A, verification_seq=0,
                                   verified_on=date(2026, 11, 20), claimed_amount=claimed,
                                   approved_amount=claimed - 100_000, dispute_by=date(2026, 12, 10),
                                   adjustments=[Adjustment(amount=100_000, reason=Reason(
                                       code="V-ADJ-LOS", field="tgl_pulang", message_id="Lama rawat dikoreksi",
                                       message_en="Length of stay corrected"))])  # fmt: skip
    return ClaimVerified(**_envelope(sep, "verifier"), payload=payload)


def paid(sep: str, approved: int) -> ClaimPaid:
    payload = ClaimPaidPayload(nomor_sep=sep, kode_rs=A, verification_seq=0, approved_amount=approved,
                               penalty=12_345, total_paid=approved + 12_345, net_paid=approved + 12_345,
                               due_on=date(2026, 12, 11), paid_on=date(2026, 12, 14), days_late=3,
                               penalty_method="daily_pro_rata", payment_run_id="RUN-1", payment_id="PAY-1",
                               ledger_entry_ids=["LE-1"])  # fmt: skip
    return ClaimPaid(**_envelope(sep, "payments"), payload=payload)


async def test_the_monitor_follows_a_claim_through_pending_resubmission_verification_and_payment(world: World) -> None:
    sep = new_sep()
    day = {"tgl_masuk": "2026-11-01", "tgl_pulang": "2026-11-04"}
    assert (await world.a.post("/v1/claims", contract_claim(sep, **day))).status_code == 202

    async def status(expected: str) -> dict[str, Any]:
        async def reached() -> dict[str, Any] | None:
            body: dict[str, Any] = (await world.a.get(f"/v1/claims/{sep}")).json()
            return body if body["status"] == expected else None

        await eventually(reached, within=30)
        return await reached() or {}

    async def monitor(code: int) -> list[dict[str, Any]]:
        r = await world.a.get("/v1/monitoring/klaim", tgl_pulang="2026-11-04", jenis_rawat=1, status=code)
        assert r.json()["metaData"] == {"code": "200", "message": "OK"}
        return [k for k in r.json()["response"]["klaim"] if k["noSEP"] == sep]

    grouped = await status("grouped")
    cbg, tariff = grouped["grouping"]["cbg_code"], grouped["grouping"]["tarif_grouper"]
    assert cbg and tariff and grouped["amounts"]["claimed"] == tariff
    (row,) = await monitor(1)
    assert (row["status"], row["Inacbg"]["kode"], row["biaya"]["byPengajuan"], row["biaya"]["bySetujui"]) == (
        "Proses Verifikasi", cbg, str(tariff), "0")  # fmt: skip
    assert row["biaya"]["byTarifRS"] == "6550000" and row["tglPulang"] == "2026-11-04"

    await world.lane.publish([pended(sep)])
    pending = await status("pended")
    assert pending["reasons"] == [{"code": "V-DOC-CONSENT", "field": "documents",
                                   "message_id": "Informed consent belum dilampirkan",
                                   "message_en": "Informed consent is missing"}]  # fmt: skip
    assert pending["deadlines"]["resubmit_by"] == "2026-11-19"
    assert [r["status"] for r in await monitor(2)] == ["Pending Verifikasi"] and await monitor(1) == []
    fhir = await world.a.get(f"/fhir/ClaimResponse/{sep}")
    assert (fhir.status_code, fhir.headers["content-type"]) == (200, "application/fhir+json")
    resource = ClaimResponse.model_validate(fhir.json())  # an independent model of FHIR (R4B's ClaimResponse)
    assert resource.outcome == "partial"
    assert [n.text for n in resource.processNote or []] == [
        "V-DOC-CONSENT: Informed consent belum dilampirkan / Informed consent is missing"]  # fmt: skip
    assert (await world.b.get(f"/fhir/ClaimResponse/{sep}")).status_code == 404

    resubmitted = await world.a.post("/v1/claims", contract_claim(sep, **day, coder_nik="3171234567890002"))
    assert (resubmitted.status_code, resubmitted.json()["revision"]) == (202, 1)
    assert (await status("grouped"))["revision"] == 1

    await world.lane.publish([verified(sep, tariff)])
    approved = await status("verified")
    assert approved["amounts"] == {"claimed": tariff, "approved": tariff - 100_000, "paid": None,
                                        "penalty": None, "recovered": None, "net_paid": None}  # fmt: skip
    assert approved["deadlines"] == {"resubmit_by": None, "dispute_by": "2026-12-10"}
    assert [r["code"] for r in approved["reasons"]] == ["V-ADJ-LOS"]

    await world.lane.publish([paid(sep, tariff - 100_000)])
    settled = await status("paid")
    assert settled["amounts"] == {"claimed": tariff, "approved": tariff - 100_000, "paid": tariff - 100_000 + 12_345,
                                  "penalty": 12_345, "recovered": 0, "net_paid": tariff - 100_000 + 12_345}  # fmt: skip
    assert settled["payment_date"] == "2026-12-14"
    (row,) = await monitor(3)
    assert (row["status"], row["biaya"]["bySetujui"]) == ("Klaim", str(tariff - 100_000))
    settled_fhir = ClaimResponse.model_validate((await world.a.get(f"/fhir/ClaimResponse/{sep}")).json())
    payment = settled_fhir.payment
    assert settled_fhir.outcome == "complete" and payment is not None and payment.adjustment is not None
    assert (payment.amount.value, payment.adjustment.value) == (Decimal(tariff - 100_000 + 12_345), Decimal(12_345))
    submitted = await world.events("claims.submitted", sep)
    assert [e.payload.revision for e in submitted if isinstance(e, ClaimSubmitted)] == [0, 1]


# ---------------------------------------------------------------------------------------------- FHIR payments


def paid_on(sep: str, day: date, kode_rs: str = A, approved: int = 900_000) -> ClaimPaid:
    event = paid(sep, approved)
    payload = event.payload.model_copy(update={"paid_on": day, "kode_rs": kode_rs, "payment_id": f"PAY-{sep}"})
    return event.model_copy(update={"payload": payload})


async def test_fhir_payment_reconciliation_lists_the_hospitals_own_payments_by_claim_and_by_date(world: World) -> None:
    sep, other, sep_b = new_sep(), new_sep(), new_sep(B)
    assert (await world.a.post("/v1/claims", contract_claim(sep))).status_code == 202
    assert (await world.a.get("/fhir/PaymentReconciliation", claim=sep)).json()["entry"] == []  # not paid yet
    day = date(2026, 12, 15)
    await world.lane.publish([paid_on(sep, day), paid_on(other, day), paid_on(sep_b, day, kode_rs=B)])

    async def search(client: Client, **query: Any) -> dict[str, Any]:
        r = await client.get("/fhir/PaymentReconciliation", **query)
        assert (r.status_code, r.headers["content-type"]) == (200, "application/fhir+json"), r.text
        Bundle.model_validate(r.json())  # an independent model of FHIR (R4B's Bundle and the resources it holds)
        found: dict[str, Any] = r.json()
        return found

    def ids(bundle: dict[str, Any]) -> list[str]:
        return [e["resource"]["id"] for e in bundle["entry"]]

    async def listed() -> bool:
        return len(ids(await search(world.a, **{"payment-date": "2026-12-15"}))) == 2

    await eventually(listed, within=30)
    (entry,) = (await search(world.a, claim=sep))["entry"]
    resource = PaymentReconciliation.model_validate(entry["resource"])
    assert (resource.id, str(resource.paymentDate), resource.paymentAmount.value, resource.outcome) == (
        f"{sep}-0", "2026-12-15", Decimal(912_345), "complete")  # fmt: skip
    details = entry["resource"]["detail"]
    assert [(d["type"]["coding"][0]["code"], d["amount"]["value"]) for d in details] == [
        ("payment", 900_000), ("adjustment", 12_345)]  # fmt: skip
    assert entry["resource"]["identifier"] == [{"system": "urn:jkn-claims:payment-id", "value": f"PAY-{sep}"}]
    assert entry["resource"]["requestor"] == {"identifier": {"system": "urn:jkn-claims:kode-ppk", "value": A}}

    assert sorted(ids(await search(world.a, **{"payment-date": "2026-12-15"}))) == sorted([f"{sep}-0", f"{other}-0"])
    assert ids(await search(world.a, **{"payment-date": "2026-12-16"})) == []
    assert ids(await search(world.b, claim=sep)) == []  # another hospital's payment: not found
    assert ids(await search(world.b, **{"payment-date": "2026-12-15"})) == [f"{sep_b}-0"]
    first = await search(world.a, **{"payment-date": "2026-12-15", "_count": 1})
    (next_link,) = [link["url"] for link in first["link"] if link["relation"] == "next"]
    second = (await world.a.http.get(next_link, headers=world.a.who.headers(None))).json()
    assert [link["relation"] for link in second["link"]] == ["self"]
    assert sorted(ids(first) + ids(second)) == sorted([f"{sep}-0", f"{other}-0"])
    everyone = await search(world.operator, **{"payment-date": "2026-12-15"})
    assert {f"{sep}-0", f"{other}-0", f"{sep_b}-0"} <= set(ids(everyone))
    bad = await world.a.get("/fhir/PaymentReconciliation", **{"payment-date": "15-12-2026"})
    assert (bad.status_code, bad.json()["errors"][0]["field"]) == (400, "query.payment-date")


# ---------------------------------------------------------------------------------------------- disputes


def today() -> date:
    """The gateway's business date (the day it receives a dispute)."""
    return get_clock().today()


def dispute(requested: int = 5_634_100) -> dict[str, Any]:
    return {"requested_amount": requested, "reason": "Diagnosis sekunder didukung hasil laboratorium terlampir",
            "documents": [{"doc_type": "lab_result", "ref": "LAB/2026/11/004513", "supports": ["E11.9"]}]}  # fmt: skip


def adjusted(sep: str) -> ClaimVerified:
    """Revision 0 verified with one adjustment, disputable for 30 more days (whatever day the test runs)."""
    payload = ClaimVerifiedPayload(revision=0, nomor_sep=sep, kode_rs=A, verification_seq=0,
                                   verified_on=today(), claimed_amount=5_634_100, approved_amount=5_134_100,
                                   dispute_by=today() + timedelta(days=30),
                                   adjustments=[Adjustment(amount=500_000, reason=Reason(
                                       code="V-ADJ-DX", field="diagnosa", message_id="Diagnosis sekunder dihapus",
                                       message_en="Secondary diagnosis removed"))])  # fmt: skip
    return ClaimVerified(**_envelope(sep, "verifier"), payload=payload)


async def test_a_hospital_disputes_its_verified_claim_once_and_sees_the_resolution(world: World) -> None:
    sep = new_sep()
    path = f"/v1/claims/{sep}/dispute"
    assert (await world.a.post("/v1/claims", contract_claim(sep))).status_code == 202
    early = await world.a.post(path, dispute())
    assert (early.status_code, early.headers["content-type"]) == (409, "application/problem+json")
    assert early.json()["errors"][0]["rule"] == "disputable"

    await world.lane.publish([adjusted(sep)])

    async def verified() -> bool:
        return bool((await world.a.get(f"/v1/claims/{sep}")).json()["status"] == "verified")

    await eventually(verified, within=30)
    bad = await world.a.post(path, dispute(requested=-1) | {"documents": [{"doc_type": "selfie", "ref": "X"}]})
    assert bad.status_code == 422
    assert sorted((e["field"], e["rule"]) for e in bad.json()["errors"]) == [
        ("documents.0.doc_type", "literal_error"), ("requested_amount", "greater_than_equal")]  # fmt: skip
    assert (await world.b.post(path, dispute())).status_code == 404  # another hospital's claim
    assert (await world.operator.post(path, dispute())).status_code == 403

    first = await world.a.post(path, dispute(), **{"Idempotency-Key": f"d-{sep}"})
    assert first.status_code == 202, first.text
    assert (first.json()["status"], first.json()["href"]) == ("disputed", f"/v1/claims/{sep}")
    again = await world.a.post(path, dispute(), **{"Idempotency-Key": f"d-{sep}"})
    assert (again.status_code, again.json()) == (202, first.json())
    plain_retry = await world.a.post(path, dispute())  # no key: the same content gets the first answer too
    assert (plain_retry.status_code, plain_retry.json()) == (202, first.json())
    second = await world.a.post(path, dispute(requested=6_000_000))
    assert (second.status_code, second.json()["errors"][0]["rule"]) == (409, "one-dispute")

    await eventually(world.drained)
    (event,) = await world.events("claims.disputed", sep)
    assert isinstance(event, ClaimDisputed) and str(event.event_id) == first.json()["event_id"]
    assert event.producer == f"hospital:{A}"
    assert (event.payload.kode_rs, event.payload.requested_amount, event.payload.disputed_on) == (
        A, 5_634_100, today())  # fmt: skip
    assert [d.ref for d in event.payload.documents] == ["LAB/2026/11/004513"]
    shown = (await world.a.get(f"/v1/claims/{sep}")).json()["dispute"]
    assert shown["resolution"] is None
    assert (shown["filed"]["requested_amount"], shown["filed"]["documents"][0]["supports"]) == (5_634_100, ["E11.9"])

    resolution = ClaimDisputeResolvedPayload(nomor_sep=sep, kode_rs=A, outcome="partial",
                                             supplementary_amount=250_000, resolved_on=today(), reviewer="dr. TKMKB",
                                             note="Sebagian diterima")  # fmt: skip
    await world.lane.publish([ClaimDisputeResolved(**_envelope(sep, "verifier"), payload=resolution)])

    async def resolved() -> dict[str, Any] | None:
        found: dict[str, Any] | None = (await world.a.get(f"/v1/claims/{sep}")).json()["dispute"]["resolution"]
        return found

    await eventually(resolved, within=30)
    assert await resolved() == {"outcome": "partial", "supplementary_amount": 250_000,
                                "resolved_on": today().isoformat(), "note": "Sebagian diterima"}  # fmt: skip
    assert len(await world.events("claims.disputed", sep)) == 1


# ---------------------------------------------------------------------------------------------- E-Klaim rules


async def test_eklaim_refusals_name_the_error_number_and_field_and_the_claim_keeps_its_state(world: World) -> None:
    sep = new_sep()
    assert (await world.a.eklaim("new_claim", new_claim(sep))).status_code == 200
    duplicate = await world.a.eklaim("new_claim", new_claim(sep) | {"gender": 2})
    assert (duplicate.status_code, duplicate.json()["metadata"]["error_no"]) == (409, "E2007")
    backwards = set_claim_data(sep) | {"tgl_pulang": "2026-11-01 08:00:00"}
    r = await world.a.eklaim("set_claim_data", backwards, nomor_sep=sep)
    assert r.status_code == 400
    message = "Tanggal Pulang mendahului Tanggal Masuk: tgl_pulang: 2026-11-01 08:00:00 is before tgl_masuk "
    message += "2026-11-02 12:55:00"
    assert r.json()["metadata"] == {"code": 400, "error_no": "E2012", "field": "tgl_pulang",
                                    "method": "set_claim_data", "message": message}  # fmt: skip
    unknown = await world.a.eklaim("grouper", {"nomor_sep": sep})
    assert unknown.json()["metadata"]["error_no"] == "E2001"
    not_ready = await world.a.eklaim("claim_final", {"nomor_sep": sep, "coder_nik": "1"})
    assert (not_ready.json()["metadata"]["error_no"], not_ready.json()["metadata"]["field"]) == ("E2030", "tgl_masuk")
    assert (await world.a.eklaim("set_claim_data", set_claim_data(sep), nomor_sep=sep)).status_code == 200
    clear = await world.a.eklaim("set_claim_data", {"procedure": "#", "coder_nik": "1"}, nomor_sep=sep)
    assert clear.status_code == 200
    data = (await world.a.eklaim("get_claim_data", {"nomor_sep": sep})).json()["response"]
    assert (data["procedure"], data["diagnosa"], data["tarif_rs"]["kamar"], data["upgrade_class_class"]) == (
        "", "S73.0#E11.9", "6000000", "vip")  # fmt: skip
    assert (await world.a.eklaim("claim_final", {"nomor_sep": sep, "coder_nik": "1"})).status_code == 200
    status = (await world.a.eklaim("get_claim_status", {"nomor_sep": sep})).json()["response"]
    assert status["status_kirim"] == "1" and status["tgl_kirim"]
    for method, error_no in (("set_claim_data", "E2009"), ("reedit_claim", "E2039"), ("delete_claim", "E2038")):
        r = await world.a.eklaim(method, {"nomor_sep": sep, "coder_nik": "1"}, nomor_sep=sep)
        assert r.json()["metadata"]["error_no"] == error_no, (method, r.json())
    draft = await world.a.eklaim("new_claim", new_claim(other := new_sep()))
    assert draft.status_code == 200
    assert (await world.a.eklaim("delete_claim", {"nomor_sep": other, "coder_nik": "1"})).status_code == 200
    gone = await world.a.eklaim("get_claim_data", {"nomor_sep": other})
    assert gone.json()["metadata"]["error_no"] == "E2004"


async def test_the_openapi_document_and_its_reference_page_are_served_without_any_other_host(world: World) -> None:
    spec = (await world.http.get("/openapi.json")).json()
    assert {"/v1/eklaim", "/v1/claims", "/v1/claims/{claim_id}", "/v1/monitoring/klaim",
            "/fhir/ClaimResponse/{claim_id}"} <= spec["paths"].keys()  # fmt: skip
    page = await world.http.get("/docs")
    assert page.status_code == 200 and "openapi.json" in page.text
    assert "http://" not in page.text and "https://" not in page.text  # nothing loaded from elsewhere
    health = await world.http.get("/health/ready")
    assert health.json()["status"] == "ready"  # the runtime's routes beside the API


async def test_every_reference_in_the_openapi_document_resolves_including_the_new_actions(world: World) -> None:
    spec = (await world.http.get("/openapi.json")).json()
    assert {"/v1/claims/{claim_id}/dispute", "/fhir/PaymentReconciliation"} <= spec["paths"].keys()
    refs = set(re.findall(r'"#/components/schemas/([^"]+)"', json.dumps(spec)))
    assert {"DocumentRef", "TarifRS"} <= refs and refs <= spec["components"]["schemas"].keys()


# ---------------------------------------------------------------------------------------------- claimsctl hospitals


async def test_claimsctl_registers_a_hospital_and_rotates_its_secret_with_an_overlap(world: World) -> None:
    get_settings.cache_clear()  # read DATABASE_URL as the stack fixture set it
    root = typer.Typer()
    register_cli(root)

    async def claimsctl(*args: str) -> list[str]:
        # In a thread: the command runs its own event loop while this one keeps serving the gateway.
        result = await asyncio.to_thread(CliRunner().invoke, root, ["hospitals", *args, "--schema", world.schema],
                                         env={"GATEWAY_SECRETS_KEY": world.key})  # fmt: skip
        assert result.exit_code == 0, result.stderr
        return str(result.stdout).splitlines()

    async def secret(*args: str) -> str:
        answer: str = json.loads((await claimsctl(*args, "--json"))[-1])["secret"]
        return answer

    async def status(secret: str) -> int:
        who = Hospital("cli-h", secret, "0304R004")
        return (await world.http.get("/v1/claims/NOSUCH", headers=who.headers(None))).status_code

    first = await secret("add", "--cons-id", "cli-h", "--kode-rs", "0304R004", "--name", "RS Empat",
                         "--kode-tarif", "CS", "--regional", "2")  # fmt: skip
    assert await status(first) == 404  # authenticated: there is just no such claim
    second = await secret("rotate-secret", "cli-h")
    assert (await status(first), await status(second)) == (404, 404)  # both valid during the overlap
    third = await secret("rotate-secret", "cli-h", "--overlap-hours", "0")
    assert (await status(first), await status(second), await status(third)) == (401, 401, 404)
    listed = [json.loads(line) for line in await claimsctl("list", "--json") if '"cli-h"' in line]
    assert listed == [{"cons_id": "cli-h", "role": "hospital", "kode_rs": "0304R004", "name": "RS Empat",
                       "kode_tarif": "CS", "regional_tarif": 2, "valid_secrets": 1}]  # fmt: skip
    sealed = await _sealed(world)  # stored sealed: no secret appears in the table
    assert len(sealed) == 3 and not any(s.encode() in row for row in sealed for s in (first, second, third))


async def _sealed(world: World) -> list[bytes]:
    conn = await asyncpg.connect(world.lane.stack.database_url, server_settings={"search_path": world.schema})
    try:
        rows = await conn.fetch("SELECT sealed FROM hospital_secrets WHERE cons_id = 'cli-h'")
        return [bytes(r["sealed"]) for r in rows]
    finally:
        await conn.close()
