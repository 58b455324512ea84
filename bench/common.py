"""What the end-to-end benchmarks share: a fresh local stack, services as separate processes,
peak RSS and CPU per process, an observer of the output topics, and the statistics.

Every process started here is stopped by `Processes.stop_all()` (called from a `finally`).
"""

from __future__ import annotations

import asyncio
import atexit
import contextlib
import json
import math
import os
import platform
import shutil
import signal
import subprocess
import sys
import tempfile
import threading
import time
from collections.abc import Iterable, Iterator, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import httpx
import psutil  # type: ignore[import-untyped,unused-ignore]  # no stubs pinned
from aiokafka import AIOKafkaConsumer, AIOKafkaProducer
from prometheus_client.parser import text_string_to_metric_families

from deploy.local import Stack, free_port, start_stack
from shared.kafka_security import client_options

REPO = Path(__file__).resolve().parent.parent
RESULTS = REPO / "bench" / "results"
MB = 1024 * 1024


# --------------------------------------------------------------------------- machine and stack


def machine_facts() -> dict[str, object]:
    """What the figures depend on: cores, load before the run, Python, date."""
    return {
        "cpu_count": os.cpu_count(),
        "load_average_at_start": [round(x, 2) for x in os.getloadavg()],
        "memory_total_mb": round(psutil.virtual_memory().total / MB),
        "python": platform.python_version(),
        "machine": f"{platform.machine()} {platform.processor() or platform.system()}",
        "date": datetime.now(UTC).isoformat(timespec="seconds"),
    }


def machine_busy_seconds() -> float:
    """CPU seconds all cores have been busy since boot (user, nice, system, interrupts)."""
    t = psutil.cpu_times()
    return float(t.user + t.nice + t.system + getattr(t, "irq", 0.0) + getattr(t, "softirq", 0.0))


def fresh_stack() -> Stack:
    """A new broker and database (never an external one: claim ids, SEPs and cards must be unseen).

    The contract topics are not created here (that needs the caller's event loop): `create_topics`.
    """
    for name in ("KAFKA_BOOTSTRAP_SERVERS", "DATABASE_URL"):
        os.environ.pop(name, None)
    stack = start_stack(topics=False, durable=True)  # measured on the storage a user gets
    atexit.register(stack.stop)  # a safety net: stop() is idempotent, the run's `finally` normally did it
    return stack


def stop_on_sigterm() -> None:
    """SIGTERM (e.g. `timeout`, make being stopped) unwinds like Ctrl-C, so every `finally` stops what it started."""

    def _raise(*_: object) -> None:
        raise KeyboardInterrupt

    signal.signal(signal.SIGTERM, _raise)


# --------------------------------------------------------------------------- processes


@dataclass
class Proc:
    """One process we watch: peak RSS (with its children) and CPU seconds."""

    label: str
    pid: int
    popen: subprocess.Popen[bytes] | None = None
    port: int = 0
    log_path: Path | None = None
    with_children: bool = False
    peak_rss: int = 0
    cpu_marks: dict[str, float] = field(default_factory=dict)

    def tree(self) -> list[psutil.Process]:
        """The process, and its children when they are part of it (PostgreSQL's backends)."""
        try:
            root = psutil.Process(self.pid)
            return [root, *root.children(recursive=True)] if self.with_children else [root]
        except psutil.Error:
            return []

    def rss(self) -> int:
        total = 0
        for p in self.tree():
            with contextlib.suppress(psutil.Error):
                total += p.memory_info().rss
        return total

    def cpu_seconds(self) -> float:
        """CPU used so far; with children, also those that exited (PostgreSQL's reaped backends, autovacuum)."""
        total = 0.0
        for i, p in enumerate(self.tree()):
            with contextlib.suppress(psutil.Error):
                t = p.cpu_times()
                total += t.user + t.system
                if i == 0 and self.with_children:
                    total += t.children_user + t.children_system
        return float(total)

    def mark(self, name: str) -> None:
        """Remember the CPU seconds used so far under `name`."""
        self.cpu_marks[name] = self.cpu_seconds()

    def url(self, path: str) -> str:
        return f"http://127.0.0.1:{self.port}{path}"

    def log_tail(self, lines: int = 30) -> str:
        if self.log_path is None or not self.log_path.exists():
            return ""
        return "\n".join(self.log_path.read_text(errors="replace").splitlines()[-lines:])

    def log_lines_with(self, text: str) -> int:
        """How many lines of the process's log (its stdout and stderr) contain `text`."""
        if self.log_path is None or not self.log_path.exists():
            return 0
        with self.log_path.open(errors="replace") as log:
            return sum(1 for line in log if text in line)


