"""Event contract v1: the envelope and every payload exchanged on the broker.

Field names follow E-Klaim usage where one exists (nomor_sep, nomor_kartu, tgl_masuk, ...).
Rupiah are `int`. Unknown fields are refused everywhere (`extra="forbid"`).

The contract checks *shape* (types, required fields, value sets that are part of the
protocol). Business validity of a claim (SEP format, code sets, care class range,
amounts) is the grouper's job, so a hospital gets a `claims.rejected` naming every
problem instead of a silent trip to a dead-letter topic.

Bounds (shape, not business; each refusal names the field and the rule):
- every string has a maximum length and refuses C0 control characters (U+0000-U+001F) and
  DEL; free text (notes, reasons, messages, descriptions) may keep tab, newline and carriage
  return. A NUL cannot reach PostgreSQL (it cannot store one) and no field can grow a record
  past the broker's limit;
- ICD-10 diagnoses and ICD-9-CM procedures must look like codes (dotted or undotted, as the
  grouper accepts them); whether a code exists is still the grouper's reason to give;
- every list has a maximum length; every integer fits a PostgreSQL `integer` and every rupiah
  amount is at most 10^15 (exact in a JSON double, fits `bigint`); floats are finite.
"""

from __future__ import annotations

import functools
import operator
import re
import uuid
from collections.abc import Callable, Iterable, Iterator, Mapping
from contextlib import contextmanager
from datetime import UTC, date, datetime
from types import MappingProxyType
from typing import Annotated, Any, ClassVar, Final, Literal, TypeAlias

from pydantic import (
    AfterValidator,
    AwareDatetime,
    BaseModel,
    ConfigDict,
    Field,
    TypeAdapter,
    field_validator,
    model_validator,
)
from pydantic.fields import FieldInfo
from pydantic_core import PydanticCustomError, from_json

from shared import topics
from shared.policy_types import PenaltyMethod

SCHEMA_VERSION = 1  # the version every event type is at until it declares another (docs/contract-policy.md)

# Turns a document of one schema version into the next version's document (a new dict; never mutates).
Upcaster = Callable[[dict[str, Any]], dict[str, Any]]

# ----------------------------------------------------------------------------- bounded types

# Codes and names refuse every C0 control character and DEL; free text keeps tab, LF and CR.
CONTROL_CHARACTER: Final = re.compile(r"[\x00-\x1f\x7f]")
FREE_TEXT_CONTROL_CHARACTER: Final = re.compile(r"[\x00-\x08\x0b\x0c\x0e-\x1f\x7f]")
# The same rules for JSON Schema readers (ECMA-262 regex syntax).
CODE_SCHEMA_PATTERN: Final = r"^[^\u0000-\u001f\u007f]*$"
FREE_TEXT_SCHEMA_PATTERN: Final = r"^[^\u0000-\u0008\u000b\u000c\u000e-\u001f\u007f]*$"
# ICD-10 (WHO, as E-Klaim carries it): letter, two digits, then optionally a dot and one or two
# characters: A90, K35.9, S72.00. The grouper also accepts the undotted spelling (K359).
ICD10_PATTERN: Final = re.compile(r"[A-Za-z][0-9]{2}(?:\.?[0-9A-Za-z]{1,2})?")
# ICD-9-CM procedures: two digits, then optionally a dot and one or two digits: 36.06, 99.04, 4709.
ICD9CM_PATTERN: Final = re.compile(r"[0-9]{2}(?:\.?[0-9]{1,2})?")
ICD_MAX_LENGTH: Final = 8  # the longest spelling is 6 ("S72.00"); a little slack, never a novel
MAX_RUPIAH: Final = 10**15  # several times JKN's yearly spending; exact in a JSON double (< 2^53)
MAX_BILL_COMPONENT: Final = 10**13  # 18 of them still sum below MAX_RUPIAH
INT32_MAX: Final = 2**31 - 1  # PostgreSQL `integer`
CODE_RULE: Final = "codes and names may contain no control characters"


def _control_character(value: str, pattern: re.Pattern[str], rule: str) -> PydanticCustomError | None:
    """The refusal of the first character `pattern` finds, naming it, its position and `rule`; None if clean."""
    found = pattern.search(value)
    if found is None:
        return None
    return PydanticCustomError(
        "control_character",
        "control character {char} at position {position} is not allowed ({rule})",
        {"char": f"U+{ord(found.group()):04X}", "position": found.start(), "rule": rule},
    )


def _refuse(pattern: re.Pattern[str], rule: str) -> AfterValidator:
    """A validator refusing a control character `pattern` matches."""

    def check(value: str) -> str:
        if value.isprintable():  # no control character at all: the common case skips the regex
            return value
        error = _control_character(value, pattern, rule)
        if error is not None:
            raise error
        return value

    return AfterValidator(check)


