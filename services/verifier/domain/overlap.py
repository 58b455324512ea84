"""Overlapping inpatient episodes: one member cannot lie in two beds at once under two SEPs.

Rule (seed 001 duplicate claims; DOMAIN.md): an inpatient claim whose stay overlaps another inpatient
claim of the same member under a different SEP is held for a reviewer (which one is the real stay is
a judgement, not arithmetic). Sharing only a boundary day is not an overlap: a patient referred on
discharge is admitted elsewhere the same day. The same SEP twice is V-DUP-SEP's business.
"""

from __future__ import annotations

from collections.abc import Sequence

from services.verifier.domain.integrity import INPATIENT, Episode, name_some
from services.verifier.domain.rulebook import Finding, finding
from shared.events import ClaimData


def overlaps(claim: ClaimData, episode: Episode) -> bool:
    """The two stays share more than a boundary day (admission of one before the discharge of the other)."""
    if episode.tgl_masuk is None:
        return False
    return episode.tgl_masuk < claim.tgl_pulang and claim.tgl_masuk < episode.tgl_pulang


def overlap_findings(claim_id: str, claim: ClaimData, episodes: Sequence[Episode]) -> list[Finding]:
    """Other inpatient claims of the member, under another SEP, whose stay overlaps this one."""
    if claim.jenis_rawat != INPATIENT:
        return []
    clashing = [
        e
        for e in episodes
        if e.claim_id != claim_id
        and e.jenis_rawat == INPATIENT
        and e.nomor_sep != claim.nomor_sep
        and overlaps(claim, e)
    ]
    if not clashing:
        return []
    stays = {f"{e.claim_id} {e.tgl_masuk}..{e.tgl_pulang}" for e in clashing}
    detail = f"{claim.tgl_masuk}..{claim.tgl_pulang} / {name_some(stays)}"
    return [finding("V-EPISODE-OVERLAP", field="tgl_masuk", detail=detail)]
