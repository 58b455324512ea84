"""The Grafana dashboard: valid JSON, unique panel ids, a templated data source, only metrics the code
defines, the stages and topics the issue asks for; deployed by Compose and by the Kubernetes component."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from deploy import check
from deploy.monitoring import checks, gen

DASHBOARD: dict[str, Any] = json.loads(gen.DASHBOARD.read_text())


def _panels() -> list[dict[str, Any]]:
    return list(checks._panels(DASHBOARD["panels"]))


def test_the_dashboard_passes_the_structural_check() -> None:
    assert checks.dashboard_problems() == []


def test_every_query_is_valid_promql_for_promtool() -> None:
    assert checks.dashboard_promql_problems(check.promtool_binary()) == []


def test_a_query_promtool_cannot_parse_is_reported(tmp_path: Path) -> None:
    broken = json.loads(gen.DASHBOARD.read_text())
    first, _ = _two(broken)
    first["targets"][0]["expr"] = "sum(rate(dlq_messages_total[$__rate_interval])"
    path = tmp_path / "jkn-claims.json"
    path.write_text(json.dumps(broken))
    (problem,) = checks.dashboard_promql_problems(check.promtool_binary(), path)
    assert problem.startswith("jkn-claims.json: a query is not valid PromQL:")
    assert f'"dashboard:panel_{first["id"]}_A": could not parse expression' in problem
    assert "unclosed left parenthesis" in problem


def test_panel_ids_are_unique_and_the_data_source_is_a_variable() -> None:
    ids = [p["id"] for p in _panels()]
    assert len(ids) == len(set(ids))
    (variable,) = DASHBOARD["templating"]["list"]
    assert (variable["name"], variable["type"], variable["query"]) == ("datasource", "datasource", "prometheus")
    queried = [p for p in _panels() if p["type"] != "row"]
    assert {p["datasource"]["uid"] for p in queried} == {"${datasource}"}
    assert {t["datasource"]["uid"] for p in queried for t in p["targets"]} == {"${datasource}"}


def test_it_shows_what_the_issue_asks_for() -> None:
    rows = [p["title"] for p in _panels() if p["type"] == "row"]
    assert rows == [
        "Overview",
        "Throughput per stage",
        "Latency per stage",
        "Consumer lag",
        "Outbox",
        "Dead letters",
        "Payments",
        "Penalties and deadlines",
        "Notifications",
    ]
    exprs = " ".join(t["expr"] for p in _panels() for t in p.get("targets", []))
    for metric in (
        "events_applied_total",
        "consumer_record_age_seconds_bucket",
        "consumer_lag",
        "outbox_oldest_age_seconds",
        "dlq_messages_total",
        "payments_total",
        "penalty_accrued_rupiah",
    ):
        assert metric in exprs


def test_compose_and_kubernetes_deploy_this_very_file() -> None:
    assert gen.DASHBOARD_COPY.read_text() == gen.DASHBOARD.read_text()
    kustomization = (gen.COMPONENT / "kustomization.yaml").read_text()
    assert 'grafana_dashboard: "1"' in kustomization
    assert "- jkn-claims.json" in kustomization
    compose = (gen.DEPLOY / "compose.yaml").read_text()
    assert "./monitoring/grafana/jkn-claims.json:/etc/grafana/dashboards/jkn-claims.json:ro" in compose


def test_duplicate_ids_a_fixed_data_source_and_an_unknown_metric_are_reported(tmp_path: Path) -> None:
    broken = json.loads(gen.DASHBOARD.read_text())
    first, second = _two(broken)
    second["id"] = first["id"]
    first["datasource"] = {"type": "prometheus", "uid": "PBFA97CFB590B2093"}
    first["targets"][0]["expr"] = "sum(rate(claims_lost_total[5m]))"
    path = tmp_path / "jkn-claims.json"
    path.write_text(json.dumps(broken))
    label = f"jkn-claims.json panel {first['id']} ({first['title']})"
    assert checks.dashboard_problems(path) == [
        f"{label}: datasource must be the variable ${{datasource}}",
        f"{label}: claims_lost_total is not a metric the services export (shared/metrics.py, services/*/metrics.py)",
        f"jkn-claims.json: panel id {first['id']} is used twice",
    ]


def test_invalid_json_is_reported(tmp_path: Path) -> None:
    path = tmp_path / "jkn-claims.json"
    path.write_text('{"panels": [}')
    (problem,) = checks.dashboard_problems(path)
    assert problem.startswith("jkn-claims.json: not valid JSON:")


def _two(dashboard: dict[str, Any]) -> tuple[dict[str, Any], dict[str, Any]]:
    queried = [p for p in dashboard["panels"] if p["type"] != "row"]
    return queried[0], queried[1]