def _code_shape(pattern: re.Pattern[str], kind: str, example: str) -> AfterValidator:
    """A validator refusing a string not spelled like a code of a code system (one call: the claim path)."""

    def check(value: str) -> str:
        if pattern.fullmatch(value) is not None:
            return value
        raise _control_character(value, CONTROL_CHARACTER, CODE_RULE) or PydanticCustomError(
            "code_format", "not an {kind} code (expected a spelling like {example})", {"kind": kind, "example": example}
        )

    return AfterValidator(check)


NO_CONTROL = _refuse(CONTROL_CHARACTER, CODE_RULE)
FREE_TEXT_CONTROL = _refuse(FREE_TEXT_CONTROL_CHARACTER, "free text may contain tab and line breaks only")


def _bounds(max_length: int, min_length: int, schema_pattern: str) -> FieldInfo:
    """Length bounds, with the character rule shown to JSON Schema readers (the validator enforces it)."""
    field: FieldInfo = Field(
        min_length=min_length or None, max_length=max_length, json_schema_extra={"pattern": schema_pattern}
    )
    return field


def _code(max_length: int, min_length: int = 0) -> FieldInfo:
    return _bounds(max_length, min_length, CODE_SCHEMA_PATTERN)


def _text(max_length: int, min_length: int = 0) -> FieldInfo:
    return _bounds(max_length, min_length, FREE_TEXT_SCHEMA_PATTERN)


# Codes from a small set: hospital class, INA-CBG and CMG codes, special CMG items.
ShortCode = Annotated[str, _code(16), NO_CONTROL]
# E-Klaim identifiers (SEP, card, hospital/facility code, NIK): the longest real one is 19 characters.
EKlaimId = Annotated[str, _code(40), NO_CONTROL]
# Other identifiers and versions: reason codes, payment ids, table versions, document types.
Identifier = Annotated[str, _code(64), NO_CONTROL]
# Idempotency keys and the producer: never empty.
Key = Annotated[str, _code(64, min_length=1), NO_CONTROL]
# People, document references, field paths, ledger entry ids.
Name = Annotated[str, _code(200, min_length=1), NO_CONTROL]
# One line of text a system writes: descriptions, a participant's status reason.
ShortText = Annotated[str, _text(200), FREE_TEXT_CONTROL]
# What a person writes: notes, dispute and correction reasons, reason messages.
FreeText = Annotated[str, _text(2000), FREE_TEXT_CONTROL]
RequiredFreeText = Annotated[str, _text(2000, min_length=1), FREE_TEXT_CONTROL]
# A reason's message: the rule's text, then a detail that may quote a reviewer's whole note.
ReasonText = Annotated[str, _text(4000), FREE_TEXT_CONTROL]
Icd10Code = Annotated[
    str,
    Field(max_length=ICD_MAX_LENGTH, json_schema_extra={"pattern": "^" + ICD10_PATTERN.pattern + "$"}),
    _code_shape(ICD10_PATTERN, "ICD-10", "K35.8 or K358"),
]
Icd9CmCode = Annotated[
    str,
    Field(max_length=ICD_MAX_LENGTH, json_schema_extra={"pattern": "^" + ICD9CM_PATTERN.pattern + "$"}),
    _code_shape(ICD9CM_PATTERN, "ICD-9-CM procedure", "36.06 or 3606"),
]
# [0-9], not \d: the Rust regex's \d matches the digits of every script.
Month = Annotated[str, Field(max_length=7, pattern=r"^[0-9]{4}-(0[1-9]|1[0-2])$")]

ClaimId = Annotated[str, Field(min_length=1, max_length=64, pattern=r"^[A-Za-z0-9][A-Za-z0-9._:\-]*$")]
Rupiah = Annotated[int, Field(ge=-MAX_RUPIAH, le=MAX_RUPIAH, description="Whole rupiah (IDR has no minor unit)")]
NonNegativeRupiah = Annotated[int, Field(ge=0, le=MAX_RUPIAH, description="Whole rupiah, not negative")]
BillComponent = Annotated[
    int,
    Field(
        ge=-MAX_BILL_COMPONENT,
        le=MAX_BILL_COMPONENT,
        description="Whole rupiah; a negative one is the grouper's reason",
    ),
]
# Integers a business rule judges (region, care type, class): only the column's size here, so the
# grouper can still tell the hospital "region 7 does not exist" instead of a dead letter.
Int32 = Annotated[int, Field(ge=-INT32_MAX - 1, le=INT32_MAX)]
Count = Annotated[int, Field(ge=0, le=INT32_MAX)]
FiniteFloat = Annotated[float, Field(allow_inf_nan=False)]


