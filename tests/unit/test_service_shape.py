"""Every service has the one shape the README describes, so a newcomer finds a rule where they look for it."""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

SERVICES = Path(__file__).resolve().parents[2] / "services"
SHAPED = ("grouper", "verifier", "payments", "notifier", "gateway", "console")
SHAPE = ("domain", "application", "adapters", "entrypoints", "service.py", "settings.py", "metrics.py", "cli.py",
         "migrations")  # fmt: skip


def imports(path: Path) -> set[str]:
    """The modules a file imports."""
    tree = ast.parse(path.read_text())
    found: set[str] = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            found.update(a.name for a in node.names)
        elif isinstance(node, ast.ImportFrom) and node.module:
            found.add(node.module)
    return found


@pytest.mark.parametrize("service", SHAPED)
def test_the_service_has_every_part_of_the_shape(service: str) -> None:
    root = SERVICES / service
    present = {p.stem if p.suffix == ".py" and p.stem == "application" else p.name for p in root.iterdir()}
    assert [part for part in SHAPE if part not in present] == []


@pytest.mark.parametrize("service", SHAPED)
def test_the_domain_imports_no_database_broker_or_outer_layer(service: str) -> None:
    outer = tuple(f"services.{service}.{layer}" for layer in ("adapters", "application", "entrypoints"))
    forbidden = ("asyncpg", "aiokafka", "faststream", "shared.outbox", "shared.consumer", "shared.runtime", *outer)
    offenders = {
        f"{path.relative_to(SERVICES)}: {module}"
        for path in (SERVICES / service / "domain").rglob("*.py")
        for module in imports(path)
        if module.startswith(forbidden)
    }
    assert sorted(offenders) == []


@pytest.mark.parametrize("service", SHAPED)
def test_use_cases_write_through_the_unit_of_work_not_the_raw_connection(service: str) -> None:
    root = SERVICES / service
    files = (
        [root / "application.py"] if (root / "application.py").exists() else list((root / "application").rglob("*.py"))
    )
    offenders = [str(f.relative_to(SERVICES)) for f in files if "tx.conn" in f.read_text() or "asyncpg" in imports(f)]
    assert offenders == []
