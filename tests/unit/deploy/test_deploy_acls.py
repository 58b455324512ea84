"""Broker ACLs: every service may produce what it publishes and consume what it reads, and nothing more.

The expectations below are written by hand from what each service does (README's pipeline), not
computed by shared/access.py: a table change that grants or drops a topic fails here first.
"""

from __future__ import annotations

import yaml

from deploy import check_access
from deploy.gen_acls import render_compose_script, render_kafka_users
from shared.access import Acl, by_name

EVENT_TOPICS = [
    "claims.submitted", "claims.grouped", "claims.rejected", "claims.pended", "claims.verified", "claims.disputed",
    "claims.dispute-resolved", "claims.paid", "payments.overdue", "participants.changed",
    "payments.deadline-approaching", "claims.reminders", "capitation.paid", "verifier.commands", "payments.commands",
]  # fmt: skip
ALL_DLQS = {t + ".dlq" for t in EVENT_TOPICS}
CONSOLE_READS = {
    "claims.submitted", "claims.grouped", "claims.pended", "claims.rejected", "claims.verified",
    "claims.dispute-resolved", "claims.paid", "payments.overdue", "capitation.paid",
}  # fmt: skip

EXPECTED = {
    "grouper": {
        "writes": {"claims.grouped", "claims.rejected", "claims.submitted.dlq"},
        "reads": {"claims.submitted"},
        "groups": {"grouper"},
    },
    "verifier": {
        "writes": {
            "claims.rejected",
            "claims.pended",
            "claims.verified",
            "claims.dispute-resolved",
            "claims.reminders",
            "claims.grouped.dlq",
            "claims.disputed.dlq",
            "verifier.commands.dlq",
            "participants.changed.dlq",
        },
        "reads": {"claims.grouped", "claims.disputed", "verifier.commands", "participants.changed"},
        "groups": {"verifier"},
    },
    "payments": {
        "writes": {
            "claims.paid",
            "payments.overdue",
            "payments.deadline-approaching",
            "capitation.paid",
            "claims.verified.dlq",
            "payments.commands.dlq",
        },
        # claims.paid and capitation.paid: the reconciliation after a restore reads what payments published.
        "reads": {"claims.verified", "payments.commands", "claims.paid", "capitation.paid"},
        "groups": {"payments"},
    },
    "notifier": {
        "writes": {
            "claims.rejected.dlq",
            "claims.pended.dlq",
            "claims.verified.dlq",
            "claims.dispute-resolved.dlq",
            "claims.paid.dlq",
            "payments.overdue.dlq",
            "payments.deadline-approaching.dlq",
            "claims.reminders.dlq",
        },
        "reads": {
            "claims.rejected",
            "claims.pended",
            "claims.verified",
            "claims.dispute-resolved",
            "claims.paid",
            "payments.overdue",
            "payments.deadline-approaching",
            "claims.reminders",
        }
        | ALL_DLQS,  # the DLQ watcher alerts operators on every dead letter
        "groups": {"notifier", "notifier-dlq"},
    },
    "console": {
        # The commands its operators sign (as claimsctl publishes them), and its analytics read model's feed.
        "writes": {"verifier.commands", "payments.commands"} | {t + ".dlq" for t in CONSOLE_READS},
        "reads": CONSOLE_READS | ALL_DLQS,  # the operations page lists every dead letter
        "groups": {"console-analytics"},
    },
}


def _topics(rules: list[Acl], operation: str) -> set[str]:
    return {a.name for a in rules if a.resource_type == "topic" and a.operation == operation}


def test_each_service_may_exactly_what_it_uses() -> None:
    from shared.access import acls

    principals = by_name()
    for service, want in EXPECTED.items():
        rules = acls(principals[service])
        assert _topics(rules, "Write") == want["writes"], service
        assert _topics(rules, "Read") == want["reads"], service
        assert {a.name for a in rules if a.resource_type == "group" and a.operation == "Read"} == want["groups"]
        assert not [a for a in rules if a.pattern != "literal"], f"{service}: no prefix grants"
        assert not [a for a in rules if a.operation not in ("Read", "Write", "Describe")], service


def test_the_verifier_only_looks_at_the_grouper_it_waits_for() -> None:
    """The sweep's catch-up check reads the grouper's committed offsets and claims.submitted's end: Describe only."""
    from shared.access import acls

    rules = acls(by_name()["verifier"])
    assert Acl("topic", "claims.submitted", "Describe") in rules
    assert Acl("group", "grouper", "Describe") in rules
    assert Acl("topic", "claims.submitted", "Read") not in rules
    assert Acl("group", "grouper", "Read") not in rules


def test_the_console_only_looks_at_the_groups_whose_lag_its_operations_page_shows() -> None:
    """Every service's consumer group and the topics it consumes: end and committed offsets, Describe only."""
    from shared.access import acls

    rules = acls(by_name()["console"])
    groups = {a.name for a in rules if a.resource_type == "group" and a.operation == "Describe"}
    assert groups == {"grouper", "verifier", "payments", "notifier", "gateway"}
    described = _topics(rules, "Describe") - _topics(rules, "Read") - _topics(rules, "Write")
    assert described == {"claims.disputed", "claims.reminders", "participants.changed", "payments.deadline-approaching"}
    assert Acl("group", "grouper", "Read") not in rules


