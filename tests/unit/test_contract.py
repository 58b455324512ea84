"""The event contract: committed schemas match the code, examples validate, bad input is named."""

from __future__ import annotations

import copy
import json
from pathlib import Path
from typing import Any

import pytest
from pydantic import ValidationError

from shared.events import EVENT_TYPES, ClaimSubmitted, Envelope, encode_event, event_type_name, parse_event
from shared.schemas import SCHEMA_DIR, render_schemas
from shared.topics import all_topics, dlq_topic

ROOT = Path(__file__).resolve().parents[2]
EXAMPLES = ROOT / "examples" / "events"


def test_committed_schemas_match_the_code() -> None:
    rendered = render_schemas()
    committed = {p.name: p.read_text() for p in (ROOT / SCHEMA_DIR).glob("*.schema.json")}
    assert set(committed) == set(rendered), "run `make schemas` and commit docs/events/"
    for name, text in rendered.items():
        assert committed[name] == text, f"{name} differs from the code: run `make schemas`"


@pytest.mark.parametrize("cls", EVENT_TYPES, ids=event_type_name)
def test_every_event_has_a_valid_worked_example(cls: type) -> None:
    raw = (EXAMPLES / f"{event_type_name(cls)}.json").read_bytes()
    event = parse_event(raw)
    assert type(event) is cls
    # The wire form round-trips to an equal event.
    assert parse_event(encode_event(event)) == event


def test_every_event_topic_has_a_dlq_and_is_created() -> None:
    names = {t.name for t in all_topics()}
    for cls in EVENT_TYPES:
        assert cls.topic in names
        assert dlq_topic(cls.topic) in names


def _submitted() -> dict:  # type: ignore[type-arg]
    data: dict = json.loads((EXAMPLES / "ClaimSubmitted.json").read_text())  # type: ignore[type-arg]
    return data


def test_unknown_fields_are_refused_and_named() -> None:
    doc = _submitted()
    doc["payload"]["claim"]["nomor_sepp"] = "x"
    with pytest.raises(ValidationError) as err:
        parse_event(json.dumps(doc))
    assert "nomor_sepp" in str(err.value)
    assert "Extra inputs are not permitted" in str(err.value)


def test_rupiah_must_be_integers() -> None:
    doc = _submitted()
    doc["payload"]["claim"]["tarif_rs"]["obat"] = 1500.5
    with pytest.raises(ValidationError) as err:
        parse_event(json.dumps(doc))
    assert "tarif_rs.obat" in str(err.value).replace("\n  ", ".")


def test_occurred_at_must_carry_a_zone_and_is_normalised_to_utc() -> None:
    doc = _submitted()
    doc["occurred_at"] = "2026-11-09T09:15:00"
    with pytest.raises(ValidationError):
        parse_event(json.dumps(doc))
    doc["occurred_at"] = "2026-11-09T09:15:00+07:00"
    event = parse_event(json.dumps(doc))
    assert event.occurred_at.isoformat() == "2026-11-09T02:15:00+00:00"


def test_event_type_selects_the_payload_model() -> None:
    doc = _submitted()
    doc["event_type"] = "ClaimPaid"
    with pytest.raises(ValidationError) as err:
        parse_event(json.dumps(doc))
    assert "ClaimPaid" in str(err.value)


def test_revision_cannot_be_negative() -> None:
    doc = _submitted()
    doc["payload"]["revision"] = -1
    with pytest.raises(ValidationError) as err:
        parse_event(json.dumps(doc))
    assert "revision" in str(err.value)


def test_key_is_the_claim_id() -> None:
    event = parse_event(json.dumps(_submitted()))
    assert isinstance(event, ClaimSubmitted)
    assert event.key == "RS0301R001-2026-000123"


# --------------------------------------------------------------------------- bounds (issue 11)

Path_ = tuple[str | int, ...]

