"""`python -m services.gateway.app` (or `uvicorn services.gateway.app:app`)."""

from services.gateway.service import SPEC
from shared.runtime import build_app, serve

if __name__ == "__main__":
    serve(SPEC)
else:
    app = build_app(SPEC)