class Contract(BaseModel):
    """Base of every contract model: unknown fields refused, instances immutable."""

    model_config = ConfigDict(extra="forbid", frozen=True)


# --------------------------------------------------------------------------- claim data


class TarifRS(Contract):
    """The hospital's own bill in the 18 E-Klaim components (rupiah)."""

    prosedur_non_bedah: BillComponent = 0
    prosedur_bedah: BillComponent = 0
    konsultasi: BillComponent = 0
    tenaga_ahli: BillComponent = 0
    keperawatan: BillComponent = 0
    penunjang: BillComponent = 0
    radiologi: BillComponent = 0
    laboratorium: BillComponent = 0
    pelayanan_darah: BillComponent = 0
    rehabilitasi: BillComponent = 0
    kamar: BillComponent = 0
    rawat_intensif: BillComponent = 0
    obat: BillComponent = 0
    obat_kronis: BillComponent = 0
    obat_kemoterapi: BillComponent = 0
    alkes: BillComponent = 0
    bmhp: BillComponent = 0
    sewa_alat: BillComponent = 0

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
    ref: Name = Field(description="The hospital's document id or URL")
    supports: list[Icd10Code] = Field(
        default_factory=list,
        max_length=30,
        description="ICD-10 codes this document supports (lab, radiology results); as many as a claim carries",
    )


class ProcedureEntry(Contract):
    """An ICD-9-CM procedure with its multiplier (E-Klaim `procedure` with `+N`)."""

    code: Icd9CmCode
    qty: int = Field(default=1, ge=1, le=99)


class ClaimData(Contract):
    """One hospital episode as the hospital submits it (per SEP)."""

    nomor_sep: EKlaimId = Field(description="SEP number, 19 characters, e.g. 0301R0011117V000008")
    nomor_kartu: EKlaimId = Field(description="JKN card number, 13 digits")
    kode_rs: EKlaimId = Field(description="Hospital code (kode PPK), 8 characters, e.g. 0301R001")
    kelas_rs: ShortCode = Field(description="Hospital class with ownership variant: A, B, C, D, AP, BS, ...")
    regional_tarif: Int32 = Field(description="Tariff region 1-5")
    tgl_lahir: date
    gender: Literal[1, 2] = Field(description="1 male, 2 female")
    tgl_masuk: date = Field(description="Admission date")
    tgl_pulang: date = Field(description="Discharge date")
    jenis_rawat: Int32 = Field(description="Care type: 1 inpatient, 2 outpatient")
    kelas_rawat: Int32 = Field(description="Care class 1, 2 or 3; outpatient: 1 executive (eksekutif), 3 regular")
    upgrade_class_ind: bool = False
    upgrade_class_class: Literal["kelas_1", "kelas_2", "vip", "vvip"] | None = None
    upgrade_class_los: Count | None = Field(default=None, description="Days of the stay spent in the higher class")
    upgrade_class_payor: Literal["peserta", "pemberi_kerja", "asuransi_tambahan"] | None = Field(
        default=None, description="Who pays the upgrade cost share: the member, the employer or a top-up insurer"
    )
    add_payment_pct: FiniteFloat | None = Field(
        default=None,
        ge=0,
        le=100,
        description="Hospital's declared share of the class-1 tariff for an upgrade above class 1 (percent; "
        "PMK 3/2023 allows at most 75, the grouper refuses more)",
    )
    tarif_poli_eks: NonNegativeRupiah | None = Field(
        default=None, description="Outpatient executive clinic fee (kelas_rawat 1 on outpatient care), rupiah"
    )
    emergency: bool = Field(default=False, description="Emergency admission (no referral needed)")
    discharge_status: Literal[1, 2, 3, 4, 5] = Field(
        default=1, description="1 home, 2 referred, 3 discharged against advice, 4 died, 5 other"
    )
    birth_weight: Int32 | None = Field(default=None, description="Grams, neonates only")
    icu_days: Count = 0
    ventilator_hours: Count = 0
    adl_sub_acute: int | None = Field(default=None, ge=12, le=60)
    adl_chronic: int | None = Field(default=None, ge=12, le=60)
    diagnosa: list[Icd10Code] = Field(description="ICD-10 codes, principal diagnosis first", max_length=30)
    procedure: list[ProcedureEntry] = Field(default_factory=list, max_length=30)
    special_cmg: list[ShortCode] = Field(
        default_factory=list, description="Special CMG items claimed (e.g. RR04, DD01)", max_length=10
    )
    tarif_rs: TarifRS
    coder_nik: EKlaimId
    documents: list[DocumentRef] = Field(default_factory=list, max_length=50)

    @property
    def length_of_stay(self) -> int:
        """Days between admission and discharge, at least 1 (same-day counts as one day)."""
        return max((self.tgl_pulang - self.tgl_masuk).days, 1)


