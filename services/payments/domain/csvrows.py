"""Line-numbered CSV reading with per-field validation errors (operator-edited data files)."""

from __future__ import annotations

import csv
import re
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from fractions import Fraction

_DECIMAL = re.compile(r"\d+(\.\d+)?")
_INTEGER = re.compile(r"\d+")
_TRUE = frozenset({"yes", "y", "true", "1", "ya"})
_FALSE = frozenset({"no", "n", "false", "0", "tidak"})


@dataclass(frozen=True, slots=True)
class CsvError:
    """One problem in a CSV file: where it is and which rule it breaks."""

    line: int
    column: str
    rule: str

    def __str__(self) -> str:
        where = "whole file" if self.line == 0 else f"line {self.line}"  # line 0: a table-wide rule
        return f"{where}, column {self.column}: {self.rule}"


class CsvTableError(ValueError):
    """A data table failed validation; `errors` has every problem found."""

    def __init__(self, source: str, errors: Sequence[CsvError]) -> None:
        super().__init__(f"{source}: " + "; ".join(str(e) for e in errors))
        self.errors = list(errors)


def read_rows(
    text: str, columns: Sequence[str], errors: list[CsvError], optional: Sequence[str] = ()
) -> Iterator[tuple[int, dict[str, str]]]:
    """Yield (line number, row) for data lines; blank and '#' lines are skipped, problems go to `errors`.

    `optional` columns may be left out of the header; a row then reads them as empty.
    """
    header: list[str] | None = None
    for lineno, raw in enumerate(text.splitlines(), start=1):
        if not raw.strip() or raw.lstrip().startswith("#"):
            continue
        fields = [f.strip() for f in next(csv.reader([raw]))]
        if header is None:
            header = fields
            missing = [c for c in columns if c not in fields]
            unknown = [f for f in fields if f not in columns and f not in optional]
            errors.extend(CsvError(lineno, c, "required column missing from header") for c in missing)
            errors.extend(CsvError(lineno, f, "unknown column") for f in unknown)
            if missing or unknown:
                return  # rows cannot be read reliably against a wrong header
            continue
        if len(fields) != len(header):
            errors.append(CsvError(lineno, "*", f"expected {len(header)} fields, found {len(fields)}"))
            continue
        yield lineno, {**dict.fromkeys(optional, ""), **dict(zip(header, fields, strict=True))}
    if header is None:
        errors.append(CsvError(1, "*", f"header missing (expected {','.join(columns)})"))


class FieldParser:
    """Parses the fields of one row, recording an error (and returning None) for each bad one."""

    def __init__(self, line: int, errors: list[CsvError]) -> None:
        self.line = line
        self.errors = errors
        self.ok = True

    def fail(self, column: str, rule: str) -> None:
        """Record a problem with `column`."""
        self.ok = False
        self.errors.append(CsvError(self.line, column, rule))

    def integer(self, column: str, text: str, minimum: int = 0) -> int | None:
        """A whole number >= minimum (digits only: no signs, separators or exponents)."""
        if not _INTEGER.fullmatch(text) or int(text) < minimum:
            self.fail(column, f"must be a whole number >= {minimum}, got {text!r}")
            return None
        return int(text)

    def decimal(self, column: str, text: str, maximum: Fraction | None = None) -> Fraction | None:
        """A non-negative decimal such as 12.5, read exactly (no binary float)."""
        if not _DECIMAL.fullmatch(text):
            self.fail(column, f"must be a decimal number >= 0 like 12.5, got {text!r}")
            return None
        value = Fraction(text)
        if maximum is not None and value > maximum:
            self.fail(column, f"must be <= {maximum}, got {text}")
            return None
        return value

    def boolean(self, column: str, text: str) -> bool | None:
        """yes/no (also true/false, 1/0, ya/tidak)."""
        if text.lower() in _TRUE:
            return True
        if text.lower() in _FALSE:
            return False
        self.fail(column, f"must be yes or no, got {text!r}")
        return None

    def choice(self, column: str, text: str, allowed: Sequence[str]) -> str | None:
        """One of `allowed`."""
        if text not in allowed:
            self.fail(column, f"must be one of {', '.join(allowed)}, got {text!r}")
            return None
        return text
