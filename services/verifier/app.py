"""`python -m services.verifier.app` (or `faststream run services.verifier.app:app`)."""

from services.verifier.service import SPEC
from shared.runtime import build_app, serve

if __name__ == "__main__":
    serve(SPEC)
else:
    app = build_app(SPEC)