class Reason(Contract):
    """Why something was refused or held: stable code, field, and text in Indonesian and English."""

    code: Identifier = Field(description="Stable reason code, e.g. G-ICD-UNKNOWN, V-DOC-CONSENT")
    field: Name | None = Field(default=None, description="The claim field the reason is about")
    message_id: ReasonText = Field(description="Message in Indonesian")
    message_en: ReasonText = Field(description="Message in English")


# --------------------------------------------------------------------------- grouping


class TariffByClass(Contract):
    kelas: Literal[1, 2, 3]
    tarif: NonNegativeRupiah


class SpecialCmgApplied(Contract):
    code: ShortCode
    kind: Literal["procedure", "prosthesis", "investigation", "drug", "sub_acute", "chronic"]
    description: ShortText
    tarif: NonNegativeRupiah


class SeverityBasis(Contract):
    """A secondary diagnosis that counted for severity (after the principal-diagnosis exclusion)."""

    code: Icd10Code = Field(description="The secondary diagnosis as the claim wrote it")
    level: Literal["CC", "MCC"] = Field(description="CC raises severity to II, MCC to III")


class TariffBySeverity(Contract):
    severity: Literal["I", "II", "III"]
    tarif: NonNegativeRupiah = Field(description="Base tariff of the same group at this severity, claimed care class")


class GroupingResult(Contract):
    cbg_code: ShortCode = Field(description="INA-CBG code X-Y-ZZ-S, e.g. K-4-17-I")
    cbg_description: ShortText
    cmg: ShortCode
    case_type: int = Field(ge=0, le=9)
    severity: Literal["0", "I", "II", "III"]
    tarif_kelas: NonNegativeRupiah = Field(description="Base tariff for the claimed care class")
    tarif_alt: list[TariffByClass] = Field(max_length=3, description="One per care class")
    special_cmg: list[SpecialCmgApplied] = Field(default_factory=list, max_length=10)
    total_tarif: NonNegativeRupiah = Field(description="Base tariff plus special CMG top-ups")
    tarif_rs_total: NonNegativeRupiah
    tariff_gap: Rupiah = Field(description="Hospital bill minus INA-CBG total (positive: hospital billed more)")
    upgrade_cost_share: NonNegativeRupiah | None = Field(
        default=None,
        description="What the patient pays for a class upgrade (naik kelas) or an outpatient executive visit",
    )
    severity_basis: list[SeverityBasis] = Field(
        default_factory=list,
        max_length=30,
        description="Inpatient: every secondary diagnosis that is a CC or MCC for this claim; severity is the "
        "highest level among them (none: I). Lets a verifier regroup without the grouper's tables",
    )
    tarif_by_severity: list[TariffBySeverity] = Field(
        default_factory=list,
        max_length=3,
        description="Inpatient: the base tariff of the same group at severity I, II and III for the claimed "
        "care class, from the same tariff table (an upcoding correction is priced from it)",
    )
    grouper_version: Identifier
    tariff_table_version: Identifier


# --------------------------------------------------------------------------- payloads


class ClaimSubmittedPayload(Contract):
    revision: Count = Field(description="0 first submission, n for the n-th resubmission after pending")
    claim: ClaimData


class ClaimGroupedPayload(Contract):
    revision: Count
    submitted_on: date = Field(description="Business date the claim (this revision) was submitted")
    claim: ClaimData
    grouping: GroupingResult


class ClaimRejectedPayload(Contract):
    revision: Count
    stage: Literal["grouper", "verifier"]
    nomor_sep: EKlaimId
    kode_rs: EKlaimId
    rejected_on: date
    # The grouper reports every problem at once; a claim at every list bound can have ~165.
    reasons: list[Reason] = Field(min_length=1, max_length=200)
    refusal: bool = Field(
        default=False,
        description="True: this refuses one event (a late dispute, a reused revision) and the claim keeps "
        "its state; false: the claim itself is rejected (tidak layak)",
    )


class ClaimPendedPayload(Contract):
    revision: Count
    nomor_sep: EKlaimId
    kode_rs: EKlaimId
    pended_on: date
    resubmit_by: date = Field(description="Last working day on which the hospital may resubmit")
    missing: list[Reason] = Field(min_length=1, max_length=200)