# Optional strings the worked examples leave empty, filled in so every string field is exercised.
FILL_INS: dict[str, list[tuple[Path_, Any]]] = {
    "ClaimSubmitted": [(("payload", "claim", "special_cmg"), ["RR04"])],
    "ClaimGrouped": [
        (("payload", "claim", "special_cmg"), ["RR04"]),
        (
            ("payload", "grouping", "special_cmg"),
            [{"code": "RR04", "kind": "prosthesis", "description": "Hip implant", "tarif": 8_000_000}],
        ),
        (("payload", "grouping", "severity_basis"), [{"code": "J96.0", "level": "MCC"}]),
        (("payload", "grouping", "tarif_by_severity"), [{"severity": "I", "tarif": 5_634_100}]),
    ],
    "ClaimVerified": [
        (
            ("payload", "adjustments"),
            [
                {
                    "reason": {
                        "code": "V-LOS",
                        "field": "tgl_pulang",
                        "message_id": "Lama rawat tidak didukung",
                        "message_en": "Length of stay not supported",
                    },
                    "amount": 100_000,
                }
            ],
        )
    ],
    "ParticipantChanged": [(("payload", "status_reason"), "Iuran belum dibayar")],
    "ReviewDecisionRequested": [(("payload", "missing"), ["lab_result"])],
}

# Free text (may keep tab and line breaks), written out by hand; every other string field is a code or name.
FREE_TEXT_FIELDS: dict[str, set[str]] = {
    "ClaimGrouped": {"payload.grouping.cbg_description", "payload.grouping.special_cmg.*.description"},
    "ClaimRejected": {"payload.reasons.*.message_id", "payload.reasons.*.message_en"},
    "ClaimPended": {"payload.missing.*.message_id", "payload.missing.*.message_en"},
    "ClaimVerified": {"payload.adjustments.*.reason.message_id", "payload.adjustments.*.reason.message_en"},
    "ClaimDisputed": {"payload.reason"},
    "ClaimDisputeResolved": {"payload.note"},
    "ParticipantChanged": {"payload.status_reason"},
    "ReviewDecisionRequested": {"payload.note"},
    "DisputeResolutionRequested": {"payload.note"},
    "PaymentCorrectionRequested": {"payload.reason"},
}
# Identifiers with a pattern of their own: a control character breaks the pattern first.
PATTERNED_FIELDS = {"claim_id", "payload.month"}
CODE_RULE = "codes and names may contain no control characters"
FREE_TEXT_RULE = "free text may contain tab and line breaks only"


def filled_example(event_type: str) -> dict[str, Any]:
    doc: dict[str, Any] = json.loads((EXAMPLES / f"{event_type}.json").read_text())
    for path, value in FILL_INS.get(event_type, []):
        set_at(doc, path, copy.deepcopy(value))
    return doc


def set_at(doc: Any, path: Path_, value: Any) -> None:
    for part in path[:-1]:
        doc = doc[part]
    doc[path[-1]] = value


def string_leaves(doc: Any, path: Path_ = ()) -> list[tuple[Path_, str]]:
    """Every string value in a JSON document with its path."""
    if isinstance(doc, dict):
        return [leaf for k, v in doc.items() for leaf in string_leaves(v, (*path, k))]
    if isinstance(doc, list):
        return [leaf for i, v in enumerate(doc) for leaf in string_leaves(v, (*path, i))]
    return [(path, doc)] if isinstance(doc, str) else []


def generic(path: Path_) -> str:
    """`payload.reasons.0.code` → `payload.reasons.*.code`."""
    return ".".join("*" if isinstance(p, int) else p for p in path)


def schema_strings(schema: dict[str, Any], node: dict[str, Any], path: str = "") -> list[tuple[str, dict[str, Any]]]:
    """Every string-typed node of a JSON Schema with its generic path ($ref and anyOf followed)."""
    if "$ref" in node:
        node = {**schema["$defs"][node["$ref"].rsplit("/", 1)[1]], **{k: v for k, v in node.items() if k != "$ref"}}
    found = [s for sub in node.get("anyOf", []) for s in schema_strings(schema, sub, path)]
    join = (path + ".") if path else ""
    if node.get("type") == "object":
        found += [s for k, sub in node.get("properties", {}).items() for s in schema_strings(schema, sub, join + k)]
    elif node.get("type") == "array":
        found += schema_strings(schema, node["items"], join + "*")
    elif node.get("type") == "string":
        found.append((path, node))
    return found


