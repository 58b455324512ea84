"""Operators: who may issue which command, and the Ed25519 signatures that prove who did.

Every command on a command topic (`verifier.commands`, `payments.commands`) is produced as
`operator:<operator id>` and carries `signature = {key_id, value}`: an Ed25519 signature, made with
the operator's private key, over `signing_bytes(event)` (the event as canonical JSON without the
signature). The services trust the operator registry deployed with them (OPERATORS_REGISTRY_FILE,
a TOML file: operators, their roles, their public keys with validity dates); `command_check` is the
kernel check that dead-letters, as `unauthorized`, every command that is unsigned, signed by a key
the registry does not hold, badly signed, signed with a key outside its validity at the command's
`occurred_at`, issued by an operator without the role the command needs, or naming in its payload a
person other than the signer. The dead letter is the audit of a refusal; an accepted command is
audited by the service that applies it.

Key rotation: add the new key with a `valid_from` before the old key's `valid_to` (an overlap), deploy
the registry, switch the operator to the new key file; the old key is refused for commands dated from
its `valid_to` on. A compromised key is removed from the registry (then it is an unknown key).
"""

from __future__ import annotations

import base64
import hashlib
import json
import tomllib
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from functools import lru_cache
from pathlib import Path
from typing import Annotated, Any, Final, Literal, TypeVar

from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey, Ed25519PublicKey
from pydantic import AwareDatetime, BaseModel, ConfigDict, Field, field_validator, model_validator

from shared import topics
from shared.checks import Check, Located, Refusal
from shared.clock import Clock
from shared.events import ApprovalGranted, ApprovalGrantedPayload, CommandSignature, Envelope

Role = Literal["reviewer", "dispute_panel", "finance_maker", "finance_approver", "vedika", "operations"]
# `operations` signs no command (it is in no COMMAND_ROLES entry): it gates the console's operations
# actions (a DLQ redrive from /operations), which any signed-in operator may only look at.
ROLES: Final[tuple[str, ...]] = (
    "reviewer", "dispute_panel", "finance_maker", "finance_approver", "vedika", "operations",
)  # fmt: skip

# Which role may issue which command (the registry says who holds which role). Money moves only after
# a finance_approver other than the requester approves (ApprovalGranted; the payments service checks
# "other than", the only rule that needs the request it approves).
COMMAND_ROLES: Final[Mapping[str, frozenset[str]]] = {
    "ReviewDecisionRequested": frozenset({"reviewer"}),
    "DisputeResolutionRequested": frozenset({"dispute_panel"}),
    "PaymentRunRequested": frozenset({"finance_maker"}),
    "CapitationRunRequested": frozenset({"finance_maker"}),
    "FundsAllocated": frozenset({"finance_maker"}),
    "PaymentCorrectionRequested": frozenset({"vedika"}),
    "ApprovalGranted": frozenset({"finance_approver"}),
}
# The payload field naming the person who acts: it must be the signer, or the audit trail could lie.
ACTOR_FIELDS: Final[Mapping[str, str]] = {
    "ReviewDecisionRequested": "reviewer",
    "DisputeResolutionRequested": "reviewer",
    "PaymentRunRequested": "requested_by",
    "CapitationRunRequested": "requested_by",
    "FundsAllocated": "allocated_by",
    "PaymentCorrectionRequested": "requested_by",
    "ApprovalGranted": "approved_by",
}
COMMAND_TOPICS: Final = frozenset({topics.VERIFIER_COMMANDS, topics.PAYMENTS_COMMANDS})
PRODUCER_PREFIX: Final = "operator:"
UNAUTHORIZED: Final = "unauthorized"
SIGNING_CONTEXT: Final = b"jkn-claims operator command v1\n"  # a signature is never valid for anything else
SHIPPED_REGISTRY: Final = Path(__file__).parent / "data" / "operators.toml"

OperatorId = Annotated[str, Field(min_length=1, max_length=55, pattern=r"^[a-z0-9][a-z0-9._-]*$")]


# ----------------------------------------------------------------------------- canonical form, key ids


def signing_bytes(event: Envelope) -> bytes:
    """What an operator signs: the event as JSON without `signature`, keys sorted, compact separators.

    Computed from the validated event on both sides, so defaults, the order of keys and the
    spelling of instants (UTC) cannot make a valid signature fail or an altered command pass.
    """
    document = event.model_dump(mode="json", exclude={"signature"})
    text = json.dumps(document, sort_keys=True, separators=(",", ":"), ensure_ascii=False)
    return SIGNING_CONTEXT + text.encode()


