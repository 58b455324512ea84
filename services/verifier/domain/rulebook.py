"""The verifier's rule table: every reason code, the outcome it forces, its texts and its source.

The README renders `VERIFICATION_RULES` and `TRANSITION_RULES`; code builds reasons only through
`finding()` / `reason()`, so a code that is not in the table cannot be emitted.
"""

from __future__ import annotations

from dataclasses import dataclass
from enum import StrEnum

from shared.events import Reason


class Outcome(StrEnum):
    """What a finding forces; declared in precedence order, strongest first."""

    REJECT = "reject"
    PEND = "pend"
    REVIEW = "review"  # hold for a human reviewer
    ADJUST = "adjust"
    VERIFY = "verify"


# Lower index wins when findings are combined.
PRECEDENCE: tuple[Outcome, ...] = tuple(Outcome)


@dataclass(frozen=True)
class RuleSpec:
    """One row of the rule table; `outcome` is None for rules that refuse a state transition."""

    code: str
    outcome: Outcome | None
    text_id: str
    text_en: str
    source: str


@dataclass(frozen=True)
class Finding:
    """A rule's verdict on one claim: why, what it forces, and the reduction when it adjusts."""

    reason: Reason
    outcome: Outcome
    amount: int = 0


_SEED_000 = "seed 000, Verifikasi Klaim"
_SEED_001 = "seed 001"


def _art_51(letters: str) -> str:
    """Where an upgrade exclusion is written: the Perpres article's letters, and the PMK that repeats them."""
    return f"Perpres 82/2018 Art. 51(3)({letters}) as amended by Perpres 59/2024; PMK 3/2023 Art. 48"


