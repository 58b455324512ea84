"""The relay's rules that need no broker: which refusals quarantine a row, the backoff, topic names."""

from __future__ import annotations

import pytest
from aiokafka import errors

from shared.outbox import backoff_s, is_permanent_refusal, topic_refusal


@pytest.mark.parametrize(
    "refusal",
    [
        errors.MessageSizeTooLargeError("over max_request_size"),
        errors.RecordListTooLargeError(),
        errors.InvalidTopicError(),
        errors.UnknownTopicOrPartitionError(),
        errors.TopicAuthorizationFailedError("claims.paid"),
        errors.CorruptRecordException(),
        errors.InvalidTimestampError(),
        # What the producer raises for a header name that is not valid UTF-8 (before, the relay retried forever)
        UnicodeEncodeError("utf-8", "\udcff-name", 0, 1, "surrogates not allowed"),
    ],
)
def test_a_refusal_of_the_row_itself_quarantines_it(refusal: Exception) -> None:
    assert is_permanent_refusal(refusal)


@pytest.mark.parametrize(
    "failure",
    [
        errors.KafkaTimeoutError(),  # broker away: aiokafka does not mark it retriable, it is
        errors.KafkaConnectionError("Connection at 127.0.0.1:9092 closed"),
        errors.NotLeaderForPartitionError(),
        errors.NotEnoughReplicasError(),
        errors.RequestTimedOutError(),
        errors.ProducerClosed(),
        errors.ClusterAuthorizationFailedError(),  # every row would fail: never a reason to set one aside
        TimeoutError("no acknowledgement within 60 s"),
        OSError("network unreachable"),
    ],
)
def test_anything_else_is_retried_and_quarantines_nothing(failure: Exception) -> None:
    assert not is_permanent_refusal(failure)


def test_backoff_doubles_from_half_a_second_to_thirty() -> None:
    assert [backoff_s(n) for n in range(1, 10)] == [0.5, 1.0, 2.0, 4.0, 8.0, 16.0, 30.0, 30.0, 30.0]


@pytest.mark.parametrize("name", ["claims.submitted", "claims.submitted.dlq", "prod_claims-paid", "a" * 249])
def test_legal_topic_names_are_sent(name: str) -> None:
    assert topic_refusal(name) is None


@pytest.mark.parametrize("name", ["bad topic!", "", ".", "..", "a" * 250, "claims/paid", "klaim\u00e9"])
def test_a_topic_name_kafka_cannot_have_is_refused_naming_the_rule(name: str) -> None:
    refusal = topic_refusal(name)
    assert isinstance(refusal, errors.InvalidTopicError)
    assert "not a legal Kafka topic name (1-249 of a-z A-Z 0-9 . _ -)" in str(refusal)