class Adjustment(Contract):
    reason: Reason
    amount: NonNegativeRupiah = Field(description="Reduction from the grouped tariff")


class ClaimVerifiedPayload(Contract):
    revision: Count
    nomor_sep: EKlaimId
    kode_rs: EKlaimId
    verification_seq: Count = Field(
        description="0 the main decision, 1.. supplementary amounts after a dispute; payable key"
    )
    verified_on: date = Field(description="The date the file is complete: starts the payment clock")
    claimed_amount: NonNegativeRupiah = Field(description="INA-CBG total tariff grouped for the claim")
    approved_amount: NonNegativeRupiah = Field(description="Amount payable for this verification")
    adjustments: list[Adjustment] = Field(default_factory=list, max_length=200)
    deemed_complete: bool = Field(default=False, description="No decision within the completeness window")
    dispute_by: date | None = Field(default=None, description="Last working day to dispute, when disputable")


class ClaimDisputedPayload(Contract):
    nomor_sep: EKlaimId
    kode_rs: EKlaimId
    disputed_on: date
    requested_amount: NonNegativeRupiah = Field(description="The amount the hospital believes is due in total")
    reason: RequiredFreeText
    documents: list[DocumentRef] = Field(default_factory=list, max_length=50)


class ClaimDisputeResolvedPayload(Contract):
    nomor_sep: EKlaimId
    kode_rs: EKlaimId
    outcome: Literal["upheld", "partial", "denied"]
    supplementary_amount: NonNegativeRupiah = Field(description="Extra amount payable (0 when denied)")
    resolved_on: date
    reviewer: Name
    note: FreeText


class ClaimPaidPayload(Contract):
    nomor_sep: EKlaimId
    kode_rs: EKlaimId
    verification_seq: Count
    approved_amount: NonNegativeRupiah
    penalty: NonNegativeRupiah
    total_paid: NonNegativeRupiah = Field(description="approved_amount + penalty: what the payment settles")
    recovered_amount: NonNegativeRupiah = Field(
        default=0,
        description="Deducted from approved_amount to recover what the hospital owes back after VEDIKA corrections "
        "(on any of its claims)",
    )
    net_paid: NonNegativeRupiah | None = Field(
        default=None, description="Cash transferred: total_paid - recovered_amount; null only before netting"
    )
    due_on: date
    paid_on: date
    days_late: Count
    penalty_method: PenaltyMethod
    payment_run_id: Key
    payment_id: Key
    ledger_entry_ids: list[Name] = Field(min_length=1, max_length=100)
    requested_by: Name | None = Field(
        default=None, description="The finance operator who requested the run (or allocated the scheduled run's funds)"
    )
    approved_by: Name | None = Field(
        default=None, description="The second finance operator who approved it (four eyes); null only before four-eyes"
    )


class PaymentOverduePayload(Contract):
    nomor_sep: EKlaimId
    kode_rs: EKlaimId
    verification_seq: Count
    amount: NonNegativeRupiah
    due_on: date
    as_of: date
    days_late: int = Field(ge=1, le=INT32_MAX)
    accrued_penalty: NonNegativeRupiah
    penalty_method: PenaltyMethod


class ParticipantChangedPayload(Contract):
    nomor_kartu: EKlaimId
    nik: EKlaimId = Field(description="National identity number, 16 digits")
    status: Literal["active", "inactive", "suspended"]
    status_reason: ShortText | None = None
    kelas_hak: Literal[1, 2, 3] = Field(description="Care class entitlement")
    member_type: Literal["PBI", "PPU", "PBPU", "BP"] = Field(
        description="PBI subsidised; PPU wage earner; PBPU self-paying; BP non-worker"
    )
    member_category: Literal["pemda", "ppu_phk"] | None = Field(
        default=None,
        description="Where it changes the benefit: pemda = registered by a local government (PBPU/BP Pemda, "
        "'PBI daerah'); ppu_phk = a laid-off PPU member or family member in the continued-coverage period; "
        "null: neither (Perpres 82/2018 Art. 51(3) as amended by Perpres 59/2024)",
    )
    valid_from: date
    valid_to: date | None = None


class PaymentDeadlineApproachingPayload(Contract):
    nomor_sep: EKlaimId
    kode_rs: EKlaimId
    verification_seq: Count
    amount: NonNegativeRupiah
    due_on: date
    as_of: date
    working_days_left: Count


class ClaimDeadlineReminderPayload(Contract):
    nomor_sep: EKlaimId
    kode_rs: EKlaimId
    deadline_kind: Literal["resubmit", "dispute"]
    deadline: date = Field(description="Last working day for the hospital to act")
    as_of: date
    working_days_left: Count


