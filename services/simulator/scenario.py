"""A month of hospital claims as a plan: who submits what on which day, and what must come of it.

Pure and deterministic for a seed. The driver (`driver.py`) plays the plan against the running
services; `expectations.py` checks what the services answered against it.
"""

from __future__ import annotations

import random
from dataclasses import dataclass, field
from datetime import date, timedelta
from enum import StrEnum
from typing import Any, Final

from shared.events import ClaimData, DocumentRef, ParticipantChangedPayload, ProcedureEntry, TarifRS


class Kind(StrEnum):
    """What happens to a claim, as the simulated hospital and BPJS staff play it."""

    CLEAN = "clean"
    INVALID_CODE = "invalid_code"  # grouper rejects: unknown ICD-10 code
    PEND_RESUBMIT = "pend_resubmit"  # no informed consent -> pended -> resubmitted with it -> verified
    PEND_EXPIRE = "pend_expire"  # pended, never resubmitted -> pend_expired
    INELIGIBLE = "ineligible"  # member inactive on the service dates -> rejected
    DUPLICATE_SEP = "duplicate_sep"  # the SEP of an earlier verified claim -> rejected
    ADJUST_ACCEPTED = "adjust_accepted"  # severity III unsupported -> adjusted, hospital accepts
    ADJUST_UPHELD = "adjust_upheld"  # adjusted -> disputed -> upheld -> supplementary verification
    ADJUST_DENIED = "adjust_denied"  # adjusted -> disputed -> denied
    HELD_REVIEWED = "held_reviewed"  # unusual length of stay -> reviewer verifies
    HELD_DEEMED = "held_deemed"  # unusual length of stay, nobody decides -> deemed complete on day 10


# Shares in percent; the rest of the month's claims are clean.
MIX: Final[dict[Kind, int]] = {
    Kind.INVALID_CODE: 4,
    Kind.PEND_RESUBMIT: 7,
    Kind.PEND_EXPIRE: 2,
    Kind.INELIGIBLE: 3,
    Kind.DUPLICATE_SEP: 2,
    Kind.ADJUST_ACCEPTED: 3,
    Kind.ADJUST_UPHELD: 3,
    Kind.ADJUST_DENIED: 2,
    Kind.HELD_REVIEWED: 3,
    Kind.HELD_DEEMED: 2,
}

# The final verifier state each kind must reach ("grouper_rejected": never reaches the verifier).
FINAL_STATE: Final[dict[Kind, str]] = {
    Kind.CLEAN: "verified",
    Kind.INVALID_CODE: "grouper_rejected",
    Kind.PEND_RESUBMIT: "verified",
    Kind.PEND_EXPIRE: "pend_expired",
    Kind.INELIGIBLE: "rejected",
    Kind.DUPLICATE_SEP: "rejected",
    Kind.ADJUST_ACCEPTED: "verified_adjusted",
    Kind.ADJUST_UPHELD: "dispute_resolved",
    Kind.ADJUST_DENIED: "dispute_resolved",
    Kind.HELD_REVIEWED: "verified",
    Kind.HELD_DEEMED: "verified",
}

# How many payments each kind ends with (a won dispute adds a supplementary one).
PAYMENTS: Final[dict[Kind, int]] = {
    Kind.CLEAN: 1,
    Kind.PEND_RESUBMIT: 1,
    Kind.ADJUST_ACCEPTED: 1,
    Kind.ADJUST_UPHELD: 2,
    Kind.ADJUST_DENIED: 1,
    Kind.HELD_REVIEWED: 1,
    Kind.HELD_DEEMED: 1,
}

START: Final = date(2026, 3, 2)  # a Monday: the month crosses Nyepi and Idul Fitri 2026


@dataclass(frozen=True)
class PlannedClaim:
    claim_id: str
    kind: Kind
    day: int  # submission day (0 = START)
    claim: ClaimData
    duplicate_of: str | None = None

    @property
    def final_state(self) -> str:
        """The verifier state this claim must end in."""
        return FINAL_STATE[self.kind]

    @property
    def payments(self) -> int:
        """How many `claims.paid` this claim must end with."""
        return PAYMENTS.get(self.kind, 0)

    def resubmission(self) -> ClaimData:
        """Revision 1 of a pended claim: the missing consent attached."""
        consent = DocumentRef(doc_type="informed_consent", ref=f"IC/{self.claim_id}")
        return self.claim.model_copy(update={"documents": [*self.claim.documents, consent]})


@dataclass(frozen=True)
class PaymentRun:
    day: int
    run_id: str
    funds: int


@dataclass(frozen=True)
class Plan:
    start: date
    days: int
    participants: list[ParticipantChangedPayload]
    claims: list[PlannedClaim]
    runs: list[PaymentRun]
    junk: dict[str, list[bytes]] = field(default_factory=dict)

    def on(self, day: int) -> list[PlannedClaim]:
        """Claims first submitted on `day`."""
        return [c for c in self.claims if c.day == day]

    @property
    def last_day(self) -> int:
        """The last simulated day (the final payment run)."""
        return max(r.day for r in self.runs)

    def date_of(self, day: int) -> date:
        """The business date of a simulated day."""
        return self.start + timedelta(days=day)


def hospital_code(h: int) -> str:
    """kode PPK of simulated hospital h: province 03, regency 01..., 'R', serial."""
    return f"{3 + h // 90:02d}{1 + h % 90:02d}R{h % 1000:03d}"


