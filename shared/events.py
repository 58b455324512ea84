"""Event contract v1: the envelope and every payload exchanged on the broker.

Field names follow E-Klaim usage where one exists (nomor_sep, nomor_kartu, tgl_masuk, ...).
Rupiah are `int`. Unknown fields are refused everywhere (`extra="forbid"`).

The contract checks *shape* (types, required fields, value sets that are part of the
protocol). Business validity of a claim (SEP format, code sets, care class range,
amounts) is the grouper's job, so a hospital gets a `claims.rejected` naming every
problem instead of a silent trip to a dead-letter topic.
"""

from __future__ import annotations

import uuid
from datetime import UTC, date, datetime
from typing import Annotated, Any, ClassVar, Literal, TypeAlias

from pydantic import AwareDatetime, BaseModel, ConfigDict, Field, TypeAdapter, field_validator

from shared import topics

SCHEMA_VERSION = 1

ClaimId = Annotated[str, Field(min_length=1, max_length=64, pattern=r"^[A-Za-z0-9][A-Za-z0-9._:\-]*$")]
Rupiah = Annotated[int, Field(description="Whole rupiah (IDR has no minor unit)")]
NonNegativeRupiah = Annotated[int, Field(ge=0, description="Whole rupiah, not negative")]


class Contract(BaseModel):
    """Base of every contract model: unknown fields refused, instances immutable."""

    model_config = ConfigDict(extra="forbid", frozen=True)


# --------------------------------------------------------------------------- claim data


class TarifRS(Contract):
    """The hospital's own bill in the 18 E-Klaim components (rupiah)."""

    prosedur_non_bedah: Rupiah = 0
    prosedur_bedah: Rupiah = 0
    konsultasi: Rupiah = 0
    tenaga_ahli: Rupiah = 0
    keperawatan: Rupiah = 0
    penunjang: Rupiah = 0
    radiologi: Rupiah = 0
    laboratorium: Rupiah = 0
    pelayanan_darah: Rupiah = 0
    rehabilitasi: Rupiah = 0
    kamar: Rupiah = 0
    rawat_intensif: Rupiah = 0
    obat: Rupiah = 0
    obat_kronis: Rupiah = 0
    obat_kemoterapi: Rupiah = 0
    alkes: Rupiah = 0
    bmhp: Rupiah = 0
    sewa_alat: Rupiah = 0

    def total(self) -> int:
        """Sum of all components."""
        return sum(int(v) for v in self.model_dump().values())


DocumentType = Literal[
    "resume_medis",
    "informed_consent",
    "lab_result",
    "radiology_result",
    "supporting_result",
    "referral_letter",
    "billing_detail",
    "operation_report",
]


class DocumentRef(Contract):
    """A reference to a supporting document held by the hospital (E-Klaim upload)."""

    doc_type: DocumentType
    ref: str = Field(min_length=1, max_length=200, description="The hospital's document id or URL")
    supports: list[str] = Field(
        default_factory=list, description="ICD-10 codes this document supports (lab, radiology results)"
    )


class ProcedureEntry(Contract):
    """An ICD-9-CM procedure with its multiplier (E-Klaim `procedure` with `+N`)."""

    code: str = Field(min_length=1, max_length=10)
    qty: int = Field(default=1, ge=1, le=99)


