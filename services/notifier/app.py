"""The notifier's app: `faststream run services.notifier.app:app`, or `python -m services.notifier.app`."""

from __future__ import annotations

from services.notifier.service import SPEC
from shared.runtime import build_app, serve

app = build_app(SPEC)

if __name__ == "__main__":
    serve(SPEC)