class Processes:
    """The services (and helpers) of one benchmark run, with an RSS sampler every 0.5 s."""

    def __init__(self, stack: Stack, log_dir: Path | None = None) -> None:
        self.stack = stack
        self.log_dir = log_dir or Path(tempfile.mkdtemp(prefix="jkn-bench-"))
        self.procs: list[Proc] = []
        self.infra: list[Proc] = []
        if stack.broker_process is not None:
            self.infra.append(Proc("broker", stack.broker_process.pid))
        if stack.postgres_process is not None:
            self.infra.append(Proc("postgres", stack.postgres_process.pid, with_children=True))
        self.machine_marks: dict[str, float] = {}
        self.infra.append(Proc("bench", os.getpid()))  # this process alone, not the services it started
        self._stop = threading.Event()
        self._sampler = threading.Thread(target=self._sample, name="rss-sampler", daemon=True)
        self._sampler.start()
        atexit.register(self._kill_leftovers)

    def _kill_leftovers(self) -> None:
        """At exit, whatever path led there: no child outlives the benchmark."""
        for proc in self.procs:
            if proc.popen is not None and proc.popen.poll() is None:
                with contextlib.suppress(Exception):
                    proc.popen.kill()
                    proc.popen.wait(5)

    def _sample(self) -> None:
        while not self._stop.wait(0.5):
            for p in [*self.procs, *self.infra]:
                if p.label == "bench":
                    continue
                p.peak_rss = max(p.peak_rss, p.rss())

    def start_service(self, name: str, instance: int = 1, **extra_env: str) -> Proc:
        """`python -m services.<name>.app` on a free HTTP port, logging at WARNING to a file."""
        port = free_port()
        env = {
            **os.environ,
            **self.stack.env(),
            "SERVICE_HTTP_PORT": str(port),
            "SERVICE_LOG_LEVEL": "WARNING",
            "SERVICE_SHUTDOWN_TIMEOUT_S": "5",
            "PAYMENTS_SCHEDULE_ENABLED": "false",
            "CLOCK_MODE": "real",
            "PYTHONUNBUFFERED": "1",
            **extra_env,
        }
        env.pop("KAFKA_TOPIC_PREFIX", None)
        label = name if instance == 1 else f"{name}-{instance}"
        log_path = self.log_dir / f"{label}.log"
        log = open(log_path, "ab")  # noqa: SIM115 - handed to the child process
        popen = subprocess.Popen(
            [sys.executable, "-m", f"services.{name}.app"],
            cwd=REPO,
            env=env,
            stdout=log,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )
        log.close()
        proc = Proc(label, popen.pid, popen, port, log_path)
        self.procs.append(proc)
        return proc

    def start_helper(self, label: str, argv: Sequence[str]) -> Proc:
        """Any other child process (e.g. a raw forwarder); stdout is a pipe the caller reads."""
        popen = subprocess.Popen(
            list(argv), cwd=REPO, stdout=subprocess.PIPE, stderr=None, start_new_session=True, env=dict(os.environ)
        )
        proc = Proc(label, popen.pid, popen)
        self.procs.append(proc)
        return proc

    def by_label(self, label: str) -> Proc:
        return next(p for p in [*self.procs, *self.infra] if p.label == label)

    def mark(self, name: str) -> None:
        """CPU seconds of every watched process, and of the whole machine, at this instant."""
        for p in [*self.procs, *self.infra]:
            p.mark(name)
        self.machine_marks[name] = machine_busy_seconds()

    def cpu_outside(self, start: str, end: str) -> float:
        """CPU seconds the machine spent between two marks outside this benchmark's processes: other
        people's work on a shared machine (it skews the figures) plus kernel interrupt handling."""
        ours = sum(self.cpu_between(start, end).values())
        return round(self.machine_marks[end] - self.machine_marks[start] - ours, 2)

    def cpu_between(self, start: str, end: str) -> dict[str, float]:
        """CPU seconds each process used between two marks."""
        out = {}
        for p in [*self.procs, *self.infra]:
            if start in p.cpu_marks and end in p.cpu_marks:
                out[p.label] = round(p.cpu_marks[end] - p.cpu_marks[start], 2)
        return out

    def stop(self, proc: Proc, timeout: float = 15) -> None:
        """SIGTERM, then SIGKILL after `timeout`."""
        popen = proc.popen
        if popen is None or popen.poll() is not None:
            return
        with contextlib.suppress(ProcessLookupError):
            popen.send_signal(signal.SIGTERM)
        try:
            popen.wait(timeout)
        except subprocess.TimeoutExpired:
            with contextlib.suppress(ProcessLookupError):
                popen.kill()
            popen.wait()

    def stop_all(self, *, keep_logs: bool = False) -> None:
        """Stop every child, newest first, and the sampler; the services' logs are kept only if asked
        (after a failure: the path is printed)."""
        for proc in reversed(self.procs):
            with contextlib.suppress(Exception):
                self.stop(proc)
        self._stop.set()
        if keep_logs:
            print(f"service logs kept in {self.log_dir}", file=sys.stderr)
        else:
            shutil.rmtree(self.log_dir, ignore_errors=True)