def text_fields(cls: type[Envelope]) -> dict[str, dict[str, Any]]:
    """Generic path → schema of every string field that is text (not a uuid, date, enum or constant)."""
    schema = cls.model_json_schema()
    return {
        p: n
        for p, n in schema_strings(schema, schema)
        if "format" not in n and "enum" not in n and "const" not in n and p != "event_type"
    }


def refusals(doc: dict[str, Any]) -> list[tuple[str, str]]:
    """(field path, message) of every refusal, as the consumer's dead-letter reason names them."""
    with pytest.raises(ValidationError) as err:
        parse_event(json.dumps(doc))
    return [(".".join(str(p) for p in e["loc"][1:]), e["msg"]) for e in err.value.errors()]


@pytest.mark.parametrize("cls", EVENT_TYPES, ids=event_type_name)
def test_every_string_field_has_a_maximum_and_a_character_rule(cls: type[Envelope]) -> None:
    for path, node in text_fields(cls).items():
        assert isinstance(node.get("maxLength"), int), f"{path} has no maxLength"
        assert "pattern" in node, f"{path} has no character rule"


@pytest.mark.parametrize("cls", EVENT_TYPES, ids=event_type_name)
def test_every_list_has_a_maximum(cls: type[Envelope]) -> None:
    def arrays(node: Any, path: str) -> list[tuple[str, dict[str, Any]]]:
        if isinstance(node, dict):
            here = [(path, node)] if node.get("type") == "array" else []
            return here + [a for k, v in node.items() for a in arrays(v, f"{path}.{k}")]
        if isinstance(node, list):
            return [a for i, v in enumerate(node) for a in arrays(v, f"{path}.{i}")]
        return []

    for path, node in arrays(cls.model_json_schema(), ""):
        assert isinstance(node.get("maxItems"), int), f"{path} has no maxItems"


@pytest.mark.parametrize("cls", EVENT_TYPES, ids=event_type_name)
def test_the_filled_examples_exercise_every_string_field(cls: type[Envelope]) -> None:
    name = event_type_name(cls)
    doc = filled_example(name)
    assert type(parse_event(json.dumps(doc))) is cls
    present = {generic(p) for p, _ in string_leaves(doc)}
    assert set(text_fields(cls)) <= present
    assert FREE_TEXT_FIELDS.get(name, set()) <= present


@pytest.mark.parametrize("char", ["\x00", "\x1b", "\x7f", "\x0b"], ids=["NUL", "ESC", "DEL", "VT"])
@pytest.mark.parametrize("cls", EVENT_TYPES, ids=event_type_name)
def test_a_control_character_in_any_string_field_is_refused_naming_the_field(cls: type[Envelope], char: str) -> None:
    name = event_type_name(cls)
    texts = text_fields(cls)
    code = f"U+{ord(char):04X}"
    for path, value in string_leaves(filled_example(name)):
        if path == ("event_type",):
            continue  # selects the model: a wrong one is refused as an unknown tag
        doc = filled_example(name)
        at = len(value) // 2
        set_at(doc, path, value[:at] + char + value[at:])
        found = refusals(doc)
        field = ".".join(str(p) for p in path)
        if generic(path) in FREE_TEXT_FIELDS.get(name, set()):
            assert found == [(field, f"control character {code} at position {at} is not allowed ({FREE_TEXT_RULE})")]
        elif generic(path) in texts and generic(path) not in PATTERNED_FIELDS:
            assert found == [(field, f"control character {code} at position {at} is not allowed ({CODE_RULE})")]
        else:  # a uuid, date, enum or patterned id: refused by its own rule, still at its path
            assert [f for f, _ in found] == [field], found


