"""The operator check: who signed a command, with which key, valid when, in which role (no broker needed)."""

from __future__ import annotations

import uuid
from datetime import UTC, date, datetime
from pathlib import Path

import pytest

from shared.events import (
    FundsAllocated,
    FundsAllocatedPayload,
    PaymentRunRequested,
    PaymentRunRequestedPayload,
    encode_event,
    parse_event,
)
from shared.operators import (
    SHIPPED_REGISTRY,
    Registry,
    authorize,
    load_registry,
    new_signer,
    parse_registry,
    signing_bytes,
)
from tests.support.operators import operators


def run_request(at: datetime, funds: int = 1_000_000) -> PaymentRunRequested:
    return PaymentRunRequested(
        occurred_at=at, correlation_id=uuid.uuid4(), producer="unsigned",
        payload=PaymentRunRequestedPayload(run_id="RUN-ROTATION", funds=funds, requested_by="unsigned"),
    )  # fmt: skip


def registry() -> Registry:
    return load_registry(operators().registry_file)


def after_the_wire(event: PaymentRunRequested) -> PaymentRunRequested:
    """What the consumer sees: the event encoded and parsed again."""
    parsed = parse_event(encode_event(event))
    assert isinstance(parsed, PaymentRunRequested)
    return parsed


def test_a_signed_command_survives_the_wire_and_is_accepted() -> None:
    command = operators().sign(run_request(datetime(2026, 3, 2, 3, tzinfo=UTC)))
    assert authorize(registry(), after_the_wire(command)) is None
    assert command.producer == "operator:test.maker"
    assert command.payload.requested_by == "test.maker"


# The rotating operator's old key is valid until 2026-06-01 00:00 UTC; the new one from 2026-05-01.
@pytest.mark.parametrize(
    ("key", "at", "accepted"),
    [
        ("old", datetime(2026, 4, 30, tzinfo=UTC), True),  # before the overlap: only the old key exists
        ("old", datetime(2026, 5, 15, tzinfo=UTC), True),  # during the overlap: both keys are accepted
        ("new", datetime(2026, 5, 15, tzinfo=UTC), True),
        ("old", datetime(2026, 6, 1, tzinfo=UTC), False),  # valid_to is the first instant it is refused
        ("new", datetime(2026, 6, 1, tzinfo=UTC), True),
        ("new", datetime(2026, 4, 30, tzinfo=UTC), False),  # not valid before its valid_from
    ],
)
def test_key_rotation_old_key_within_its_validity_new_key_from_its_start(
    key: str, at: datetime, accepted: bool
) -> None:
    kit = operators()
    signer = kit.rotating_old if key == "old" else kit.rotating_new
    command = after_the_wire(kit.sign(run_request(at), signer=signer))
    refusal = authorize(registry(), command)
    if accepted:
        assert refusal is None
        return
    assert refusal is not None and refusal.code == "unauthorized"
    assert refusal.reason.startswith(f"occurred_at: key {signer.key_id} of test.rotating is valid from ")
    assert refusal.reason.endswith(f"not at {at.isoformat()} (rule KEY-VALIDITY)")


def test_a_key_signing_for_another_operator_is_refused() -> None:
    kit = operators()
    command = kit.sign(run_request(datetime(2026, 3, 2, tzinfo=UTC)), "test.maker")
    # test.maker2 claims to be the requester but signs with test.maker's key.
    forged = command.model_copy(
        update={
            "producer": "operator:test.maker2",
            "payload": command.payload.model_copy(update={"requested_by": "test.maker2"}),
        }
    )
    refusal = authorize(registry(), forged)
    assert refusal is not None
    assert refusal.reason == (
        f"signature.key_id: key {kit.signer('test.maker').key_id} belongs to test.maker, not to test.maker2 "
        "(rule OWN-KEY)"
    )


