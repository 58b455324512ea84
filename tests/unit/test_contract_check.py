"""`make contract-check`: the tree passes it; an incompatible change in a copy of a released schema fails
it naming the event, the field and the rule; an additive optional field and a version bump with an
upcaster pass (docs/contract-policy.md)."""

from __future__ import annotations

import copy
import json
import shutil
import subprocess
import sys
from pathlib import Path
from types import MappingProxyType
from typing import Any, Literal

import pytest
from pydantic import ValidationError

from shared.contract_check import check, compare_event, compare_sets, read_dir
from shared.events import Contract, Envelope, parse_event, parse_event_obj, registered
from shared.schemas import SCHEMA_DIR, schema_of

ROOT = Path(__file__).resolve().parents[2]
RELEASED = {
    name: json.loads(text) for name, text in read_dir(ROOT / SCHEMA_DIR / "released").items()
}  # fmt: skip


def changed(event: str, edit: Any) -> list[str]:
    """The breaches of a copy of `event`'s released schema after `edit(schema)`."""
    schema = copy.deepcopy(RELEASED[event])
    edit(schema)
    return [str(b) for b in compare_sets(RELEASED, {**RELEASED, event: schema})]


def claim_data(schema: dict[str, Any]) -> dict[str, Any]:
    data: dict[str, Any] = schema["$defs"]["ClaimData"]
    return data


def reminder(schema: dict[str, Any]) -> dict[str, Any]:
    data: dict[str, Any] = schema["$defs"]["ClaimDeadlineReminderPayload"]
    return data


def test_the_tree_as_it_is_passes_the_contract_check() -> None:
    done = subprocess.run(
        [sys.executable, "-m", "shared.contract_check"], cwd=ROOT, capture_output=True, text=True, check=False
    )
    assert done.returncode == 0, done.stderr
    assert "checked against contract-v1" in done.stdout


def test_a_removed_field_fails_naming_event_field_and_rule() -> None:
    def remove(schema: dict[str, Any]) -> None:
        del claim_data(schema)["properties"]["nomor_kartu"]
        claim_data(schema)["required"].remove("nomor_kartu")

    assert changed("ClaimSubmitted", remove) == [
        "ClaimSubmitted.payload.claim.nomor_kartu: removed-field: a released field is gone (rename = remove + add)"
    ]


def test_a_removed_optional_field_fails_too_because_consumers_refuse_unknown_fields() -> None:
    assert changed("ClaimSubmitted", lambda s: claim_data(s)["properties"].pop("birth_weight")) == [
        "ClaimSubmitted.payload.claim.birth_weight: removed-field: a released field is gone (rename = remove + add)"
    ]


@pytest.mark.parametrize(
    ("edit", "expected"),
    [
        (
            lambda s: reminder(s)["properties"]["kode_rs"].update(maxLength=30),
            "ClaimDeadlineReminder.payload.kode_rs: tightened-bound: maxLength 40 → 30",
        ),
        (
            lambda s: reminder(s)["properties"]["working_days_left"].update(minimum=1),
            "ClaimDeadlineReminder.payload.working_days_left: tightened-bound: minimum 0 → 1",
        ),
        (
            lambda s: reminder(s)["properties"]["deadline_kind"].update(enum=["resubmit"]),
            'ClaimDeadlineReminder.payload.deadline_kind: narrowed-enum: no longer accepts "dispute"',
        ),
        (
            lambda s: reminder(s)["properties"]["nomor_sep"].update(pattern="^[0-9A-Z]*$"),
            "ClaimDeadlineReminder.payload.nomor_sep: changed-pattern: '^[^\\\\u0000-\\\\u001f\\\\u007f]*$' → "
            "'^[0-9A-Z]*$'",
        ),
        (
            lambda s: reminder(s)["properties"]["working_days_left"].update(type="string"),
            "ClaimDeadlineReminder.payload.working_days_left: type-changed: integer → string",
        ),
        (
            lambda s: s["properties"].update(causation_id={"format": "uuid", "type": "string"}),
            "ClaimDeadlineReminder.causation_id: type-changed: null is no longer accepted (now string)",
        ),
        (
            lambda s: s["required"].append("received_at"),
            "ClaimDeadlineReminder.received_at: newly-required: an optional field became required",
        ),
        (
            lambda s: (
                reminder(s)["properties"].update(note={"type": "string"}),
                reminder(s)["required"].append("note"),
            ),
            "ClaimDeadlineReminder.payload.note: newly-required: a new field is required (add it optional)",
        ),
        (
            lambda s: reminder(s)["properties"]["kode_rs"].update(multipleOf=2),
            "ClaimDeadlineReminder.payload.kode_rs: unchecked-keyword: 'multipleOf' changed and this check cannot "
            "judge it",
        ),
        (
            lambda s: s.update({"x-topic": "claims.elsewhere"}),
            "ClaimDeadlineReminder.(event): moved-topic: claims.reminders → claims.elsewhere",
        ),
    ],
    ids=[
        "max-length",
        "minimum",
        "enum",
        "pattern",
        "type",
        "nullable",
        "required",
        "new-required",
        "unknown",
        "topic",
    ],
)
def test_every_tightening_fails_naming_event_field_and_rule(edit: Any, expected: str) -> None:
    assert changed("ClaimDeadlineReminder", edit) == [expected]