VERIFICATION_RULES: tuple[RuleSpec, ...] = (
    RuleSpec(
        "V-ELIG-UNKNOWN",
        Outcome.REJECT,
        "Peserta tidak terdaftar",
        "Participant unknown",
        f"{_SEED_000} (eligibility)",
    ),
    RuleSpec(
        "V-ELIG-CARD",
        Outcome.REJECT,
        "Nomor kartu pada klaim tidak sesuai data peserta",
        "Card number on the claim does not match the participant record",
        f"{_SEED_000} (eligibility)",
    ),
    RuleSpec(
        "V-ELIG-SEP-HOSPITAL",
        Outcome.REJECT,
        "SEP tidak diterbitkan untuk rumah sakit ini",
        "SEP was not issued for this hospital (SEP prefix is the kode PPK)",
        "SEP number format (kode PPK + MMYY + V + sequence)",
    ),
    RuleSpec(
        "V-ELIG-INACTIVE",
        Outcome.REJECT,
        "Peserta tidak aktif pada tanggal SEP (tanggal masuk)",
        "Participant not active on the SEP (admission) date",
        f"{_SEED_000} (aktif pada tanggal pelayanan); "
        "docs/domain.md: judged on the SEP date, not every day of the stay",
    ),
    RuleSpec(
        "V-ELIG-CLASS",
        Outcome.REJECT,
        "Kelas rawat melebihi hak kelas tanpa naik kelas",
        "Care class above entitlement without a class upgrade",
        f"{_SEED_000}; PMK 3/2023 Art. 48",
    ),
    RuleSpec(
        "V-ELIG-UPGRADE-PBI",
        Outcome.REJECT,
        "Peserta PBI tidak boleh naik kelas atau rawat jalan eksekutif",
        "PBI members may not upgrade class or use outpatient executive care",
        _art_51("a"),
    ),
    RuleSpec(
        "V-ELIG-UPGRADE-CLASS3",
        Outcome.REJECT,
        "Peserta PBPU/BP dengan manfaat kelas III tidak boleh naik kelas atau rawat jalan eksekutif",
        "PBPU and BP members with class III benefit may not upgrade class or use outpatient executive care",
        _art_51("b, c"),
    ),
    RuleSpec(
        "V-ELIG-UPGRADE-PHK",
        Outcome.REJECT,
        "Peserta PPU yang mengalami PHK dan anggota keluarganya tidak boleh naik kelas atau rawat jalan eksekutif",
        "Laid-off PPU members and their families may not upgrade class or use outpatient executive care",
        _art_51("d"),
    ),
    RuleSpec(
        "V-ELIG-UPGRADE-PEMDA",
        Outcome.REJECT,
        "Peserta yang didaftarkan oleh Pemerintah Daerah tidak boleh naik kelas atau rawat jalan eksekutif",
        "Members registered by a local government may not upgrade class or use outpatient executive care",
        _art_51("e"),
    ),
    RuleSpec(
        "V-NEWBORN-HEALTHY",
        Outcome.REJECT,
        "Bayi baru lahir sehat (Z38) termasuk paket persalinan ibu; "
        "tidak dapat diklaim terpisah tanpa kondisi neonatal",
        "A healthy newborn (Z38) belongs to the mother's delivery package; not separately payable without "
        "a neonatal condition",
        "BPJS guidance citing PMK 76/2016 (INA-CBG guideline); docs/domain.md; medium confidence",
    ),
    RuleSpec(
        "V-EPISODE-OVERLAP",
        Outcome.REVIEW,
        "Rawat inap tumpang tindih dengan rawat inap lain peserta yang sama dengan SEP berbeda",
        "Inpatient stay overlaps another inpatient stay of the same member under a different SEP",
        f"{_SEED_001} (duplicate claims); docs/domain.md (overlapping episodes are duplicates)",
    ),
    RuleSpec(
        "V-DOC-RESUME",
        Outcome.PEND,
        "Resume medis tidak ada",
        "Medical resume (resume medis) missing",
        f"{_SEED_000}; {_SEED_001} (main cause of pending)",
    ),
    RuleSpec(
        "V-DOC-CONSENT",
        Outcome.PEND,
        "Informed consent tidak ada untuk tindakan invasif",
        "Informed consent missing for an invasive procedure",
        f"{_SEED_000}; {_SEED_001} (main cause of pending)",
    ),
    RuleSpec(
        "V-DOC-SUPPORT",
        Outcome.PEND,
        "Hasil pemeriksaan penunjang tidak ada untuk diagnosis",
        "Supporting result (lab/radiology) missing for a diagnosis",
        f"{_SEED_000} (hasil pemeriksaan penunjang)",
    ),
    RuleSpec(
        "V-DOC-REFERRAL",
        Outcome.PEND,
        "Surat rujukan tidak ada untuk rawat jalan non-gawat darurat",
        "Referral letter missing for non-emergency outpatient care",
        f"{_SEED_000} (rujukan)",
    ),
    RuleSpec(
        "V-DUP-SEP",
        Outcome.REJECT,
        "SEP sudah diklaim dan diverifikasi",
        "SEP already claimed and verified in another claim",
        f"{_SEED_001} (duplicate claims)",
    ),
    RuleSpec(
        "V-READMIT",
        Outcome.REVIEW,
        "Rawat inap ulang dalam CMG yang sama (kemungkinan fragmentasi)",
        "Readmission in the same CMG within the window (possible fragmentation)",
        f"{_SEED_001} (audit); readmission window is a policy setting",
    ),
    RuleSpec(
        "V-LOS-RANGE",
        Outcome.REVIEW,
        "Lama rawat di luar rentang yang diharapkan",
        "Length of stay outside the expected range for the group",
        "sample table data/los_ranges.csv (policy data)",
    ),
    RuleSpec(
        "V-SEVERITY-UNSUPPORTED",
        Outcome.ADJUST,
        "Diagnosis sekunder CC/MCC tanpa dokumen pendukung: severitas dihitung ulang tanpa kode itu",
        "A CC/MCC secondary diagnosis without supporting documents: severity regrouped without it",
        f"{_SEED_001} (upcoding audit); docs/domain.md (a correction is disputable)",
    ),
    RuleSpec(
        "V-CLAIM-EXPIRED",
        Outcome.REJECT,
        "Klaim diajukan melewati batas waktu setelah pasien pulang",
        "Claim submitted after the expiry window following discharge",
        "docs/domain.md Deadlines (6 months, article not confirmed)",
    ),
    RuleSpec(
        "V-REVIEW-PEND",
        Outcome.PEND,
        "Dikembalikan verifikator untuk dilengkapi",
        "Returned by the reviewer for completion",
        "reviewer decision (ReviewDecisionRequested)",
    ),
    RuleSpec(
        "V-REVIEW-ADJUST",
        Outcome.ADJUST,
        "Dikoreksi verifikator",
        "Corrected by the reviewer",
        "reviewer decision (ReviewDecisionRequested); docs/domain.md (a correction is disputable)",
    ),
    RuleSpec(
        "V-REVIEW-REJECT",
        Outcome.REJECT,
        "Ditolak verifikator",
        "Rejected by the reviewer",
        "reviewer decision (ReviewDecisionRequested)",
    ),
    RuleSpec(
        "V-PEND-EXPIRED",
        Outcome.REJECT,
        "Klaim pending tidak dikirim ulang sebelum batas waktu",
        "Pended claim not resubmitted by its deadline",
        f"{_SEED_001} (klaim pending: maksimal 7 hari kerja)",
    ),
)