class ClaimData(Contract):
    """One hospital episode as the hospital submits it (per SEP)."""

    nomor_sep: str = Field(max_length=40, description="SEP number, 19 characters, e.g. 0301R0011117V000008")
    nomor_kartu: str = Field(max_length=40, description="JKN card number, 13 digits")
    kode_rs: str = Field(max_length=40, description="Hospital code (kode PPK), 8 characters, e.g. 0301R001")
    kelas_rs: str = Field(max_length=4, description="Hospital class with ownership variant: A, B, C, D, AP, BS, ...")
    regional_tarif: int = Field(description="Tariff region 1-5")
    tgl_lahir: date
    gender: Literal[1, 2] = Field(description="1 male, 2 female")
    tgl_masuk: date = Field(description="Admission date")
    tgl_pulang: date = Field(description="Discharge date")
    jenis_rawat: int = Field(description="Care type: 1 inpatient, 2 outpatient")
    kelas_rawat: int = Field(description="Care class 1, 2 or 3")
    upgrade_class_ind: bool = False
    upgrade_class_class: Literal["kelas_1", "kelas_2", "vip", "vvip"] | None = None
    emergency: bool = Field(default=False, description="Emergency admission (no referral needed)")
    discharge_status: Literal[1, 2, 3, 4, 5] = Field(
        default=1, description="1 home, 2 referred, 3 discharged against advice, 4 died, 5 other"
    )
    birth_weight: int | None = Field(default=None, description="Grams, neonates only")
    icu_days: int = Field(default=0, ge=0)
    ventilator_hours: int = Field(default=0, ge=0)
    adl_sub_acute: int | None = Field(default=None, ge=12, le=60)
    adl_chronic: int | None = Field(default=None, ge=12, le=60)
    diagnosa: list[str] = Field(description="ICD-10 codes, principal diagnosis first", max_length=30)
    procedure: list[ProcedureEntry] = Field(default_factory=list, max_length=30)
    special_cmg: list[str] = Field(
        default_factory=list, description="Special CMG items claimed (e.g. RR04, DD01)", max_length=10
    )
    tarif_rs: TarifRS
    coder_nik: str = Field(max_length=40)
    documents: list[DocumentRef] = Field(default_factory=list, max_length=50)

    @property
    def length_of_stay(self) -> int:
        """Days between admission and discharge, at least 1 (same-day counts as one day)."""
        return max((self.tgl_pulang - self.tgl_masuk).days, 1)


class Reason(Contract):
    """Why something was refused or held: stable code, field, and text in Indonesian and English."""

    code: str = Field(description="Stable reason code, e.g. G-ICD-UNKNOWN, V-DOC-CONSENT")
    field: str | None = Field(default=None, description="The claim field the reason is about")
    message_id: str = Field(description="Message in Indonesian")
    message_en: str = Field(description="Message in English")


# --------------------------------------------------------------------------- grouping


class TariffByClass(Contract):
    kelas: Literal[1, 2, 3]
    tarif: NonNegativeRupiah


class SpecialCmgApplied(Contract):
    code: str
    kind: Literal["procedure", "prosthesis", "investigation", "drug", "sub_acute", "chronic"]
    description: str
    tarif: NonNegativeRupiah


class GroupingResult(Contract):
    cbg_code: str = Field(description="INA-CBG code X-Y-ZZ-S, e.g. K-4-17-I")
    cbg_description: str
    cmg: str
    case_type: int = Field(ge=0, le=9)
    severity: Literal["0", "I", "II", "III"]
    tarif_kelas: NonNegativeRupiah = Field(description="Base tariff for the claimed care class")
    tarif_alt: list[TariffByClass]
    special_cmg: list[SpecialCmgApplied] = Field(default_factory=list)
    total_tarif: NonNegativeRupiah = Field(description="Base tariff plus special CMG top-ups")
    tarif_rs_total: NonNegativeRupiah
    tariff_gap: Rupiah = Field(description="Hospital bill minus INA-CBG total (positive: hospital billed more)")
    upgrade_cost_share: NonNegativeRupiah | None = Field(
        default=None, description="What the patient pays for a class upgrade (naik kelas)"
    )
    grouper_version: str
    tariff_table_version: str


# --------------------------------------------------------------------------- payloads


class ClaimSubmittedPayload(Contract):
    revision: int = Field(ge=0, description="0 first submission, n for the n-th resubmission after pending")
    claim: ClaimData


class ClaimGroupedPayload(Contract):
    revision: int = Field(ge=0)
    submitted_on: date = Field(description="Business date the claim (this revision) was submitted")
    claim: ClaimData
    grouping: GroupingResult


