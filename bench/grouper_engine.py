"""Benchmark: claims per second of the pure grouper engine on one core.

Generates N valid claims (deterministic seed) from the loaded code sets, warms up, then times
`group_claim` over all of them in one process (median of several passes).
Writes bench/results/grouper-engine.json.

Run: .venv/bin/python bench/grouper_engine.py [--claims 50000]
"""

from __future__ import annotations

import argparse
import gc
import json
import os
import platform
import random
import statistics
import time
from collections import Counter
from datetime import UTC, date, datetime, timedelta
from pathlib import Path

from services.grouper.domain import Grouped, GrouperTables, group_claim, load_grouper_tables
from shared.events import ClaimData, ProcedureEntry, TarifRS

RESULT_FILE = Path(__file__).resolve().parent / "results" / "grouper-engine.json"
HOSPITAL_CLASSES = ("AP", "AS", "BP", "BS", "CP", "CS", "DP", "DS", "B", "C")
OUTPATIENT_SHARE = 0.85  # 2022: 95 M outpatient vs 12 M inpatient cases


def make_claim(
    rng: random.Random, principals: list[str], secondaries: list[str], procedures: list[str], n: int
) -> ClaimData:
    """One structurally valid claim with random codes."""
    outpatient = rng.random() < OUTPATIENT_SHARE
    admitted = date(2023, 1, 1) + timedelta(days=rng.randrange(700))
    stay = 0 if outpatient else rng.choice((1, 2, 3, 4, 5, 7, 10, 14))
    born = admitted - timedelta(days=rng.randrange(29, 90 * 365))
    diagnoses = [rng.choice(principals), *rng.sample(secondaries, rng.randrange(0, 5))]
    diagnoses = list(dict.fromkeys(diagnoses))  # no duplicates
    procs = rng.sample(procedures, rng.choice((0, 0, 1, 1, 2, 3)))
    return ClaimData(
        nomor_sep=f"0301R001{admitted:%m%y}V{n % 1_000_000:06d}",
        nomor_kartu=f"{rng.randrange(10**13):013d}",
        kode_rs="0301R001",
        kelas_rs=rng.choice(HOSPITAL_CLASSES),
        regional_tarif=rng.randint(1, 5),
        tgl_lahir=born,
        gender=rng.choice((1, 2)),
        tgl_masuk=admitted,
        tgl_pulang=admitted + timedelta(days=stay),
        jenis_rawat=2 if outpatient else 1,
        kelas_rawat=rng.randint(1, 3),
        diagnosa=diagnoses,
        procedure=[ProcedureEntry(code=p) for p in procs],
        tarif_rs=TarifRS(konsultasi=rng.randrange(50_000, 500_000), obat=rng.randrange(0, 2_000_000)),
        coder_nik="3171234567890001",
    )


def generate(tables: GrouperTables, count: int, seed: int = 20230101) -> list[ClaimData]:
    """`count` claims, the same for the same seed."""
    rng = random.Random(seed)
    principals = tables.principal_codes()
    secondaries = sorted(tables.codes.icd10_leaves)
    procedures = sorted(tables.codes.icd9_leaves)
    return [make_claim(rng, principals, secondaries, procedures, n) for n in range(count)]


def timed_pass(claims: list[ClaimData], tables: GrouperTables) -> float:
    """Seconds to group every claim once; outcomes are dropped as a consumer would after publishing."""
    start = time.perf_counter()
    for claim in claims:
        group_claim(claim, tables)
    return time.perf_counter() - start


def run(count: int, passes: int) -> dict[str, object]:
    """Time the engine over `count` claims after a warm-up; report the median pass."""
    load_at_start = [round(x, 2) for x in os.getloadavg()]  # other work on the machine skews the figure
    tables = load_grouper_tables()
    claims = generate(tables, count)
    outcomes = [group_claim(claim, tables) for claim in claims]  # warm-up, and the outcome mix
    case_types = Counter(o.result.case_type for o in outcomes if isinstance(o, Grouped))
    grouped = sum(case_types.values())
    del outcomes
    # A service loads its tables once and freezes that heap; here the claims are frozen too, so the
    # cyclic GC does not rescan 50,000 pre-built claims that a streaming consumer would never hold.
    gc.collect()
    gc.freeze()
    seconds = [timed_pass(claims, tables) for _ in range(passes)]
    median = statistics.median(seconds)
    return {
        "claims": count,
        "seconds": round(median, 3),
        "claims_per_s": round(count / median),
        "passes_seconds": [round(s, 3) for s in seconds],
        "grouped": grouped,
        "rejected": count - grouped,
        "case_types": dict(sorted(case_types.items())),
        "best_claims_per_s": round(count / min(seconds)),
        "load_average_at_start": load_at_start,
        "cpu_count": os.cpu_count(),
        "python": platform.python_version(),
        "machine": f"{platform.machine()} {platform.processor() or platform.system()}",
        "date": datetime.now(UTC).isoformat(timespec="seconds"),
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--claims", type=int, default=50_000)
    parser.add_argument("--passes", type=int, default=5)
    args = parser.parse_args()
    result = run(args.claims, args.passes)
    RESULT_FILE.parent.mkdir(parents=True, exist_ok=True)
    RESULT_FILE.write_text(json.dumps(result, indent=2) + "\n", encoding="utf-8")
    print(json.dumps(result, indent=2))


if __name__ == "__main__":
    main()