class ReviewDecisionRequestedPayload(Contract):
    """A verifier's decision on a claim held for review (command to the verifier service)."""

    outcome: Literal["verify", "adjust", "pend", "reject"]
    reviewer: Name
    note: FreeText = ""
    approved_amount: NonNegativeRupiah | None = Field(default=None, description="Required for adjust")
    missing: list[Identifier] = Field(
        default_factory=list, max_length=50, description="Document types missing, for pend"
    )


class DisputeResolutionRequestedPayload(Contract):
    """A dispute reviewer's ruling (command to the verifier service)."""

    outcome: Literal["upheld", "partial", "denied"]
    amount: NonNegativeRupiah | None = Field(default=None, description="Supplementary amount for partial")
    reviewer: Name
    note: RequiredFreeText


class PaymentRunRequestedPayload(Contract):
    """Pay open payables oldest-due first with `funds` (command to the payments service)."""

    run_id: Key = Field(description="Idempotency key of the run")
    funds: NonNegativeRupiah
    requested_by: Name


class PaymentCorrectionRequestedPayload(Contract):
    """A post-payment review (VEDIKA) finding: recover part of a paid claim (command to payments)."""

    correction_id: Key = Field(description="Idempotency key of the correction")
    verification_seq: Count = Field(description="Which payment of the claim is corrected")
    recover_amount: int = Field(gt=0, le=MAX_RUPIAH, description="Rupiah the hospital owes back")
    reason: RequiredFreeText
    requested_by: Name


class CapitationLine(Contract):
    kode_faskes: EKlaimId
    facility_type: Literal["puskesmas", "klinik_pratama", "dokter_praktik", "dokter_gigi"]
    registered_members: Count
    doctors: Count
    has_dentist: bool
    ownership: Literal["pemda", "pusat", "swasta"] | None = Field(
        default=None,
        description="pemda = owned by a local government (the 60/40 jasa pelayanan split applies, Permenkes "
        "21/2016); pusat = central government (TNI/Polri, ministries); swasta = private; null: pemda for a "
        "puskesmas, swasta otherwise",
    )
    # KBK indicators; all three null means KBK is not assessed for the facility (paid 100 %).
    contact_rate_per_mille: float | None = Field(default=None, ge=0, allow_inf_nan=False)
    non_specialist_referral_pct: float | None = Field(default=None, ge=0, le=100, allow_inf_nan=False)
    controlled_prolanis_pct: float | None = Field(default=None, ge=0, le=100, allow_inf_nan=False)


class CapitationRunRequestedPayload(Contract):
    """Capitation for one month over the given FKTPs (command to the payments service)."""

    run_id: Key
    month: Month
    # One line per FKTP of the branch: roughly 23,000 FKTPs over some 127 branch offices, so a few hundred
    # for most branches. A line is ~210 bytes, so 5,000 (~1 MB) is about the most a 1 MiB broker record
    # holds; KAFKA_MAX_RECORD_BYTES (256 KiB by default) admits ~1,200, raise it for larger branches.
    lines: list[CapitationLine] = Field(min_length=1, max_length=5000)
    requested_by: Name


SubjectKind = Literal["payment_run", "payment_correction", "capitation_run", "funds_allocation"]


class ApprovalGrantedPayload(Contract):
    """A second finance operator releases a held money command (four eyes; command to the payments service)."""

    subject_kind: SubjectKind
    subject_id: Key = Field(description="The held request's run_id, correction_id or allocation_id")
    approved_by: Name


class FundsAllocatedPayload(Contract):
    """Finance sets aside what the scheduled run of one business day may pay (held until approved)."""

    allocation_id: Key = Field(description="Idempotency key of the allocation")
    business_date: date = Field(description="The working day whose scheduled run may spend it")
    amount: NonNegativeRupiah
    allocated_by: Name


class CapitationPaidPayload(Contract):
    run_id: Key
    month: Month
    kode_faskes: EKlaimId
    facility_type: Identifier
    registered_members: Count
    rate: NonNegativeRupiah
    base_amount: NonNegativeRupiah
    kbk_score: FiniteFloat | None = Field(description="Weighted KBK score 0-4; null when not assessed")
    kbk_percentage: FiniteFloat = Field(description="Share of the base amount paid, after KBK")
    amount: NonNegativeRupiah
    ownership: Literal["pemda", "pusat", "swasta"] | None = Field(
        default=None, description="The ownership the split was decided on; null only before ownership was recorded"
    )
    service_fee_part: NonNegativeRupiah | None = Field(
        description="Jasa pelayanan, at least 60 %, at a local-government FKTP; null where no split is mandated"
    )
    operations_part: NonNegativeRupiah | None = Field(description="The rest; null where no split is mandated")
    due_on: date
    ledger_entry_ids: list[Name] = Field(max_length=100)
    requested_by: Name | None = Field(default=None, description="The finance operator who requested the run")
    approved_by: Name | None = Field(
        default=None, description="The second finance operator who approved it (four eyes); null only before four-eyes"
    )