def test_only_the_verifier_and_the_redrive_tool_may_write_claims_verified() -> None:
    """The forged ClaimVerified of issue 12: an operator's or a hospital's credentials cannot write it."""
    from shared.access import acls, principals

    writers = {p.name for p in principals() if Acl("topic", "claims.verified", "Write") in acls(p)}
    assert writers == {"verifier", "claimsctl-redrive"}


def test_operators_write_commands_and_participants_and_hospitals_their_two_topics() -> None:
    from shared.access import acls

    principals = by_name()
    assert _topics(acls(principals["claimsctl"]), "Write") == {
        "verifier.commands", "payments.commands", "participants.changed",
    }  # fmt: skip
    assert _topics(acls(principals["claimsctl"]), "Read") == set(EVENT_TOPICS) | ALL_DLQS
    assert _topics(acls(principals["hospitals"]), "Write") == {"claims.submitted", "claims.disputed"}
    assert _topics(acls(principals["hospitals"]), "Read") == set()
    assert _topics(acls(principals["claimsctl-redrive"]), "Read") == ALL_DLQS


def _users() -> list[dict[str, object]]:
    return [d for d in yaml.safe_load_all(render_kafka_users()) if d]


def test_the_kafka_users_as_generated_pass_the_exact_access_check() -> None:
    docs = _users()
    granted = check_access.kafka_user_acls(docs)
    assert check_access.exact_access_problems("KafkaUsers", granted, check_access.service_needs()) == []


def test_a_grant_the_service_does_not_use_is_caught() -> None:
    docs = _users()
    grouper = next(d for d in docs if d["metadata"]["name"] == "grouper")  # type: ignore[index]
    grouper["spec"]["authorization"]["acls"].append(  # type: ignore[index]
        {"resource": {"type": "topic", "name": "claims.verified", "patternType": "literal"}, "operations": ["Write"]}
    )
    granted = check_access.kafka_user_acls(docs)
    assert check_access.exact_access_problems("KafkaUsers", granted, check_access.service_needs()) == [
        "KafkaUsers: grouper may Write topic claims.verified, which it does not use"
    ]


def test_a_missing_grant_the_service_needs_is_caught() -> None:
    docs = _users()
    payments = next(d for d in docs if d["metadata"]["name"] == "payments")  # type: ignore[index]
    acl_list = payments["spec"]["authorization"]["acls"]  # type: ignore[index]
    acl_list[:] = [a for a in acl_list if a["resource"]["name"] != "claims.paid"]
    granted = check_access.kafka_user_acls(docs)
    assert check_access.exact_access_problems("KafkaUsers", granted, check_access.service_needs()) == [
        "KafkaUsers: payments may not Describe topic claims.paid, which it needs",
        "KafkaUsers: payments may not Write topic claims.paid, which it needs",
        "KafkaUsers: payments lacks Read topic claims.paid (shared/access.py)",
    ]


def test_the_compose_script_grants_the_same_and_a_dropped_line_is_caught() -> None:
    script = render_compose_script()
    granted = check_access.compose_script_acls(script)
    assert check_access.exact_access_problems("access.sh", granted, check_access.service_needs()) == []
    assert Acl("topic", "sim-", "Write", "prefix") in granted["simulator"]
    without_group = "\n".join(
        line for line in script.splitlines() if not ("User:notifier" in line and "--group notifier" in line)
    )
    problems = check_access.exact_access_problems(
        "access.sh", check_access.compose_script_acls(without_group), check_access.service_needs()
    )
    assert problems == [
        "access.sh: notifier may not Read group notifier, which it needs",
        "access.sh: notifier lacks Read group notifier-dlq (shared/access.py)",
    ]


def test_a_kafka_user_with_a_bad_pattern_or_no_operations_is_refused() -> None:
    doc = {
        "metadata": {"name": "x", "labels": {"strimzi.io/cluster": "jkn-kafka"}},
        "spec": {
            "authentication": {"type": "scram-sha-512"},
            "authorization": {
                "type": "simple",
                "acls": [{"resource": {"type": "topic", "name": "t", "patternType": "glob"}, "operations": []}],
            },
        },
    }
    assert check_access.kafka_user_rule(doc) == [
        "acl patternType glob is not literal or prefix",
        "acl operations [] must be a non-empty list of ['All', 'Alter', 'AlterConfigs', 'ClusterAction', 'Create', "
        "'Delete', 'Describe', 'DescribeConfigs', 'IdempotentWrite', 'Read', 'Write']",
    ]


def test_a_plaintext_strimzi_listener_is_refused() -> None:
    kafka = {
        "spec": {
            "kafka": {"listeners": [{"name": "plain", "port": 9092, "type": "internal", "tls": False}]},
            "entityOperator": {"topicOperator": {}},
        }
    }
    assert check_access.strimzi_security_problems(kafka) == [
        "listener plain must have tls: true",
        "listener plain must authenticate with scram-sha-512",
        "spec.kafka.authorization.type must be simple (the KafkaUsers' ACLs)",
        "spec.entityOperator.userOperator is needed for the KafkaUser resources",
    ]
