"""Topic names, one table shared by the code, the local stack and the deployment manifests."""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class TopicSpec:
    name: str
    partitions: int
    retention_days: int
    # Topics hospitals write: the broker stamps each record with its append time
    # (message.timestamp.type=LogAppendTime), the instant BPJS received it, which dates deadlines
    # (README "Deadlines judged on receipt time"); a sender's clock can neither backdate nor lose it.
    log_append_time: bool = False

    def configs(self) -> dict[str, str]:
        """The topic-level broker configs this spec asks for."""
        configs = {"retention.ms": str(self.retention_days * MS_PER_DAY)}
        if self.log_append_time:
            configs[TIMESTAMP_TYPE] = LOG_APPEND_TIME
        return configs


MS_PER_DAY = 86_400_000
TIMESTAMP_TYPE = "message.timestamp.type"
LOG_APPEND_TIME = "LogAppendTime"


CLAIMS_SUBMITTED = "claims.submitted"
CLAIMS_GROUPED = "claims.grouped"
CLAIMS_REJECTED = "claims.rejected"
CLAIMS_PENDED = "claims.pended"
CLAIMS_VERIFIED = "claims.verified"
CLAIMS_DISPUTED = "claims.disputed"
CLAIMS_DISPUTE_RESOLVED = "claims.dispute-resolved"
CLAIMS_PAID = "claims.paid"
PAYMENTS_OVERDUE = "payments.overdue"
PARTICIPANTS_CHANGED = "participants.changed"
PAYMENTS_DEADLINE_APPROACHING = "payments.deadline-approaching"
CLAIMS_REMINDERS = "claims.reminders"
CAPITATION_PAID = "capitation.paid"
# Operator commands go to the owning service's command topic (consumed, deduplicated, audited).
VERIFIER_COMMANDS = "verifier.commands"
PAYMENTS_COMMANDS = "payments.commands"

# Partitions bound the consumers per group; 12 lets a group scale to 12 instances.
# Claims are kept 30 days on the broker (the database is the system of record);
# paid and overdue events 90 days so finance can re-read a quarter's close.
# The two topics hospitals write keep the broker's append time (receipt time, see TopicSpec).
EVENT_TOPICS: tuple[TopicSpec, ...] = (
    TopicSpec(CLAIMS_SUBMITTED, 12, 30, log_append_time=True),
    TopicSpec(CLAIMS_GROUPED, 12, 30),
    TopicSpec(CLAIMS_REJECTED, 12, 30),
    TopicSpec(CLAIMS_PENDED, 12, 30),
    TopicSpec(CLAIMS_VERIFIED, 12, 30),
    TopicSpec(CLAIMS_DISPUTED, 12, 30, log_append_time=True),
    TopicSpec(CLAIMS_DISPUTE_RESOLVED, 12, 30),
    TopicSpec(CLAIMS_PAID, 12, 90),
    TopicSpec(PAYMENTS_OVERDUE, 12, 90),
    TopicSpec(PARTICIPANTS_CHANGED, 12, 30),
    TopicSpec(PAYMENTS_DEADLINE_APPROACHING, 12, 30),
    TopicSpec(CLAIMS_REMINDERS, 12, 30),
    TopicSpec(CAPITATION_PAID, 12, 90),
    TopicSpec(VERIFIER_COMMANDS, 12, 90),
    TopicSpec(PAYMENTS_COMMANDS, 12, 90),
)

DLQ_SUFFIX = ".dlq"
DLQ_RETENTION_DAYS = 90


def dlq_topic(topic: str) -> str:
    """The dead-letter topic for `topic`."""
    return f"{topic}{DLQ_SUFFIX}"


def all_topics() -> tuple[TopicSpec, ...]:
    """Every event topic and its dead-letter topic (DLQs get 1 partition: low volume, kept in order)."""
    dlqs = tuple(TopicSpec(dlq_topic(t.name), 1, DLQ_RETENTION_DAYS) for t in EVENT_TOPICS)
    return EVENT_TOPICS + dlqs


# Who may produce on each topic: the kernel dead-letters anything else as `unauthorized-producer`
# (defence in depth behind the broker's ACLs). HOSPITAL means `hospital:<kode_rs>` of the payload's own
# hospital. Command topics are open to any producer here: commands are checked by operator signature.
HOSPITAL = "hospital"
ALLOWED_PRODUCERS: dict[str, frozenset[str]] = {
    CLAIMS_SUBMITTED: frozenset({HOSPITAL}),
    CLAIMS_DISPUTED: frozenset({HOSPITAL}),
    CLAIMS_GROUPED: frozenset({"grouper"}),
    CLAIMS_REJECTED: frozenset({"grouper", "verifier"}),
    CLAIMS_PENDED: frozenset({"verifier"}),
    CLAIMS_VERIFIED: frozenset({"verifier"}),
    CLAIMS_DISPUTE_RESOLVED: frozenset({"verifier"}),
    CLAIMS_REMINDERS: frozenset({"verifier"}),
    CLAIMS_PAID: frozenset({"payments"}),
    PAYMENTS_OVERDUE: frozenset({"payments"}),
    PAYMENTS_DEADLINE_APPROACHING: frozenset({"payments"}),
    CAPITATION_PAID: frozenset({"payments"}),
    # The membership system, and `claimsctl participants import` for a branch's CSV.
    PARTICIPANTS_CHANGED: frozenset({"membership", "claimsctl"}),
}
# Principals that write the hospitals' topics on their behalf: the hospital gateway publishes each
# hospital's claims with producer `hospital:<kode_rs>` of the hospital it authenticated, so the producer
# check above judges them as that hospital's (its kode_rs, its SEPs); the broker lets the gateway write there.
SPEAKS_FOR_HOSPITALS: frozenset[str] = frozenset({"gateway"})