def claim_for(rng: random.Random, kode_rs: str, card: str, sep: str, discharged: date, kind: Kind) -> ClaimData:
    """An appendectomy episode (K-1), adapted to the kind."""
    los = rng.randint(2, 6)
    diagnosa = ["K35.9"]
    docs = [
        DocumentRef(doc_type="resume_medis", ref=f"RM/{sep}"),
        DocumentRef(doc_type="informed_consent", ref=f"IC/{sep}"),
        DocumentRef(doc_type="billing_detail", ref=f"BILL/{sep}"),
    ]
    if kind == Kind.INVALID_CODE:
        diagnosa = ["K35.9", "Z99.99"]  # not an ICD-10 2010 code
    if kind in (Kind.PEND_RESUBMIT, Kind.PEND_EXPIRE):
        docs = [d for d in docs if d.doc_type != "informed_consent"]
    if kind in (Kind.ADJUST_ACCEPTED, Kind.ADJUST_UPHELD, Kind.ADJUST_DENIED):
        diagnosa = ["K35.9", "N17.9"]  # acute kidney failure: severity III, no supporting result attached
    if kind in (Kind.HELD_REVIEWED, Kind.HELD_DEEMED):
        los = rng.randint(14, 20)  # beyond the expected stay for K-1
    bill = TarifRS(
        prosedur_bedah=rng.randint(20, 40) * 100_000, kamar=los * 250_000, obat=rng.randint(3, 9) * 100_000,
        laboratorium=rng.randint(2, 6) * 50_000, keperawatan=los * 120_000,
    )  # fmt: skip
    return ClaimData(
        nomor_sep=sep, nomor_kartu=card, kode_rs=kode_rs, kelas_rs="B", regional_tarif=1 + rng.randrange(5),
        tgl_lahir=date(1970 + rng.randrange(40), 1 + rng.randrange(12), 1 + rng.randrange(28)),
        gender=rng.choice((1, 2)), tgl_masuk=discharged - timedelta(days=los), tgl_pulang=discharged,
        jenis_rawat=1, kelas_rawat=3, emergency=True, diagnosa=diagnosa,
        procedure=[ProcedureEntry(code="47.09")], tarif_rs=bill, coder_nik=f"3171{rng.randrange(10**12):012d}",
        documents=docs,
    )  # fmt: skip


def _kinds(rng: random.Random, n: int) -> list[Kind]:
    kinds: list[Kind] = []
    for kind, share in MIX.items():
        kinds += [kind] * max(1, round(n * share / 100))
    kinds += [Kind.CLEAN] * max(0, n - len(kinds))
    rng.shuffle(kinds)
    return kinds[:n]


def plan_month(hospitals: int, claims: int, days: int, *, seed: int = 2026, start: date = START) -> Plan:
    """A month: members, claims spread over `days` by `hospitals`, short payment runs, a final full run."""
    rng = random.Random(seed)
    participants: list[ParticipantChangedPayload] = []
    planned: list[PlannedClaim] = []
    first_clean: dict[str, PlannedClaim] = {}
    kinds = _kinds(rng, claims)
    for i, kind in enumerate(kinds):
        h = i % hospitals
        kode_rs = hospital_code(h)
        card = f"{1000000000000 + i:013d}"
        day = rng.randrange(days - 1) if kind != Kind.DUPLICATE_SEP else rng.randrange(days // 2, days - 1)
        sep = f"{kode_rs}{start:%m%y}V{i:06d}"
        participants.append(member_for(card, i, inactive=kind == Kind.INELIGIBLE))
        discharged = start + timedelta(days=day) - timedelta(days=rng.randint(1, 5))
        claim = claim_for(rng, kode_rs, card, sep, discharged, kind)
        duplicate_of = None
        if kind == Kind.DUPLICATE_SEP:
            original = first_clean.get(kode_rs)
            if original is None or original.day >= day:
                kind = Kind.CLEAN  # no earlier verified claim of this hospital to copy
                claim = claim_for(rng, kode_rs, card, sep, discharged, kind)
            else:
                duplicate_of = original.claim_id
                claim = claim.model_copy(update={"nomor_sep": original.claim.nomor_sep})
        item = PlannedClaim(f"SIM-{kode_rs}-{i:06d}", kind, day, claim, duplicate_of)
        if kind == Kind.CLEAN and day < days // 2:
            first_clean.setdefault(kode_rs, item)
        planned.append(item)
    runs = [PaymentRun(d, f"SIM-RUN-{d:03d}", 40_000_000 * hospitals) for d in range(4, days, 4)]
    runs.append(PaymentRun(days + 40, f"SIM-RUN-{days + 40:03d}-FINAL", 10**13))
    return Plan(start, days, participants, planned, runs, junk=junk_messages())


def member_for(card: str, i: int, *, inactive: bool) -> ParticipantChangedPayload:
    return ParticipantChangedPayload(
        nomor_kartu=card, nik=f"3171{i:012d}", status="inactive" if inactive else "active",
        status_reason="tunggakan iuran" if inactive else None, kelas_hak=3,
        member_type="PPU" if i % 3 else "PBI", valid_from=date(2020, 1, 1),
    )  # fmt: skip


def junk_messages() -> dict[str, list[bytes]]:
    """What a careless integrator sends: must land on the topic's DLQ, never stop a consumer."""
    valid_shape: dict[str, Any] = {"event_type": "ClaimSubmitted", "schema_version": 1}
    return {
        "claims.submitted": [b"\xff\xfe\x00 not json", b"{}", repr(valid_shape).encode(), b'{"event_type": "Nope"}'],
        "claims.disputed": [b"[]", b'{"event_type": "ClaimDisputed", "payload": {}}'],
        "participants.changed": [b"null"],
    }