# --------------------------------------------------------------------------- envelope


class CommandSignature(Contract):
    """An operator's Ed25519 signature over the command (shared/operators.py `signing_bytes`)."""

    key_id: Key = Field(description="The signing key's id in the operator registry")
    value: Annotated[str, _code(128, min_length=1), NO_CONTROL] = Field(description="base64 of the 64 bytes")


class Envelope(Contract):
    """Fields every event carries. `event_id` is the dedupe key (never the broker's message id)."""

    event_id: uuid.UUID = Field(default_factory=uuid.uuid4)
    schema_version: Literal[1] = 1
    occurred_at: AwareDatetime = Field(description="When it happened, UTC")
    claim_id: ClaimId | None = Field(description="The claim this event is about; null for participant events")
    correlation_id: uuid.UUID = Field(description="Same for every event of one claim's journey")
    causation_id: uuid.UUID | None = Field(default=None, description="event_id of the event that caused this one")
    producer: Key
    received_at: AwareDatetime | None = Field(
        default=None,
        description="When BPJS received the input this event stems from (broker append time, else the first "
        "BPJS service's receipt), UTC; carried unchanged by follow-up events. Deadlines are judged on it.",
    )

    topic: ClassVar[str]
    # Migration (docs/contract-policy.md): the older versions this type's consumers still accept, each with
    # the upcaster to the next version. A type at version 2 that still accepts 1 declares
    # `schema_version: Literal[2] = 2` (a type: ignore[assignment]: each version is its own literal) and
    # `upcasters = MappingProxyType({1: v1_to_v2})`; parse_event applies them.
    upcasters: ClassVar[Mapping[int, Upcaster]] = MappingProxyType({})

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


class Command(Envelope):
    """An operator's command: produced as `operator:<id>` and signed (checked by the kernel, shared/operators.py)."""

    signature: CommandSignature | None = Field(
        default=None, description="The operator's Ed25519 signature; a command without one has no effect"
    )


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


class ReviewDecisionRequested(Command):
    topic = topics.VERIFIER_COMMANDS
    event_type: Literal["ReviewDecisionRequested"] = "ReviewDecisionRequested"
    claim_id: ClaimId
    payload: ReviewDecisionRequestedPayload


class DisputeResolutionRequested(Command):
    topic = topics.VERIFIER_COMMANDS
    event_type: Literal["DisputeResolutionRequested"] = "DisputeResolutionRequested"
    claim_id: ClaimId
    payload: DisputeResolutionRequestedPayload


class PaymentRunRequested(Command):
    topic = topics.PAYMENTS_COMMANDS
    event_type: Literal["PaymentRunRequested"] = "PaymentRunRequested"
    claim_id: None = None
    payload: PaymentRunRequestedPayload

    @property
    def key(self) -> str:
        """Runs are keyed by run id."""
        return self.payload.run_id


class PaymentCorrectionRequested(Command):
    topic = topics.PAYMENTS_COMMANDS
    event_type: Literal["PaymentCorrectionRequested"] = "PaymentCorrectionRequested"
    claim_id: ClaimId
    payload: PaymentCorrectionRequestedPayload


class CapitationRunRequested(Command):
    topic = topics.PAYMENTS_COMMANDS
    event_type: Literal["CapitationRunRequested"] = "CapitationRunRequested"
    claim_id: None = None
    payload: CapitationRunRequestedPayload

    @property
    def key(self) -> str:
        """Runs are keyed by run id."""
        return self.payload.run_id


class ApprovalGranted(Command):
    topic = topics.PAYMENTS_COMMANDS
    event_type: Literal["ApprovalGranted"] = "ApprovalGranted"
    claim_id: ClaimId | None = Field(default=None, description="The corrected claim, for a payment_correction")
    payload: ApprovalGrantedPayload

    @model_validator(mode="after")
    def _keyed_like_its_subject(self) -> ApprovalGranted:
        if (self.payload.subject_kind == "payment_correction") != (self.claim_id is not None):
            raise ValueError("claim_id: required for a payment_correction approval and only for it")
        return self

    @property
    def key(self) -> str:
        """The approved request's key (its claim, else its id): the approval follows it on one partition."""
        return self.claim_id or self.payload.subject_id


