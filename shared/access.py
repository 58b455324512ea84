"""Who may do what on the broker: one principal per service and per operators' tool, and its ACLs.

Generated from the tables the code already runs on, so the broker's ACLs cannot drift from it:
- what a service **reads**: the topics its consumers accept (`ServiceSpec.consumes`, shared/services.py),
  plus what it reads beside them (`READS_BESIDES_CONSUMERS`: the notifier's DLQ watcher);
- what a principal **writes**: the topics `shared.topics.ALLOWED_PRODUCERS` lets it produce, plus the
  dead-letter topic of every topic it consumes (the kernel dead-letters there), plus `OPERATOR_WRITES`
  for the operators' tools and the console (`WRITES_BESIDES_PRODUCERS`);
- the consumer **groups** it joins: its consumers' names (and `GROUPS_BESIDES_CONSUMERS`);
- what it only **looks at** (Describe: end offsets, another group's committed offsets): the verifier's
  sweep waits for the groups and topics of `services.verifier.settings.DEFAULT_SWEEP_WAITS_FOR`; the
  console's operations page measures every consumer group's lag (`WATCHES_EVERY_GROUP`).

Compose (`deploy/gen_acls.py` -> deploy/kafka-acls.sh) and Kubernetes (Strimzi `KafkaUser`s,
deploy/k8s/base/kafka-users.yaml) are both rendered from `principals()`; `make deploy-check`
compares them, and tests/unit/deploy/test_deploy_acls.py holds the hand-written expectation.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

from shared import topics

Operation = Literal["Read", "Write", "Describe", "Create"]
ResourceType = Literal["topic", "group"]
PatternType = Literal["literal", "prefix"]

# Operators' tools (claimsctl): signed commands to the services, the participants import, and read-only
# views of every topic (tail, dlq show). They join no consumer group (they read by assignment).
CLAIMSCTL = "claimsctl"
OPERATOR_WRITES: frozenset[str] = frozenset({topics.VERIFIER_COMMANDS, topics.PAYMENTS_COMMANDS})
# `claimsctl dlq redrive`: reads the dead letters and republishes their original bytes to the source
# topic. Kept apart from claimsctl, so the everyday operator principal cannot write events.
REDRIVE = "claimsctl-redrive"
# The hospitals' gateway (and `claimsctl submit` on its behalf): the two topics hospitals write.
HOSPITALS = "hospitals"
# Compose's demo profile: `claimsctl simulate` runs its own copy of the pipeline on topics and groups
# named sim-<run>... (services/simulator/cli.py), which it creates; it may touch nothing else.
SIMULATOR = "simulator"
# Compose's `topic-init` job (python -m deploy.topics): creates the table's topics, nothing else.
TOPIC_INIT = "topic-init"
SIMULATOR_PREFIX = "sim-"

READS_BESIDES_CONSUMERS: dict[str, frozenset[str]] = {
    # The DLQ watcher (services/notifier/entrypoints/dead_letters.py) alerts operators on every dead letter.
    "notifier": frozenset(topics.dlq_topic(t.name) for t in topics.EVENT_TOPICS),
    # After a restore, payments rebuilds the payments its database lacks from what it published
    # (services/payments/entrypoints/reconciler.py): the broker outlives the database.
    "payments": frozenset({topics.CLAIMS_PAID, topics.CAPITATION_PAID}),
    # The console's operations page lists every dead letter (by assignment, no group) to redrive it.
    "console": frozenset(topics.dlq_topic(t.name) for t in topics.EVENT_TOPICS),
}
# The console's operations page measures every service's consumer lag: end offsets of the topics each
# group consumes and the group's committed offsets (Describe only; it joins none of those groups).
WATCHES_EVERY_GROUP: frozenset[str] = frozenset({"console"})
GROUPS_BESIDES_CONSUMERS: dict[str, frozenset[str]] = {"notifier": frozenset({"notifier-dlq"})}
# The operator console publishes, from its outbox, the commands its signed-in operators sign (exactly what
# claimsctl publishes for them); the services check each command's operator signature, not the principal.
WRITES_BESIDES_PRODUCERS: dict[str, frozenset[str]] = {"console": OPERATOR_WRITES}


@dataclass(frozen=True)
class Principal:
    """A broker user (SCRAM user in Compose, KafkaUser in Kubernetes) and what it needs."""

    name: str
    writes: frozenset[str]
    reads: frozenset[str]
    groups: frozenset[str] = frozenset()
    describes: frozenset[str] = frozenset()  # topics whose offsets it only looks at
    describes_groups: frozenset[str] = frozenset()  # groups whose committed offsets it only looks at
    creates: frozenset[str] = frozenset()  # topics it may create (and look up)
    owns_prefix: str | None = None  # topics and groups named with this prefix are its own (create, use)


@dataclass(frozen=True, order=True)
class Acl:
    """One allow rule: `operation` on the `resource_type` named `name` (exactly, or every name it prefixes)."""

    resource_type: ResourceType
    name: str
    operation: Operation
    pattern: PatternType = "literal"


def produced_by(principal: str) -> frozenset[str]:
    """The topics `shared.topics.ALLOWED_PRODUCERS` lets `principal` produce (the hospitals' own topics for
    a principal of `shared.topics.SPEAKS_FOR_HOSPITALS`)."""
    speaks_for = {topics.HOSPITAL} if principal in topics.SPEAKS_FOR_HOSPITALS else set()
    return frozenset(t for t, who in topics.ALLOWED_PRODUCERS.items() if principal in who or who & speaks_for)


def _service(name: str) -> Principal:
    from services.verifier.settings import DEFAULT_SWEEP_WAITS_FOR
    from shared.services import SERVICES

    spec = next(s for s in SERVICES() if s.name == name)
    consumed = frozenset(t for c in spec.consumes for t in c.accepted)
    groups = frozenset(c.name for c in spec.consumes) | GROUPS_BESIDES_CONSUMERS.get(name, frozenset())
    reads = consumed | READS_BESIDES_CONSUMERS.get(name, frozenset())
    describes: frozenset[str] = frozenset()
    describes_groups: frozenset[str] = frozenset()
    if name == "verifier":  # the sweep waits until the upstream groups have caught up (end and committed offsets)
        describes = frozenset(t for ts in DEFAULT_SWEEP_WAITS_FOR.values() for t in ts) - reads
        describes_groups = frozenset(DEFAULT_SWEEP_WAITS_FOR) - groups
    if name in WATCHES_EVERY_GROUP:
        watched = [c for other in SERVICES() for c in other.consumes]
        describes = frozenset(t for c in watched for t in c.accepted) - reads
        describes_groups = frozenset(c.name for c in watched) - groups
    return Principal(
        name=name,
        writes=produced_by(name)
        | frozenset(topics.dlq_topic(t) for t in consumed)
        | WRITES_BESIDES_PRODUCERS.get(name, frozenset()),
        reads=reads,
        groups=groups,
        describes=describes,
        describes_groups=describes_groups,
    )


def principals() -> list[Principal]:
    """Every principal: the services (pipeline order), then the operators' tools and the hospitals."""
    from shared.services import SERVICES

    every_topic = frozenset(t.name for t in topics.all_topics())
    dead_letters = frozenset(topics.dlq_topic(t.name) for t in topics.EVENT_TOPICS)
    return [
        *(_service(spec.name) for spec in SERVICES()),
        Principal(CLAIMSCTL, writes=OPERATOR_WRITES | produced_by(CLAIMSCTL), reads=every_topic),
        Principal(REDRIVE, writes=frozenset(t.name for t in topics.EVENT_TOPICS), reads=dead_letters),
        Principal(HOSPITALS, writes=produced_by(topics.HOSPITAL), reads=frozenset()),
    ]


