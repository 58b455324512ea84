"""The deploy-check rules catch what they are for (synthetic manifests, no tools run)."""

from __future__ import annotations

import copy
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
import yaml

from deploy import check, gen_topics
from deploy.topics import topic_specs
from shared.topics import all_topics

Doc = dict[str, Any]
BASE = check.K8S / "base"


def _config_map() -> Doc:
    lines = (BASE / "config.env").read_text().splitlines()
    data = dict(line.split("=", 1) for line in lines if line and not line.startswith("#"))
    return {"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": "jkn-claims-config"}, "data": data}


@pytest.fixture
def grouper_docs() -> list[Doc]:
    """The base's grouper resources plus the ConfigMap they read."""
    return [*yaml.safe_load_all((BASE / "grouper.yaml").read_text()), _config_map()]


def _container(docs: list[Doc]) -> Doc:
    deployment = next(d for d in docs if d["kind"] == "Deployment")
    container: Doc = deployment["spec"]["template"]["spec"]["containers"][0]
    return container


def test_the_base_grouper_passes(grouper_docs: list[Doc]) -> None:
    assert check.deployment_problems("grouper", grouper_docs) == []
    assert check.app_container_problems(grouper_docs) == []


def test_a_missing_deployment_is_reported(grouper_docs: list[Doc]) -> None:
    assert check.deployment_problems("verifier", grouper_docs) == [
        "no Deployment verifier for service verifier (shared.services.SERVICE_NAMES)"
    ]


Mutation = Callable[[list[Doc]], None]


def _set_probe_path(docs: list[Doc]) -> None:
    _container(docs)["readinessProbe"]["httpGet"]["path"] = "/healthz"


def _short_grace(docs: list[Doc]) -> None:
    next(d for d in docs if d["kind"] == "Deployment")["spec"]["template"]["spec"]["terminationGracePeriodSeconds"] = 20


def _wrong_probe_port(docs: list[Doc]) -> None:
    _container(docs)["livenessProbe"]["httpGet"]["port"] = 9999


def _listen_locally(docs: list[Doc]) -> None:
    next(d for d in docs if d["kind"] == "ConfigMap")["data"].pop("SERVICE_HTTP_HOST")


def _too_many_replicas(docs: list[Doc]) -> None:
    next(d for d in docs if d["kind"] == "HorizontalPodAutoscaler")["spec"]["maxReplicas"] = 24


def _no_pdb(docs: list[Doc]) -> None:
    docs.remove(next(d for d in docs if d["kind"] == "PodDisruptionBudget"))


def _no_scrape(docs: list[Doc]) -> None:
    next(d for d in docs if d["kind"] == "Deployment")["spec"]["template"]["metadata"]["annotations"] = {}


@pytest.mark.parametrize(
    ("mutate", "expected"),
    [
        (_set_probe_path, "readinessProbe asks /healthz, which the service does not serve"),
        (_short_grace, "terminationGracePeriodSeconds 20 must exceed SERVICE_SHUTDOWN_TIMEOUT_S 20"),
        (_wrong_probe_port, "livenessProbe port 9999 is not the listening port 8081"),
        (_listen_locally, "SERVICE_HTTP_HOST must be 0.0.0.0"),
        (_too_many_replicas, "maxReplicas above 12 partitions"),
        (_no_pdb, "no PodDisruptionBudget for grouper"),
        (_no_scrape, "not scraped"),
    ],
)
def test_deployment_mistakes_are_reported(grouper_docs: list[Doc], mutate: Mutation, expected: str) -> None:
    docs = copy.deepcopy(grouper_docs)
    mutate(docs)
    assert any(expected in p for p in check.deployment_problems("grouper", docs)), expected


