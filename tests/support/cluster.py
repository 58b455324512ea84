"""The services as real processes (for fault tests): start, SIGKILL, restart, pause the broker."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
import uuid
from dataclasses import dataclass, field
from pathlib import Path

import asyncpg
import httpx
from prometheus_client.parser import text_string_to_metric_families

from deploy.local import Stack, _stop_process, create_topics, free_port, start_postgres_process
from shared.topics import all_topics
from tests.support.operators import operators

ROOT = Path(__file__).resolve().parents[2]


@dataclass
class Cluster:
    """Service processes on their own database and topic prefix, sharing a fixed business clock."""

    stack: Stack
    prefix: str
    database_url: str
    clock_start: str
    procs: dict[str, list[subprocess.Popen[bytes]]] = field(default_factory=dict)
    http_ports: dict[int, int] = field(default_factory=dict)  # pid -> the instance's /metrics port

    def env(self) -> dict[str, str]:
        return {
            **os.environ,
            "KAFKA_BOOTSTRAP_SERVERS": self.stack.bootstrap_servers,
            "KAFKA_TOPIC_PREFIX": self.prefix,
            "KAFKA_SESSION_TIMEOUT_MS": "6000",
            "DATABASE_URL": self.database_url,
            "CLOCK_MODE": "fixed",
            "CLOCK_START": self.clock_start,
            "PAYMENTS_SCHEDULE_ENABLED": "false",
            "OPERATORS_REGISTRY_FILE": str(operators().registry_file),  # the test operators' keys
            "SERVICE_LOG_LEVEL": "WARNING",
            "SERVICE_RETRY_BASE_DELAY_S": "0.05",
        }

    def start(self, name: str) -> subprocess.Popen[bytes]:
        """One more instance of a service."""
        port = free_port()
        env = {**self.env(), "SERVICE_HTTP_PORT": str(port)}
        proc = subprocess.Popen([sys.executable, "-m", f"services.{name}.app"], cwd=ROOT, env=env)
        self.procs.setdefault(name, []).append(proc)
        self.http_ports[proc.pid] = port
        return proc

    @property
    def database_name(self) -> str:
        return self.database_url.rsplit("/", 1)[1]

    async def events_applied(self, proc: subprocess.Popen[bytes]) -> int:
        """How many events this one instance applied (its `events_applied_total`), from its /metrics."""
        async with httpx.AsyncClient(timeout=5) as client:
            response = await client.get(f"http://127.0.0.1:{self.http_ports[proc.pid]}/metrics")
        response.raise_for_status()
        return int(
            sum(
                sample.value
                for family in text_string_to_metric_families(response.text)
                for sample in family.samples
                if sample.name == "events_applied_total"
            )
        )

    def kill(self, name: str) -> None:
        """SIGKILL every instance of a service: no shutdown, no last commit."""
        for proc in self.procs.pop(name, []):
            proc.send_signal(signal.SIGKILL)
            proc.wait()

    def stop_all(self) -> None:
        """SIGTERM every instance, then wait for all (they stop in parallel)."""
        procs = [p for ps in self.procs.values() for p in ps]
        self.procs.clear()
        for proc in procs:
            if proc.poll() is None:
                proc.send_signal(signal.SIGTERM)
        for proc in procs:
            try:
                proc.wait(30)
            except subprocess.TimeoutExpired:
                proc.kill()

    def alive(self) -> bool:
        return all(p.poll() is None for ps in self.procs.values() for p in ps)


async def new_cluster(stack: Stack, clock_start: str) -> Cluster:
    """A fresh database and topic prefix for one fault test."""
    name = f"fault_{uuid.uuid4().hex[:8]}"
    admin = await asyncpg.connect(stack.database_url)
    try:
        await admin.execute(f'CREATE DATABASE "{name}"')
    finally:
        await admin.close()
    prefix = f"{name}."
    await create_topics(stack.bootstrap_servers, [t for t in all_topics()], prefix=prefix)
    base = stack.database_url.rsplit("/", 1)[0]
    return Cluster(stack, prefix, f"{base}/{name}", clock_start)


def pause(proc: subprocess.Popen[bytes]) -> None:
    """SIGSTOP: the process keeps its sockets but answers nothing."""
    proc.send_signal(signal.SIGSTOP)


def resume(proc: subprocess.Popen[bytes]) -> None:
    """SIGCONT."""
    proc.send_signal(signal.SIGCONT)


def _postgres(stack: Stack) -> tuple[subprocess.Popen[bytes], Path, int]:
    """The embedded server's process, data directory and port."""
    proc = stack.postgres_process
    assert proc is not None, "stopping PostgreSQL needs the embedded stack"
    args = [str(a) for a in proc.args]  # type: ignore[union-attr]
    return proc, Path(args[args.index("-D") + 1]), int(args[args.index("-p") + 1])


def _start_postgres_again(stack: Stack, data: Path, port: int) -> None:
    """The server on its old data directory and port (the session's other tests keep their URL)."""
    proc = start_postgres_process(data, port)
    stack.postgres_process = proc
    stack._stoppers.append(lambda: _stop_process(proc, signal.SIGINT))  # the stack stops this one at the end


def restart_postgres(stack: Stack) -> None:
    """Stop the stack's PostgreSQL (fast shutdown: connections are cut) and start it again on its data."""
    proc, data, port = _postgres(stack)
    proc.send_signal(signal.SIGINT)
    proc.wait(30)
    _start_postgres_again(stack, data, port)


def crash_postgres(stack: Stack) -> None:
    """SIGKILL the server and every backend (its process group), as the kernel's OOM killer would.

    Nothing is shut down: uncommitted transactions are lost and the next start runs crash recovery.
    """
    proc, _, _ = _postgres(stack)
    os.killpg(proc.pid, signal.SIGKILL)  # started in its own session: the group is the server and its backends
    proc.wait(30)


def start_crashed_postgres(stack: Stack) -> None:
    """Start the crashed server again on the same data directory and port; returns once it accepts connections."""
    proc, data, port = _postgres(stack)
    assert proc.poll() is not None, "PostgreSQL is still running"
    _wait_group_gone(proc.pid)
    _start_postgres_again(stack, data, port)


def _wait_group_gone(pgid: int, within: float = 30) -> None:
    """A new server refuses to start while an old backend still holds the old shared memory: wait them out."""
    deadline = time.monotonic() + within
    while _live_members(pgid):
        if time.monotonic() > deadline:
            raise AssertionError(f"processes of PostgreSQL's group {pgid} still alive after {within} s")
        time.sleep(0.05)


def _live_members(pgid: int) -> list[int]:
    """Processes of group `pgid` that have not exited (zombies hold no memory and do not count)."""
    found = []
    for stat in Path("/proc").glob("[0-9]*/stat"):
        try:
            fields = stat.read_text().rsplit(")", 1)[1].split()
        except OSError:
            continue  # exited while we looked
        state, group = fields[0], int(fields[2])
        if group == pgid and state != "Z":
            found.append(int(stat.parent.name))
    return found
