"""`make deploy-check`: deploy/ validated by the real tools (docker-compose v2, kubectl kustomize,
kubernetes-validate against Kubernetes 1.33 in strict mode, hadolint) and against the code.

No Docker engine or cluster is needed: every tool runs from a wheel in the virtualenv.
"""

from __future__ import annotations

import textwrap
from pathlib import Path

import pytest
import yaml

from deploy import check
from shared.services import SERVICE_NAMES
from shared.topics import all_topics

pytestmark = pytest.mark.integration


@pytest.mark.parametrize("name", check.CHECK_NAMES)
def test_deploy_check(name: str) -> None:
    """Each check of `python -m deploy.check` passes."""
    assert check.run_check(name) == []


@pytest.mark.parametrize("target", check.KUSTOMIZE_TARGETS)
def test_every_service_has_a_deployment_with_probes_on_served_routes(target: str) -> None:
    docs = check.parse_docs(check.render(target))
    deployments = {d["metadata"]["name"]: d for d in docs if d["kind"] == "Deployment"}
    assert set(SERVICE_NAMES) <= deployments.keys()
    served = check.served_routes()
    for name in SERVICE_NAMES:
        (container,) = deployments[name]["spec"]["template"]["spec"]["containers"]
        assert container["livenessProbe"]["httpGet"]["path"] == "/health/live"
        assert container["readinessProbe"]["httpGet"]["path"] == "/health/ready"
        paths = {container[p]["httpGet"]["path"] for p in ("livenessProbe", "readinessProbe", "startupProbe")}
        assert paths <= served


def test_served_routes_are_read_from_build_app() -> None:
    assert {"/health/live", "/health/ready", "/metrics", "/asyncapi"} <= check.served_routes()


@pytest.mark.parametrize("target", check.KUSTOMIZE_TARGETS)
def test_manifest_env_vars_are_settings_and_required_ones_are_set(target: str) -> None:
    docs = check.parse_docs(check.render(target))
    index = check._by_kind(docs)
    known = check.known_env_vars()
    for name in SERVICE_NAMES:
        (container,) = index["Deployment"][name]["spec"]["template"]["spec"]["containers"]
        env, unresolved = check.container_env(container, index)
        assert unresolved == []
        assert set(env) <= known
        assert {"DATABASE_URL", "KAFKA_BOOTSTRAP_SERVERS"} <= set(env)


@pytest.mark.parametrize("variant", ["default", "demo-env"])
def test_compose_env_vars_are_settings_and_required_ones_are_set(variant: str) -> None:
    model = check.compose_config(check.COMPOSE_VARIANTS[variant])
    for name in (*SERVICE_NAMES, "migrate", "topic-init"):
        env = set(model["services"][name]["environment"])
        assert env <= check.known_env_vars(), name
        assert {"DATABASE_URL", "KAFKA_BOOTSTRAP_SERVERS"} <= env, name


def test_committed_kafka_topics_equal_the_generated_file() -> None:
    from deploy.gen_topics import TARGET, render

    assert TARGET.read_text() == render()
    names = [d["spec"]["topicName"] for d in check.parse_docs(TARGET.read_text())]
    assert names == [t.name for t in all_topics()]


# --------------------------------------------------------------------------- the checks catch mistakes


def test_strict_schema_validation_rejects_an_unknown_field() -> None:
    deployment = next(
        d
        for d in check.parse_docs(check.render("dev"))
        if d["kind"] == "Deployment" and d["metadata"]["name"] == "grouper"
    )
    deployment["spec"]["template"]["spec"]["containers"][0]["livenessprobe"] = {"httpGet": {"path": "/health/live"}}
    problems, _ = check.schema_problems(yaml.safe_dump(deployment))
    assert problems and "livenessprobe" in problems[0]


def test_schema_validation_names_kinds_it_has_no_schema_for() -> None:
    widget = {"apiVersion": "example.org/v1", "kind": "Widget", "metadata": {"name": "w"}}
    problems, no_schema = check.schema_problems(yaml.safe_dump(widget))
    assert problems == []
    assert no_schema == [("example.org/v1", "Widget")]
    assert check.custom_resource_problems([widget], no_schema) == [
        "example.org/v1/Widget: no Kubernetes schema and no rules in deploy/check.py"
    ]


def test_compose_validation_rejects_an_unknown_key(tmp_path: Path) -> None:
    bad = tmp_path / "compose.yaml"
    bad.write_text("services:\n  web:\n    image: nginx\n    restart_policy: always\n")
    with pytest.raises(check.CheckError, match="restart_policy"):
        check.compose_config(["-f", str(bad)])


def test_kustomize_failure_is_reported(tmp_path: Path) -> None:
    (tmp_path / "kustomization.yaml").write_text("resources:\n  - missing.yaml\n")
    with pytest.raises(check.CheckError, match=r"missing\.yaml"):
        check._kustomize(tmp_path)


def test_hadolint_and_image_rules_reject_a_careless_dockerfile(tmp_path: Path) -> None:
    dockerfile = tmp_path / "Dockerfile"
    dockerfile.write_text(
        textwrap.dedent(
            """\
            FROM python:latest
            RUN apt-get update && apt-get install -y gcc
            COPY . /app
            RUN pip install /app
            CMD ["python", "-m", "services.grouper.app"]
            """
        )
    )
    ignore = tmp_path / ".dockerignore"
    ignore.write_text("")
    problems = check.dockerfile_problems(dockerfile, ignore)
    assert "Dockerfile: must be multi-stage (build, then a runtime stage)" in problems
    assert check.dockerfile_problems(dockerfile.with_name("absent"), ignore) == [f"{tmp_path / 'absent'} is missing"]


def test_hadolint_runs_on_a_multi_stage_dockerfile(tmp_path: Path) -> None:
    dockerfile = tmp_path / "Dockerfile"
    dockerfile.write_text(
        textwrap.dedent(
            """\
            FROM python:3.11-slim AS build
            RUN pip install .
            FROM python:latest
            RUN apt-get update && apt-get install -y gcc
            CMD ["python"]
            """
        )
    )
    (tmp_path / ".dockerignore").write_text("")
    problems = check.dockerfile_problems(dockerfile, tmp_path / ".dockerignore")
    assert any(p.startswith("hadolint:") and "DL3007" in p for p in problems)  # `latest` tag
    assert "Dockerfile: the runtime stage must switch to a non-root USER" in problems
    assert "Dockerfile: needs a HEALTHCHECK asking a route the service serves" in problems
    assert "Dockerfile: dependencies must be installed with pip install -c constraints.txt" in problems
    assert any("installs build tools" in p for p in problems)
    assert ".dockerignore must leave out .venv" in problems
