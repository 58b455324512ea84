"""`make run`: the local stack plus every service, their logs interleaved, Ctrl-C stops all."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import threading
import time
from typing import IO

from deploy.local import STACK_ENV, provision_service_roles, start_stack, write_env
from shared.services import SERVICES


def _pump(name: str, stream: IO[bytes]) -> None:
    for line in iter(stream.readline, b""):
        sys.stdout.write(f"{name:<9}| {line.decode(errors='replace')}")
        sys.stdout.flush()


def main() -> int:
    """Start everything, wait for Ctrl-C or a service to die, stop everything."""
    stack = start_stack()
    write_env(stack)
    print(f"local stack ({stack.kind}): {stack.bootstrap_servers}  {stack.database_url}", flush=True)
    env = {**os.environ, **stack.env()}
    procs: dict[str, subprocess.Popen[bytes]] = {}
    stopping = threading.Event()
    signal.signal(signal.SIGTERM, lambda *_: stopping.set())
    signal.signal(signal.SIGINT, lambda *_: stopping.set())
    try:
        own_dsn = provision_service_roles(stack)  # each service logs in as its own role (deploy/README.md)
        for spec in SERVICES():
            proc = subprocess.Popen(
                [sys.executable, "-m", f"services.{spec.name}.app"],
                env={
                    **env,
                    "SERVICE_LOG_FORMAT": env.get("SERVICE_LOG_FORMAT", "console"),
                    "DATABASE_URL": own_dsn.get(spec.name, env["DATABASE_URL"]),
                },
                stdout=subprocess.PIPE,
                stderr=subprocess.STDOUT,
            )
            procs[spec.name] = proc
            assert proc.stdout is not None
            threading.Thread(target=_pump, args=(spec.name, proc.stdout), daemon=True).start()
            print(f"started {spec.name} (health: http://127.0.0.1:{spec.default_http_port}/health/ready)", flush=True)
        if not procs:
            print("no services built yet: the stack stays up (Ctrl-C to stop)", flush=True)
        while not stopping.is_set():
            dead = [n for n, p in procs.items() if p.poll() is not None]
            if dead:
                print(f"service(s) exited: {', '.join(dead)}; stopping", flush=True)
                break
            time.sleep(0.2)
    finally:
        for proc in procs.values():
            if proc.poll() is None:
                proc.send_signal(signal.SIGTERM)
        for proc in procs.values():
            try:
                proc.wait(30)
            except subprocess.TimeoutExpired:
                proc.kill()
        stack.stop()
        STACK_ENV.unlink(missing_ok=True)
        print("stopped", flush=True)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
