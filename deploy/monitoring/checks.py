"""The monitoring part of `make deploy-check`: alert rules, their promtool tests, the dashboard.

Each function returns a list of problems (empty: passed). deploy/check.py runs them (promtool is the
real one, Debian's prometheus package, `make tools`); tests/unit/deploy/test_alert_rules.py and
test_dashboard.py run them too. Metric names are checked against what the code defines: the
prometheus_client registry once every service's modules are imported, and FastStream's middleware.
"""

from __future__ import annotations

import functools
import importlib
import json
import re
import subprocess
import tempfile
from collections.abc import Iterable, Mapping, Sequence
from pathlib import Path
from typing import Any

import yaml

from deploy.monitoring.gen import ALERT_TESTS, ALERTS, DASHBOARD, DEPLOY, stale

REPO = DEPLOY.parent
README = DEPLOY / "README.md"
PROMETHEUS_CONFIG = DEPLOY / "monitoring" / "prometheus.yaml"
RUNBOOK_PREFIX = "deploy/README.md#"
SEVERITIES = frozenset({"critical", "warning", "info"})
DATASOURCE_UID = "${datasource}"
# Series Prometheus itself makes for every target.
PROMETHEUS_BUILTINS = frozenset({"up", "scrape_duration_seconds", "scrape_samples_scraped"})
_SUFFIXES = {
    "counter": ("_total", "_created"),
    "gauge": ("",),
    "histogram": ("_bucket", "_sum", "_count", "_created"),
    "summary": ("", "_sum", "_count", "_created"),
    "info": ("_info",),
}

Doc = dict[str, Any]
_LOADER = getattr(yaml, "CSafeLoader", yaml.SafeLoader)  # libyaml when present: the test file is long


def _load(path: Path) -> Any:
    return yaml.load(path.read_text(), Loader=_LOADER)  # a safe loader, C or Python


# --------------------------------------------------------------------------- what the code defines


def _exported(families: Iterable[Any]) -> set[str]:
    """The series names Prometheus scrapes for metric families (a Counter "x" is scraped as x_total)."""
    names: set[str] = set()
    for family in families:
        names.update(family.name + suffix for suffix in _SUFFIXES.get(family.type, ("",)))
    return names


@functools.cache
def defined_metrics() -> frozenset[str]:
    """Every series name the services export: their modules imported, then the registries read."""
    from faststream.kafka.prometheus import KafkaPrometheusMiddleware
    from prometheus_client import CollectorRegistry

    from shared import metrics
    from shared.services import SERVICES

    SERVICES()  # imports every service's modules, with the metrics they define
    for path in sorted((REPO / "services").glob("*/metrics.py")):
        importlib.import_module(f"services.{path.parent.name}.metrics")
    faststream = CollectorRegistry()
    KafkaPrometheusMiddleware(registry=faststream, app_name="any")  # the runtime's middleware
    return frozenset(_exported(metrics.registry.collect()) | _exported(faststream.collect()) | PROMETHEUS_BUILTINS)


_KEYWORDS = frozenset({"by", "without", "on", "ignoring", "group_left", "group_right", "and", "or", "unless", "bool"})


def promql_metrics(expr: str) -> set[str]:
    """The metric names a PromQL expression selects (strings, matchers, ranges and label lists removed)."""
    text = re.sub(r'"(?:[^"\\]|\\.)*"', '""', expr)
    text = re.sub(r"\{[^}]*\}", " ", text)
    text = re.sub(r"\[[^\]]*\]", " ", text)
    text = re.sub(r"\b(by|without|on|ignoring|group_left|group_right)\s*\([^)]*\)", " ", text)
    text = re.sub(r"\boffset\s+-?\w+", " ", text)
    names: set[str] = set()
    for match in re.finditer(r"[A-Za-z_:][A-Za-z0-9_:]*", text):
        before = text[match.start() - 1] if match.start() else " "
        if before in "$.0123456789" or re.match(r"\s*\(", text[match.end() :]):
            continue  # a Grafana variable, part of a number, a function or an aggregation
        if match.group().lower() not in _KEYWORDS | {"inf", "nan"}:
            names.add(match.group())
    return names


def unknown_metrics(where: str, expr: str) -> list[str]:
    """A problem for each metric an expression names that no code defines."""
    return [
        f"{where}: {name} is not a metric the services export (shared/metrics.py, services/*/metrics.py)"
        for name in sorted(promql_metrics(expr) - defined_metrics())
    ]


