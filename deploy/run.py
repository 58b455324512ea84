"""`make run`: the local stack plus every service, their logs interleaved, Ctrl-C stops all.

PostgreSQL runs with its durable defaults on `.local/pgdata`, kept across runs. The local broker keeps
topics in memory only, so a restart starts it empty: before the services start, every outbox row still
retained (published rows are kept 7 days) is marked unsent, and the relays publish them again in id order;
consumers start from the earliest offset of the new topics and skip what their inbox already applied.

DEMO=1 (the Makefile's default) also seeds the demo world and starts the demo hospital feed (deploy/demo.py);
DEMO=0 starts empty. RUN_PORT_OFFSET shifts every service's HTTP port (the e2e test runs a second copy).
"""

from __future__ import annotations

import asyncio
import os
import re
import signal
import subprocess
import sys
import threading
import time
from pathlib import Path
from typing import IO

import asyncpg
import httpx
from cryptography.fernet import Fernet

from deploy import demo
from deploy.local import STACK_ENV, provision_service_roles, start_stack, write_env
from shared.db import quote_ident
from shared.services import SERVICES

PG_DATA = Path(".local/pgdata")
# The notifier's webhook secrets are sealed with this key and stored in PostgreSQL: it must outlive a restart too.
NOTIFIER_KEY_FILE = Path(".local/notifier-secrets.key")
# The same for the gateway's hospital secrets (claimsctl hospitals, run beside make run, finds it there too).
GATEWAY_KEY_FILE = Path(".local/gateway-secrets.key")
# And for the console's sealed operator keys (services/console/adapters/sealing.py reads the same file).
CONSOLE_KEY_FILE = Path(".local/console-secrets.key")


def _kept_key(variable: str, path: Path) -> str:
    """`variable` if set, else the key kept next to the data directory (made on the first run)."""
    if key := os.environ.get(variable):
        return key
    if not path.exists():
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(Fernet.generate_key().decode())
        path.chmod(0o600)
    return path.read_text().strip()


def _notifier_secrets_key() -> str:
    """NOTIFIER_SECRETS_KEY if set, else the key kept next to the data directory (made on the first run)."""
    return _kept_key("NOTIFIER_SECRETS_KEY", NOTIFIER_KEY_FILE)


async def republish_retained_outbox(dsn: str) -> dict[str, int]:
    """Mark every retained, published outbox row unsent, in every schema: {schema: rows marked}.

    For a broker that lost its topics (the memory-only local one after a restart): the relays then publish
    them again in id order. Quarantined rows are unsent already and stay quarantined. Consumers deduplicate
    by event id in their inbox (kept 120 days, longer than the outbox keeps a row), so nothing applies twice.
    """
    conn = await asyncpg.connect(dsn)
    try:
        schemas = await conn.fetch(
            "SELECT table_schema FROM information_schema.tables WHERE table_name = 'outbox' ORDER BY 1"
        )
        marked: dict[str, int] = {}
        for (schema,) in schemas:
            status = await conn.execute(
                f"UPDATE {quote_ident(schema)}.outbox SET sent_at = NULL WHERE sent_at IS NOT NULL"
            )
            marked[schema] = int(status.split()[-1])
        return marked
    finally:
        await conn.close()


# A successful request's access line (uvicorn): not echoed, so the demo feed's traffic and the health checks
# do not bury what matters; refusals, errors and every other line are.
_ACCESS_OK = re.compile(rb'"(GET|HEAD|POST|PUT|PATCH|DELETE) \S+ HTTP/[0-9.]+" [23][0-9][0-9]')


def _pump(name: str, stream: IO[bytes]) -> None:
    for line in iter(stream.readline, b""):
        if _ACCESS_OK.search(line):
            continue
        sys.stdout.write(f"{name:<9}| {line.decode(errors='replace')}")
        sys.stdout.flush()


def _wait_ready(
    urls: dict[str, str], procs: dict[str, subprocess.Popen[bytes]], stopping: threading.Event, timeout: float = 180
) -> bool:
    """Until every service answers /health/ready (False: stopped, a service died, or the deadline passed)."""
    deadline = time.monotonic() + timeout
    waiting = dict(urls)
    while waiting and time.monotonic() < deadline and not stopping.is_set():
        if any(p.poll() is not None for p in procs.values()):
            return False
        for name, url in list(waiting.items()):
            try:
                if httpx.get(f"{url}/health/ready", timeout=2).status_code == 200:
                    del waiting[name]
            except httpx.HTTPError:
                pass
        time.sleep(0.2)
    if waiting:
        print(f"not ready after {timeout:g} s: {', '.join(waiting)}", flush=True)
    return not waiting


