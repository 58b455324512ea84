"""JSON Schema documents for every event (`make schemas` writes them to docs/events/)."""

from __future__ import annotations

import json
import sys
from pathlib import Path
from typing import Any

from shared.events import EVENT_TYPES, Envelope, accepted_versions, event_type_name, schema_version_of

SCHEMA_DIR = Path("docs/events")


def schema_of(cls: type[Envelope]) -> dict[str, Any]:
    """One event type's JSON Schema: its current version, its topic and, during a migration, the older
    versions its consumers still accept (`x-accepted-versions`; docs/contract-policy.md)."""
    schema = cls.model_json_schema(mode="validation")
    schema["$id"] = f"urn:jkn-claims:events:v{schema_version_of(cls)}:{event_type_name(cls)}"
    schema["x-topic"] = cls.topic
    if len(accepted_versions(cls)) > 1:
        schema["x-accepted-versions"] = list(accepted_versions(cls))
    return schema


def schema_text(schema: dict[str, Any]) -> str:
    """The stable formatting of a committed schema file."""
    return json.dumps(schema, indent=2, sort_keys=True) + "\n"


def render_schemas() -> dict[str, str]:
    """File name → JSON Schema text, one per event type, stable formatting."""
    return {f"{event_type_name(cls)}.schema.json": schema_text(schema_of(cls)) for cls in EVENT_TYPES}


def write_schemas(directory: Path = SCHEMA_DIR) -> list[Path]:
    """Write every schema; return the paths written."""
    directory.mkdir(parents=True, exist_ok=True)
    paths = []
    for name, text in render_schemas().items():
        path = directory / name
        path.write_text(text)
        paths.append(path)
    return paths


if __name__ == "__main__":
    for p in write_schemas(Path(sys.argv[1]) if len(sys.argv) > 1 else SCHEMA_DIR):
        print(p)