# --------------------------------------------------------------------------- alert rules


def alert_rules(path: Path = ALERTS) -> list[Doc]:
    """Every alerting rule of a rules file, in order."""
    doc = _load(path)
    return [rule for group in doc["groups"] for rule in group["rules"] if "alert" in rule]


def alert_cases(path: Path = ALERT_TESTS) -> dict[str, tuple[int, int]]:
    """{alert: (cases expecting it to fire, cases expecting it silent)} of a promtool test file."""
    cases: dict[str, tuple[int, int]] = {}
    for test in _load(path).get("tests") or []:
        for case in test.get("alert_rule_test") or []:
            firing, silent = cases.get(case["alertname"], (0, 0))
            cases[case["alertname"]] = (firing + 1, silent) if case.get("exp_alerts") else (firing, silent + 1)
    return cases


def heading_anchor(heading: str) -> str:
    """The anchor a Markdown heading gets (GitHub's rule: lower case, punctuation dropped, spaces to -)."""
    return re.sub(r"[^\w\- ]", "", heading.strip().lower()).replace(" ", "-")


def readme_anchors(readme: Path = README) -> set[str]:
    """The anchors of every heading of a Markdown file (code blocks skipped)."""
    anchors: set[str] = set()
    fenced = False
    for line in readme.read_text().splitlines():
        if line.startswith("```"):
            fenced = not fenced
        elif not fenced and (m := re.match(r"#{1,6}\s+(.*)", line)):
            anchors.add(heading_anchor(m.group(1)))
    return anchors


def _service_jobs(expr: str) -> set[str] | None:
    """The jobs an `up{job=~"a|b"}` selector names, if the expression has one."""
    found = re.search(r'up\{job=~"([^"]+)"\}', expr)
    return set(found.group(1).split("|")) if found else None


def alert_problems(rules_path: Path = ALERTS, tests_path: Path = ALERT_TESTS, readme: Path = README) -> list[str]:
    """Each alert: a severity, a summary and description, a runbook section, a firing and a silent test
    case, only metrics the code defines; the service-down alerts cover every service."""
    from shared.services import SERVICE_NAMES

    anchors = readme_anchors(readme)
    cases = alert_cases(tests_path)
    problems: list[str] = []
    names = [rule["alert"] for rule in alert_rules(rules_path)]
    problems += [f"alert {n} is defined twice" for n in sorted({n for n in names if names.count(n) > 1})]
    for rule in alert_rules(rules_path):
        name, where = rule["alert"], f"alert {rule['alert']}"
        labels, notes = rule.get("labels") or {}, rule.get("annotations") or {}
        if labels.get("severity") not in SEVERITIES:
            problems.append(f"{where}: labels.severity must be one of {sorted(SEVERITIES)}")
        problems += [f"{where}: needs annotations.{k}" for k in ("summary", "description") if not notes.get(k)]
        url = str(notes.get("runbook_url", ""))
        if url != RUNBOOK_PREFIX + heading_anchor(name):
            problems.append(f"{where}: runbook_url must be {RUNBOOK_PREFIX}{heading_anchor(name)}")
        elif heading_anchor(name) not in anchors:
            problems.append(f"{where}: deploy/README.md has no runbook section '### {name}'")
        firing, silent = cases.get(name, (0, 0))
        if not firing:
            problems.append(f"{where}: {tests_path.name} has no case where it fires")
        if not silent:
            problems.append(f"{where}: {tests_path.name} has no case where it stays silent")
        problems += unknown_metrics(where, str(rule["expr"]))
        jobs = _service_jobs(str(rule["expr"]))
        if jobs is not None and jobs != set(SERVICE_NAMES):
            problems.append(f"{where}: watches jobs {sorted(jobs)}, the services are {sorted(SERVICE_NAMES)}")
    undefined = sorted(set(cases) - set(names))
    problems += [f"{tests_path.name}: tests {n}, which {rules_path.name} does not define" for n in undefined]
    return problems


def promtool_problems(
    promtool: Path, rules: Path = ALERTS, tests: Path = ALERT_TESTS, config: Path = PROMETHEUS_CONFIG
) -> list[str]:
    """promtool check rules, test rules (the cases of alerts.test.yaml) and check config (syntax)."""
    problems: list[str] = []
    steps = (
        ["check", "rules", str(rules)],
        ["test", "rules", str(tests)],
        ["check", "config", "--syntax-only", str(config)],
    )
    for args in steps:
        result = subprocess.run([str(promtool), *args], capture_output=True, text=True, cwd=REPO, timeout=120)
        if result.returncode != 0:
            output = (result.stdout + result.stderr).strip()
            problems.append(f"promtool {' '.join(args[:2])} failed:\n{output}")
    return problems