def test_an_additive_optional_field_a_widened_bound_and_a_new_event_type_pass() -> None:
    def widen(schema: dict[str, Any]) -> None:
        reminder(schema)["properties"]["catatan"] = {"anyOf": [{"type": "string"}, {"type": "null"}], "default": None}
        reminder(schema)["properties"]["kode_rs"]["maxLength"] = 80
        reminder(schema)["properties"]["deadline_kind"]["enum"].append("appeal")

    assert changed("ClaimDeadlineReminder", widen) == []
    assert compare_sets(RELEASED, {**RELEASED, "ClaimAppealed": RELEASED["ClaimDeadlineReminder"]}) == []


def test_a_removed_event_type_fails() -> None:
    current = {k: v for k, v in RELEASED.items() if k != "ClaimDeadlineReminder"}
    assert [str(b) for b in compare_sets(RELEASED, current)] == [
        "ClaimDeadlineReminder.(event): removed-event: a released event type is gone"
    ]


def bumped(schema: dict[str, Any], accepted: list[int] | None) -> None:
    del reminder(schema)["properties"]["kode_rs"]
    reminder(schema)["required"].remove("kode_rs")
    schema["properties"]["schema_version"].update(const=2, default=2)
    if accepted is not None:
        schema["x-accepted-versions"] = accepted


def test_a_breaking_change_with_schema_version_bumped_and_version_1_still_accepted_passes() -> None:
    assert changed("ClaimDeadlineReminder", lambda s: bumped(s, [1, 2])) == []


def test_a_bump_whose_consumers_no_longer_accept_the_released_version_fails() -> None:
    assert changed("ClaimDeadlineReminder", lambda s: bumped(s, None)) == [
        "ClaimDeadlineReminder.schema_version: bump-without-upcaster: 1 → 2, but consumers no longer accept 1: "
        "declare an upcaster from 1 until it is retired"
    ]


# A fixture event type in two versions, rendered by the same code as docs/events/: the live models.
class ProbePayloadV1(Contract):
    nomor_sep: str
    amount: int


class ProbeV1(Envelope):
    topic = "contract.probe"
    event_type: Literal["ContractProbe"] = "ContractProbe"
    payload: ProbePayloadV1


class ProbePayloadV2(Contract):
    nomor_sep: str
    approved_amount: int  # renamed: a breaking change


def v1_to_v2(doc: dict[str, Any]) -> dict[str, Any]:
    payload = {k: v for k, v in doc["payload"].items() if k != "amount"}
    return {**doc, "payload": {**payload, "approved_amount": doc["payload"]["amount"]}}


class ProbeV2(Envelope):
    topic = "contract.probe"
    event_type: Literal["ContractProbe"] = "ContractProbe"
    schema_version: Literal[2] = 2  # type: ignore[assignment]  # each version its own literal
    upcasters = MappingProxyType({1: v1_to_v2})
    payload: ProbePayloadV2


class ProbeV2WithoutUpcaster(ProbeV2):
    upcasters = MappingProxyType({})


def test_the_live_models_of_a_rename_fail_unless_bumped_with_an_upcaster() -> None:
    class ProbeRenamed(Envelope):  # the rename, schema_version left at 1
        topic = "contract.probe"
        event_type: Literal["ContractProbe"] = "ContractProbe"
        payload: ProbePayloadV2

    released = schema_of(ProbeV1)
    assert [str(b) for b in compare_event("ContractProbe", released, schema_of(ProbeRenamed))] == [
        "ContractProbe.payload.amount: removed-field: a released field is gone (rename = remove + add)",
        "ContractProbe.payload.approved_amount: newly-required: a new field is required (add it optional)",
    ]
    assert schema_of(ProbeV2)["x-accepted-versions"] == [1, 2]
    assert compare_event("ContractProbe", released, schema_of(ProbeV2)) == []
    assert [b.rule for b in compare_event("ContractProbe", released, schema_of(ProbeV2WithoutUpcaster))] == [
        "bump-without-upcaster"
    ]


