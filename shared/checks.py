"""Checks the kernel runs on every decoded event before it takes effect (shared/consumer.py)."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Protocol

from shared.events import Envelope


@dataclass(frozen=True)
class Refusal:
    """Why an event that parsed must still have no effect (an unauthorised producer, a bad signature)."""

    code: str
    reason: str


class Located(Protocol):
    """What a check may read of the record: the contract topic it arrived on, and its headers."""

    @property
    def topic(self) -> str: ...


# A check returns None to let the event through, or a Refusal that dead-letters it with its code.
Check = Callable[[Located, Envelope], Refusal | None]
