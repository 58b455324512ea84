"""`python -m deploy.healthcheck`: the container health check (Dockerfile HEALTHCHECK, compose)."""

from __future__ import annotations

import threading
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest

from deploy import healthcheck


class _Service(BaseHTTPRequestHandler):
    def do_GET(self) -> None:
        status = {"/health/ready": 200, "/health/live": 200}.get(self.path, 404)
        if self.server.not_ready and self.path == "/health/ready":  # type: ignore[attr-defined]
            status = 503
        body = b'{"status":"x"}'
        self.send_response(status)
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, *args: object) -> None:
        pass


@pytest.fixture
def service() -> Iterator[ThreadingHTTPServer]:
    server = ThreadingHTTPServer(("127.0.0.1", 0), _Service)
    server.not_ready = False  # type: ignore[attr-defined]
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield server
    finally:
        server.shutdown()
        server.server_close()


@pytest.mark.parametrize(
    ("env", "url"),
    [
        ({}, "http://127.0.0.1:8080/health/ready"),
        ({"SERVICE_HTTP_PORT": "8083", "SERVICE_HTTP_HOST": "0.0.0.0"}, "http://127.0.0.1:8083/health/ready"),
        ({"SERVICE_HTTP_PORT": "0", "PORT": "9000"}, "http://127.0.0.1:9000/health/ready"),
        ({"SERVICE_HTTP_PORT": "8081", "SERVICE_HTTP_HOST": "::1"}, "http://[::1]:8081/health/ready"),
        ({"SERVICE_HTTP_PORT": "8081", "SERVICE_HTTP_HOST": "10.0.0.5"}, "http://10.0.0.5:8081/health/ready"),
    ],
)
def test_health_url(env: dict[str, str], url: str) -> None:
    assert healthcheck.health_url("/health/ready", env) == url


def test_healthy_and_unhealthy(service: ThreadingHTTPServer, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("SERVICE_HTTP_HOST", "0.0.0.0")
    monkeypatch.setenv("SERVICE_HTTP_PORT", str(service.server_address[1]))
    assert healthcheck.main(["/health/ready"]) == 0
    assert healthcheck.main(["/health/live"]) == 0
    service.not_ready = True  # type: ignore[attr-defined]
    assert healthcheck.main([]) == 1  # default route: readiness
    assert healthcheck.main(["/nowhere"]) == 1


def test_nothing_listening(monkeypatch: pytest.MonkeyPatch) -> None:
    from deploy.local import free_port

    monkeypatch.setenv("SERVICE_HTTP_PORT", str(free_port()))
    ok, said = healthcheck.check(healthcheck.health_url("/health/live", {"SERVICE_HTTP_PORT": str(free_port())}))
    assert not ok and said.startswith("unreachable")
    assert healthcheck.main(["/health/live"]) == 1
