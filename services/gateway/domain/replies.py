"""The three reply conventions the gateway speaks (no I/O).

- E-Klaim (`POST /v1/eklaim`): `{"metadata": {"code": 200, "message": "Ok"}, "response": ...}`, a refusal
  `{"metadata": {"code": 400, "message": ..., "error_no": "E20xx", "field": ...}}` (web service manual 5.10.x);
- VClaim (the monitor): `{"metaData": {"code": "200", "message": "OK"}, "response": ...}`, codes as strings;
- RFC 9457 problem details (`application/problem+json`) on `/v1/claims` and `/fhir`.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Final

from services.gateway.domain.errors import EklaimError

PROBLEM_JSON: Final = "application/problem+json"
JSON: Final = "application/json"
PROBLEM_TYPE: Final = "urn:jkn-claims:gateway:problem:"


@dataclass(frozen=True)
class Reply:
    """An answer: HTTP status, JSON body and media type (what an idempotent retry gets again)."""

    status: int
    body: Any
    content_type: str = JSON
    headers: dict[str, str] = field(default_factory=dict)


def eklaim_ok(response: Any = None, *, method: str | None = None) -> Reply:
    metadata: dict[str, Any] = {"code": 200, "message": "Ok"}
    if method is not None:
        metadata["method"] = method
    body: dict[str, Any] = {"metadata": metadata}
    if response is not None:
        body["response"] = response
    return Reply(200, body)


def eklaim_refusal(error: EklaimError, *, method: str | None = None) -> Reply:
    metadata: dict[str, Any] = {"code": error.status, "message": error.message, "error_no": error.error_no}
    if error.field is not None:
        metadata["field"] = error.field
    if method is not None:
        metadata["method"] = method
    return Reply(error.status, {"metadata": metadata})


def vclaim_ok(response: Any) -> Reply:
    return Reply(200, {"metaData": {"code": "200", "message": "OK"}, "response": response})


def vclaim_error(status: int, message: str) -> Reply:
    return Reply(status, {"metaData": {"code": str(status), "message": message}, "response": None})


@dataclass(eq=False)  # not frozen: Python sets __traceback__ on exceptions it raises
class Problem(Exception):
    """An RFC 9457 refusal: `errors` names each field and the rule it broke."""

    status: int
    kind: str  # the last part of the problem type URI
    title: str
    detail: str
    errors: tuple[dict[str, str], ...] = ()

    def reply(self, instance: str | None = None) -> Reply:
        body: dict[str, Any] = {"type": PROBLEM_TYPE + self.kind, "title": self.title, "status": self.status,
                                "detail": self.detail}  # fmt: skip
        if instance is not None:
            body["instance"] = instance
        if self.errors:
            body["errors"] = list(self.errors)
        return Reply(self.status, body, PROBLEM_JSON)


def field_errors(errors: list[dict[str, Any]]) -> tuple[dict[str, str], ...]:
    """pydantic's errors as {field, rule, message}: the contract's own messages, located by dotted path."""
    return tuple(
        {"field": ".".join(str(p) for p in e["loc"]) or "(body)", "rule": e["type"], "message": e["msg"]}
        for e in errors
    )