def raw_public_key(key: Ed25519PublicKey) -> bytes:
    return key.public_bytes(serialization.Encoding.Raw, serialization.PublicFormat.Raw)


def key_id_of(key: Ed25519PublicKey) -> str:
    """A key's id: its fingerprint, so a registry entry cannot name one key and hold another."""
    digest = hashlib.sha256(raw_public_key(key)).digest()
    return "ed25519:" + base64.urlsafe_b64encode(digest[:12]).decode()


def public_key_text(key: Ed25519PublicKey) -> str:
    """The registry's spelling of a public key: base64 of its 32 raw bytes."""
    return base64.b64encode(raw_public_key(key)).decode()


# ----------------------------------------------------------------------------- the registry


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class OperatorKey(_Strict):
    key_id: str = Field(min_length=1, max_length=64)
    public_key: str = Field(description="Ed25519 public key, base64 of the 32 raw bytes")
    valid_from: AwareDatetime
    valid_to: AwareDatetime | None = Field(default=None, description="First instant the key is no longer valid")

    @model_validator(mode="after")
    def _consistent(self) -> OperatorKey:
        key = self.verifier()
        if key_id_of(key) != self.key_id:
            raise ValueError(f"key_id {self.key_id!r} is not this public key's id {key_id_of(key)!r}")
        if self.valid_to is not None and self.valid_to <= self.valid_from:
            raise ValueError(f"key {self.key_id}: valid_to must be after valid_from")
        return self

    def verifier(self) -> Ed25519PublicKey:
        raw = base64.b64decode(self.public_key, validate=True)
        return Ed25519PublicKey.from_public_bytes(raw)

    def valid_at(self, at: datetime) -> bool:
        return self.valid_from <= at and (self.valid_to is None or at < self.valid_to)

    def validity(self) -> str:
        return f"valid from {self.valid_from.isoformat()} to {self.valid_to.isoformat() if self.valid_to else 'open'}"


class Operator(_Strict):
    id: OperatorId
    name: str = Field(min_length=1, max_length=200)
    roles: tuple[Role, ...] = Field(min_length=1)
    keys: tuple[OperatorKey, ...] = ()


class Registry(_Strict):
    """Who may act: the file the services are deployed with (versioned data, reviewed like code)."""

    version: str = Field(min_length=1, max_length=64)
    description: str = ""
    operators: tuple[Operator, ...] = ()

    @field_validator("operators")
    @classmethod
    def _unique(cls, operators: tuple[Operator, ...]) -> tuple[Operator, ...]:
        seen_ops: set[str] = set()
        seen_keys: set[str] = set()
        for op in operators:
            if op.id in seen_ops:
                raise ValueError(f"operator {op.id} is listed twice")
            seen_ops.add(op.id)
            for key in op.keys:
                if key.key_id in seen_keys:
                    raise ValueError(f"key {key.key_id} is listed twice")
                seen_keys.add(key.key_id)
        return operators

    def key(self, key_id: str) -> tuple[Operator, OperatorKey] | None:
        """The operator holding `key_id`, with the key."""
        for op in self.operators:
            for key in op.keys:
                if key.key_id == key_id:
                    return op, key
        return None


def parse_registry(text: str) -> Registry:
    """A registry from its TOML text; raises ValueError naming what is wrong."""
    return Registry.model_validate(tomllib.loads(text))


@lru_cache(maxsize=8)
def load_registry(path: Path) -> Registry:
    """The registry file, read once per process (a new registry is deployed with a restart)."""
    return parse_registry(path.read_text())


def registry_path(configured: Path | None) -> Path:
    return configured or SHIPPED_REGISTRY


def _toml_time(at: datetime) -> str:
    return at.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def render_operator(op: Operator) -> str:
    """One operator as a registry entry (TOML), for `claimsctl operators keygen` and generated registries."""
    lines = ["[[operators]]", f"id = {json.dumps(op.id)}", f"name = {json.dumps(op.name)}",
             f"roles = {json.dumps(list(op.roles))}"]  # fmt: skip
    for key in op.keys:
        lines += [
            "",
            "  [[operators.keys]]",
            f"  key_id = {json.dumps(key.key_id)}",
            f"  public_key = {json.dumps(key.public_key)}",
            f"  valid_from = {_toml_time(key.valid_from)}",
        ]
        if key.valid_to is not None:
            lines.append(f"  valid_to = {_toml_time(key.valid_to)}")
    return "\n".join(lines) + "\n"


