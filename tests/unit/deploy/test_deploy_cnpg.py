"""deploy-check's CloudNativePG rules: the component's Cluster and ScheduledBackup pass, a broken field fails.

The documents are the component's own files (what kustomize renders, less the namespace); the rendered
prod+cloudnative-pg target itself is checked by tests/integration/deploy/test_deploy_check.py.
"""

from __future__ import annotations

import copy
from typing import Any

import pytest
import yaml

from deploy import check

Doc = dict[str, Any]
COMPONENT = check.K8S / "components" / "cloudnative-pg"


@pytest.fixture
def cluster() -> Doc:
    doc: Doc = yaml.safe_load((COMPONENT / "cluster.yaml").read_text())
    return doc


@pytest.fixture
def backup() -> Doc:
    doc: Doc = yaml.safe_load((COMPONENT / "scheduledbackup.yaml").read_text())
    return doc


def test_the_components_cluster_and_scheduled_backup_pass(cluster: Doc, backup: Doc) -> None:
    assert check.custom_resource_problems([cluster, backup], [("postgresql.cnpg.io/v1", "Cluster")]) == []


def test_the_cnpg_kinds_have_rules() -> None:
    no_schema = [("postgresql.cnpg.io/v1", "Cluster"), ("postgresql.cnpg.io/v1", "ScheduledBackup")]
    assert check.custom_resource_problems([], no_schema) == []


def test_two_instances_fail(cluster: Doc) -> None:
    cluster["spec"]["instances"] = 2
    assert check.custom_resource_problems([cluster], []) == [
        "Cluster/jkn-claims-db: spec.instances must be at least 3, not 2"
    ]


def test_another_bootstrap_database_or_owner_fails(cluster: Doc) -> None:
    wrong_db, wrong_owner = cluster, copy.deepcopy(cluster)
    wrong_db["spec"]["bootstrap"]["initdb"]["database"] = "app"
    del wrong_owner["spec"]["bootstrap"]["initdb"]["owner"]
    assert check.custom_resource_problems([wrong_db], []) == [
        "Cluster/jkn-claims-db: spec.bootstrap.initdb.database must be jkn, not app"
    ]
    assert check.custom_resource_problems([wrong_owner], []) == [
        "Cluster/jkn-claims-db: spec.bootstrap.initdb.owner must be jkn, not None"
    ]


def test_a_cluster_without_storage_size_fails(cluster: Doc) -> None:
    del cluster["spec"]["storage"]["size"]
    assert check.custom_resource_problems([cluster], []) == ["Cluster/jkn-claims-db: spec.storage.size is required"]


def test_a_backup_store_without_destination_fails(cluster: Doc) -> None:
    del cluster["spec"]["backup"]["barmanObjectStore"]["destinationPath"]
    assert check.custom_resource_problems([cluster], []) == [
        "Cluster/jkn-claims-db: spec.backup.barmanObjectStore.destinationPath is required (no backup, no recovery)"
    ]


def test_a_backup_store_without_credentials_fails(cluster: Doc) -> None:
    no_key, iam = cluster, copy.deepcopy(cluster)
    del no_key["spec"]["backup"]["barmanObjectStore"]["s3Credentials"]["secretAccessKey"]["key"]
    (problem,) = check.custom_resource_problems([no_key], [])
    assert problem.startswith("Cluster/jkn-claims-db: spec.backup.barmanObjectStore needs credentials")
    iam["spec"]["backup"]["barmanObjectStore"]["s3Credentials"] = {"inheritFromIAMRole": True}
    assert check.custom_resource_problems([iam], []) == []


def test_a_scheduled_backup_without_its_cluster_fails(cluster: Doc, backup: Doc) -> None:
    other = copy.deepcopy(backup)
    other["spec"]["cluster"]["name"] = "jkn-claims-pg"
    assert check.custom_resource_problems([cluster, other], []) == [
        "ScheduledBackup/jkn-claims-db-nightly: cluster jkn-claims-pg is not {'jkn-claims-db'}"
    ]
    del backup["spec"]["cluster"]
    assert check.custom_resource_problems([cluster, backup], []) == [
        "ScheduledBackup/jkn-claims-db-nightly: spec.cluster.name is required"
    ]


@pytest.mark.parametrize("schedule", ["0 19 * * *", "@daily", "0 0 19 * * * *", ""])
def test_a_schedule_that_is_not_six_field_cron_fails(cluster: Doc, backup: Doc, schedule: str) -> None:
    backup["spec"]["schedule"] = schedule
    assert check.custom_resource_problems([cluster, backup], []) == [
        "ScheduledBackup/jkn-claims-db-nightly: spec.schedule must be a six-field cron (seconds first), "
        f"not {schedule!r}"
    ]
