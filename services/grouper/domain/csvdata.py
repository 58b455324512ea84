"""Reading the grouper's data tables (CSV with `#` comment lines)."""

from __future__ import annotations

import csv
from pathlib import Path

DATA_DIR = Path(__file__).resolve().parent.parent / "data"


def read_table(path: Path) -> list[dict[str, str]]:
    """Rows of a data CSV as dicts; `#` lines are comments (they document the table)."""
    with path.open(encoding="utf-8", newline="") as handle:
        lines = [line for line in handle if not line.startswith("#")]
    return [{k: (v or "").strip() for k, v in row.items()} for row in csv.DictReader(lines)]