@pytest.mark.parametrize("cls", EVENT_TYPES, ids=event_type_name)
def test_tab_and_newlines_are_kept_in_free_text_and_refused_in_codes(cls: type[Envelope]) -> None:
    name = event_type_name(cls)
    texts = text_fields(cls)
    for path, _ in string_leaves(filled_example(name)):
        if generic(path) not in texts or generic(path) in PATTERNED_FIELDS:
            continue
        doc = filled_example(name)
        set_at(doc, path, "a\tb")
        if generic(path) in FREE_TEXT_FIELDS.get(name, set()):
            multiline = "Lama rawat:\t14 hari\r\ntidak didukung\nresume medis"
            set_at(doc, path, multiline)
            kept = json.loads(encode_event(parse_event(json.dumps(doc))))
            for part in path:
                kept = kept[part]
            assert kept == multiline
        else:
            field = ".".join(str(p) for p in path)
            assert refusals(doc) == [(field, f"control character U+0009 at position 1 is not allowed ({CODE_RULE})")]


@pytest.mark.parametrize("cls", EVENT_TYPES, ids=event_type_name)
def test_an_over_long_string_in_any_field_is_refused_naming_its_maximum(cls: type[Envelope]) -> None:
    name = event_type_name(cls)
    texts = text_fields(cls)
    for path, _ in string_leaves(filled_example(name)):
        if generic(path) not in texts:
            continue
        doc = filled_example(name)
        set_at(doc, path, "A" * 100_000)
        [(field, message)] = refusals(doc)
        assert field == ".".join(str(p) for p in path)
        assert message.startswith("String should have at most ") and message.endswith(" characters"), message


@pytest.mark.parametrize(
    ("event_type", "path", "limit"),
    [
        ("ClaimSubmitted", ("payload", "claim", "nomor_sep"), 40),
        ("ClaimSubmitted", ("payload", "claim", "kelas_rs"), 16),
        ("ClaimSubmitted", ("payload", "claim", "diagnosa", 0), 8),
        ("ClaimSubmitted", ("payload", "claim", "procedure", 0, "code"), 8),
        ("ClaimSubmitted", ("payload", "claim", "documents", 0, "ref"), 200),
        ("ClaimSubmitted", ("producer",), 64),
        ("ClaimDisputed", ("payload", "reason"), 2000),
        ("ClaimRejected", ("payload", "reasons", 0, "message_en"), 4000),
        ("ClaimGrouped", ("payload", "grouping", "cbg_description"), 200),
        ("ReviewDecisionRequested", ("payload", "reviewer"), 200),
        ("PaymentRunRequested", ("payload", "run_id"), 64),
        ("ParticipantChanged", ("payload", "status_reason"), 200),
    ],
)
def test_string_limits(event_type: str, path: Path_, limit: int) -> None:
    doc = filled_example(event_type)
    set_at(doc, path, "1" * limit)
    try:
        parse_event(json.dumps(doc))
    except ValidationError as err:  # a full-length value may break the field's pattern, never its length
        assert all(e["type"] != "string_too_long" for e in err.errors()), err
    set_at(doc, path, "1" * (limit + 1))
    field = ".".join(str(p) for p in path)
    assert refusals(doc) == [(field, f"String should have at most {limit} characters")]


def test_the_two_300000_character_diagnoses_of_the_report_are_refused() -> None:
    doc = filled_example("ClaimSubmitted")
    doc["payload"]["claim"]["diagnosa"] = ["K" * 300_000, "J" * 300_000]
    assert refusals(doc) == [
        ("payload.claim.diagnosa.0", "String should have at most 8 characters"),
        ("payload.claim.diagnosa.1", "String should have at most 8 characters"),
    ]