class ClaimRejectedPayload(Contract):
    revision: int = Field(ge=0)
    stage: Literal["grouper", "verifier"]
    nomor_sep: str
    kode_rs: str
    rejected_on: date
    reasons: list[Reason] = Field(min_length=1)
    refusal: bool = Field(
        default=False,
        description="True: this refuses one event (a late dispute, a reused revision) and the claim keeps "
        "its state; false: the claim itself is rejected (tidak layak)",
    )


class ClaimPendedPayload(Contract):
    revision: int = Field(ge=0)
    nomor_sep: str
    kode_rs: str
    pended_on: date
    resubmit_by: date = Field(description="Last working day on which the hospital may resubmit")
    missing: list[Reason] = Field(min_length=1)


class Adjustment(Contract):
    reason: Reason
    amount: NonNegativeRupiah = Field(description="Reduction from the grouped tariff")


class ClaimVerifiedPayload(Contract):
    revision: int = Field(ge=0)
    nomor_sep: str
    kode_rs: str
    verification_seq: int = Field(
        ge=0, description="0 the main decision, 1.. supplementary amounts after a dispute; payable key"
    )
    verified_on: date = Field(description="The date the file is complete: starts the payment clock")
    claimed_amount: NonNegativeRupiah = Field(description="INA-CBG total tariff grouped for the claim")
    approved_amount: NonNegativeRupiah = Field(description="Amount payable for this verification")
    adjustments: list[Adjustment] = Field(default_factory=list)
    deemed_complete: bool = Field(default=False, description="No decision within the completeness window")
    dispute_by: date | None = Field(default=None, description="Last working day to dispute, when disputable")


class ClaimDisputedPayload(Contract):
    nomor_sep: str
    kode_rs: str
    disputed_on: date
    requested_amount: NonNegativeRupiah = Field(description="The amount the hospital believes is due in total")
    reason: str = Field(min_length=1, max_length=2000)
    documents: list[DocumentRef] = Field(default_factory=list)


class ClaimDisputeResolvedPayload(Contract):
    nomor_sep: str
    kode_rs: str
    outcome: Literal["upheld", "partial", "denied"]
    supplementary_amount: NonNegativeRupiah = Field(description="Extra amount payable (0 when denied)")
    resolved_on: date
    reviewer: str
    note: str


class ClaimPaidPayload(Contract):
    nomor_sep: str
    kode_rs: str
    verification_seq: int = Field(ge=0)
    approved_amount: NonNegativeRupiah
    penalty: NonNegativeRupiah
    total_paid: NonNegativeRupiah
    due_on: date
    paid_on: date
    days_late: int = Field(ge=0)
    penalty_method: Literal["daily_pro_rata", "full_months", "started_months"]
    payment_run_id: str
    payment_id: str
    ledger_entry_ids: list[str] = Field(min_length=1)


class PaymentOverduePayload(Contract):
    nomor_sep: str
    kode_rs: str
    verification_seq: int = Field(ge=0)
    amount: NonNegativeRupiah
    due_on: date
    as_of: date
    days_late: int = Field(ge=1)
    accrued_penalty: NonNegativeRupiah
    penalty_method: Literal["daily_pro_rata", "full_months", "started_months"]


class ParticipantChangedPayload(Contract):
    nomor_kartu: str = Field(max_length=40)
    nik: str = Field(max_length=40, description="National identity number, 16 digits")
    status: Literal["active", "inactive", "suspended"]
    status_reason: str | None = Field(default=None, max_length=200)
    kelas_hak: Literal[1, 2, 3] = Field(description="Care class entitlement")
    member_type: Literal["PBI", "PPU", "PBPU", "BP"] = Field(
        description="PBI subsidised; PPU wage earner; PBPU self-paying; BP non-worker"
    )
    valid_from: date
    valid_to: date | None = None


class PaymentDeadlineApproachingPayload(Contract):
    nomor_sep: str
    kode_rs: str
    verification_seq: int = Field(ge=0)
    amount: NonNegativeRupiah
    due_on: date
    as_of: date
    working_days_left: int = Field(ge=0)


