"""Healthy newborn: the baby's care belongs to the mother's delivery package unless the baby is sick.

Rule (DOMAIN.md; BPJS guidance citing PMK 76/2016, medium confidence): a claim whose principal diagnosis
is `Z38.x` (liveborn infant by place of birth) and that carries no neonatal condition is not separately
payable. The outcome is a rejection (tidak layak), not an adjustment to zero: the money is claimed on
the mother's SEP, nothing is owed on this one, and a rejection is disputable if the coder left the
neonatal condition out.

A neonatal condition is any other diagnosis in ICD-10 chapter XVI (P00-P96, conditions originating in
the perinatal period; P00-P04 count too, because ICD-10 uses them only when the maternal condition
caused morbidity in the baby) or chapter XVII (Q00-Q99, congenital malformations: E-Klaim's "dengan
kelainan" newborn). The ranges are data below, so a narrower reading is one line.
"""

from __future__ import annotations

from typing import Final

from services.verifier.domain.rulebook import Finding, finding
from shared.events import ClaimData

HEALTHY_NEWBORN_CATEGORY: Final = "Z38"
# (first, last) ICD-10 categories, inclusive, that make a newborn's stay separately payable.
NEONATAL_CONDITION_RANGES: Final = (("P00", "P96"), ("Q00", "Q99"))


def category(code: str) -> str:
    """The three-character ICD-10 category of a dotted or undotted code (K35.8, K358 -> K35)."""
    return code.strip().upper()[:3]


def is_neonatal_condition(code: str) -> bool:
    """Whether `code` is a perinatal condition or a congenital malformation."""
    cat = category(code)
    return any(first <= cat <= last for first, last in NEONATAL_CONDITION_RANGES)


def healthy_newborn_findings(claim: ClaimData) -> list[Finding]:
    """Z38.x as principal without a neonatal condition among the other diagnoses: not separately payable."""
    if not claim.diagnosa or category(claim.diagnosa[0]) != HEALTHY_NEWBORN_CATEGORY:
        return []
    if any(is_neonatal_condition(code) for code in claim.diagnosa[1:]):
        return []
    return [finding("V-NEWBORN-HEALTHY", field="diagnosa[0]", detail=claim.diagnosa[0])]