@pytest.mark.parametrize(
    ("event_type", "path", "item", "limit"),
    [
        ("ClaimSubmitted", ("payload", "claim", "diagnosa"), "K35.8", 30),
        ("ClaimSubmitted", ("payload", "claim", "documents", 2, "supports"), "J18.9", 30),
        ("ClaimDisputed", ("payload", "documents"), {"doc_type": "lab_result", "ref": "LAB-1"}, 50),
        ("ClaimRejected", ("payload", "reasons"), {"code": "G-X", "message_id": "x", "message_en": "x"}, 200),
        ("ClaimPaid", ("payload", "ledger_entry_ids"), "LE-1", 100),
        ("ReviewDecisionRequested", ("payload", "missing"), "lab_result", 50),
    ],
)
def test_list_limits(event_type: str, path: Path_, item: Any, limit: int) -> None:
    doc = filled_example(event_type)
    set_at(doc, path, [item] * limit)
    parse_event(json.dumps(doc))
    set_at(doc, path, [item] * (limit + 1))
    field = ".".join(str(p) for p in path)
    assert refusals(doc) == [(field, f"List should have at most {limit} items after validation, not {limit + 1}")]


def test_a_capitation_run_holds_5000_facilities_and_no_more() -> None:
    doc = filled_example("CapitationRunRequested")
    line = doc["payload"]["lines"][0]
    doc["payload"]["lines"] = [{**line, "kode_faskes": f"0301P{i:04d}"} for i in range(5000)]
    parse_event(json.dumps(doc))
    doc["payload"]["lines"].append(line)
    assert refusals(doc) == [("payload.lines", "List should have at most 5000 items after validation, not 5001")]


ICD10_WELL_FORMED = ["A90", "A91", "K35.9", "O14.1", "P36.9", "Z49.1", "N18.5", "E11.9", "S72.00", "K358", "k35.8"]
ICD10_MALFORMED = ["A9", "K35.9.1", "'; drop", "K35.", "K.358", " K35.8", "A00-A09", "I.210", "47.09", "", "3K5.8"]
ICD10_RULE = "not an ICD-10 code (expected a spelling like K35.8 or K358)"


@pytest.mark.parametrize("code", ICD10_WELL_FORMED)
def test_well_formed_icd10_codes_pass_the_contract(code: str) -> None:
    doc = filled_example("ClaimSubmitted")
    doc["payload"]["claim"]["diagnosa"] = [code]
    doc["payload"]["claim"]["documents"][2]["supports"] = [code]
    parse_event(json.dumps(doc))  # known or not is the grouper's question (G-ICD10-UNKNOWN)


@pytest.mark.parametrize("code", ICD10_MALFORMED)
def test_malformed_icd10_codes_are_refused_in_diagnoses_and_supports(code: str) -> None:
    doc = filled_example("ClaimSubmitted")
    doc["payload"]["claim"]["diagnosa"] = ["K35.8", code]
    doc["payload"]["claim"]["documents"][2]["supports"] = [code]
    assert refusals(doc) == [
        ("payload.claim.diagnosa.1", ICD10_RULE),
        ("payload.claim.documents.2.supports.0", ICD10_RULE),
    ]


@pytest.mark.parametrize("code", ["36.06", "99.04", "47.09", "4709", "47.0", "47"])
def test_well_formed_icd9cm_procedures_pass_the_contract(code: str) -> None:
    doc = filled_example("ClaimSubmitted")
    doc["payload"]["claim"]["procedure"] = [{"code": code, "qty": 1}]
    parse_event(json.dumps(doc))


@pytest.mark.parametrize("code", ["K35.8", "36.061", "3.06", "47.99x", "36..06", "4", "", "36.06;"])
def test_malformed_icd9cm_procedures_are_refused(code: str) -> None:
    doc = filled_example("ClaimSubmitted")
    doc["payload"]["claim"]["procedure"] = [{"code": code, "qty": 1}]
    assert refusals(doc) == [
        ("payload.claim.procedure.0.code", "not an ICD-9-CM procedure code (expected a spelling like 36.06 or 3606)")
    ]


def test_business_values_out_of_range_still_reach_the_grouper() -> None:
    # Region 7, care type 3, class 0, a negative bill line: the grouper answers with a reason the hospital reads.
    doc = filled_example("ClaimSubmitted")
    claim = doc["payload"]["claim"]
    claim.update(regional_tarif=7, jenis_rawat=3, kelas_rawat=0, birth_weight=-1)
    claim["tarif_rs"]["obat"] = -5
    parse_event(json.dumps(doc))


