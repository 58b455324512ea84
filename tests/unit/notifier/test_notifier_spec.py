"""The notifier's spec and settings: what it consumes, runs and documents."""

from __future__ import annotations

from pathlib import Path

import pytest
from pydantic import ValidationError

from services.notifier.domain.messages import HANDLED_EVENTS
from services.notifier.service import SPEC, dlq_topics, make_spec
from services.notifier.settings import NotifierSettings, env_table
from shared import topics
from shared.events import event_type_name

README = (Path(__file__).resolve().parents[3] / "services" / "notifier" / "README.md").read_text()


def test_one_consumer_group_over_every_topic_it_tells_about() -> None:
    (consumes,) = SPEC.consumes
    assert consumes.name == "notifier"
    assert set(consumes.accepted) == {
        topics.CLAIMS_REJECTED, topics.CLAIMS_PENDED, topics.CLAIMS_VERIFIED, topics.CLAIMS_DISPUTE_RESOLVED,
        topics.CLAIMS_PAID, topics.PAYMENTS_OVERDUE, topics.PAYMENTS_DEADLINE_APPROACHING, topics.CLAIMS_REMINDERS,
    }  # fmt: skip
    assert {t for ts in consumes.accepted.values() for t in ts} == set(HANDLED_EVENTS)
    assert (SPEC.name, SPEC.schema, SPEC.default_http_port) == ("notifier", "notifier", 8084)
    assert [getattr(t, "__name__", "") for t in SPEC.background] == ["dispatcher", "dead_letters"]
    assert SPEC.migrations is not None and (SPEC.migrations / "0001_notifier.sql").exists()


def test_the_dlq_watcher_reads_every_dead_letter_topic() -> None:
    assert set(dlq_topics()) == {topics.dlq_topic(t.name) for t in topics.EVENT_TOPICS}
    assert all(t.startswith("x.") for t in dlq_topics("x."))
    prefixed = make_spec(topic_prefix="x.", schema="s", group="g")
    assert all(t.startswith("x.") for t in prefixed.consumes[0].accepted)


def test_every_handled_event_type_is_in_the_readme() -> None:
    for cls in HANDLED_EVENTS:
        assert f"`{event_type_name(cls)}`" in README


def test_every_setting_is_documented_in_the_notifier_readme() -> None:
    missing = [name for name, _, _ in env_table() if f"| `{name}` |" not in README]
    assert not missing, f"services/notifier/README.md lacks {missing}"


def test_a_lease_must_outlast_a_request() -> None:
    with pytest.raises(ValidationError, match="NOTIFIER_LEASE_S"):
        NotifierSettings(webhook_timeout_s=30, lease_s=60)
    assert NotifierSettings().lease_s > 2 * NotifierSettings().webhook_timeout_s