def _start_demo(env: dict[str, str], urls: dict[str, str], procs: dict[str, subprocess.Popen[bytes]]) -> None:
    """Seed what is not seeded yet, print the demo's URLs and accounts once, start the hospital feed."""
    os.environ.update(env)  # claimsctl (run in this process) talks to this stack
    console = "console" in urls
    if console and not demo.claimsctl_has("console"):
        print("WARNING: services/console runs but `claimsctl console` is missing: no console accounts", flush=True)
        console = False
    started = time.monotonic()
    print("demo: seeding what is not seeded yet (operators, members, hospitals, console accounts)", flush=True)
    state = demo.seed(env["DATABASE_URL"], console=console)
    print(f"demo: seeded in {time.monotonic() - started:.1f} s", flush=True)
    print(demo.summary(state, urls, console=console), flush=True)
    if "gateway" in urls:
        feed = subprocess.Popen([sys.executable, "-m", "deploy.demo", "feed", "--gateway", urls["gateway"]], env=env,
                                stdout=subprocess.PIPE, stderr=subprocess.STDOUT)  # fmt: skip
        procs["demo-feed"] = feed
        assert feed.stdout is not None
        threading.Thread(target=_pump, args=("demo-feed", feed.stdout), daemon=True).start()


def main() -> int:
    """Start everything, wait for Ctrl-C or a service to die, stop everything."""
    os.environ["NOTIFIER_SECRETS_KEY"] = _notifier_secrets_key()
    os.environ["GATEWAY_SECRETS_KEY"] = _kept_key("GATEWAY_SECRETS_KEY", GATEWAY_KEY_FILE)
    if any(spec.name == "console" for spec in SERVICES()):
        os.environ["CONSOLE_SECRETS_KEY"] = _kept_key("CONSOLE_SECRETS_KEY", CONSOLE_KEY_FILE)
        os.environ.setdefault("CONSOLE_SECURE_COOKIES", "false")  # the local stack serves plain HTTP
    with_demo = os.environ.get("DEMO", "1") != "0"
    port_offset = int(os.environ.get("RUN_PORT_OFFSET", "0"))
    if with_demo:  # the services read the registry at start: the demo operators' keys come first
        os.environ["OPERATORS_REGISTRY_FILE"] = str(demo.ensure_operators())
    stack = start_stack(durable=True, data_dir=PG_DATA)
    write_env(stack)
    print(f"local stack ({stack.kind}): {stack.bootstrap_servers}  {stack.database_url}", flush=True)
    env = {**os.environ, **stack.env()}
    urls: dict[str, str] = {}
    procs: dict[str, subprocess.Popen[bytes]] = {}
    stopping = threading.Event()
    signal.signal(signal.SIGTERM, lambda *_: stopping.set())
    signal.signal(signal.SIGINT, lambda *_: stopping.set())
    try:
        own_dsn = provision_service_roles(stack)  # each service logs in as its own role (deploy/README.md)
        if stack.reused_data:  # PostgreSQL kept its rows, the new broker is empty: publish them again
            marked = asyncio.run(republish_retained_outbox(stack.database_url))
            print(f"broker is new: {sum(marked.values())} retained outbox row(s) to publish again", flush=True)
        for spec in SERVICES():
            proc = subprocess.Popen(
                [sys.executable, "-m", f"services.{spec.name}.app"],
                env={
                    **env,
                    "SERVICE_LOG_FORMAT": env.get("SERVICE_LOG_FORMAT", "console"),
                    "DATABASE_URL": own_dsn.get(spec.name, env["DATABASE_URL"]),
                    "SERVICE_HTTP_PORT": str(spec.default_http_port + port_offset),
                },
                stdout=subprocess.PIPE,
                stderr=subprocess.STDOUT,
            )
            procs[spec.name] = proc
            assert proc.stdout is not None
            threading.Thread(target=_pump, args=(spec.name, proc.stdout), daemon=True).start()
            url = urls[spec.name] = f"http://127.0.0.1:{spec.default_http_port + port_offset}"
            api = f", API: {url}/v1 (OpenAPI {url}/openapi.json)" if spec.http_app is not None else ""
            print(f"started {spec.name} (health: {url}/health/ready{api})", flush=True)
        if not procs:
            print("no services built yet: the stack stays up (Ctrl-C to stop)", flush=True)
        if _wait_ready(urls, procs, stopping):
            if with_demo:
                _start_demo(env, urls, procs)
            else:
                print("all services ready; DEMO=0: no demo data and no demo feed", flush=True)
        while not stopping.is_set():
            feed = procs.get("demo-feed")
            if feed is not None and feed.poll() is not None:  # a demo aid: the services keep running without it
                code = procs.pop("demo-feed").returncode
                print(f"the demo feed exited (code {code}); the services keep running", flush=True)
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