@pytest.mark.parametrize(
    ("path", "value", "message"),
    [
        (("payload", "claim", "regional_tarif"), 2**31, "Input should be less than or equal to 2147483647"),
        (("payload", "claim", "icu_days"), 2**31, "Input should be less than or equal to 2147483647"),
        (("payload", "revision"), 2**31, "Input should be less than or equal to 2147483647"),
        (
            ("payload", "claim", "tarif_rs", "obat"),
            10**13 + 1,
            "Input should be less than or equal to 10000000000000",
        ),
        (("payload", "claim", "tarif_rs", "obat"), 10**400, "Input should be less than or equal to 10000000000000"),
    ],
)
def test_numbers_fit_the_columns_and_doubles_they_land_in(path: Path_, value: int, message: str) -> None:
    doc = filled_example("ClaimSubmitted")
    set_at(doc, path, value)
    assert refusals(doc) == [(".".join(str(p) for p in path), message)]


def test_amounts_are_at_most_a_thousand_trillion_rupiah() -> None:
    doc = filled_example("PaymentRunRequested")
    doc["payload"]["funds"] = 10**15
    parse_event(json.dumps(doc))
    doc["payload"]["funds"] = 10**15 + 1
    assert refusals(doc) == [("payload.funds", "Input should be less than or equal to 1000000000000000")]


@pytest.mark.parametrize("raw", ["NaN", "Infinity", "-Infinity"])
def test_capitation_indicators_must_be_finite(raw: str) -> None:
    text = (EXAMPLES / "CapitationRunRequested.json").read_text().replace("162.5", raw)
    with pytest.raises(ValidationError) as err:
        parse_event(text)
    assert [(e["loc"][-1], e["msg"]) for e in err.value.errors()] == [
        ("contact_rate_per_mille", "Input should be a finite number")
    ]


def test_the_grouper_s_longest_rejection_fits_the_contract() -> None:
    from datetime import date

    from services.grouper.domain import Rejected, group_claim, load_grouper_tables
    from shared.events import ClaimData, ClaimRejectedPayload, ProcedureEntry, TarifRS

    claim = ClaimData(
        nomor_sep="bad",
        nomor_kartu="123",
        kode_rs="bad",
        kelas_rs="E",
        regional_tarif=7,
        tgl_lahir=date(2023, 5, 9),
        gender=1,
        tgl_masuk=date(2023, 5, 4),
        tgl_pulang=date(2023, 5, 1),
        jenis_rawat=3,
        kelas_rawat=9,
        birth_weight=1,
        upgrade_class_ind=True,
        diagnosa=["K99.9"] * 30,  # every list at its bound, every item wrong and repeated
        procedure=[ProcedureEntry(code="47.98")] * 30,
        special_cmg=["ZZ99"] * 10,
        tarif_rs=TarifRS(**{f: -1 for f in TarifRS.model_fields}),
        coder_nik="1",
    )
    outcome = group_claim(claim, load_grouper_tables())
    assert isinstance(outcome, Rejected)
    # 5 identifier + 5 episode + 19 bill + 59 diagnosis + 59 procedure + 1 upgrade + 10 special CMG reasons
    assert len(outcome.reasons) == 158
    ClaimRejectedPayload(
        revision=0,
        stage="grouper",
        nomor_sep="bad",
        kode_rs="bad",
        rejected_on=date(2023, 5, 9),
        reasons=outcome.reasons,
    )


def test_a_reviewer_s_longest_note_fits_in_the_verifier_s_reason() -> None:
    from services.verifier.domain.rulebook import reason

    note = "catatan " * 250  # 2000 characters, the most a ReviewDecisionRequested note holds
    why = reason("V-REVIEW-ADJUST", detail=note)
    assert why.message_en.endswith(f" ({note})")
