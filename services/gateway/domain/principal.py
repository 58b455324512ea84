"""Who is calling: a hospital (its own claims only) or a BPJS operator (reads every claim)."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

from shared.producers import SEP_HOSPITAL_CHARS

Role = Literal["hospital", "operator"]


@dataclass(frozen=True, slots=True)
class Caller:
    """An authenticated credential and what the gateway knows of its hospital."""

    cons_id: str
    role: Role
    kode_rs: str | None = None  # a hospital's code (kode PPK); None for an operator
    name: str = ""
    kode_tarif: str | None = None  # E-Klaim's hospital setup: the default tariff class
    regional_tarif: int | None = None
    rate_per_s: float | None = None
    burst: int | None = None

    @property
    def producer(self) -> str:
        """The envelope producer of what this hospital submits (the kernel checks it against the claim)."""
        if self.kode_rs is None:
            raise PermissionError("an operator credential does not submit claims")
        return f"hospital:{self.kode_rs}"

    def may_see(self, kode_rs: str, nomor_sep: str) -> bool:
        """Operators see every claim; a hospital only those of its own code whose SEP it issued."""
        if self.role == "operator":
            return True
        return self.kode_rs == kode_rs and owns_sep(self, nomor_sep)


def owns_sep(caller: Caller, nomor_sep: str) -> bool:
    """A SEP starts with the issuing hospital's 8-character code (shared/producers.py checks the same)."""
    return caller.kode_rs is not None and nomor_sep[:SEP_HOSPITAL_CHARS] == caller.kode_rs