def render_registry(version: str, description: str, operators: Iterable[Operator]) -> str:
    """A whole registry file."""
    head = f"version = {json.dumps(version)}\ndescription = {json.dumps(description)}\n"
    return head + "".join("\n" + render_operator(op) for op in operators)


# ----------------------------------------------------------------------------- signing


E = TypeVar("E", bound=Envelope)


@dataclass(frozen=True)
class OperatorSigner:
    """An operator's private key: signs commands as `operator:<id>`."""

    operator_id: str
    private_key: Ed25519PrivateKey

    @property
    def key_id(self) -> str:
        return key_id_of(self.private_key.public_key())

    @property
    def producer(self) -> str:
        return PRODUCER_PREFIX + self.operator_id

    def sign(self, event: E) -> E:
        """The event produced by this operator and signed (the payload must already name the operator)."""
        unsigned = event.model_copy(update={"producer": self.producer, "signature": None})
        value = base64.b64encode(self.private_key.sign(signing_bytes(unsigned))).decode()
        return unsigned.model_copy(update={"signature": CommandSignature(key_id=self.key_id, value=value)})

    def key_entry(self, valid_from: datetime, valid_to: datetime | None = None) -> OperatorKey:
        """This key as the registry lists it."""
        public = self.private_key.public_key()
        return OperatorKey(
            key_id=self.key_id, public_key=public_key_text(public), valid_from=valid_from, valid_to=valid_to
        )

    def private_pem(self) -> bytes:
        return self.private_key.private_bytes(
            serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
        )


def new_signer(operator_id: str) -> OperatorSigner:
    return OperatorSigner(operator_id, Ed25519PrivateKey.generate())


def load_signer(operator_id: str, key_file: Path) -> OperatorSigner:
    """The operator's signer from a PEM (PKCS#8) private key file; ValueError when it is not Ed25519."""
    key = serialization.load_pem_private_key(key_file.read_bytes(), password=None)
    if not isinstance(key, Ed25519PrivateKey):
        raise ValueError(f"{key_file}: not an Ed25519 private key")
    return OperatorSigner(operator_id, key)


# ----------------------------------------------------------------------------- the kernel check


def _refuse(reason: str) -> Refusal:
    return Refusal(UNAUTHORIZED, reason)


def authorize(registry: Registry, event: Envelope) -> Refusal | None:
    """None when a registered operator with the right role signed `event` with a key valid at occurred_at."""
    kind = event.event_type  # type: ignore[attr-defined]
    roles = COMMAND_ROLES.get(kind)
    if roles is None:
        return _refuse(f"event_type: {kind} is not an operator command (rule COMMAND-TYPES)")
    if not event.producer.startswith(PRODUCER_PREFIX):
        return _refuse(
            f"producer: {event.producer!r} is no operator: commands come from operator:<id> (rule OPERATOR-PRODUCER)"
        )
    operator_id = event.producer.removeprefix(PRODUCER_PREFIX)
    signature: CommandSignature | None = getattr(event, "signature", None)
    if signature is None:
        return _refuse(f"signature: {kind} from operator {operator_id} is unsigned (rule SIGNED-COMMANDS)")
    found = registry.key(signature.key_id)
    if found is None:
        return _refuse(
            f"signature.key_id: {signature.key_id} is not in operator registry {registry.version} (rule KNOWN-KEY)"
        )
    operator, key = found
    if operator.id != operator_id:
        return _refuse(
            f"signature.key_id: key {key.key_id} belongs to {operator.id}, not to {operator_id} (rule OWN-KEY)"
        )
    if not _verifies(key, signature.value, signing_bytes(event)):
        return _refuse(f"signature.value: does not verify with key {key.key_id} of {operator_id} (rule SIGNATURE)")
    if not key.valid_at(event.occurred_at):
        return _refuse(
            f"occurred_at: key {key.key_id} of {operator_id} is {key.validity()}, not at "
            f"{event.occurred_at.isoformat()} (rule KEY-VALIDITY)"
        )
    if not roles & set(operator.roles):
        return _refuse(
            f"producer: operator {operator_id} (roles {', '.join(operator.roles)}) may not issue {kind}, "
            f"which needs {' or '.join(sorted(roles))} (rule COMMAND-ROLES)"
        )
    return _actor_is_signer(kind, event, operator_id)


def _verifies(key: OperatorKey, value: str, message: bytes) -> bool:
    try:
        key.verifier().verify(base64.b64decode(value, validate=True), message)
    except (InvalidSignature, ValueError):
        return False
    return True


