"""`python -m deploy.healthcheck [PATH]`: exit 0 when this container's service answers PATH with 2xx.

The image's `HEALTHCHECK` and the compose health checks run it (the slim image has no curl).
It asks the service in the same container, on SERVICE_HTTP_PORT (the image sets 8080; compose
and Kubernetes set each service's own port), for `/health/ready` unless told another route.
Standard library only: it runs every few seconds and must start fast.
"""

from __future__ import annotations

import os
import sys
import urllib.error
import urllib.request
from collections.abc import Mapping, Sequence

DEFAULT_PATH = "/health/ready"
FALLBACK_PORT = 8080
TIMEOUT_S = 4.0
_WILDCARDS = {"", "0.0.0.0", "::", "[::]"}


def health_url(path: str, environ: Mapping[str, str]) -> str:
    """The URL of `path` on this container's service, from its SERVICE_HTTP_* settings."""
    port = int(environ.get("SERVICE_HTTP_PORT") or 0) or int(environ.get("PORT") or 0) or FALLBACK_PORT
    host = environ.get("SERVICE_HTTP_HOST", "127.0.0.1").strip()
    if host in _WILDCARDS:
        host = "127.0.0.1"
    elif ":" in host and not host.startswith("["):
        host = f"[{host}]"
    return f"http://{host}:{port}{path if path.startswith('/') else '/' + path}"


def check(url: str, timeout: float = TIMEOUT_S) -> tuple[bool, str]:
    """(healthy, what the service said)."""
    try:
        with urllib.request.urlopen(url, timeout=timeout) as response:
            body = response.read(2048).decode("utf-8", "replace")
            return 200 <= response.status < 300, f"{response.status} {body}"
    except urllib.error.HTTPError as exc:
        return False, f"{exc.code} {exc.read(2048).decode('utf-8', 'replace')}"
    except (OSError, ValueError) as exc:
        return False, f"unreachable: {exc}"


def main(argv: Sequence[str] | None = None) -> int:
    """Probe once; print what the service said (Docker keeps it in `docker inspect`)."""
    args = list(sys.argv[1:] if argv is None else argv)
    url = health_url(args[0] if args else DEFAULT_PATH, os.environ)
    healthy, said = check(url)
    print(f"{url}: {said}", file=sys.stdout if healthy else sys.stderr)
    return 0 if healthy else 1


if __name__ == "__main__":
    raise SystemExit(main())