async def wait_ready(proc: Proc, within: float = 90) -> None:
    """Until GET /health/ready answers 200 (the service migrated, its pool and broker answer)."""
    deadline = time.monotonic() + within
    async with httpx.AsyncClient(timeout=2) as client:
        while time.monotonic() < deadline:
            if proc.popen is not None and proc.popen.poll() is not None:
                raise RuntimeError(f"{proc.label} exited with {proc.popen.returncode}:\n{proc.log_tail()}")
            with contextlib.suppress(httpx.HTTPError):
                if (await client.get(proc.url("/health/ready"))).status_code == 200:
                    return
            await asyncio.sleep(0.2)
    raise TimeoutError(f"{proc.label} not ready within {within} s:\n{proc.log_tail()}")


async def scrape(proc: Proc, metric: str) -> dict[tuple[tuple[str, str], ...], float]:
    """Samples of one metric (e.g. `events_applied_total`) from a service's /metrics, by label set."""
    async with httpx.AsyncClient(timeout=5) as client:
        text = (await client.get(proc.url("/metrics"))).text
    out: dict[tuple[tuple[str, str], ...], float] = {}
    for family in text_string_to_metric_families(text):
        for sample in family.samples:
            if sample.name == metric:
                out[tuple(sorted(sample.labels.items()))] = sample.value
    return out


# --------------------------------------------------------------------------- output topics


def _instant(text: str) -> float:
    return datetime.fromisoformat(text).timestamp()


@dataclass
class Seen:
    """One event as the observer saw it: when it happened (its occurred_at) and when it arrived here."""

    occurred: float
    received: float


class Observer:
    """Reads output topics from the beginning; keeps, per topic and claim, the first event's times.

    Decoding is plain `json.loads` (not the pydantic contract): the observer shares the cores
    with the services, so it does as little as possible.
    """

    def __init__(self, bootstrap: str, topics: Sequence[str]) -> None:
        self.topics = tuple(topics)
        self.consumer = AIOKafkaConsumer(
            *topics, bootstrap_servers=bootstrap, group_id=None, auto_offset_reset="earliest", **client_options(),
            enable_auto_commit=False, max_partition_fetch_bytes=4 * MB, fetch_max_bytes=32 * MB,
        )  # fmt: skip
        self.first: dict[str, dict[str, Seen]] = {t: {} for t in topics}
        self.total: dict[str, int] = dict.fromkeys(topics, 0)
        self.duplicates: dict[str, int] = dict.fromkeys(topics, 0)
        self.samples: dict[str, list[dict[str, Any]]] = {t: [] for t in topics}
        self._task: asyncio.Task[None] | None = None

    async def start(self) -> None:
        await self.consumer.start()
        self._task = asyncio.create_task(self._read())

    async def stop(self) -> None:
        if self._task is not None:
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._task
        await self.consumer.stop()

    async def _read(self) -> None:
        while True:
            batch = await self.consumer.getmany(timeout_ms=100, max_records=5000)
            now = time.time()
            for records in batch.values():
                for rec in records:
                    self._record(rec.topic, rec.value, now)

    def _record(self, topic: str, value: bytes | None, now: float) -> None:
        if value is None:
            return
        doc = json.loads(value)
        claim_id = doc.get("claim_id")
        self.total[topic] += 1
        if claim_id is None:
            return
        seen = self.first[topic]
        if claim_id in seen:
            self.duplicates[topic] += 1
            return
        seen[claim_id] = Seen(_instant(doc["occurred_at"]), now)
        if len(self.samples[topic]) < 3 and topic.endswith(("rejected", "pended")):
            self.samples[topic].append(doc.get("payload", {}))

    def count(self, topic: str, claims: Iterable[str]) -> int:
        seen = self.first[topic]
        return sum(1 for c in claims if c in seen)


