"""The topics hospitals write keep the broker's append time, in every place topics are made."""

from __future__ import annotations

from deploy.check import parse_docs, topic_problems
from deploy.gen_topics import render
from shared.topics import TopicSpec, all_topics


def test_only_the_topics_hospitals_write_ask_for_log_append_time() -> None:
    stamped = sorted(t.name for t in all_topics() if t.log_append_time)
    assert stamped == ["claims.disputed", "claims.submitted"]


def test_the_broker_configs_of_a_hospital_topic_and_of_an_internal_one() -> None:
    assert TopicSpec("claims.submitted", 12, 30, log_append_time=True).configs() == {
        "retention.ms": "2592000000",
        "message.timestamp.type": "LogAppendTime",
    }
    assert TopicSpec("claims.grouped", 12, 30).configs() == {"retention.ms": "2592000000"}


def test_the_kubernetes_topics_carry_the_timestamp_type() -> None:
    docs = {d["spec"]["topicName"]: d["spec"]["config"] for d in parse_docs(render())}
    assert docs["claims.submitted"]["message.timestamp.type"] == "LogAppendTime"
    assert docs["claims.disputed"]["message.timestamp.type"] == "LogAppendTime"
    assert "message.timestamp.type" not in docs["claims.grouped"]


def test_a_manifest_that_lost_log_append_time_is_a_problem() -> None:
    text = render().replace("    message.timestamp.type: LogAppendTime\n", "", 1)
    assert topic_problems(parse_docs(text)) == [
        "KafkaTopic claims.submitted: (12, 2592000000, 'CreateTime') != "
        "(partitions, retention.ms, message.timestamp.type) (12, 2592000000, 'LogAppendTime')"
    ]
