"""Test operators: keys generated once per test process, a registry file the services are pointed at.

`operators()` is the test world's registry: a reviewer, a dispute panel member, two finance makers,
two finance approvers, an operator holding both finance roles (to try approving their own request),
a VEDIKA reviewer, and one operator mid-rotation (an old key valid until 2026-06-01, a new one from
2026-05-01). Lanes and clusters pass its file to the services (OPERATORS_REGISTRY_FILE).
"""

from __future__ import annotations

import atexit
import shutil
import tempfile
from dataclasses import dataclass
from datetime import UTC, datetime
from functools import lru_cache
from pathlib import Path
from typing import Any, TypeVar

from shared.events import ApprovalGranted, Envelope
from shared.operators import ACTOR_FIELDS, Operator, OperatorSigner, approval_of, new_signer, render_registry

E = TypeVar("E", bound=Envelope)

LONG_AGO = datetime(2000, 1, 1, tzinfo=UTC)
ROTATION_OVERLAP_FROM = datetime(2026, 5, 1, tzinfo=UTC)  # the new key is valid from here
ROTATION_OLD_KEY_UNTIL = datetime(2026, 6, 1, tzinfo=UTC)  # the old key is refused from here on

PEOPLE: dict[str, tuple[str, ...]] = {
    "test.reviewer": ("reviewer",),
    "test.tkmkb": ("dispute_panel",),
    "test.maker": ("finance_maker",),
    "test.maker2": ("finance_maker",),
    "test.approver": ("finance_approver",),
    "test.approver2": ("finance_approver",),
    "test.both": ("finance_maker", "finance_approver"),
    "test.vedika": ("vedika",),
}
# Who signs a command when a test does not say.
DEFAULT_SIGNER = {
    "ReviewDecisionRequested": "test.reviewer",
    "DisputeResolutionRequested": "test.tkmkb",
    "PaymentRunRequested": "test.maker",
    "CapitationRunRequested": "test.maker",
    "FundsAllocated": "test.maker",
    "PaymentCorrectionRequested": "test.vedika",
    "ApprovalGranted": "test.approver",
}
ROTATING = "test.rotating"


@dataclass
class OperatorKit:
    registry_file: Path
    signers: dict[str, OperatorSigner]
    rotating_old: OperatorSigner
    rotating_new: OperatorSigner
    outsider: OperatorSigner  # a key no registry holds

    def signer(self, operator_id: str) -> OperatorSigner:
        return self.signers[operator_id]

    def sign(self, command: E, by: str | None = None, *, signer: OperatorSigner | None = None) -> E:
        """`command` signed by operator `by` (default: the usual role holder), its payload naming them."""
        kind = command.event_type  # type: ignore[attr-defined]
        signer = signer or self.signers[by or DEFAULT_SIGNER[kind]]
        payload: Any = command.payload  # type: ignore[attr-defined]
        named = command.model_copy(
            update={"payload": payload.model_copy(update={ACTOR_FIELDS[kind]: signer.operator_id})}
        )
        return signer.sign(named)

    def approval(self, request: Envelope, by: str = "test.approver", at: datetime | None = None) -> ApprovalGranted:
        """The signed approval of `request` by `by`."""
        return self.sign(approval_of(request, by, at or request.occurred_at), by)

    def approved(self, request: E, maker: str | None = None, approver: str = "test.approver") -> list[Envelope]:
        """A request signed by its maker and approved by a second operator, in publishing order."""
        signed = self.sign(request, maker)
        return [signed, self.approval(signed, approver)]


@lru_cache(maxsize=1)
def operators() -> OperatorKit:
    """The test registry, generated once per process and removed at exit."""
    folder = Path(tempfile.mkdtemp(prefix="jkn-operators-"))
    atexit.register(shutil.rmtree, folder, ignore_errors=True)
    signers = {op_id: new_signer(op_id) for op_id in PEOPLE}
    entries = [
        Operator(id=op_id, name=f"Test {op_id}", roles=roles, keys=(signers[op_id].key_entry(LONG_AGO),))
        for op_id, roles in PEOPLE.items()
    ]
    old, new = new_signer(ROTATING), new_signer(ROTATING)
    rotation_keys = (old.key_entry(LONG_AGO, ROTATION_OLD_KEY_UNTIL), new.key_entry(ROTATION_OVERLAP_FROM))
    entries.append(Operator(id=ROTATING, name="Test rotating", roles=("finance_maker",), keys=rotation_keys))
    path = folder / "operators.toml"
    path.write_text(render_registry("test-session", "Generated for one test process", entries))
    return OperatorKit(path, signers, old, new, new_signer("test.maker"))


def sign(command: E, by: str | None = None) -> E:
    """Shorthand: `command` signed by the test operator who usually issues it."""
    return operators().sign(command, by)


def approved(request: Envelope, maker: str | None = None, approver: str = "test.approver") -> list[Envelope]:
    """Shorthand: the signed request and a second operator's signed approval."""
    return operators().approved(request, maker, approver)