class ClaimDeadlineReminderPayload(Contract):
    nomor_sep: str
    kode_rs: str
    deadline_kind: Literal["resubmit", "dispute"]
    deadline: date = Field(description="Last working day for the hospital to act")
    as_of: date
    working_days_left: int = Field(ge=0)


class ReviewDecisionRequestedPayload(Contract):
    """A verifier's decision on a claim held for review (command to the verifier service)."""

    outcome: Literal["verify", "adjust", "pend", "reject"]
    reviewer: str = Field(min_length=1, max_length=200)
    note: str = Field(default="", max_length=2000)
    approved_amount: NonNegativeRupiah | None = Field(default=None, description="Required for adjust")
    missing: list[str] = Field(default_factory=list, description="Document types missing, for pend")


class DisputeResolutionRequestedPayload(Contract):
    """A dispute reviewer's ruling (command to the verifier service)."""

    outcome: Literal["upheld", "partial", "denied"]
    amount: NonNegativeRupiah | None = Field(default=None, description="Supplementary amount for partial")
    reviewer: str = Field(min_length=1, max_length=200)
    note: str = Field(min_length=1, max_length=2000)


class PaymentRunRequestedPayload(Contract):
    """Pay open payables oldest-due first with `funds` (command to the payments service)."""

    run_id: str = Field(min_length=1, max_length=64, description="Idempotency key of the run")
    funds: NonNegativeRupiah
    requested_by: str = Field(min_length=1, max_length=200)


class PaymentCorrectionRequestedPayload(Contract):
    """A post-payment review (VEDIKA) finding: recover part of a paid claim (command to payments)."""

    correction_id: str = Field(min_length=1, max_length=64, description="Idempotency key of the correction")
    verification_seq: int = Field(ge=0, description="Which payment of the claim is corrected")
    recover_amount: int = Field(gt=0, description="Rupiah the hospital owes back")
    reason: str = Field(min_length=1, max_length=2000)
    requested_by: str = Field(min_length=1, max_length=200)


class CapitationLine(Contract):
    kode_faskes: str = Field(max_length=40)
    facility_type: Literal["puskesmas", "klinik_pratama", "dokter_praktik", "dokter_gigi"]
    registered_members: int = Field(ge=0)
    doctors: int = Field(ge=0)
    has_dentist: bool
    # KBK indicators; all three null means KBK is not assessed for the facility (paid 100 %).
    contact_rate_per_mille: float | None = Field(default=None, ge=0)
    non_specialist_referral_pct: float | None = Field(default=None, ge=0, le=100)
    controlled_prolanis_pct: float | None = Field(default=None, ge=0, le=100)


class CapitationRunRequestedPayload(Contract):
    """Capitation for one month over the given FKTPs (command to the payments service)."""

    run_id: str = Field(min_length=1, max_length=64)
    month: str = Field(pattern=r"^\d{4}-(0[1-9]|1[0-2])$")
    lines: list[CapitationLine] = Field(min_length=1)
    requested_by: str = Field(min_length=1, max_length=200)


class CapitationPaidPayload(Contract):
    run_id: str
    month: str
    kode_faskes: str
    facility_type: str
    registered_members: int = Field(ge=0)
    rate: NonNegativeRupiah
    base_amount: NonNegativeRupiah
    kbk_score: float | None = Field(description="Weighted KBK score 0-4; null when not assessed")
    kbk_percentage: float = Field(description="Share of the base amount paid, after KBK")
    amount: NonNegativeRupiah
    service_fee_part: NonNegativeRupiah = Field(description="Jasa pelayanan, at least 60 %")
    operations_part: NonNegativeRupiah
    due_on: date
    ledger_entry_ids: list[str]


# --------------------------------------------------------------------------- envelope


