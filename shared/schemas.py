"""JSON Schema documents for every event (`make schemas` writes them to docs/events/)."""

from __future__ import annotations

import json
import sys
from pathlib import Path

from shared.events import EVENT_TYPES, event_type_name

SCHEMA_DIR = Path("docs/events")


def render_schemas() -> dict[str, str]:
    """File name → JSON Schema text, one per event type, stable formatting."""
    out: dict[str, str] = {}
    for cls in EVENT_TYPES:
        schema = cls.model_json_schema(mode="validation")
        schema["$id"] = f"urn:jkn-claims:events:v1:{event_type_name(cls)}"
        schema["x-topic"] = cls.topic
        out[f"{event_type_name(cls)}.schema.json"] = json.dumps(schema, indent=2, sort_keys=True) + "\n"
    return out


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