# --------------------------------------------------------------------------- producing


def make_producer(bootstrap: str) -> AIOKafkaProducer:
    """As a hospital gateway would publish: acks=all, small linger, large batches."""
    return AIOKafkaProducer(
        bootstrap_servers=bootstrap, acks="all", linger_ms=5, max_batch_size=256 * 1024, **client_options()
    )


async def offer(
    producer: AIOKafkaProducer,
    items: Sequence[tuple[str, bytes, bytes]],
    rate: float | None = None,
) -> tuple[float, float, list[float]]:
    """Send (topic, key, value) items as fast as possible, or `rate` per second on a fixed schedule.

    Returns (first send, last acknowledgement, send instant of each item), wall-clock seconds.
    """
    sent_at: list[float] = []
    futures = []
    start = time.time()
    t0 = time.monotonic()
    for i, (topic, key, value) in enumerate(items):
        if rate:
            delay = t0 + i / rate - time.monotonic()
            if delay > 0:
                await asyncio.sleep(delay)
        sent_at.append(time.time())
        futures.append(await producer.send(topic, value, key=key))
    await asyncio.gather(*futures)
    return start, time.time(), sent_at


# --------------------------------------------------------------------------- statistics


def percentile(values: Sequence[float], q: float) -> float:
    """The q-th percentile (0-100) by linear interpolation between closest ranks."""
    if not values:
        return math.nan
    ordered = sorted(values)
    pos = (len(ordered) - 1) * q / 100
    lo, hi = math.floor(pos), math.ceil(pos)
    return ordered[lo] + (ordered[hi] - ordered[lo]) * (pos - lo)


def summary_ms(seconds: Sequence[float]) -> dict[str, float | int]:
    """p50 / p95 / p99 / max / mean in milliseconds, and the sample count."""
    if not seconds:
        return {"count": 0}
    return {
        "count": len(seconds),
        "p50_ms": round(percentile(seconds, 50) * 1000, 1),
        "p95_ms": round(percentile(seconds, 95) * 1000, 1),
        "p99_ms": round(percentile(seconds, 99) * 1000, 1),
        "max_ms": round(max(seconds) * 1000, 1),
        "mean_ms": round(sum(seconds) / len(seconds) * 1000, 1),
    }


def write_json(path: Path, data: object) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps(data, indent=2) + "\n", encoding="utf-8")


@contextlib.contextmanager
def profiling(pid: int, out: Path, duration: int, fmt: str = "flamegraph") -> Iterator[subprocess.Popen[bytes] | None]:
    """`py-spy record` on a running process for `duration` seconds (None when py-spy is missing).

    fmt: flamegraph (SVG), raw (collapsed stacks, one line per stack and its sample count), speedscope.
    """
    exe = Path(sys.executable).parent / "py-spy"
    if not exe.exists():
        print(f"py-spy not installed in {exe.parent}: no profile", file=sys.stderr)
        yield None
        return
    out.parent.mkdir(parents=True, exist_ok=True)
    popen = subprocess.Popen(
        [str(exe), "record", "--pid", str(pid), "--duration", str(duration), "--rate", "50", "--nonblocking",
         "--format", fmt, "--output", str(out)],
        stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, start_new_session=True,
    )  # fmt: skip
    try:
        yield popen
    finally:
        try:
            popen.wait(duration + 30)
        except subprocess.TimeoutExpired:
            popen.kill()
            popen.wait()
