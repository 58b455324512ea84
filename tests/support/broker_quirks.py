"""Make the in-process Kafka client leave a tansu group on stop, as it leaves a Kafka one.

tansu numbers a group's first generation 0 where Kafka starts at 1, and aiokafka sends LeaveGroup only
from generation 1 on (`GroupCoordinator._maybe_leave_group`). So on the embedded broker a stopped first
member stays in its group until its session times out, and an instance started after it in the same
group waits that long (6 s in the suite) before it is given partitions. On Kafka it leaves at once.
The suite restarts consumers in the same group often; this shim gives it Kafka's behaviour.
Processes the tests start (services in e2e tests) keep the library's own behaviour.
"""

from __future__ import annotations

import contextlib
from typing import Any

import aiokafka.errors as errors
from aiokafka.consumer.group_coordinator import GroupCoordinator
from aiokafka.protocol.group import JoinGroupRequest, LeaveGroupRequest

_original = GroupCoordinator._maybe_leave_group


async def _maybe_leave_group(self: Any) -> None:
    if self.generation == 0 and self.member_id != JoinGroupRequest.UNKNOWN_MEMBER_ID:
        if self._group_instance_id is None:  # static members never leave, as in the library
            with contextlib.suppress(errors.KafkaError):  # best effort, as in the library
                await self._send_req(LeaveGroupRequest(self.group_id, self.member_id))
        self.reset_generation()
        return
    await _original(self)


def leave_groups_from_generation_zero() -> None:
    """Install the shim for this process (idempotent)."""
    GroupCoordinator._maybe_leave_group = _maybe_leave_group
