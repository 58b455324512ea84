"""`python -m deploy.topics` (the compose topic-init job) against the real broker."""

from __future__ import annotations

import asyncio
import uuid
from pathlib import Path

import pytest

from deploy import topics
from deploy.local import Stack, free_port
from shared.topics import TopicSpec, all_topics

pytestmark = pytest.mark.integration


def test_creates_missing_topics_then_leaves_them(stack: Stack) -> None:
    specs = [
        TopicSpec(f"deploy-test-{uuid.uuid4().hex[:8]}", 3, 1),
        TopicSpec(f"deploy-test-{uuid.uuid4().hex[:8]}", 1, 7),
    ]
    created, present = asyncio.run(topics.ensure_topics(stack.bootstrap_servers, specs, wait_s=30))
    assert (created, present) == ([s.name for s in specs], [])
    created, present = asyncio.run(topics.ensure_topics(stack.bootstrap_servers, specs, wait_s=30))
    assert (created, present) == ([], [s.name for s in specs])


def test_main_creates_every_topic_of_the_table(stack: Stack, capsys: pytest.CaptureFixture[str]) -> None:
    assert topics.main(["--bootstrap", stack.bootstrap_servers, "--wait", "30"]) == 0
    existing = asyncio.run(topics.existing_topics(stack.bootstrap_servers))
    assert {t.name for t in all_topics()} <= existing
    assert f"topics: 0 created, {len(all_topics())} already present" in capsys.readouterr().out


def test_main_gives_up_when_no_broker_answers(capsys: pytest.CaptureFixture[str]) -> None:
    assert topics.main(["--bootstrap", f"127.0.0.1:{free_port()}", "--wait", "1"]) == 1
    assert "topics not created" in capsys.readouterr().err


def test_main_needs_a_broker(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    monkeypatch.delenv("KAFKA_BOOTSTRAP_SERVERS", raising=False)
    monkeypatch.setattr(topics, "STACK_ENV", tmp_path / "stack.env")
    assert topics.main([]) == 2