class FundsAllocated(Command):
    topic = topics.PAYMENTS_COMMANDS
    event_type: Literal["FundsAllocated"] = "FundsAllocated"
    claim_id: None = None
    payload: FundsAllocatedPayload

    @property
    def key(self) -> str:
        """Allocations are keyed by allocation id."""
        return self.payload.allocation_id


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
    | ApprovalGranted
    | FundsAllocated
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
    ApprovalGranted,
    FundsAllocated,
    CapitationPaid,
)

_any_event: TypeAdapter[AnyEvent] = TypeAdapter(AnyEvent)


def event_type_name(cls: type[Envelope]) -> str:
    """The `event_type` literal of an event class."""
    default = cls.model_fields["event_type"].default
    assert isinstance(default, str)
    return default


def schema_version_of(cls: type[Envelope]) -> int:
    """The version an event type's producers write."""
    default = cls.model_fields["schema_version"].default
    assert isinstance(default, int)
    return default


def accepted_versions(cls: type[Envelope]) -> tuple[int, ...]:
    """Every version an event type's consumers accept: the current one and those it upcasts from."""
    return tuple(sorted({schema_version_of(cls), *cls.upcasters}))


class _Decoder:
    """The event types parse_event knows, and which of them accept an older version (checked here once)."""

    def __init__(self, types: Iterable[type[Envelope]]) -> None:
        self.types = {event_type_name(cls): cls for cls in types}
        self.adapter: TypeAdapter[Any] = _any_event
        if tuple(self.types.values()) != EVENT_TYPES:
            union: Any = functools.reduce(operator.or_, self.types.values())
            discriminated: Any = Annotated[union, Field(discriminator="event_type")]
            self.adapter = TypeAdapter(discriminated)
        self.upcasting = {name: cls for name, cls in self.types.items() if cls.upcasters}
        for name, cls in self.upcasting.items():
            current = schema_version_of(cls)
            if set(cls.upcasters) != set(range(min(cls.upcasters), current)):
                raise ValueError(
                    f"{name}: upcasters must lead step by step to version {current}, got {sorted(cls.upcasters)}"
                )
        # A document can only be of an upcasting type if its name appears in the bytes: the rest skip the peek.
        self.markers = tuple(f'"{name}"'.encode() for name in self.upcasting)

    def older(self, doc: Any) -> Envelope | None:
        """`doc` as its type's current version if it is an older version that type still accepts, else None."""
        if not isinstance(doc, dict):
            return None
        cls = self.upcasting.get(doc.get("event_type"))  # type: ignore[arg-type]
        if cls is None:
            return None
        version = doc.get("schema_version", 1)  # version 1's schema let a producer leave it out
        if type(version) is not int or version not in cls.upcasters:
            return None  # the current version, or one nobody accepts: plain validation names the field
        while version in cls.upcasters:
            doc = {**cls.upcasters[version](doc), "schema_version": version + 1}
            version += 1
        event: Envelope = self.adapter.validate_python(doc)
        return event

    def older_json(self, raw: bytes | str) -> Envelope | None:
        data = raw.encode() if isinstance(raw, str) else raw
        if not any(marker in data for marker in self.markers):
            return None
        try:
            doc = from_json(data)
        except ValueError:
            return None  # not JSON (or too deep): plain validation says so
        return self.older(doc)


_decoder = _Decoder(EVENT_TYPES)


@contextmanager
def registered(*classes: type[Envelope]) -> Iterator[None]:
    """parse_event also knows `classes` (each replacing the type of its event_type) inside the block: a type
    not in EVENT_TYPES, such as a test's fixture type or a next version tried out beside the current one."""
    global _decoder
    before = _decoder
    _decoder = _Decoder([*before.types.values(), *classes])
    try:
        yield
    finally:
        _decoder = before


def parse_event(raw: bytes | str) -> Envelope:
    """Decode and validate one event from its JSON bytes; raises pydantic.ValidationError.

    An older version that its type still accepts is upcast to the current version first (a migration);
    every other document goes straight to the contract's validation."""
    decoder = _decoder
    if decoder.upcasting:
        event = decoder.older_json(raw)
        if event is not None:
            return event
    parsed: Envelope = decoder.adapter.validate_json(raw)
    return parsed


def parse_event_obj(obj: Any) -> Envelope:
    """Validate one event from already-decoded JSON."""
    decoder = _decoder
    if decoder.upcasting:
        event = decoder.older(obj)
        if event is not None:
            return event
    parsed: Envelope = decoder.adapter.validate_python(obj)
    return parsed


def encode_event(event: Envelope) -> bytes:
    """The wire form: compact JSON, UTF-8."""
    return event.model_dump_json().encode()