def test_unknown_and_missing_env_vars_are_reported(grouper_docs: list[Doc]) -> None:
    container = _container(grouper_docs)
    container["env"] = [e for e in container["env"] if e["name"] != "DATABASE_URL"]
    container["env"].append({"name": "SERVICE_HTTP_PROT", "value": "8081"})
    problems = check.app_container_problems(grouper_docs)
    assert any("sets SERVICE_HTTP_PROT, which no settings class reads" in p for p in problems)
    assert any("does not set required DATABASE_URL" in p for p in problems)


def test_an_unresolved_env_from_is_reported(grouper_docs: list[Doc]) -> None:
    docs = [d for d in grouper_docs if d["kind"] != "ConfigMap"]
    problems = check.app_container_problems(docs)
    assert any("envFrom ConfigMap jkn-claims-config is not in the manifests" in p for p in problems)
    assert any("does not set required KAFKA_BOOTSTRAP_SERVERS" in p for p in problems)


def test_security_rules(grouper_docs: list[Doc]) -> None:
    container = _container(grouper_docs)
    container["securityContext"]["readOnlyRootFilesystem"] = False
    container["volumeMounts"] = []
    next(d for d in grouper_docs if d["kind"] == "Deployment")["spec"]["template"]["spec"]["securityContext"] = {}
    problems = check.app_container_problems(grouper_docs)
    assert any("runAsNonRoot" in p for p in problems)
    assert any("readOnlyRootFilesystem" in p for p in problems)
    assert any("emptyDir mounted at /tmp" in p for p in problems)


def test_env_names_come_from_every_settings_class() -> None:
    known = check.known_env_vars()
    assert {"DATABASE_URL", "KAFKA_BOOTSTRAP_SERVERS", "SERVICE_SHUTDOWN_TIMEOUT_S", "POLICY_PAYMENT_DAYS"} <= known
    for settings_file in (check.REPO / "services").glob("*/settings.py"):
        prefix = settings_file.parent.name.upper() + "_"
        assert any(name.startswith(prefix) for name in known), prefix
    assert {"DATABASE_URL", "KAFKA_BOOTSTRAP_SERVERS"} <= check.required_env_vars()


def test_served_routes_need_build_app(tmp_path: Path) -> None:
    runtime = tmp_path / "runtime.py"
    runtime.write_text("def build_app():\n    return None\n")
    with pytest.raises(check.CheckError):
        check.served_routes(runtime)


def _compose_service() -> Doc:
    return {
        "image": "jkn-claims:local",
        "command": ["python", "-m", "services.grouper.app"],
        "environment": {"SERVICE_HTTP_HOST": "0.0.0.0", "SERVICE_HTTP_PORT": "8081"},
        "ports": [{"target": 8081}],
        "healthcheck": {"test": ["CMD", "python", "-m", "deploy.healthcheck", "/health/ready"]},
        "restart": "unless-stopped",
        "deploy": {"resources": {"limits": {"cpus": 1, "memory": "536870912"}}},
        "stop_grace_period": "30s",
        "depends_on": {
            "topic-init": {"condition": "service_completed_successfully"},
            "migrate": {"condition": "service_completed_successfully"},
        },
    }


def test_compose_service_rules() -> None:
    assert check.compose_service_problems("grouper", _compose_service()) == []
    svc = _compose_service()
    svc["stop_grace_period"] = "10s"
    svc["healthcheck"]["test"][-1] = "/healthz"
    svc["environment"]["SERVICE_HTTP_PORT"] = "9000"
    del svc["restart"]
    problems = check.compose_service_problems("grouper", svc)
    assert any("stop_grace_period 10s must exceed" in p for p in problems)
    assert any("asks /healthz, which the service does not serve" in p for p in problems)
    assert any("publishes [8081] but listens on 9000" in p for p in problems)
    assert any("restart policy" in p for p in problems)