def test_a_payload_naming_someone_else_than_the_signer_is_refused() -> None:
    kit = operators()
    signer = kit.signer("test.maker")
    command = signer.sign(run_request(datetime(2026, 3, 2, tzinfo=UTC)))  # payload still says "unsigned"
    refusal = authorize(registry(), command)
    assert refusal is not None
    assert refusal.reason == (
        "payload.requested_by: 'unsigned' must name the signing operator test.maker (rule ACTOR-IS-SIGNER)"
    )


def test_an_approver_may_not_allocate_funds() -> None:
    allocation = FundsAllocated(
        occurred_at=datetime(2026, 3, 2, tzinfo=UTC), correlation_id=uuid.uuid4(), producer="x",
        payload=FundsAllocatedPayload(allocation_id="A-1", business_date=date(2026, 3, 2), amount=1, allocated_by="x"),
    )  # fmt: skip
    refusal = authorize(registry(), operators().sign(allocation, "test.approver"))
    assert refusal is not None
    assert refusal.reason == (
        "producer: operator test.approver (roles finance_approver) may not issue FundsAllocated, which needs "
        "finance_maker (rule COMMAND-ROLES)"
    )


def test_the_signature_covers_every_field_but_itself() -> None:
    command = operators().sign(run_request(datetime(2026, 3, 2, tzinfo=UTC)))
    assert command.signature is not None
    assert command.signature.value.encode() not in signing_bytes(command)
    later = command.model_copy(update={"occurred_at": datetime(2026, 3, 3, tzinfo=UTC)})
    assert signing_bytes(later) != signing_bytes(command)
    refusal = authorize(registry(), later)
    assert refusal is not None and "(rule SIGNATURE)" in refusal.reason


def test_the_shipped_example_registry_loads_and_trusts_no_key_anyone_holds() -> None:
    shipped = load_registry(SHIPPED_REGISTRY)
    assert shipped.version.endswith("-example")
    roles = {role for op in shipped.operators for role in op.roles}
    assert roles == {"reviewer", "dispute_panel", "finance_maker", "finance_approver", "vedika"}
    # A freshly generated key under a registered operator's name is still an unknown key.
    stranger = new_signer("finance.budi")
    command = operators().sign(run_request(datetime(2026, 3, 2, tzinfo=UTC)), signer=stranger)
    refusal = authorize(shipped, command)
    assert refusal is not None and "(rule KNOWN-KEY)" in refusal.reason


def test_a_registry_entry_whose_key_id_is_not_its_key_is_refused() -> None:
    text = operators().registry_file.read_text()
    kit = operators()
    wrong = text.replace(kit.signer("test.maker").key_id, kit.signer("test.maker2").key_id, 1)
    with pytest.raises(ValueError, match="is not this public key's id"):
        parse_registry(wrong)


def test_kubernetes_base_ships_the_same_example_registry() -> None:
    """kustomize reads files only under its directory: the base keeps a copy, which must not drift."""
    copy = Path(__file__).resolve().parents[2] / "deploy" / "k8s" / "base" / "operators.toml"
    assert copy.read_text() == SHIPPED_REGISTRY.read_text()


def test_a_command_older_than_the_limit_is_refused_so_a_forgotten_one_cannot_be_replayed() -> None:
    from datetime import timedelta

    from shared.clock import FixedClock
    from shared.operators import command_check

    made = datetime(2026, 3, 2, 3, tzinfo=UTC)
    command = after_the_wire(operators().sign(run_request(made)))
    record = type("OnTopic", (), {"topic": "payments.commands"})()
    thirty_days_on = command_check(registry(), FixedClock(made + timedelta(days=30)), timedelta(days=30))
    assert thirty_days_on(record, command) is None  # exactly at the limit: still accepted
    a_day_later = command_check(registry(), FixedClock(made + timedelta(days=31)), timedelta(days=30))
    refusal = a_day_later(record, command)
    assert refusal is not None and refusal.code == "unauthorized"
    assert refusal.reason == (
        "occurred_at: 2026-03-02T03:00:00+00:00 is 31 days old; commands older than 30 days are refused, "
        "issue it anew (rule STALE-COMMAND)"
    )