def _actor_is_signer(kind: str, event: Envelope, operator_id: str) -> Refusal | None:
    field = ACTOR_FIELDS.get(kind)
    named = getattr(getattr(event, "payload", None), field, None) if field else None
    if field is not None and named != operator_id:
        return _refuse(
            f"payload.{field}: {named!r} must name the signing operator {operator_id} (rule ACTOR-IS-SIGNER)"
        )
    return None


def command_check(registry: Registry, clock: Clock | None = None, max_age: timedelta | None = None) -> Check:
    """The kernel check for command topics; events on other topics pass untouched."""

    def check(record: Located, event: Envelope) -> Refusal | None:
        if record.topic not in COMMAND_TOPICS:
            return None
        if clock is not None and max_age is not None:
            stale = stale_refusal(event, clock.now(), max_age)
            if stale is not None:
                return stale
        return authorize(registry, event)

    return check


def stale_refusal(event: Envelope, now: datetime, max_age: timedelta) -> Refusal | None:
    """A command older than `max_age`: the inbox forgets ids after 120 days, so an old signed command could
    otherwise be replayed once it is forgotten (a review decision names only its claim)."""
    age = now - event.occurred_at
    if age <= max_age:
        return None
    return _refuse(
        f"occurred_at: {event.occurred_at.isoformat()} is {age.days} days old; commands older than "
        f"{max_age.days} days are refused, issue it anew (rule STALE-COMMAND)"
    )


def command_checks(
    registry_file: Path | None, consumed: Iterable[str], clock: Clock | None = None, max_age_days: int = 30
) -> list[Check]:
    """The checks a consumer of `consumed` topics needs: the operator check when it reads a command topic."""
    if not COMMAND_TOPICS & set(consumed):
        return []
    return [command_check(load_registry(registry_path(registry_file)), clock, timedelta(days=max_age_days))]


def registry_summary(registry: Registry) -> list[dict[str, Any]]:
    """Operators, roles and keys, for `claimsctl operators list`."""
    return [
        {"id": op.id, "name": op.name, "roles": list(op.roles),
         "keys": [{"key_id": k.key_id, "valid_from": k.valid_from.isoformat(),
                   "valid_to": k.valid_to.isoformat() if k.valid_to else None} for k in op.keys]}
        for op in registry.operators
    ]  # fmt: skip


# ----------------------------------------------------------------------------- four eyes


HELD_COMMANDS: Final[Mapping[str, tuple[str, str]]] = {
    # event type → (subject kind, payload field holding its id)
    "PaymentRunRequested": ("payment_run", "run_id"),
    "PaymentCorrectionRequested": ("payment_correction", "correction_id"),
    "CapitationRunRequested": ("capitation_run", "run_id"),
    "FundsAllocated": ("funds_allocation", "allocation_id"),
}


def approval_subject(command: Envelope) -> tuple[str, str]:
    """(subject_kind, subject_id) of a money command that waits for a second operator's approval."""
    kind, field = HELD_COMMANDS[command.event_type]  # type: ignore[attr-defined]
    return kind, str(getattr(command.payload, field))  # type: ignore[attr-defined]


def approval_of(command: Envelope, approved_by: str, occurred_at: datetime) -> ApprovalGranted:
    """The (unsigned) approval of `command` by `approved_by`, keyed like the command."""
    kind, subject_id = approval_subject(command)
    return ApprovalGranted(
        occurred_at=occurred_at,
        claim_id=command.claim_id if kind == "payment_correction" else None,
        correlation_id=command.correlation_id,
        causation_id=command.event_id,
        producer=PRODUCER_PREFIX + approved_by,
        payload=ApprovalGrantedPayload.model_validate(
            {"subject_kind": kind, "subject_id": subject_id, "approved_by": approved_by}
        ),
    )


def generate_registry(
    path: Path, people: Mapping[str, Iterable[str]], version: str, description: str, valid_from: datetime
) -> dict[str, OperatorSigner]:
    """A registry of fresh keys written to `path` (a simulation's or a benchmark's own world); the signers."""
    signers = {op_id: new_signer(op_id) for op_id in people}
    entries = [
        Operator.model_validate(
            {"id": op_id, "name": op_id, "roles": tuple(roles), "keys": (signers[op_id].key_entry(valid_from),)}
        )
        for op_id, roles in people.items()
    ]
    path.write_text(render_registry(version, description, entries))
    return signers