def test_custom_resource_rules() -> None:
    topic = next(iter(yaml.safe_load_all(gen_topics.render())))
    assert check.custom_resource_problems([topic], []) == []
    broken = copy.deepcopy(topic)
    del broken["spec"]["partitions"]
    broken["spec"]["config"]["min.insync.replicas"] = 5
    problems = check.custom_resource_problems([broken], [])
    assert any("spec.partitions must be a positive integer" in p for p in problems)
    assert any("min.insync.replicas exceeds replicas" in p for p in problems)
    scaled = {"apiVersion": "keda.sh/v1alpha1", "kind": "ScaledObject", "metadata": {"name": "x"}, "spec": {}}
    assert any("scaleTargetRef" in p for p in check.custom_resource_problems([scaled], []))
    assert any("spec.triggers is required" in p for p in check.custom_resource_problems([scaled], []))


def test_topic_rules() -> None:
    docs = list(yaml.safe_load_all(gen_topics.render()))
    assert check.topic_problems(docs) == []
    docs[0]["spec"]["partitions"] = 6
    problems = check.topic_problems(docs[:-1])
    assert f"KafkaTopic {all_topics()[-1].name}: missing" in problems
    assert any(p.startswith(f"KafkaTopic {all_topics()[0].name}: (6,") for p in problems)


def test_gen_topics_check_mode(tmp_path: Path) -> None:
    out = tmp_path / "kafka-topics.yaml"
    assert gen_topics.main(["--check", "--output", str(out)]) == 1
    assert gen_topics.main(["--output", str(out)]) == 0
    assert gen_topics.main(["--check", "--output", str(out)]) == 0
    docs = list(yaml.safe_load_all(out.read_text()))
    assert [d["metadata"]["name"] for d in docs] == [t.name for t in all_topics()]
    assert docs[0]["spec"]["config"]["retention.ms"] == all_topics()[0].retention_days * 86_400_000


def test_topic_specs_carry_the_deployment_prefix() -> None:
    assert [s.name for s in topic_specs("staging.")] == [f"staging.{t.name}" for t in all_topics()]
    assert [s.partitions for s in topic_specs("x")] == [t.partitions for t in all_topics()]


@pytest.mark.parametrize(
    ("path", "ignored"),
    [(".venv", True), (".git", True), ("tests", True), ("shared", False), ("deploy/local.py", False),
     ("deploy/k8s", True), ("pyproject.toml", False)],
)  # fmt: skip
def test_dockerignore_allow_list(path: str, ignored: bool) -> None:
    patterns = (check.REPO / ".dockerignore").read_text().splitlines()
    assert check.dockerignored(path, patterns) is ignored


@pytest.mark.parametrize(("text", "seconds"), [("30s", 30), ("1m30s", 90), ("1h", 3600), (20, 20), ("500ms", 0.5)])
def test_compose_durations(text: str | int, seconds: float) -> None:
    assert check._duration_s(text) == pytest.approx(seconds)


def test_image_names() -> None:
    assert check._image_is_app("jkn-claims")
    assert check._image_is_app("registry.example.org:5000/bpjs/jkn-claims:0.1.0")
    assert check._image_is_app("jkn-claims@sha256:abc")
    assert not check._image_is_app("postgres:17")


def test_a_topic_prefix_in_kubernetes_is_reported(grouper_docs: list[Doc]) -> None:
    next(d for d in grouper_docs if d["kind"] == "ConfigMap")["data"]["KAFKA_TOPIC_PREFIX"] = "staging."
    assert any("KAFKA_TOPIC_PREFIX is set" in p for p in check.app_container_problems(grouper_docs))


def test_runtime_distributions_follow_requirements(tmp_path: Path) -> None:
    pyproject = tmp_path / "pyproject.toml"
    pyproject.write_text('[project]\nname = "x"\ndependencies = ["pydantic-settings==2.16.3"]\n')
    installed = check.runtime_distributions(pyproject)
    assert {"pydantic-settings", "pydantic", "pydantic-core", "python-dotenv"} <= installed
    assert "asyncpg" not in installed


def test_module_level_imports_skip_the_dev_only_check() -> None:
    imports = check.module_level_imports()
    assert "deploy/topics.py" in imports["shared"]
    assert all("deploy/check.py" not in files for files in imports.values())