TRANSITION_RULES: tuple[RuleSpec, ...] = (
    RuleSpec(
        "V-STATE-REVISION",
        None,
        "Nomor revisi harus lebih besar dari revisi terakhir yang diterima",
        "Revision number must be greater than the last revision received",
        "claim state machine",
    ),
    RuleSpec(
        "V-STATE-RESUBMIT-NOT-PENDED",
        None,
        "Hanya klaim pending yang dapat dikirim ulang",
        "Only a pended claim may be resubmitted",
        "claim state machine",
    ),
    RuleSpec(
        "V-STATE-RESUBMIT-LATE",
        None,
        "Pengiriman ulang melewati batas waktu",
        "Resubmitted after the resubmission deadline",
        f"{_SEED_001} (klaim pending: maksimal 7 hari kerja)",
    ),
    RuleSpec(
        "V-STATE-NOT-GROUPED",
        None,
        "Klaim belum dikelompokkan (grouping) untuk diverifikasi",
        "Claim is not grouped and waiting for verification",
        "claim state machine",
    ),
    RuleSpec(
        "V-STATE-NOT-IN-REVIEW",
        None,
        "Klaim tidak sedang diverifikasi",
        "Claim is not in review",
        "claim state machine",
    ),
    RuleSpec(
        "V-STATE-DECISION-LATE",
        None,
        "Keputusan setelah batas kelengkapan: klaim dianggap lengkap",
        "Decision after the completeness window: the claim is deemed complete",
        "Peraturan BPJS 7/2018 Art. 30(3),(5)",
    ),
    RuleSpec(
        "V-STATE-DECISION-INVALID",
        None,
        "Keputusan tidak konsisten",
        "Inconsistent decision (reasons, adjustments or amount)",
        "claim state machine",
    ),
    RuleSpec(
        "V-DISPUTE-NOT-DISPUTABLE",
        None,
        "Hanya klaim yang dikoreksi atau ditolak verifikator yang dapat disanggah",
        "Only a claim adjusted or rejected by the verifier may be disputed",
        "docs/domain.md Verification outcomes",
    ),
    RuleSpec(
        "V-DISPUTE-LATE",
        None,
        "Sanggahan melewati batas waktu",
        "Dispute filed after the dispute window",
        "seed 000, Q2 Pengajuan Sanggahan (biasanya dalam 14 hari kerja)",
    ),
    RuleSpec(
        "V-DISPUTE-REPEATED",
        None,
        "Klaim sudah pernah disanggah",
        "Claim has already been disputed",
        "claim state machine (one dispute per decision)",
    ),
    RuleSpec(
        "V-DISPUTE-NOT-OPEN",
        None,
        "Tidak ada sanggahan yang terbuka",
        "No open dispute to resolve",
        "claim state machine",
    ),
    RuleSpec(
        "V-DISPUTE-AMOUNT",
        None,
        "Jumlah hasil sanggahan tidak sesuai",
        "Dispute resolution amount is inconsistent with its outcome",
        "claim state machine",
    ),
    RuleSpec(
        "V-STATE-UNKNOWN-CLAIM",
        None,
        "Klaim tidak dikenal oleh verifikator (belum pernah dikelompokkan)",
        "Claim is not known to the verifier (never grouped)",
        "claim lifecycle",
    ),
    RuleSpec(
        "V-CMD-FUTURE",
        None,
        "Waktu perintah (occurred_at) di masa depan menurut jam verifikator",
        "Command's occurred_at is in the future by the verifier's clock",
        "deadlines judged on receipt time: a decision is dated by the instant the operator made it",
    ),
    RuleSpec(
        "V-DISPUTE-MISMATCH",
        None,
        "Sanggahan tidak sesuai klaim: kode RS atau nomor SEP berbeda dari klaim yang disanggah",
        "Dispute does not match the claim: hospital code or SEP differs from the disputed claim's",
        "claim lifecycle",
    ),
)

RULES: tuple[RuleSpec, ...] = VERIFICATION_RULES + TRANSITION_RULES
RULE_BY_CODE: dict[str, RuleSpec] = {rule.code: rule for rule in RULES}


def reason(code: str, *, field: str | None = None, detail: str = "") -> Reason:
    """The contract Reason for a table code; `detail` (codes, dates: language-neutral) is appended."""
    spec = RULE_BY_CODE[code]
    suffix = f" ({detail})" if detail else ""
    return Reason(code=code, field=field, message_id=spec.text_id + suffix, message_en=spec.text_en + suffix)


def finding(code: str, *, field: str | None = None, detail: str = "", amount: int = 0) -> Finding:
    """A finding for a verification rule code, with the outcome the table assigns to it."""
    outcome = RULE_BY_CODE[code].outcome
    if outcome is None:
        raise ValueError(f"{code} refuses transitions; it is not a verification finding")
    return Finding(reason(code, field=field, detail=detail), outcome, amount)