class Envelope(Contract):
    """Fields every event carries. `event_id` is the dedupe key (never the broker's message id)."""

    event_id: uuid.UUID = Field(default_factory=uuid.uuid4)
    schema_version: Literal[1] = 1
    occurred_at: AwareDatetime = Field(description="When it happened, UTC")
    claim_id: ClaimId | None = Field(description="The claim this event is about; null for participant events")
    correlation_id: uuid.UUID = Field(description="Same for every event of one claim's journey")
    causation_id: uuid.UUID | None = Field(default=None, description="event_id of the event that caused this one")
    producer: str = Field(min_length=1, max_length=64)
    received_at: AwareDatetime | None = Field(
        default=None,
        description="When BPJS received the input this event stems from (broker append time, else the first "
        "BPJS service's receipt), UTC; carried unchanged by follow-up events. Deadlines are judged on it.",
    )

    topic: ClassVar[str]

    @field_validator("occurred_at", "received_at")
    @classmethod
    def _utc(cls, v: datetime | None) -> datetime | None:
        return None if v is None else v.astimezone(UTC)

    @property
    def key(self) -> str:
        """Kafka key: the claim id, so one claim's events stay in order."""
        if self.claim_id is None:
            raise ValueError("event has no claim_id")
        return self.claim_id


class ClaimSubmitted(Envelope):
    topic = topics.CLAIMS_SUBMITTED
    event_type: Literal["ClaimSubmitted"] = "ClaimSubmitted"
    claim_id: ClaimId
    payload: ClaimSubmittedPayload


class ClaimGrouped(Envelope):
    topic = topics.CLAIMS_GROUPED
    event_type: Literal["ClaimGrouped"] = "ClaimGrouped"
    claim_id: ClaimId
    payload: ClaimGroupedPayload


class ClaimRejected(Envelope):
    topic = topics.CLAIMS_REJECTED
    event_type: Literal["ClaimRejected"] = "ClaimRejected"
    claim_id: ClaimId
    payload: ClaimRejectedPayload


class ClaimPended(Envelope):
    topic = topics.CLAIMS_PENDED
    event_type: Literal["ClaimPended"] = "ClaimPended"
    claim_id: ClaimId
    payload: ClaimPendedPayload


class ClaimVerified(Envelope):
    topic = topics.CLAIMS_VERIFIED
    event_type: Literal["ClaimVerified"] = "ClaimVerified"
    claim_id: ClaimId
    payload: ClaimVerifiedPayload


class ClaimDisputed(Envelope):
    topic = topics.CLAIMS_DISPUTED
    event_type: Literal["ClaimDisputed"] = "ClaimDisputed"
    claim_id: ClaimId
    payload: ClaimDisputedPayload


class ClaimDisputeResolved(Envelope):
    topic = topics.CLAIMS_DISPUTE_RESOLVED
    event_type: Literal["ClaimDisputeResolved"] = "ClaimDisputeResolved"
    claim_id: ClaimId
    payload: ClaimDisputeResolvedPayload


class ClaimPaid(Envelope):
    topic = topics.CLAIMS_PAID
    event_type: Literal["ClaimPaid"] = "ClaimPaid"
    claim_id: ClaimId
    payload: ClaimPaidPayload


class PaymentOverdue(Envelope):
    topic = topics.PAYMENTS_OVERDUE
    event_type: Literal["PaymentOverdue"] = "PaymentOverdue"
    claim_id: ClaimId
    payload: PaymentOverduePayload


class ParticipantChanged(Envelope):
    topic = topics.PARTICIPANTS_CHANGED
    event_type: Literal["ParticipantChanged"] = "ParticipantChanged"
    claim_id: None = None
    payload: ParticipantChangedPayload

    @property
    def key(self) -> str:
        """Participant events are keyed by card number so one member's changes stay in order."""
        return self.payload.nomor_kartu


class PaymentDeadlineApproaching(Envelope):
    topic = topics.PAYMENTS_DEADLINE_APPROACHING
    event_type: Literal["PaymentDeadlineApproaching"] = "PaymentDeadlineApproaching"
    claim_id: ClaimId
    payload: PaymentDeadlineApproachingPayload


class ClaimDeadlineReminder(Envelope):
    topic = topics.CLAIMS_REMINDERS
    event_type: Literal["ClaimDeadlineReminder"] = "ClaimDeadlineReminder"
    claim_id: ClaimId
    payload: ClaimDeadlineReminderPayload


