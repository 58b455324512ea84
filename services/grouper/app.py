"""`python -m services.grouper.app` (or `faststream run services.grouper.app:app`)."""

from services.grouper.service import SPEC
from shared.runtime import build_app, serve

if __name__ == "__main__":
    serve(SPEC)
else:
    app = build_app(SPEC)
