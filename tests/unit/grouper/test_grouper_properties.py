"""Property tests: valid claims always group (or fall in an error group); junk never raises."""

from __future__ import annotations

import re
from datetime import date, timedelta
from typing import Any

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from services.grouper.domain import Grouped, Rejected, group_claim
from services.grouper.domain.reasons import REASON_TEXTS
from shared.events import ICD9CM_PATTERN, ICD10_PATTERN, INT32_MAX, ClaimData, GroupingResult, ProcedureEntry, TarifRS
from tests.unit.grouper.grouper_claim_factory import TABLES

CBG = re.compile(r"^[A-Z]-[0-9]-[0-9]{2}-(0|I|II|III)$")
ERROR_GROUP = re.compile(r"^X-0-9[0-9]-X$")
PRINCIPALS = TABLES.principal_codes()
DIAGNOSES = sorted(TABLES.codes.icd10_leaves)
PROCEDURES = sorted(TABLES.codes.icd9_leaves)
HOSPITAL_CLASSES = sorted(TABLES.hospital_classes)
BILL_FIELDS = list(TarifRS.model_fields)
FAST = settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])


@st.composite
def valid_claims(draw: st.DrawFn) -> ClaimData:
    """Structurally valid claims over the whole code sets."""
    admitted = draw(st.dates(date(2023, 1, 1), date(2030, 12, 31)))
    inpatient = draw(st.booleans())
    age_days = draw(st.integers(0, 100 * 365))
    secondaries = draw(st.lists(st.sampled_from(DIAGNOSES), max_size=6, unique=True))
    principal = draw(st.sampled_from(PRINCIPALS))
    return ClaimData(
        nomor_sep=f"0301R001{admitted:%m%y}V{draw(st.integers(0, 999_999)):06d}",
        nomor_kartu=draw(st.from_regex(r"[0-9]{13}", fullmatch=True)),
        kode_rs="0301R001",
        kelas_rs=draw(st.sampled_from(HOSPITAL_CLASSES)),
        regional_tarif=draw(st.integers(1, 5)),
        tgl_lahir=admitted - timedelta(days=age_days),
        gender=draw(st.sampled_from([1, 2])),
        tgl_masuk=admitted,
        tgl_pulang=admitted + timedelta(days=draw(st.integers(0, 150) if inpatient else st.integers(0, 1))),
        jenis_rawat=1 if inpatient else 2,
        kelas_rawat=draw(st.integers(1, 3)),
        birth_weight=draw(st.integers(200, 7000)) if age_days <= 28 else None,
        diagnosa=[principal, *(d for d in secondaries if d != principal)],
        procedure=[
            ProcedureEntry(code=p) for p in draw(st.lists(st.sampled_from(PROCEDURES), max_size=4, unique=True))
        ],
        tarif_rs=TarifRS(kamar=draw(st.integers(1, 10**9)), obat=draw(st.integers(0, 10**8))),
        coder_nik="3171234567890001",
    )


def check_result_contract(result: GroupingResult) -> None:
    """The result survives the event contract and its sums hold."""
    assert CBG.match(result.cbg_code)
    assert GroupingResult.model_validate(result.model_dump()) == result
    assert [t.kelas for t in result.tarif_alt] == [1, 2, 3]
    assert result.total_tarif == result.tarif_kelas + sum(s.tarif for s in result.special_cmg)
    assert result.tariff_gap == result.tarif_rs_total - result.total_tarif
    assert (result.severity == "0") == (result.case_type in (2, 3, 5, 7, 9))


@FAST
@given(valid_claims())
def test_valid_claims_group_to_a_well_formed_cbg_or_an_error_group(claim: ClaimData) -> None:
    outcome = group_claim(claim, TABLES)
    if isinstance(outcome, Grouped):
        check_result_contract(outcome.result)
    else:
        assert outcome.error_group is not None and ERROR_GROUP.match(outcome.error_group), outcome
        assert [r.code.startswith("G-UNGROUPABLE-") for r in outcome.reasons] == [True]


@FAST
@given(valid_claims())
def test_grouping_is_deterministic(claim: ClaimData) -> None:
    assert group_claim(claim, TABLES) == group_claim(ClaimData.model_validate(claim.model_dump()), TABLES)


# The contract refuses C0 control characters and DEL in codes, and ICD fields not spelled like codes.
printable = st.characters(codec="utf-8", exclude_characters=[chr(c) for c in range(0x20)] + ["\x7f"])
junk_text = st.text(printable, max_size=40)
junk_diagnoses = st.one_of(st.from_regex(ICD10_PATTERN, fullmatch=True), st.sampled_from(DIAGNOSES))
junk_procedures = st.one_of(st.from_regex(ICD9CM_PATTERN, fullmatch=True), st.sampled_from(PROCEDURES))
int32 = st.integers(-INT32_MAX - 1, INT32_MAX)


@st.composite
def junk_claims(draw: st.DrawFn) -> ClaimData:
    """Anything the event contract lets through."""
    fields: dict[str, Any] = {
        "nomor_sep": draw(junk_text),
        "nomor_kartu": draw(junk_text),
        "kode_rs": draw(junk_text),
        "kelas_rs": draw(st.text(printable, max_size=4)),
        "regional_tarif": draw(int32),
        "tgl_lahir": draw(st.dates()),
        "gender": draw(st.sampled_from([1, 2])),
        "tgl_masuk": draw(st.dates()),
        "tgl_pulang": draw(st.dates()),
        "jenis_rawat": draw(int32),
        "kelas_rawat": draw(int32),
        "upgrade_class_ind": draw(st.booleans()),
        "upgrade_class_class": draw(st.sampled_from([None, "kelas_1", "kelas_2", "vip", "vvip"])),
        "birth_weight": draw(st.none() | int32),
        "icu_days": draw(st.integers(0, 10**6)),
        "ventilator_hours": draw(st.integers(0, 10**7)),
        "adl_sub_acute": draw(st.none() | st.integers(12, 60)),
        "diagnosa": draw(st.lists(junk_diagnoses, max_size=8)),
        "procedure": [ProcedureEntry(code=c) for c in draw(st.lists(junk_procedures, max_size=5))],
        "special_cmg": draw(
            st.lists(
                st.one_of(st.text(printable, max_size=16), st.sampled_from(sorted(TABLES.special.by_code))), max_size=4
            )
        ),
        "tarif_rs": TarifRS(
            **{f: draw(st.integers(-(10**12), 10**12)) for f in draw(st.sets(st.sampled_from(BILL_FIELDS)))}
        ),
        "coder_nik": draw(junk_text),
    }
    return ClaimData(**fields)


@settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(junk_claims())
def test_junk_never_raises_and_rejections_name_known_reasons(claim: ClaimData) -> None:
    outcome = group_claim(claim, TABLES)
    if isinstance(outcome, Rejected):
        assert outcome.reasons
        assert all(r.code in REASON_TEXTS and r.message_id and r.message_en for r in outcome.reasons)
    else:
        check_result_contract(outcome.result)
