"""Alerts and dashboards: Prometheus rules, their promtool tests, the Grafana dashboard (deploy/README.md)."""