class ReviewDecisionRequested(Envelope):
    topic = topics.VERIFIER_COMMANDS
    event_type: Literal["ReviewDecisionRequested"] = "ReviewDecisionRequested"
    claim_id: ClaimId
    payload: ReviewDecisionRequestedPayload


class DisputeResolutionRequested(Envelope):
    topic = topics.VERIFIER_COMMANDS
    event_type: Literal["DisputeResolutionRequested"] = "DisputeResolutionRequested"
    claim_id: ClaimId
    payload: DisputeResolutionRequestedPayload


class PaymentRunRequested(Envelope):
    topic = topics.PAYMENTS_COMMANDS
    event_type: Literal["PaymentRunRequested"] = "PaymentRunRequested"
    claim_id: None = None
    payload: PaymentRunRequestedPayload

    @property
    def key(self) -> str:
        """Runs are keyed by run id."""
        return self.payload.run_id


class PaymentCorrectionRequested(Envelope):
    topic = topics.PAYMENTS_COMMANDS
    event_type: Literal["PaymentCorrectionRequested"] = "PaymentCorrectionRequested"
    claim_id: ClaimId
    payload: PaymentCorrectionRequestedPayload


class CapitationRunRequested(Envelope):
    topic = topics.PAYMENTS_COMMANDS
    event_type: Literal["CapitationRunRequested"] = "CapitationRunRequested"
    claim_id: None = None
    payload: CapitationRunRequestedPayload

    @property
    def key(self) -> str:
        """Runs are keyed by run id."""
        return self.payload.run_id


class CapitationPaid(Envelope):
    topic = topics.CAPITATION_PAID
    event_type: Literal["CapitationPaid"] = "CapitationPaid"
    claim_id: None = None
    payload: CapitationPaidPayload

    @property
    def key(self) -> str:
        """Keyed by facility so one FKTP's payments stay in order."""
        return self.payload.kode_faskes


AnyEvent: TypeAlias = Annotated[
    ClaimSubmitted
    | ClaimGrouped
    | ClaimRejected
    | ClaimPended
    | ClaimVerified
    | ClaimDisputed
    | ClaimDisputeResolved
    | ClaimPaid
    | PaymentOverdue
    | ParticipantChanged
    | PaymentDeadlineApproaching
    | ClaimDeadlineReminder
    | ReviewDecisionRequested
    | DisputeResolutionRequested
    | PaymentRunRequested
    | PaymentCorrectionRequested
    | CapitationRunRequested
    | CapitationPaid,
    Field(discriminator="event_type"),
]

EVENT_TYPES: tuple[type[Envelope], ...] = (
    ClaimSubmitted,
    ClaimGrouped,
    ClaimRejected,
    ClaimPended,
    ClaimVerified,
    ClaimDisputed,
    ClaimDisputeResolved,
    ClaimPaid,
    PaymentOverdue,
    ParticipantChanged,
    PaymentDeadlineApproaching,
    ClaimDeadlineReminder,
    ReviewDecisionRequested,
    DisputeResolutionRequested,
    PaymentRunRequested,
    PaymentCorrectionRequested,
    CapitationRunRequested,
    CapitationPaid,
)

_any_event: TypeAdapter[AnyEvent] = TypeAdapter(AnyEvent)


def parse_event(raw: bytes | str) -> Envelope:
    """Decode and validate one event from its JSON bytes; raises pydantic.ValidationError."""
    event: Envelope = _any_event.validate_json(raw)
    return event


def parse_event_obj(obj: Any) -> Envelope:
    """Validate one event from already-decoded JSON."""
    event: Envelope = _any_event.validate_python(obj)
    return event


def encode_event(event: Envelope) -> bytes:
    """The wire form: compact JSON, UTF-8."""
    return event.model_dump_json().encode()


def event_type_name(cls: type[Envelope]) -> str:
    """The `event_type` literal of an event class."""
    default = cls.model_fields["event_type"].default
    assert isinstance(default, str)
    return default
