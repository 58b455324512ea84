"""The notifier's app: `faststream run services.notifier.app:app`, or `python -m services.notifier.app`."""

from __future__ import annotations

from services.notifier.adapters.sealing import MissingSecretsKey, secret_box
from services.notifier.service import SPEC
from services.notifier.settings import get_notifier_settings
from shared.runtime import build_app, serve

# Start-up check: without NOTIFIER_SECRETS_KEY (or with a malformed one) the notifier does not start,
# and says why, rather than running without being able to sign a single webhook.
try:
    secret_box(get_notifier_settings())
except MissingSecretsKey as exc:
    raise SystemExit(f"notifier cannot start: {exc}") from None
app = build_app(SPEC)

if __name__ == "__main__":
    serve(SPEC)