def generated_problems() -> list[str]:
    """The Kubernetes component's copies equal what `python -m deploy.monitoring.gen` writes."""
    return [f"{p.relative_to(REPO)} is out of date: run python -m deploy.monitoring.gen and commit it" for p in stale()]


# --------------------------------------------------------------------------- dashboard


def _panels(panels: Sequence[Doc]) -> Iterable[Doc]:
    for panel in panels:
        yield panel
        yield from _panels(panel.get("panels") or [])  # a collapsed row holds its panels


def dashboard_problems(path: Path = DASHBOARD) -> list[str]:
    """Valid JSON; a uid; the data source a template variable; unique panel ids inside the 24-column
    grid; every query's expression names only metrics the code defines."""
    try:
        dashboard = json.loads(path.read_text())
    except json.JSONDecodeError as exc:
        return [f"{path.name}: not valid JSON: {exc}"]
    problems: list[str] = []
    if not dashboard.get("uid") or not dashboard.get("title"):
        problems.append(f"{path.name}: needs a uid and a title (provisioning and the sidecar key on them)")
    variables = {v.get("name"): v for v in (dashboard.get("templating") or {}).get("list") or []}
    source = variables.get("datasource") or {}
    if source.get("type") != "datasource" or source.get("query") != "prometheus":
        problems.append(f"{path.name}: needs a template variable datasource of type datasource, query prometheus")
    ids: list[Any] = []
    queries = 0
    for panel in _panels(dashboard.get("panels") or []):
        where = f"{path.name} panel {panel.get('id')} ({panel.get('title')})"
        ids.append(panel.get("id"))
        grid = panel.get("gridPos") or {}
        if not all(isinstance(grid.get(k), int) for k in ("h", "w", "x", "y")) or grid["x"] + grid["w"] > 24:
            problems.append(f"{where}: gridPos needs h, w, x, y within the 24 columns")
        if panel.get("type") == "row":
            continue
        targets = panel.get("targets") or []
        if not targets:
            problems.append(f"{where}: has no query")
        for item in (panel, *targets):
            if (item.get("datasource") or {}).get("uid") != DATASOURCE_UID:
                problems.append(f"{where}: datasource must be the variable {DATASOURCE_UID}")
        for target in targets:
            expr = str(target.get("expr") or "")
            queries += 1
            if not expr:
                problems.append(f"{where}: query {target.get('refId')} has no expr")
            problems += unknown_metrics(where, expr)
    duplicates = sorted({i for i in ids if ids.count(i) > 1}, key=str)
    problems += [f"{path.name}: panel id {i} is used twice" for i in duplicates]
    problems += [f"{path.name}: a panel has no integer id" for i in ids if not isinstance(i, int)]
    if not queries:
        problems.append(f"{path.name}: no panel has a query")
    return problems


_GRAFANA_VARIABLES = {"$__rate_interval": "1m", "$__interval": "1m", "$__range": "6h"}


def dashboard_promql_problems(promtool: Path, path: Path = DASHBOARD) -> list[str]:
    """Every panel query parses as PromQL: promtool checks them as recording rules (Grafana's interval
    variables replaced by durations)."""
    rules = []
    for panel in _panels(json.loads(path.read_text()).get("panels") or []):
        for target in panel.get("targets") or []:
            expr = str(target.get("expr") or "")
            for variable, duration in _GRAFANA_VARIABLES.items():
                expr = expr.replace(variable, duration)
            rules.append({"record": f"dashboard:panel_{panel.get('id')}_{target.get('refId')}", "expr": expr})
    with tempfile.TemporaryDirectory(prefix="jkn-dashboard-") as tmp:
        rules_file = Path(tmp) / "dashboard-queries.yaml"
        rules_file.write_text(yaml.safe_dump({"groups": [{"name": "dashboard", "rules": rules}]}))
        result = subprocess.run(
            [str(promtool), "check", "rules", str(rules_file)], capture_output=True, text=True, timeout=120
        )
    if result.returncode != 0:
        return [f"{path.name}: a query is not valid PromQL:\n{(result.stdout + result.stderr).strip()}"]
    return []


# --------------------------------------------------------------------------- where they are deployed


