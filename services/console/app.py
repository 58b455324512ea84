"""`python -m services.console.app` (or `uvicorn services.console.app:app`)."""

from services.console.service import SPEC
from shared.runtime import build_app, serve

if __name__ == "__main__":
    serve(SPEC)
else:
    app = build_app(SPEC)
