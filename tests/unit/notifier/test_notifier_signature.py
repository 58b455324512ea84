"""The webhook signature: the recipe documented in services/notifier/README.md verifies it."""

from __future__ import annotations

import hashlib
import hmac
import re
from collections.abc import Callable
from pathlib import Path
from typing import Any, cast

import pytest

from services.notifier.domain.signature import REPLAY_WINDOW_S, sign, verify, webhook_headers

README = Path(__file__).resolve().parents[3] / "services" / "notifier" / "README.md"
SECRET = "s3cret-of-rs-0301R001"
BODY = b'{"event_id":"3f1d8a6b","event_type":"ClaimPended","text":"Klaim ditunda"}'
NOW = 1_795_000_000

Verifier = Callable[..., bool]


def documented_verifier() -> Verifier:
    """The receiver example from the README, executed as written."""
    block = re.search(r"```python\n(.*?)```", README.read_text(), re.S)
    assert block, "the README has no python receiver example"
    namespace: dict[str, Any] = {}
    exec(block.group(1), namespace)
    return cast(Verifier, namespace["verify_jkn_webhook"])


def headers_for(body: bytes, timestamp: int = NOW, *secrets: str) -> dict[str, str]:
    return webhook_headers(
        secrets or (SECRET,), timestamp=timestamp, body=body, event_id="3f1d8a6b", event_type="ClaimPended",
        delivery_id=7,
    )  # fmt: skip


def test_signature_is_hmac_sha256_over_timestamp_dot_body() -> None:
    expected = hmac.new(SECRET.encode(), f"{NOW}.".encode() + BODY, hashlib.sha256).hexdigest()
    assert sign(SECRET, NOW, BODY) == f"v1={expected}"


def test_headers_carry_timestamp_signature_idempotency_key_and_event_type() -> None:
    h = headers_for(BODY)
    assert h["X-JKN-Timestamp"] == str(NOW)
    assert h["X-JKN-Signature"] == sign(SECRET, NOW, BODY)
    assert h["Idempotency-Key"] == "3f1d8a6b"
    assert h["X-JKN-Event-Type"] == "ClaimPended"


def test_the_documented_recipe_verifies_a_signed_body() -> None:
    verify_documented = documented_verifier()
    assert verify_documented(SECRET, headers_for(BODY), BODY, now=NOW + 10)
    assert verify(SECRET, str(NOW), sign(SECRET, NOW, BODY), BODY, now=NOW)


def test_a_tampered_body_fails() -> None:
    verify_documented = documented_verifier()
    h = headers_for(BODY)
    tampered = BODY.replace(b"ditunda", b"dibayar")
    assert not verify_documented(SECRET, h, tampered, now=NOW)
    assert not verify(SECRET, h["X-JKN-Timestamp"], h["X-JKN-Signature"], tampered, now=NOW)


def test_a_moved_timestamp_or_another_secret_fails() -> None:
    verify_documented = documented_verifier()
    h = headers_for(BODY)
    assert not verify_documented(SECRET, {**h, "X-JKN-Timestamp": str(NOW + 1)}, BODY, now=NOW)
    assert not verify_documented("another-secret-entirely", h, BODY, now=NOW)


def test_timestamps_outside_the_replay_window_fail() -> None:
    verify_documented = documented_verifier()
    h = headers_for(BODY)
    assert verify_documented(SECRET, h, BODY, now=NOW + REPLAY_WINDOW_S)
    assert not verify_documented(SECRET, h, BODY, now=NOW + REPLAY_WINDOW_S + 1)
    assert not verify_documented(SECRET, h, BODY, now=NOW - REPLAY_WINDOW_S - 1)
    assert not verify(SECRET, h["X-JKN-Timestamp"], h["X-JKN-Signature"], BODY, now=NOW + 301)
    assert not verify(SECRET, "not-a-number", h["X-JKN-Signature"], BODY, now=NOW)


def test_a_list_of_signatures_verifies_when_one_matches() -> None:
    h = headers_for(BODY)
    rotated = f"v1={'0' * 64}, {h['X-JKN-Signature']}"
    assert documented_verifier()(SECRET, {**h, "X-JKN-Signature": rotated}, BODY, now=NOW)
    assert verify(SECRET, str(NOW), rotated, BODY, now=NOW)


def test_during_a_rotation_the_header_signs_with_both_secrets_and_either_verifies() -> None:
    new, old = "the-new-secret-of-rs-0301", SECRET
    h = headers_for(BODY, NOW, new, old)
    new_mac = hmac.new(new.encode(), f"{NOW}.".encode() + BODY, hashlib.sha256).hexdigest()
    old_mac = hmac.new(old.encode(), f"{NOW}.".encode() + BODY, hashlib.sha256).hexdigest()
    assert h["X-JKN-Signature"] == f"v1={new_mac}, v1={old_mac}"  # newest first
    verify_documented = documented_verifier()
    assert verify_documented(new, h, BODY, now=NOW)
    assert verify_documented(old, h, BODY, now=NOW)
    assert not verify_documented("a-third-secret-nobody-has", h, BODY, now=NOW)


def test_a_bare_string_is_not_taken_for_a_list_of_secrets() -> None:
    with pytest.raises(ValueError, match="list of secrets"):
        webhook_headers(SECRET, timestamp=NOW, body=BODY, event_id="e", event_type="ClaimPended", delivery_id=1)
