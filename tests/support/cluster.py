"""The services as real processes (for fault tests): start, SIGKILL, restart, pause the broker."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import uuid
from dataclasses import dataclass, field
from pathlib import Path

import asyncpg

from deploy.local import Stack, create_topics, free_port
from shared.topics import all_topics

ROOT = Path(__file__).resolve().parents[2]


@dataclass
class Cluster:
    """Service processes on their own database and topic prefix, sharing a fixed business clock."""

    stack: Stack
    prefix: str
    database_url: str
    clock_start: str
    procs: dict[str, list[subprocess.Popen[bytes]]] = field(default_factory=dict)

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
            "SERVICE_LOG_LEVEL": "WARNING",
            "SERVICE_RETRY_BASE_DELAY_S": "0.05",
        }

    def start(self, name: str) -> subprocess.Popen[bytes]:
        """One more instance of a service."""
        env = {**self.env(), "SERVICE_HTTP_PORT": str(free_port())}
        proc = subprocess.Popen([sys.executable, "-m", f"services.{name}.app"], cwd=ROOT, env=env)
        self.procs.setdefault(name, []).append(proc)
        return proc

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


def restart_postgres(stack: Stack) -> None:
    """Stop the stack's PostgreSQL (fast shutdown: connections are cut) and start it again on its data."""
    from deploy.local import start_postgres_process

    proc = stack.postgres_process
    assert proc is not None, "PostgreSQL restart needs the embedded stack"
    args = [str(a) for a in proc.args]  # type: ignore[union-attr]
    data, port = Path(args[args.index("-D") + 1]), int(args[args.index("-p") + 1])
    proc.send_signal(signal.SIGINT)
    proc.wait(30)
    stack.postgres_process = start_postgres_process(data, port)
