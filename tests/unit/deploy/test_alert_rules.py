"""The alert rules: the real promtool checks and unit-tests them; every alert has a firing case, a silent
case and a runbook section; the Kubernetes PrometheusRule is the rules file; the checks catch mistakes."""

from __future__ import annotations

import shutil
from pathlib import Path
from typing import Any

import pytest
import yaml

from deploy import check
from deploy.monitoring import checks, gen

ALERTS = [
    "JknServiceDown",
    "JknInstanceDown",
    "JknOutboxBacklog",
    "JknOutboxStuck",
    "JknOutboxRowsQuarantined",
    "JknOutboxRelayErrors",
    "JknOutboxRelayStalled",
    "JknConsumerStalled",
    "JknConsumerLag",
    "JknDeadLetters",
    "JknPayablesDueSoon",
    "JknPayablesOverdue",
    "JknPenaltyAccruing",
    "JknDeemedCompleteTomorrow",
    "JknPendsExpiring",
    "JknNotificationsDead",
    "JknWebhookDeliveriesFailing",
]


@pytest.fixture(scope="module")
def promtool() -> Path:
    return check.promtool_binary()


def test_promtool_checks_and_unit_tests_the_rules(promtool: Path) -> None:
    assert checks.promtool_problems(promtool) == []


def test_the_alerts_are_the_issue_s_list() -> None:
    assert [rule["alert"] for rule in checks.alert_rules()] == ALERTS


@pytest.mark.parametrize("alert", ALERTS)
def test_every_alert_has_a_firing_case_a_silent_case_and_a_runbook_section(alert: str) -> None:
    firing, silent = checks.alert_cases()[alert]
    assert firing >= 1
    assert silent >= 1
    rule = next(r for r in checks.alert_rules() if r["alert"] == alert)
    assert rule["annotations"]["runbook_url"] == f"deploy/README.md#{alert.lower()}"
    assert f"\n### {alert}\n" in checks.README.read_text()


def test_the_rules_pass_every_requirement() -> None:
    assert checks.alert_problems() == []


def test_the_prometheus_rule_is_generated_from_the_rules_file() -> None:
    assert checks.generated_problems() == []
    rule = yaml.safe_load(gen.PROMETHEUS_RULE.read_text())
    assert (rule["apiVersion"], rule["kind"]) == ("monitoring.coreos.com/v1", "PrometheusRule")
    assert rule["spec"] == yaml.safe_load(gen.ALERTS.read_text())


def test_the_rules_read_metrics_the_services_export() -> None:
    defined = checks.defined_metrics()
    assert {"consumer_lag", "outbox_relay_leader", "dlq_messages_total", "verifier_pends_expiring"} <= defined
    assert "faststream_received_processed_messages_duration_seconds_bucket" in defined
    assert "outbox_backlog_total" not in defined  # a gauge has no _total


def test_metric_names_are_read_out_of_promql() -> None:
    expr = (
        'sum by (consumer, topic, error) (increase(dlq_messages_total{error!="x"}[15m])) > 0 '
        "or max by (schema) (outbox_backlog and on (instance, schema) outbox_relay_leader == 1) > 1e3 "
        "or histogram_quantile(0.95, sum by (le) (rate(gateway_request_seconds_bucket[$__rate_interval]))) "
        "or (dlq_messages_total unless dlq_messages_total offset 15m)"
    )
    assert checks.promql_metrics(expr) == {
        "dlq_messages_total",
        "outbox_backlog",
        "outbox_relay_leader",
        "gateway_request_seconds_bucket",
    }


# --------------------------------------------------------------------------- the checks catch mistakes


def _copy(tmp_path: Path) -> tuple[Path, Path]:
    rules, tests = tmp_path / "alerts.yaml", tmp_path / "alerts.test.yaml"
    shutil.copy(gen.ALERTS, rules)
    shutil.copy(gen.ALERT_TESTS, tests)
    return rules, tests


