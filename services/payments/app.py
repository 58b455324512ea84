"""`python -m services.payments.app` (or `faststream run services.payments.app:app`)."""

from services.payments.service import SPEC
from shared.runtime import build_app, serve

if __name__ == "__main__":
    serve(SPEC)
else:
    app = build_app(SPEC)
