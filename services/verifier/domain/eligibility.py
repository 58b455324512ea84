"""Eligibility: the participant is known, active on every service date and entitled to the care class.

A participant's history is a sequence of records (one per `participants.changed` event). On a given
date the record in force is the one covering it with the latest `valid_from`; on a tie the later
record in the sequence wins (it arrived later), so a change supersedes an open-ended earlier record.
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from datetime import date, timedelta
from typing import Literal

from services.verifier.domain.rulebook import Finding, finding
from shared.events import ClaimData, ParticipantChangedPayload

ParticipantStatus = Literal["active", "inactive", "suspended"]
MemberType = Literal["PBI", "PPU", "PBPU", "BP"]

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
        )

    def covers(self, day: date) -> bool:
        """Whether this record is in force on `day`."""
        return self.valid_from <= day and (self.valid_to is None or day <= self.valid_to)


def service_dates(claim: ClaimData) -> Iterator[date]:
    """Every date from admission to discharge, both included."""
    for offset in range(max((claim.tgl_pulang - claim.tgl_masuk).days, 0) + 1):
        yield claim.tgl_masuk + timedelta(days=offset)


def record_on(history: Sequence[Participant], day: date) -> Participant | None:
    """The record in force on `day`: latest valid_from, later position on a tie."""
    best: Participant | None = None
    for record in history:
        if record.covers(day) and (best is None or record.valid_from >= best.valid_from):
            best = record
    return best


def eligibility_findings(claim: ClaimData, history: Sequence[Participant]) -> list[Finding]:
    """Participant known, card matching, active on every service date, class within entitlement."""
    if not history:
        return [finding("V-ELIG-UNKNOWN", field="nomor_kartu", detail=claim.nomor_kartu)]
    own = [r for r in history if r.nomor_kartu == claim.nomor_kartu]
    if not own:
        cards = ", ".join(sorted({r.nomor_kartu for r in history}))
        return [finding("V-ELIG-CARD", field="nomor_kartu", detail=f"{claim.nomor_kartu} / {cards}")]
    in_force = [(day, record_on(own, day)) for day in service_dates(claim)]
    inactive = [(day, r) for day, r in in_force if r is None or r.status != "active"]
    if inactive:
        return [_inactive_finding(*inactive[0])]
    return _class_findings(claim, {r for _, r in in_force if r is not None})


def _inactive_finding(day: date, record: Participant | None) -> Finding:
    status = "no record" if record is None else f"{record.status}: {record.status_reason or '-'}"
    return finding("V-ELIG-INACTIVE", field="tgl_masuk", detail=f"{day.isoformat()}, {status}")


def _class_findings(claim: ClaimData, records: set[Participant]) -> list[Finding]:
    # Class 1 is the highest, so a numerically smaller care class is better than the entitlement.
    for record in sorted(records, key=lambda r: r.valid_from):
        above_entitlement = claim.kelas_rawat < record.kelas_hak
        if record.member_type == "PBI" and (claim.upgrade_class_ind or above_entitlement):
            detail = f"kelas_hak {record.kelas_hak}"
            return [finding("V-ELIG-UPGRADE-PBI", field="upgrade_class_ind", detail=detail)]
        if above_entitlement and not claim.upgrade_class_ind:
            detail = f"kelas_rawat {claim.kelas_rawat}, kelas_hak {record.kelas_hak}"
            return [finding("V-ELIG-CLASS", field="kelas_rawat", detail=detail)]
    return []


def sep_hospital_findings(claim: ClaimData) -> list[Finding]:
    """A 19-character SEP starts with the kode PPK of the hospital it was issued for."""
    if len(claim.nomor_sep) != SEP_LENGTH or claim.nomor_sep[:KODE_PPK_LENGTH] == claim.kode_rs:
        return []  # a malformed SEP is the grouper's to refuse
    return [finding("V-ELIG-SEP-HOSPITAL", field="nomor_sep", detail=f"{claim.nomor_sep} / {claim.kode_rs}")]