def test_promtool_fails_a_rule_whose_firing_case_no_longer_fires(promtool: Path, tmp_path: Path) -> None:
    rules, tests = _copy(tmp_path)
    rules.write_text(rules.read_text().replace("(consumer_lag)) > 5000", "(consumer_lag)) > 7000"))
    (problem,) = checks.promtool_problems(promtool, rules, tests)
    assert problem.startswith("promtool test rules failed:")
    assert "alertname: JknConsumerLag" in problem


def test_an_alert_without_a_silent_case_a_runbook_or_a_known_metric_is_reported(tmp_path: Path) -> None:
    rules, tests = _copy(tmp_path)
    text = rules.read_text().replace("max(verifier_pends_expiring) > 0", "max(verifier_pends_expiring_total) > 0")
    text = text.replace("deploy/README.md#jknpayablesoverdue", "https://wiki.example.org/overdue")
    rules.write_text(text)
    doc = yaml.safe_load(tests.read_text())
    for test in doc["tests"]:
        test["alert_rule_test"] = [
            c for c in test["alert_rule_test"] if not (c["alertname"] == "JknPenaltyAccruing" and not c["exp_alerts"])
        ]
    tests.write_text(yaml.safe_dump(doc))
    assert checks.alert_problems(rules, tests) == [
        "alert JknPayablesOverdue: runbook_url must be deploy/README.md#jknpayablesoverdue",
        "alert JknPenaltyAccruing: alerts.test.yaml has no case where it stays silent",
        "alert JknPendsExpiring: verifier_pends_expiring_total is not a metric the services export "
        "(shared/metrics.py, services/*/metrics.py)",
    ]


def test_a_missing_runbook_section_is_reported(tmp_path: Path) -> None:
    readme = tmp_path / "README.md"
    readme.write_text(checks.README.read_text().replace("\n### JknConsumerLag\n", "\n### Consumer lag\n"))
    assert checks.alert_problems(readme=readme) == [
        "alert JknConsumerLag: deploy/README.md has no runbook section '### JknConsumerLag'"
    ]


def test_a_stale_prometheus_rule_is_reported(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    stale = tmp_path / "prometheusrule.yaml"
    stale.write_text(gen.render_rule().replace("> 5000", "> 50"))
    monkeypatch.setattr(gen, "PROMETHEUS_RULE", stale)
    assert gen.stale() == [stale]


def _compose_model(port_of_grouper: str = "8081") -> dict[str, Any]:
    ports = {"grouper": port_of_grouper, "verifier": "8082", "payments": "8083", "notifier": "8084"}
    ports |= {"gateway": "8085", "console": "8086"}
    services: dict[str, Any] = {n: {"environment": {"SERVICE_HTTP_PORT": p}} for n, p in ports.items()}
    here = f"{gen.DEPLOY}/monitoring"
    services["prometheus"] = {
        "command": ["--config.file=/etc/prometheus/prometheus.yaml"],
        "volumes": [
            {"target": "/etc/prometheus/prometheus.yaml", "source": f"{here}/prometheus.yaml"},
            {"target": "/etc/prometheus/alerts.yaml", "source": f"{here}/alerts.yaml"},
        ],
    }
    services["grafana"] = {
        "volumes": [
            {"target": "/etc/grafana/provisioning", "source": f"{here}/grafana/provisioning"},
            {"target": "/etc/grafana/dashboards/jkn-claims.json", "source": f"{here}/grafana/jkn-claims.json"},
        ]
    }
    return {"services": services}


def test_compose_prometheus_must_load_the_rules_and_scrape_every_service_on_its_port() -> None:
    assert checks.compose_monitoring_problems(_compose_model()) == []
    assert checks.compose_monitoring_problems(_compose_model(port_of_grouper="9081")) == [
        "prometheus.yaml: job grouper must scrape grouper:9081, not {'grouper:8081'}"
    ]
    without_rules = _compose_model()
    prometheus = without_rules["services"]["prometheus"]
    prometheus["volumes"] = prometheus["volumes"][:1]
    assert checks.compose_monitoring_problems(without_rules) == [
        "compose prometheus: rule file /etc/prometheus/alerts.yaml must be deploy/monitoring/alerts.yaml"
    ]
