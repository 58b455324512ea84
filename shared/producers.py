"""The producer check: an event only has effect on a topic its producer may write (shared/topics.py).

Behind the broker's ACLs, this is what stops a client that reached the broker from approving a claim,
creating a payable or speaking for another hospital: the envelope's `producer` must be one the topic
allows, and a hospital's event must name the hospital it comes from in its payload and in its SEP.
"""

from __future__ import annotations

from typing import Any

from shared.checks import Located, Refusal
from shared.events import Envelope
from shared.topics import ALLOWED_PRODUCERS, HOSPITAL

CODE = "unauthorized-producer"
HOSPITAL_PREFIX = "hospital:"
SEP_HOSPITAL_CHARS = 8  # a SEP number starts with the issuing hospital's 8-character code


def check_producer(record: Located, event: Envelope) -> Refusal | None:
    """Refuse an event whose producer may not write `record.topic`; topics not in the table are open."""
    allowed = ALLOWED_PRODUCERS.get(record.topic)
    if allowed is None:
        return None
    producer = event.producer
    if producer.startswith(HOSPITAL_PREFIX) and HOSPITAL in allowed:
        return _hospital_refusal(event, producer[len(HOSPITAL_PREFIX) :])
    if producer in allowed:
        return None
    names = ", ".join(sorted(f"{HOSPITAL}:<kode_rs>" if p == HOSPITAL else p for p in allowed))
    return Refusal(CODE, f"producer: {producer!r} may not produce on {record.topic} (allowed: {names})")


def _hospital_refusal(event: Envelope, hospital: str) -> Refusal | None:
    payload: Any = getattr(event, "payload", None)
    data = getattr(payload, "claim", payload)  # ClaimSubmitted nests the claim; ClaimDisputed does not
    kode_rs = getattr(data, "kode_rs", None)
    nomor_sep = getattr(data, "nomor_sep", None)
    if kode_rs != hospital:
        return Refusal(CODE, f"producer: hospital {hospital!r} may not send for kode_rs {kode_rs!r}")
    if not isinstance(nomor_sep, str) or nomor_sep[:SEP_HOSPITAL_CHARS] != hospital:
        return Refusal(CODE, f"producer: hospital {hospital!r} may not send SEP {nomor_sep!r} issued to another")
    return None