def acls(principal: Principal) -> list[Acl]:
    """The broker ACLs that give `principal` exactly what it needs (Describe goes with Read and Write:
    clients look up a topic's metadata before using it)."""
    rules: set[Acl] = set()
    for topic in principal.writes:
        rules |= {Acl("topic", topic, "Write"), Acl("topic", topic, "Describe")}
    for topic in principal.reads:
        rules |= {Acl("topic", topic, "Read"), Acl("topic", topic, "Describe")}
    rules |= {Acl("topic", topic, "Describe") for topic in principal.describes}
    for topic in principal.creates:
        rules |= {Acl("topic", topic, "Create"), Acl("topic", topic, "Describe")}
    rules |= {Acl("group", group, "Read") for group in principal.groups}
    rules |= {Acl("group", group, "Describe") for group in principal.describes_groups}
    if principal.owns_prefix:
        own = principal.owns_prefix
        rules |= {Acl("topic", own, op, "prefix") for op in ("Create", "Describe", "Read", "Write")}
        rules.add(Acl("group", own, "Read", "prefix"))
    return sorted(rules)


def compose_principals() -> list[Principal]:
    """Compose only (Kubernetes has the Strimzi Topic Operator and no simulator): `topic-init`, which may
    create exactly the table's topics, and the demo's simulator, on its own prefixed topics and groups."""
    every_topic = frozenset(t.name for t in topics.all_topics())
    return [
        Principal(TOPIC_INIT, writes=frozenset(), reads=frozenset(), creates=every_topic),
        Principal(SIMULATOR, writes=frozenset(), reads=frozenset(), owns_prefix=SIMULATOR_PREFIX),
    ]


def by_name() -> dict[str, Principal]:
    """{principal name: principal}."""
    return {p.name: p for p in principals()}
