"""The services that exist in this checkout, found by their `service.py` (the spec, no I/O)."""

from __future__ import annotations

import importlib

from shared.runtime import ServiceSpec

SERVICE_NAMES = ("grouper", "verifier", "payments", "notifier", "gateway", "console")


def SERVICES() -> list[ServiceSpec]:
    """Every service spec, in pipeline order; services not built yet are absent."""
    found = []
    for name in SERVICE_NAMES:
        try:
            module = importlib.import_module(f"services.{name}.service")
        except ModuleNotFoundError as exc:
            if exc.name != f"services.{name}.service":
                raise  # the service exists but a dependency is missing: say so, never skip it quietly
            continue
        found.append(module.SPEC)
    return found
