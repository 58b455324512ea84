"""deploy-check's database-role rules catch a service on the admin's DSN or on another's role (no tools run)."""

from __future__ import annotations

import copy
from typing import Any

import pytest
import yaml

from deploy import check

Doc = dict[str, Any]
BASE = check.K8S / "base"
APP = "jkn-claims:local"
SERVICES = ("grouper", "verifier", "payments", "notifier", "gateway", "console")


def _compose() -> dict[str, Doc]:
    """A resolved compose model reduced to what the rules read, as deploy/compose.yaml resolves."""
    services: dict[str, Doc] = {
        "postgres": {"image": "postgres:17-alpine", "environment": {"POSTGRES_USER": "jkn"}},
        "migrate": {
            "image": APP,
            "command": ["claimsctl", "db", "provision"],
            "environment": {"DATABASE_URL": "postgresql://jkn:admin-pw@postgres:5432/jkn"}
            | {f"DB_PASSWORD_{s.upper()}": f"{s}-pw" for s in SERVICES},
        },
        "topic-init": {
            "image": APP,
            "environment": {"DATABASE_URL": "postgresql://jkn_claimsctl:c-pw@postgres:5432/jkn"},
        },
        "simulator": {
            "image": APP,
            "profiles": ["demo"],
            "environment": {"DATABASE_URL": "postgresql://jkn:admin-pw@postgres:5432/jkn"},
        },
    }
    for s in SERVICES:
        services[s] = {"image": APP, "environment": {"DATABASE_URL": f"postgresql://jkn_{s}:{s}-pw@postgres:5432/jkn"}}
    return services


def test_the_compose_roles_pass() -> None:
    assert check.compose_database_problems(_compose()) == []


def test_a_compose_service_on_the_admin_or_another_role_is_reported() -> None:
    services = _compose()
    services["payments"]["environment"]["DATABASE_URL"] = "postgresql://jkn:admin-pw@postgres:5432/jkn"
    services["grouper"]["environment"]["DATABASE_URL"] = "postgresql://jkn_verifier:verifier-pw@postgres:5432/jkn"
    services["topic-init"]["environment"]["DATABASE_URL"] = "postgresql://jkn:admin-pw@postgres:5432/jkn"
    assert check.compose_database_problems(services) == [
        "compose service grouper: DATABASE_URL logs in as jkn_verifier, not its own role jkn_grouper",
        "compose service payments: DATABASE_URL logs in as jkn, not its own role jkn_payments",
        "compose service topic-init: connects as the admin jkn; only the migrate job may",
        "compose service payments: connects as the admin jkn; only the migrate job may",
    ]


def test_a_compose_migrate_that_would_not_provision_or_set_another_password_is_reported() -> None:
    services = _compose()
    services["migrate"]["environment"]["DB_PASSWORD_NOTIFIER"] = "stale"
    assert check.compose_database_problems(services) == [
        "compose: migrate's DB_PASSWORD_NOTIFIER is not the password in notifier's DATABASE_URL: "
        "jkn_notifier could not log in"
    ]
    services["migrate"]["command"] = ["claimsctl", "migrate"]
    assert check.compose_database_problems(services)[0] == (
        "compose: migrate must run claimsctl db provision (it creates the roles, then migrates)"
    )


@pytest.fixture
def k8s_docs() -> list[Doc]:
    """The base's four Deployments and the migrate Job."""
    docs: list[Doc] = []
    for name in (*SERVICES, "migrate-job"):
        docs += [d for d in yaml.safe_load_all((BASE / f"{name}.yaml").read_text()) if d]
    return docs


def _env(docs: list[Doc], kind: str, name: str) -> list[Doc]:
    doc = next(d for d in docs if d["kind"] == kind and d["metadata"]["name"] == name)
    env: list[Doc] = doc["spec"]["template"]["spec"]["containers"][0]["env"]
    return env


def _secret_of(env: list[Doc], variable: str) -> Doc:
    ref: Doc = next(e for e in env if e["name"] == variable)["valueFrom"]["secretKeyRef"]
    return ref


def test_the_base_manifests_pass(k8s_docs: list[Doc]) -> None:
    assert check.k8s_database_problems(k8s_docs) == []


def test_a_generated_secret_name_still_counts_as_its_own(k8s_docs: list[Doc]) -> None:
    _secret_of(_env(k8s_docs, "Deployment", "grouper"), "DATABASE_URL")["name"] = "jkn-claims-db-grouper-bf58hdc2fg"
    assert check.k8s_database_problems(k8s_docs) == []


def test_a_deployment_on_the_admin_secret_or_another_service_secret_is_reported(k8s_docs: list[Doc]) -> None:
    docs = copy.deepcopy(k8s_docs)
    _secret_of(_env(docs, "Deployment", "payments"), "DATABASE_URL")["name"] = "jkn-claims-db-admin"
    _secret_of(_env(docs, "Deployment", "grouper"), "DATABASE_URL")["name"] = "jkn-claims-db-verifier"
    assert check.k8s_database_problems(docs) == [
        "Deployment/grouper: DATABASE_URL must come from its own Secret jkn-claims-db-grouper (role jkn_grouper), "
        "not jkn-claims-db-verifier",
        "Deployment/payments: uses the admin's Secret jkn-claims-db-admin; only the migrate job may",
        "Deployment/payments: DATABASE_URL must come from its own Secret jkn-claims-db-payments (role jkn_payments), "
        "not jkn-claims-db-admin",
    ]


def test_a_service_reading_the_admin_secret_through_env_from_is_reported(k8s_docs: list[Doc]) -> None:
    deployment = next(d for d in k8s_docs if d["kind"] == "Deployment" and d["metadata"]["name"] == "notifier")
    deployment["spec"]["template"]["spec"]["containers"][0]["envFrom"].append(
        {"secretRef": {"name": "jkn-claims-db-admin"}}
    )
    assert check.k8s_database_problems(k8s_docs) == [
        "Deployment/notifier: uses the admin's Secret jkn-claims-db-admin; only the migrate job may"
    ]


def test_a_job_that_does_not_provision_from_the_admin_secret_is_reported(k8s_docs: list[Doc]) -> None:
    env = _env(k8s_docs, "Job", "migrate")
    _secret_of(env, "DB_PASSWORD_VERIFIER")["name"] = "jkn-claims-db-grouper"
    assert check.k8s_database_problems(k8s_docs) == [
        "the claimsctl db provision Job must take DB_PASSWORD_VERIFIER from jkn-claims-db-verifier (key password), "
        "the Secret the service logs in with"
    ]
    job = next(d for d in k8s_docs if d["kind"] == "Job")
    job["spec"]["template"]["spec"]["containers"][0]["command"] = ["claimsctl", "migrate"]
    assert check.k8s_database_problems(k8s_docs) == [
        "Job/migrate: uses the admin's Secret jkn-claims-db-admin; only the migrate job may",
        "no Job running claimsctl db provision (it creates the roles, then migrates)",
    ]