def copy_tree(tmp: Path) -> Path:
    """The tree's docs/events/ (with the released snapshot) in a fresh directory."""
    shutil.copytree(ROOT / SCHEMA_DIR, tmp / SCHEMA_DIR)
    return tmp


def test_a_forgotten_make_schemas_is_caught(tmp_path: Path) -> None:
    root = copy_tree(tmp_path)
    path = root / SCHEMA_DIR / "ClaimDeadlineReminder.schema.json"
    schema = json.loads(path.read_text())
    reminder(schema)["properties"]["kode_rs"]["maxLength"] = 30
    path.write_text(json.dumps(schema))

    failures, notes = check(root)

    assert failures == [
        "docs/events/ is not what the models render (ClaimDeadlineReminder): run `make schemas`",
        "ClaimDeadlineReminder.payload.kode_rs: tightened-bound: maxLength 40 → 30 (docs/events/, against contract-v1)",
    ]
    assert notes[0] == "tag contract-v1 is not in this clone: the committed snapshot is the baseline"


def test_with_the_tag_present_the_snapshot_must_equal_the_tags_schemas(tmp_path: Path) -> None:
    root = copy_tree(tmp_path)

    def git(*args: str) -> None:
        ident = ["-c", "user.name=t", "-c", "user.email=t@example.org"]
        subprocess.run(["git", "-C", str(root), *ident, *args], check=True, capture_output=True)

    git("init", "-q")
    git("add", ".")
    git("commit", "-q", "-m", "release")
    git("tag", "-a", "contract-v1", "-m", "contract v1")
    assert check(root) == (
        [],
        ["snapshot verified against tag contract-v1", "20 event types checked against contract-v1 (20 released)"],
    )

    snapshot = root / SCHEMA_DIR / "released" / "ClaimPaid.schema.json"
    snapshot.write_text(snapshot.read_text().replace('"title": "Claim Id"', '"title": "Claim ID"'))  # harmless
    failures, _ = check(root)
    assert failures == [
        "docs/events/released/ is not the release it names: ClaimPaid: the snapshot differs from contract-v1"
    ]


# The consumer side of a migration: parse_event accepts v1 and v2 of a type that declares both.


def v1_document(**changes: Any) -> dict[str, Any]:
    doc: dict[str, Any] = {
        "event_id": "0b9d2f4e-8c7a-4e1b-9f3d-2a6c5e8b7d10", "event_type": "ContractProbe", "schema_version": 1,
        "occurred_at": "2026-12-01T09:00:00Z",
        "claim_id": "C-1", "correlation_id": "6f1c2a8e-3d4b-4c5a-9e7f-0a1b2c3d4e5f", "producer": "test",
        "payload": {"nomor_sep": "0301R0011117V000008", "amount": 5_634_100},
    }  # fmt: skip
    doc.update(changes)
    return doc


def test_a_v1_document_reads_as_v2_through_the_upcaster_with_or_without_its_version() -> None:
    with registered(ProbeV2):
        for doc in (v1_document(), {k: v for k, v in v1_document().items() if k != "schema_version"}):
            event = parse_event(json.dumps(doc))
            assert isinstance(event, ProbeV2)
            assert (event.schema_version, event.payload.approved_amount) == (2, 5_634_100)
        assert parse_event_obj(v1_document()) == parse_event(json.dumps(v1_document()))


@pytest.mark.parametrize(
    ("doc", "expected"),
    [
        (v1_document(schema_version=3), "ContractProbe.schema_version\n  Input should be 2"),
        (v1_document(schema_version=True), "ContractProbe.schema_version\n  Input should be 2"),
        (
            v1_document(payload={"nomor_sep": "S", "amount": 1, "surplus": 1}),
            "ContractProbe.payload.surplus\n  Extra inputs are not permitted",
        ),
    ],
    ids=["version-3", "version-true", "extra-field"],
)
def test_what_no_version_accepts_is_still_refused_naming_the_field(doc: dict[str, Any], expected: str) -> None:
    with registered(ProbeV2), pytest.raises(ValidationError) as err:
        parse_event(json.dumps(doc))
    assert expected in str(err.value)


def test_outside_the_migration_the_contract_knows_no_probe_and_refuses_version_2() -> None:
    with pytest.raises(ValidationError) as err:
        parse_event(json.dumps(v1_document()))
    assert "'ContractProbe'" in str(err.value)