def _mounts(service: Doc) -> dict[str, str]:
    """{container path: source} of a compose service's bind mounts and volumes."""
    return {str(v.get("target")): str(v.get("source")) for v in service.get("volumes") or []}


def compose_monitoring_problems(model: Doc) -> list[str]:
    """The profile "monitoring": Prometheus loads the rules and scrapes every service on its port under
    its name; Grafana provisions the dashboard."""
    from shared.services import SERVICE_NAMES

    services: dict[str, Doc] = model.get("services") or {}
    problems: list[str] = []
    prometheus, grafana = services.get("prometheus"), services.get("grafana")
    if prometheus is None or grafana is None:
        return ["compose (monitoring profile): needs services prometheus and grafana"]
    mounts = _mounts(prometheus)
    command = " ".join(prometheus.get("command") or [])
    config_in = re.search(r"--config\.file=(\S+)", command)
    if config_in is None or not mounts.get(config_in.group(1), "").endswith("deploy/monitoring/prometheus.yaml"):
        problems.append("compose prometheus: --config.file must be deploy/monitoring/prometheus.yaml, mounted")
    config = yaml.safe_load(PROMETHEUS_CONFIG.read_text())
    for rule_file in config.get("rule_files") or []:
        if not mounts.get(rule_file, "").endswith("deploy/monitoring/alerts.yaml"):
            problems.append(f"compose prometheus: rule file {rule_file} must be deploy/monitoring/alerts.yaml")
    if not config.get("rule_files"):
        problems.append("deploy/monitoring/prometheus.yaml: rule_files must load the alerts")
    scraped: dict[str, set[str]] = {}
    for job in config.get("scrape_configs") or []:
        targets = {f"{n}:{sd.get('port')}" for sd in job.get("dns_sd_configs") or [] for n in sd.get("names") or []}
        targets |= {t for sc in job.get("static_configs") or [] for t in sc.get("targets") or []}
        scraped[job["job_name"]] = targets
    for name in SERVICE_NAMES:
        port = str(((services.get(name) or {}).get("environment") or {}).get("SERVICE_HTTP_PORT", "?"))
        if scraped.get(name) != {f"{name}:{port}"}:
            problems.append(f"prometheus.yaml: job {name} must scrape {name}:{port}, not {scraped.get(name)}")
    gmounts = _mounts(grafana)
    if not any(s.endswith("deploy/monitoring/grafana/jkn-claims.json") for s in gmounts.values()):
        problems.append("compose grafana: must mount deploy/monitoring/grafana/jkn-claims.json")
    if not gmounts.get("/etc/grafana/provisioning", "").endswith("deploy/monitoring/grafana/provisioning"):
        problems.append("compose grafana: must mount deploy/monitoring/grafana/provisioning there")
    return problems


def k8s_monitoring_problems(docs: Sequence[Doc]) -> list[str]:
    """A rendered overlay with the monitoring component: the PrometheusRule holds the rules file's groups,
    a ConfigMap labelled for Grafana's sidecar holds the dashboard."""
    rules = [d for d in docs if d.get("kind") == "PrometheusRule"]
    boards = [d for d in docs if d.get("kind") == "ConfigMap" and _labels(d).get("grafana_dashboard") == "1"]
    problems: list[str] = []
    expected = yaml.safe_load(ALERTS.read_text())
    if len(rules) != 1 or rules[0].get("spec") != expected:
        problems.append("PrometheusRule: expected one, its spec the groups of deploy/monitoring/alerts.yaml")
    if len(boards) != 1 or (boards[0].get("data") or {}).get(DASHBOARD.name) != DASHBOARD.read_text():
        problems.append(f"ConfigMap with label grafana_dashboard=1: expected one holding {DASHBOARD.name}")
    return problems


def _labels(doc: Mapping[str, Any]) -> Mapping[str, str]:
    labels: Mapping[str, str] = (doc.get("metadata") or {}).get("labels") or {}
    return labels


def prometheus_rule_rule(doc: Doc) -> list[str]:
    """Required fields of a PrometheusRule (no Kubernetes schema for it)."""
    groups = (doc.get("spec") or {}).get("groups") or []
    problems = [] if groups else ["spec.groups is required"]
    for group in groups:
        if not group.get("name") or not group.get("rules"):
            problems.append("every group needs name and rules")
        for rule in group.get("rules") or []:
            if not (rule.get("alert") or rule.get("record")) or not rule.get("expr"):
                problems.append(f"rule {rule.get('alert') or rule.get('record')} needs alert or record, and expr")
    return problems
