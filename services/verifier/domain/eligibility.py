"""Eligibility: the participant is known, active on the service (SEP) date and entitled to the care class.

A participant's history is a sequence of records (one per `participants.changed` event). On a given
date the record in force is the one covering it with the latest `valid_from`; on a tie the later
record in the sequence wins (it arrived later), so a change supersedes an open-ended earlier record.

The service date is the SEP date, which is the admission date `tgl_masuk` (an SEP is issued when the
member is admitted or seen): a membership that lapses during an inpatient stay does not undo the stay
(DOMAIN.md "Eligibility is judged on the service (SEP) date, not on every day of the stay").

Who may pay for a better class (naik kelas) or an outpatient executive visit is a policy table,
`UPGRADE_EXCLUSIONS`, each row with the regulation it comes from.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import date
from typing import Literal

from services.verifier.domain.rulebook import RULE_BY_CODE, Finding, finding
from shared.events import ClaimData, ParticipantChangedPayload

ParticipantStatus = Literal["active", "inactive", "suspended"]
MemberType = Literal["PBI", "PPU", "PBPU", "BP"]
MemberCategory = Literal["pemda", "ppu_phk"]

INPATIENT = 1
OUTPATIENT = 2
EXECUTIVE = 1  # E-Klaim: outpatient kelas_rawat 1 = eksekutif, 3 = regular
SEP_LENGTH = 19
KODE_PPK_LENGTH = 8


@dataclass(frozen=True)
class Participant:
    """One validity period of a JKN member, as the membership system announced it."""

    nomor_kartu: str
    nik: str
    status: ParticipantStatus
    kelas_hak: int  # 1 is the highest class
    member_type: MemberType
    valid_from: date
    valid_to: date | None = None  # inclusive; None: open-ended
    status_reason: str | None = None
    member_category: MemberCategory | None = None  # pemda, ppu_phk: see ParticipantChangedPayload

    @classmethod
    def from_payload(cls, p: ParticipantChangedPayload) -> Participant:
        """The record a `participants.changed` event carries."""
        return cls(
            p.nomor_kartu,
            p.nik,
            p.status,
            p.kelas_hak,
            p.member_type,
            p.valid_from,
            p.valid_to,
            p.status_reason,
            p.member_category,
        )

    def covers(self, day: date) -> bool:
        """Whether this record is in force on `day`."""
        return self.valid_from <= day and (self.valid_to is None or day <= self.valid_to)


def service_date(claim: ClaimData) -> date:
    """The date eligibility is judged on: the SEP date, which is the admission (or visit) date."""
    return claim.tgl_masuk


def record_on(history: Sequence[Participant], day: date) -> Participant | None:
    """The record in force on `day`: latest valid_from, later position on a tie."""
    best: Participant | None = None
    for record in history:
        if record.covers(day) and (best is None or record.valid_from >= best.valid_from):
            best = record
    return best


@dataclass(frozen=True)
class UpgradeExclusion:
    """A kind of member who may not pay for a better class or executive care; the rulebook row gives the source."""

    rule: str  # the rulebook code the refusal carries
    who: str
    applies: Callable[[Participant], bool]

    @property
    def source(self) -> str:
        """Where the exclusion is written (the rulebook's source column)."""
        return RULE_BY_CODE[self.rule].source


# Perpres 59/2024 Art. 51(3): the upgrade of Art. 51(1) ("termasuk rawat jalan eksekutif") is not open to
# a. PBI members, b. BP and c. PBPU members with class III benefit, d. laid-off PPU members and their
# families, e. members registered by a local government (PMK 3/2023 Art. 48 lists the same). The first
# matching row names the refusal.
UPGRADE_EXCLUSIONS: tuple[UpgradeExclusion, ...] = (
    UpgradeExclusion("V-ELIG-UPGRADE-PBI", "PBI (contribution paid by the state)", lambda p: p.member_type == "PBI"),
    UpgradeExclusion("V-ELIG-UPGRADE-CLASS3", "PBPU or BP with class III benefit",
                     lambda p: p.member_type in ("PBPU", "BP") and p.kelas_hak == 3),
    UpgradeExclusion("V-ELIG-UPGRADE-PHK", "laid-off PPU member or family member (continued coverage)",
                     lambda p: p.member_category == "ppu_phk"),
    UpgradeExclusion("V-ELIG-UPGRADE-PEMDA", "registered by a local government (PBPU/BP Pemda)",
                     lambda p: p.member_category == "pemda"),
)  # fmt: skip


def upgrade_exclusion(record: Participant) -> UpgradeExclusion | None:
    """The first exclusion that applies to the member, if any."""
    return next((x for x in UPGRADE_EXCLUSIONS if x.applies(record)), None)


def eligibility_findings(claim: ClaimData, history: Sequence[Participant]) -> list[Finding]:
    """Participant known, card matching, active on the SEP date, class within entitlement or a permitted upgrade."""
    if not history:
        return [finding("V-ELIG-UNKNOWN", field="nomor_kartu", detail=claim.nomor_kartu)]
    own = [r for r in history if r.nomor_kartu == claim.nomor_kartu]
    if not own:
        cards = ", ".join(sorted({r.nomor_kartu for r in history}))
        return [finding("V-ELIG-CARD", field="nomor_kartu", detail=f"{claim.nomor_kartu} / {cards}")]
    day = service_date(claim)
    record = record_on(own, day)
    if record is None or record.status != "active":
        return [_inactive_finding(day, record)]
    return _class_findings(claim, record)


def _inactive_finding(day: date, record: Participant | None) -> Finding:
    status = "no record" if record is None else f"{record.status}: {record.status_reason or '-'}"
    return finding("V-ELIG-INACTIVE", field="tgl_masuk", detail=f"{day.isoformat()}, {status}")


def upgrade_field(claim: ClaimData, record: Participant) -> str | None:
    """The field that asks for more than the entitlement (upgrade, better class, executive care); None if none."""
    if claim.jenis_rawat == OUTPATIENT:
        return "kelas_rawat" if claim.kelas_rawat == EXECUTIVE else None  # outpatient care has no class
    if claim.upgrade_class_ind:
        return "upgrade_class_ind"
    # Class 1 is the highest, so a numerically smaller care class is better than the entitlement.
    return "kelas_rawat" if claim.kelas_rawat < record.kelas_hak else None


def _class_findings(claim: ClaimData, record: Participant) -> list[Finding]:
    field = upgrade_field(claim, record)
    if field is None:
        return []
    excluded = upgrade_exclusion(record)
    if excluded is not None:
        detail = f"{record.member_type}, kelas_hak {record.kelas_hak}, {field} {getattr(claim, field)}"
        return [finding(excluded.rule, field=field, detail=detail)]
    if field == "kelas_rawat" and claim.jenis_rawat == INPATIENT:
        detail = f"kelas_rawat {claim.kelas_rawat}, kelas_hak {record.kelas_hak}"
        return [finding("V-ELIG-CLASS", field="kelas_rawat", detail=detail)]
    return []


def sep_hospital_findings(claim: ClaimData) -> list[Finding]:
    """A 19-character SEP starts with the kode PPK of the hospital it was issued for."""
    if len(claim.nomor_sep) != SEP_LENGTH or claim.nomor_sep[:KODE_PPK_LENGTH] == claim.kode_rs:
        return []  # a malformed SEP is the grouper's to refuse
    return [finding("V-ELIG-SEP-HOSPITAL", field="nomor_sep", detail=f"{claim.nomor_sep} / {claim.kode_rs}")]
